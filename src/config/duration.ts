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
