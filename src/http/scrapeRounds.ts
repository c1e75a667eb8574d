// Scrapes of /metrics in rounds. Rendering the exposition is work for the
// main thread, the thread that also counts the log's lines: during a
// catch-up, 100 clients each rendering their own copy (15-30 ms each at a
// few thousand accounts) kept the thread from the catch-up for minutes
// (2 M lines: 200 s instead of 4.6 s). So:
// - the scrapes waiting when a round starts share its rendering (one copy of
//   the exposition, written to each of them with its own backpressure);
// - a round starts no sooner after the last one than `spacing` times the
//   main-thread time the last one took, so scrapes take at most about
//   1/(1 + spacing) of the thread however many clients ask;
// - a scrape alone in its round is streamed a family at a time with
//   backpressure, as before: a client that stops reading holds one family,
//   not the whole exposition, and holds up no other scrape.
// A scrape never gets a rendering begun before it arrived.

import { gzipped } from './compression.js';

/**
 * A scrape's turn. `alone`: stream the exposition to the response, calling
 * `paused()` when first waiting on the client and `done()` at the end (or
 * on failure); the round lasts until the first of the two. `shared`: the
 * chunks of one rendering, for every scrape of the round, and the same as
 * one buffer (made once: every response of the round refers to it), and
 * compressed (made once, when the first of them asks).
 */
export type Turn =
  | { kind: 'alone'; paused(): void; done(): void }
  | { kind: 'shared'; chunks: readonly Buffer[]; body: Buffer; gzipped(): Promise<Buffer> }
  | { kind: 'failed'; err: Error };

/** Default spacing: scrapes take at most about a fifth of the main thread. */
export const ROUND_SPACING = 4;
/**
 * A round waits until no scrape has asked for this long (ms), for the others
 * sent at the same moment: their requests are read over a few turns of the
 * event loop (a catch-up slice between each), and a round begun at the first
 * left the rest to the next one, four renderings later.
 */
export const ROUND_GATHER_MS = 10;
/**
 * ...but no longer than this after the first of them asked (ms): 100 clients
 * sending together were read over 30-60 ms during a catch-up, and rounds cut
 * at the first quiet 10 ms split them in three, the last waiting for two
 * spacings (250 ms).
 */
export const ROUND_GATHER_MAX_MS = 50;

export class ScrapeRounds {
  private waiting: Array<(turn: Turn) => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** performance.now() before which no round starts. */
  private notBefore = 0;
  /** When the first and the last of the waiting scrapes asked (performance.now()). */
  private firstAsked = 0;
  private lastAsked = 0;

  /** `render` writes the whole exposition through `write` at once (no waiting on a client). */
  constructor(
    private readonly render: (write: (chunk: Buffer) => void) => Promise<void>,
    private readonly spacing = ROUND_SPACING,
    private readonly gatherMs = ROUND_GATHER_MS,
    private readonly gatherMaxMs = ROUND_GATHER_MAX_MS,
  ) {}

  /** This scrape's turn, at the next round. */
  next(): Promise<Turn> {
    return new Promise((resolve) => {
      this.lastAsked = performance.now();
      if (this.waiting.length === 0) this.firstAsked = this.lastAsked;
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.timer !== undefined || this.waiting.length === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        // Scrapes asked since the timer was set: gather on while there is time left for it.
        if (this.gathered() > performance.now() + 1) this.schedule();
        else void this.round();
      },
      Math.max(this.gathered(), this.notBefore) - performance.now(),
    );
  }

  /** When the waiting scrapes are gathered: a quiet gatherMs, or gatherMaxMs after the first asked. */
  private gathered(): number {
    return Math.min(this.lastAsked + this.gatherMs, this.firstAsked + Math.max(this.gatherMs, this.gatherMaxMs));
  }

  private async round(): Promise<void> {
    this.running = true;
    const waiters = this.waiting.splice(0);
    const started = performance.now();
    try {
      if (waiters.length === 1) {
        await new Promise<void>((end) => waiters[0]!({ kind: 'alone', paused: end, done: end }));
      } else {
        let turn: Turn;
        try {
          const chunks: Buffer[] = [];
          await this.render((chunk) => void chunks.push(chunk));
          const body = Buffer.concat(chunks);
          let compressed: Promise<Buffer> | undefined;
          turn = { kind: 'shared', chunks, body, gzipped: () => (compressed ??= gzipped(body)) };
        } catch (err) {
          turn = { kind: 'failed', err: err as Error };
        }
        for (const resolve of waiters) resolve(turn);
      }
    } finally {
      const now = performance.now();
      this.notBefore = now + this.spacing * (now - started);
      this.running = false;
      this.schedule();
    }
  }
}
