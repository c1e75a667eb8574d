// What the IceWarp mail directory holds, as far as the queues go: which
// folders are queues, which files are messages, and who sent them. Pure
// (no I/O) except readHead and readHeadSync. Shared by the spool collector and the admin
// commands, so both count exactly the same things.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

export type QueueName = 'outgoing' | 'incoming';

/** The queue folders, relative to the mail directory, with `/` separators. */
export const OUTGOING = '_outgoing';
export const INCOMING = '_incoming';
export const INCOMING_BAK = '_incoming.bak';
export const QUARANTINE = '_quarantine';

/**
 * The queue a folder belongs to, or undefined when it is not a queue folder.
 * `_outgoing` and its direct subfolders (`retry`, `priority_N`, …) are
 * outgoing; `_incoming` and `_incoming.bak` are incoming.
 */
export function queueOfFolder(folder: string): QueueName | undefined {
  const parts = folder.split('/');
  if (parts[0] === OUTGOING && parts.length <= 2) return 'outgoing';
  if ((folder === INCOMING || folder === INCOMING_BAK)) return 'incoming';
  return undefined;
}

/**
 * Whether an outgoing folder holds mail waiting for a retry after a failed
 * delivery (mailrelay_spool_deferred_messages): IceWarp's `retry` and its
 * `priority_N` folders, as IceWarp's staff count the retry queue.
 */
export function isDeferredFolder(folder: string): boolean {
  return /^_outgoing\/(?:retry|priority_.+)$/.test(folder);
}

export type MessageFileKind = 'tmp' | 'dat' | 'tm$';

/**
 * The kind of a queue file by its extension (case-insensitive, as on Windows),
 * or undefined for other files. Called for every name of every scan: it reads
 * character codes rather than slicing and lowercasing a copy.
 */
export function messageFileKind(name: string): MessageFileKind | undefined {
  const n = name.length;
  // ".xyz" with something before the dot.
  if (n < 5 || name.charCodeAt(n - 4) !== 0x2e) return undefined;
  const a = name.charCodeAt(n - 3) | 0x20;
  const b = name.charCodeAt(n - 2) | 0x20;
  const c = name.charCodeAt(n - 1);
  if (a === 0x74 && b === 0x6d) {
    if ((c | 0x20) === 0x70) return 'tmp'; // t m p
    if (c === 0x24) return 'tm$';
    return undefined;
  }
  return a === 0x64 && b === 0x61 && (c | 0x20) === 0x74 ? 'dat' : undefined; // d a t
}

/** The name without its extension: a `.tmp` and a `.dat` with the same stem are a pair. */
export function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}

/** An outgoing message is a `.tmp` file; `.tm$` is being written or set aside and does not count. */
export function isOutgoingMessage(name: string): boolean {
  return messageFileKind(name) === 'tmp';
}

/** How much of a message file's head is read to find its original sender. */
export const HEAD_BYTES = 4096;

export const MAX_SENDER_LENGTH = 254;
export const UNKNOWN_SENDER = '__unknown__';

/**
 * "original sender", any case, a space or hyphen between the words, an
 * optional colon, the address with or without angle brackets. Exported for
 * the head-reading worker threads, which get it as source and flags.
 */
export const ORIGINAL_SENDER = /^original[ -]sender[ \t]*:?[ \t]*<?([^\s<>]*)>?/im;

/**
 * The envelope sender from the head of an outgoing `.tmp` file, lowercased
 * and cut to a label-safe length; undefined when the head has none.
 * The null sender `<>` is returned as ''.
 */
export function parseOriginalSender(head: string): string | undefined {
  const m = ORIGINAL_SENDER.exec(head);
  return m ? normalizeSender(m[1]!) : undefined;
}

/** The address as the Original Sender line gives it (what ORIGINAL_SENDER captured), as parseOriginalSender returns it. */
export function normalizeSender(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.toLowerCase().replace(/[\u0000-\u001f\u007f]/g, '\ufffd').slice(0, MAX_SENDER_LENGTH);
}

/**
 * How queue files are opened. A FIFO or a device swapped in for a `.tmp`
 * between a listing and the open would block a plain open(2) until some
 * writer shows up (forever, and with it the event loop or a libuv thread):
 * O_NONBLOCK makes such an open return at once, O_NOFOLLOW refuses a symlink
 * swapped in (ELOOP). Then either fstat says a regular file (readHeadSync,
 * readHead) or the read is made at a position, a pread(2), which a FIFO or a
 * socket refuses (ESPIPE) and a folder too (EISDIR): the scanner's worker
 * threads, which spare the fstat (a system call per file).
 */
export const QUEUE_FILE_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/** A queue file that turned out, once opened, not to be a regular file (a FIFO, a device, a folder). */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(path: string | Buffer) {
    super(`${String(path)}: not a regular file`);
    this.name = 'NotRegularFileError';
  }
}

/** Whether an error from opening or reading a queue file means "not a regular file here (any more)": not a message. */
export function isNotRegularFile(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  // ESPIPE: a FIFO read at a position; ENXIO: a socket, which cannot be opened.
  return code === 'ENOTREG' || code === 'ELOOP' || code === 'EISDIR' || code === 'ESPIPE' || code === 'ENXIO';
}

/** What readHeadSync read: the bytes in the buffer, and the size and modification time of the file they came from. */
export interface HeadRead {
  bytes: number;
  size: number;
  mtimeMs: number;
}

/** Reads the start of a queue file into buf without ever blocking on a non-regular file. */
export function readHeadSync(path: string | Buffer, buf: Buffer): HeadRead {
  const fd = openSync(path, QUEUE_FILE_OPEN_FLAGS);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path);
    return { bytes: readSync(fd, buf, 0, buf.length, 0), size: st.size, mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

/** Reads at most `bytes` from the start of a file, decoded as latin1 so no byte is lost or rejected. */
export async function readHead(path: string | Buffer, bytes = HEAD_BYTES): Promise<string> {
  const handle = await open(path, QUEUE_FILE_OPEN_FLAGS);
  try {
    if (!(await handle.stat()).isFile()) throw new NotRegularFileError(path);
    const buf = Buffer.allocUnsafe(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return buf.toString('latin1', 0, bytesRead);
  } finally {
    await handle.close();
  }
}
