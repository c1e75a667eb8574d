// The lstat a scan makes for every queued file, a million of them at a
// relay incident, without Node's Stats object. fs.lstatSync builds a Stats
// and four Dates for each call (about 1 µs here, a fifth of the call), and a
// scan wants only the file's type, size and modification time. Node 20 has
// no public call that returns just those; its fs binding does: the
// Float64Array that lstatSync itself reads them from. It is used when it is
// there and, for a probe path, answers exactly what lstatSync answers;
// otherwise (another Node version, --pending-deprecation, which would warn
// about process.binding) lstatSync is. Errors are lstatSync's either way.
import { lstatSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What an lstat found. */
export const STAT_FILE = 1;
/** A folder, a symlink, a FIFO, a device: not a message. */
export const STAT_OTHER = 2;
export const STAT_GONE = 3;
export const STAT_FAILED = 4;

/** Where the binding's statValues keep these fields (node/src/node_file.h, FillStatsArray). */
const MODE = 1;
const SIZE = 8;
const MTIME_SEC = 12;
const MTIME_NSEC = 13;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

type BindingLstat = (path: string | Buffer, bigint: false, ctx: undefined, throwIfNoEntry: boolean) => Float64Array | undefined;

/** A file's size and modification time, filled by lstatFacts (one per caller, reused). */
export interface SizeAndTime {
  size: number;
  mtimeMs: number;
}

/** The fs binding's lstat, if it is there and agrees with lstatSync; exported for the tests. */
export const bindingLstat: BindingLstat | undefined = findBindingLstat();

/**
 * lstat of one file: STAT_FILE (with `out` filled), STAT_OTHER or STAT_GONE;
 * throws what lstatSync throws for any other failure.
 */
export function lstatFacts(path: string | Buffer, out: SizeAndTime): number {
  if (bindingLstat) {
    const v = bindingLstat(path, false, undefined, false);
    if (v === undefined) return STAT_GONE;
    if ((v[MODE]! & S_IFMT) !== S_IFREG) return STAT_OTHER;
    out.size = v[SIZE]!;
    // Node's own formula (msFromTimeSpec), so the figure equals Stats.mtimeMs to the bit.
    out.mtimeMs = v[MTIME_SEC]! * 1e3 + v[MTIME_NSEC]! / 1e6;
    return STAT_FILE;
  }
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return STAT_GONE;
  if (!st.isFile()) return STAT_OTHER;
  out.size = st.size;
  out.mtimeMs = st.mtimeMs;
  return STAT_FILE;
}

function findBindingLstat(): BindingLstat | undefined {
  const pending = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].includes('--pending-deprecation');
  if (pending) return undefined;
  try {
    const binding = (process as unknown as { binding(name: string): { lstat?: unknown } }).binding('fs');
    if (typeof binding.lstat !== 'function') return undefined;
    const lstat = binding.lstat.bind(binding) as BindingLstat;
    // This module's own file: a regular file whose size and time lstatSync knows.
    const probe = fileURLToPath(import.meta.url);
    const v = lstat(probe, false, undefined, false);
    const st = lstatSync(probe);
    const agrees =
      v instanceof Float64Array &&
      v[MODE] === st.mode &&
      v[SIZE] === st.size &&
      v[MTIME_SEC]! * 1e3 + v[MTIME_NSEC]! / 1e6 === st.mtimeMs &&
      lstat('/nonexistent/mailrelay-probe', false, undefined, false) === undefined;
    return agrees ? lstat : undefined;
  } catch {
    return undefined;
  }
}
