// Which files of a log folder are Postfix's log, and in which order to read
// them. The names are logrotate's (or Postfix's own `postfix logrotate`):
//
//   mail.log                    the file being written: newest
//   mail.log.1, mail.log.2 …    numbered rotations: a larger number is older
//   mail.log-20261128           dateext (any dateformat of digits and - _ T)
//   postfix.log.20261128-184201 Postfix's maillog_file_rotate_suffix
//
// Compressed rotations (`mail.log.2.gz`) are never read: the lines in them
// were read before logrotate compressed them.
import { compileFileNamePattern } from '../tail/glob.js';

const COMPRESSED = /\.(?:gz|bz2|xz|zst|lz4|lzma|lz|Z|zip|br|7z)$/;
const DATED = /^(.+?)[-.](\d[\d_T-]*\d)$/;
const NUMBERED = /^(.+)\.(\d{1,7})$/;

interface Rotation {
  /** The log's own name (`mail.log`). */
  base: string;
  /** 0 dated, 1 numbered, 2 the current file: the order between kinds. */
  rank: number;
  /** Dated: the date's digits, padded so that `2026112818` sorts before `20261128-184201`. Numbered: the number. */
  key: string | number;
}

function rotationOf(name: string): Rotation {
  const dated = DATED.exec(name);
  if (dated) {
    const digits = dated[2]!.replace(/\D/g, '');
    if (digits.length >= 8) return { base: dated[1]!, rank: 0, key: digits.padEnd(14, '0') };
  }
  const numbered = NUMBERED.exec(name);
  if (numbered) return { base: numbered[1]!, rank: 1, key: Number(numbered[2]) };
  return { base: name, rank: 2, key: 0 };
}

/**
 * Oldest first: rotations of one log by their date or number, the current
 * file last; different logs by name. Dated rotations come before numbered
 * ones of the same log (a setup that switched, an order as good as any).
 */
export function compareRotatedLogNames(a: string, b: string): number {
  if (a === b) return 0;
  const ra = rotationOf(a);
  const rb = rotationOf(b);
  if (ra.base !== rb.base) return ra.base < rb.base ? -1 : 1;
  if (ra.rank !== rb.rank) return ra.rank - rb.rank;
  if (ra.rank === 0) return ra.key < rb.key ? -1 : ra.key > rb.key ? 1 : a < b ? -1 : 1;
  if (ra.rank === 1) return (rb.key as number) - (ra.key as number) || (a < b ? -1 : 1);
  return a < b ? -1 : 1;
}

export function isCompressed(name: string): boolean {
  return COMPRESSED.test(name);
}

/**
 * The names to follow for `log_file`'s file name: a glob (`mail.log*`)
 * matches what it says; a plain name (`mail.log`) matches itself and its
 * rotations, so the file is followed across logrotate's rename. Compressed
 * files never match.
 */
export function logFileMatcher(fileName: string): (name: string) => boolean {
  if (/[*?]/.test(fileName)) {
    const glob = compileFileNamePattern(fileName);
    return (name) => glob(name) && !isCompressed(name);
  }
  compileFileNamePattern(fileName); // the same checks: not empty, no folder
  return (name) => !isCompressed(name) && (name === fileName || rotationOf(name).base === fileName);
}
