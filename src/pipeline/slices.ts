// Background work in the main thread (the log's lines, parsed or scanned)
// done a slice at a time, between turns of the event loop, so that scrapes
// and file events wait at most about a slice.
import { stepAside } from '../turns.js';

/**
 * A slice holds the event loop about this long (ms). Short: a turn of the
 * loop accepts one new connection (see turns.ts), and a client's scrape
 * waits for its request to be read between slices.
 */
export const SLICE_MS = 1;
/** Bytes of whole lines handled between looks at the clock (about 250 IceWarp lines). */
const SLICE_BYTES = 16 * 1024;

/** Where the piece of whole lines of about SLICE_BYTES that starts at `at` ends: after a LF, or at the chunk's end. */
function pieceEnd(chunk: Buffer, at: number): number {
  return at + SLICE_BYTES >= chunk.length ? chunk.length : chunk.indexOf(0x0a, at + SLICE_BYTES) + 1 || chunk.length;
}

/**
 * Runs `piece(from, to)` over the chunk's pieces of whole lines, in order
 * (each chunk[from, to) of about SLICE_BYTES), for about SLICE_MS at a
 * time: the first slice at once, the others a turn of the event loop each,
 * stepping aside while clients connect. Undefined when the first slice
 * finished the chunk, else a promise of the end.
 */
export function inSlices(chunk: Buffer, piece: (from: number, to: number) => void): void | Promise<void> {
  let at = 0;
  const slice = (): boolean => {
    const until = performance.now() + SLICE_MS;
    do {
      const to = pieceEnd(chunk, at);
      piece(at, to);
      at = to;
    } while (at < chunk.length && performance.now() < until);
    return at >= chunk.length;
  };
  if (slice()) return undefined;
  return new Promise<void>((resolve, reject) => {
    const next = (): void => {
      try {
        if (stepAside() || !slice()) return void setImmediate(next);
        resolve();
      } catch (err) {
        reject(err);
      }
    };
    setImmediate(next);
  });
}
