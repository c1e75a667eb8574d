// Prometheus-style durations: "90s", "15m", "1h30m", "500ms", "7d".
const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
  y: 31536000,
};

const PART = /(\d+)(ms|s|m|h|d|w|y)/y;

/** Parses a duration into seconds; returns undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  if (text === '' || text === '0') return text === '0' ? 0 : undefined;
  let seconds = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (!m) return undefined;
    seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  }
  return seconds;
}

/**
 * The longest delay a Node timer waits: beyond 2^31-1 ms (24.8 days)
 * setTimeout and setInterval fire after 1 ms instead, so a "30d" interval
 * would spin a core. The config refuses such durations; code that computes
 * a delay clamps to it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay a timer can wait: at least 0, at most MAX_TIMER_MS. */
export function timerDelayMs(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}
