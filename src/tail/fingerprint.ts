// A file's first bytes, hashed: with device and inode, what identifies a
// followed log file. An inode freed by a deleted file can be given to the
// next file created; the new file's first bytes differ, so it is read from its
// start instead of from the old file's offset. A file that is still small has
// a fingerprint of what it holds, extended as it grows.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Fingerprint } from './positions.js';

/** As filebeat's fingerprint: a few log lines. */
export const FINGERPRINT_BYTES = 1024;

function hash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads the file's first bytes and compares them with `known` (when given).
 * `same` is false when the file is shorter than the bytes `known` covers or
 * starts differently; `fingerprint` covers what the file holds now, up to
 * FINGERPRINT_BYTES.
 */
export async function readFingerprint(
  fh: FileHandle,
  size: number,
  known: Fingerprint | undefined,
): Promise<{ same: boolean; fingerprint: Fingerprint }> {
  const want = Math.min(size, FINGERPRINT_BYTES);
  const buf = Buffer.allocUnsafe(want);
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  const head = buf.subarray(0, got);
  const fingerprint = { bytes: got, sha256: hash(head) };
  if (known === undefined) return { same: true, fingerprint };
  if (got < known.bytes) return { same: false, fingerprint };
  const same = (got === known.bytes ? fingerprint.sha256 : hash(head.subarray(0, known.bytes))) === known.sha256;
  return { same, fingerprint };
}
