// The main thread both catches up with the logs and answers HTTP, taking
// turns of its event loop. Node accepts one new connection a turn (measured
// with strace: one accept4 per turn, never a second until the next), so 100
// clients connecting during a catch-up waited 100 turns, each with a slice
// of parsing in it: over a second for the last to connect. While clients
// connect, work done in slices (the log parser, the spool's rescans) steps
// aside for a few turns so that those turns come quickly.

/** How long after a new connection slices step aside (ms). */
const STEP_ASIDE_MS = 2;
/** Turns in a row a slice steps aside at most: a flood of connections slows the catch-up, it never stops it. */
const MOST_TURNS_ASIDE = 8;

let connectedAt = -Infinity;
let turnsAside = 0;

/** A client connected (the HTTP listener calls this). */
export function clientConnected(now = performance.now()): void {
  connectedAt = now;
}

/**
 * Whether a slice of background work should skip this turn of the event
 * loop: a client connected a moment ago and more may be waiting to be
 * accepted. Each true counts a skipped turn.
 */
export function stepAside(now = performance.now()): boolean {
  if (now - connectedAt < STEP_ASIDE_MS && turnsAside < MOST_TURNS_ASIDE) {
    turnsAside++;
    return true;
  }
  turnsAside = 0;
  return false;
}
