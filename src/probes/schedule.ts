// Runs a check round now and then every interval, never two at once, so a
// slow round (DNS timeouts, a hanging SMTP peer) delays the next one instead
// of piling up. Scrapes never wait for a round: they read the last results.
import { timerDelayMs } from '../config/duration.js';

export class CheckSchedule {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalSeconds: number,
    /** Must report its own failures; a rejection is only swallowed to keep the schedule alive. */
    private readonly round: () => Promise<unknown>,
  ) {}

  start(): void {
    this.tick();
  }

  /** Stops the timer and waits for a round in flight (the caller aborts its I/O first). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private tick(): void {
    if (this.stopped) return;
    const started = Date.now();
    this.inFlight = this.round()
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.stopped) return;
        // Clamped: the config refuses periods beyond the timer range, and a longer one must not become a busy loop.
        const wait = timerDelayMs(this.intervalSeconds * 1000 - (Date.now() - started));
        this.timer = setTimeout(() => this.tick(), wait);
        // The HTTP server keeps the process alive; a pending check must not.
        this.timer.unref();
      });
  }
}

/** Runs fn over items with at most `limit` calls in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
