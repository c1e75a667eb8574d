// File names as bytes. A queue file's name is whatever bytes IceWarp, a
// Windows copy or an attacker wrote (`\xff\xfe-latin1.tmp`), not always
// UTF-8: read as text it becomes U+FFFD, and the path no longer names the
// file. So inside src/cli/ a path relative to the mail directory is a *byte
// string*: a JS string with one char (0-255) per byte of the name, as the
// spool scanner keys its files (latin1). Byte strings turn into Buffer paths
// for the file system (MailDirectory.abs), into readable text for people
// (shown), and into lossless JSON for the journals (encodeJournalPath).
import { isUtf8 } from 'node:buffer';

/** The byte string of a path typed by a person (argv, always UTF-8 here). */
export function bytesOfText(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** The Buffer a byte string stands for. */
export function bufferOf(bytes: string): Buffer {
  return Buffer.from(bytes, 'latin1');
}

/** The name as text when its bytes are UTF-8 (a label value, a folder a person can type); undefined otherwise. */
export function textOf(bytes: string): string | undefined {
  const buf = bufferOf(bytes);
  return isUtf8(buf) ? buf.toString('utf8') : undefined;
}

/**
 * A name for a person to read: its UTF-8 text, with `\xNN` for each byte
 * that is not part of a UTF-8 character and for control characters (a file
 * name must not drive the admin's terminal). For display only: the journals
 * keep the bytes themselves.
 */
export function shown(bytes: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(bytes)) return bytes;
  const buf = bufferOf(bytes);
  let out = '';
  for (let i = 0; i < buf.length; ) {
    const n = utf8SequenceLength(buf, i);
    if (n === 0) {
      out += `\\x${buf[i]!.toString(16).padStart(2, '0')}`;
      i++;
      continue;
    }
    const char = buf.toString('utf8', i, i + n);
    // eslint-disable-next-line no-control-regex
    out += /^[\u0000-\u001f\u007f-\u009f]$/.test(char) ? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}` : char;
    i += n;
  }
  return out;
}

/** The length of the well-formed UTF-8 character at i (RFC 3629: no overlongs, no surrogates), or 0. */
function utf8SequenceLength(buf: Buffer, i: number): number {
  const b = buf[i]!;
  if (b < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b === 0xe0) lo = 0xa0;
    if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b === 0xf0) lo = 0x90;
    if (b === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > buf.length) return 0;
  for (let k = 1; k < n; k++) {
    const c = buf[i + k]!;
    if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return 0;
  }
  return n;
}

/**
 * A path in a journal line: its text when the bytes are UTF-8 (the journals
 * written before stay valid and readable), else `{"base64": …}`, so no name
 * is ever changed on its way through a journal.
 */
export type JournalPath = string | { base64: string };

export function encodeJournalPath(bytes: string): JournalPath {
  return textOf(bytes) ?? { base64: bufferOf(bytes).toString('base64') };
}

/** The byte string of a journal path; undefined when the value is neither form. */
export function decodeJournalPath(value: unknown): string | undefined {
  if (typeof value === 'string') return bytesOfText(value);
  if (typeof value === 'object' && value !== null && typeof (value as { base64?: unknown }).base64 === 'string') {
    const b64 = (value as { base64: string }).base64;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
    return Buffer.from(b64, 'base64').toString('latin1');
  }
  return undefined;
}
