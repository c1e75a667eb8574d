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

/** The kind of a queue file by its extension (case-insensitive, as on Windows), or undefined for other files. */
export function messageFileKind(name: string): MessageFileKind | undefined {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const ext = name.slice(dot + 1).toLowerCase();
  return ext === 'tmp' || ext === 'dat' || ext === 'tm$' ? ext : undefined;
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

// "original sender", any case, a space or hyphen between the words, an
// optional colon, the address with or without angle brackets.
const ORIGINAL_SENDER = /^original[ -]sender[ \t]*:?[ \t]*<?([^\s<>]*)>?/im;

/**
 * The envelope sender from the head of an outgoing `.tmp` file, lowercased
 * and cut to a label-safe length; undefined when the head has none.
 * The null sender `<>` is returned as ''.
 */
export function parseOriginalSender(head: string): string | undefined {
  const m = ORIGINAL_SENDER.exec(head);
  if (!m) return undefined;
  // eslint-disable-next-line no-control-regex
  return m[1]!.toLowerCase().replace(/[\u0000-\u001f\u007f]/g, '\ufffd').slice(0, MAX_SENDER_LENGTH);
}

/**
 * How queue files are opened. A FIFO or a device swapped in for a `.tmp`
 * between a listing and the open would block a plain open(2) until some
 * writer shows up (forever, and with it the event loop or a libuv thread):
 * O_NONBLOCK makes such an open return at once, O_NOFOLLOW refuses a symlink
 * swapped in (ELOOP), and the caller checks fstat says a regular file.
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
  return code === 'ENOTREG' || code === 'ELOOP' || code === 'EISDIR';
}

/** Reads the start of a queue file into buf without ever blocking on a non-regular file; returns the bytes read. */
export function readHeadSync(path: string | Buffer, buf: Buffer): number {
  const fd = openSync(path, QUEUE_FILE_OPEN_FLAGS);
  try {
    if (!fstatSync(fd).isFile()) throw new NotRegularFileError(path);
    return readSync(fd, buf, 0, buf.length, 0);
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
