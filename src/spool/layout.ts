// What the IceWarp mail directory holds, as far as the queues go: which
// folders are queues, which files are messages, and who sent them. Pure
// (no I/O) except readHead. Shared by the spool collector and the admin
// commands, so both count exactly the same things.
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

/** Reads at most `bytes` from the start of a file, decoded as latin1 so no byte is lost or rejected. */
export async function readHead(path: string, bytes = HEAD_BYTES): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return buf.toString('latin1', 0, bytesRead);
  } finally {
    await handle.close();
  }
}
