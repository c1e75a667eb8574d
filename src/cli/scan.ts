// A one-shot scan of the mail queues on top of spool/layout.ts, with the
// spool metrics' definitions: outgoing messages are `.tmp` files in
// `_outgoing` and its direct subfolders; in `_incoming` and `_incoming.bak`
// a message is a complete `.tmp` (or `.tm$`) / `.dat` pair; a lone `.tmp` or
// `.dat` is an orphan. The report's numbers come from the collector's own
// SpoolSummary. Symlinks are never followed: a symlinked file is skipped, a
// symlinked folder must stay inside the mail directory (the report, like the
// collector, skips it).
import { lstat, readdir } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import {
  INCOMING,
  INCOMING_BAK,
  isOutgoingMessage,
  messageFileKind,
  OUTGOING,
  parseOriginalSender,
  queueOfFolder,
  readHead,
  stemOf,
  UNKNOWN_SENDER,
  type MessageFileKind,
  type QueueName,
} from '../spool/layout.js';
import { senderLabel } from '../spool/scanner.js';
import { SpoolSummary, type SpoolQueue } from '../spool/summary.js';
import { describeFsError, lstatOrUndefined, UnsafePathError, type MailDirectory } from './durable.js';

export interface QueueFile {
  /** Relative to the mail directory. */
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
}

export interface OutgoingMessage extends QueueFile {
  folder: string;
  sender: string;
}

/** Lists a folder's entries; symlinks and other non-regular entries are reported in `skipped`. */
export async function listFolder(mail: MailDirectory, folder: string, warnings: string[]): Promise<{ files: QueueFile[]; folders: string[] }> {
  let entries: Dirent[];
  try {
    entries = await readdir(mail.abs(folder), { withFileTypes: true });
  } catch (err) {
    throw new UnsafePathError(`${mail.abs(folder)}: ${describeFsError(err)}`, { cause: err });
  }
  const files: QueueFile[] = [];
  const folders: string[] = [];
  for (const d of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = `${folder}/${d.name}`;
    if (d.isSymbolicLink()) {
      warnings.push(`${path}: a symlink, not followed`);
    } else if (d.isDirectory()) {
      folders.push(path);
    } else if (d.isFile()) {
      try {
        const st = await lstat(mail.abs(path));
        files.push({ path, name: d.name, size: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        // Taken by IceWarp between readdir and lstat: no longer queued.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UnsafePathError(`${mail.abs(path)}: ${describeFsError(err)}`, { cause: err });
      }
    }
  }
  return { files, folders };
}

/** `_outgoing` and its direct subfolders that exist (a symlinked subfolder is skipped with a warning). */
export async function outgoingFolders(mail: MailDirectory, warnings: string[]): Promise<string[]> {
  if ((await mail.checkFolder(OUTGOING)) === 'missing') return [];
  const { folders } = await listFolder(mail, OUTGOING, warnings);
  return [OUTGOING, ...folders.filter((f) => queueOfFolder(f) === 'outgoing')];
}

/** The outgoing messages (`.tmp` files) of the given folders, with their original sender. */
export async function listOutgoing(mail: MailDirectory, folders: string[], warnings: string[]): Promise<OutgoingMessage[]> {
  const messages: OutgoingMessage[] = [];
  for (const folder of folders) {
    if ((await mail.checkFolder(folder)) === 'missing') {
      warnings.push(`${folder}: no such folder`);
      continue;
    }
    for (const f of (await listFolder(mail, folder, warnings)).files) {
      if (!isOutgoingMessage(f.name)) continue;
      let sender: string;
      try {
        sender = parseOriginalSender(await readHead(mail.abs(f.path))) ?? UNKNOWN_SENDER;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new UnsafePathError(`${mail.abs(f.path)}: ${describeFsError(err)}`, { cause: err });
      }
      messages.push({ ...f, folder, sender });
    }
  }
  return messages;
}

export interface IncomingStem {
  stem: string;
  files: (QueueFile & { kind: MessageFileKind })[];
}

export interface IncomingFolderScan {
  /** Stems with a `.dat` and a `.tmp` (or `.tm$`): a message IceWarp can process. */
  pairs: IncomingStem[];
  /** Stems with only `.tmp`/`.tm$` files, or only a `.dat`. */
  orphans: IncomingStem[];
  /** Files that are not queue files (desktop.ini, lock files…). */
  others: QueueFile[];
}

export async function scanIncomingFolder(mail: MailDirectory, folder: string, warnings: string[]): Promise<IncomingFolderScan> {
  const byStem = new Map<string, IncomingStem>();
  const others: QueueFile[] = [];
  for (const f of (await listFolder(mail, folder, warnings)).files) {
    const kind = messageFileKind(f.name);
    if (!kind) {
      others.push(f);
      continue;
    }
    const stem = stemOf(f.name);
    let s = byStem.get(stem);
    if (!s) byStem.set(stem, (s = { stem, files: [] }));
    s.files.push({ ...f, kind });
  }
  const pairs: IncomingStem[] = [];
  const orphans: IncomingStem[] = [];
  for (const s of byStem.values()) {
    const hasDat = s.files.some((f) => f.kind === 'dat');
    const hasBody = s.files.some((f) => f.kind !== 'dat');
    (hasDat && hasBody ? pairs : orphans).push(s);
  }
  return { pairs, orphans, others };
}

export interface FolderReport {
  queue: SpoolQueue;
  folder: string;
  messages: number;
  bytes: number;
  /** Modification time of the oldest message, ISO 8601, or null when empty. */
  oldest: string | null;
  oldestAgeSeconds: number | null;
}

export interface QueueReport {
  mailDir: string;
  folders: FolderReport[];
  senders: { distinct: number; top: { sender: string; messages: number }[] };
  sameSize: Record<QueueName, { largest: number; groups: { size: number; messages: number }[] }>;
  orphans: { folder: string; kind: 'tmp' | 'dat'; files: number }[];
  warnings: string[];
}

/**
 * The spool metrics' numbers, computed by the collector's own SpoolSummary
 * fed from one scan, so the report and /metrics cannot disagree. `top`
 * bounds the sender and same-size lists.
 */
export async function reportQueues(mail: MailDirectory, top: number, now: Date): Promise<QueueReport> {
  const warnings: string[] = [];
  const summary = new SpoolSummary(top);
  const sizes: Record<QueueName, Map<number, number>> = { outgoing: new Map(), incoming: new Map() };
  const countSize = (q: QueueName, size: number): void => void sizes[q].set(size, (sizes[q].get(size) ?? 0) + 1);

  // Like the collector: _outgoing and _incoming are reported even when missing; symlinked folders are not followed.
  const present = async (folder: string): Promise<boolean> => {
    const st = await lstatOrUndefined(mail.abs(folder));
    if (st?.isSymbolicLink()) warnings.push(`${folder}: a symlink, not followed`);
    return st?.isDirectory() ?? false;
  };
  summary.addFolder(OUTGOING);
  summary.addFolder(INCOMING);
  if (await present(OUTGOING)) {
    const { files, folders } = await listFolder(mail, OUTGOING, warnings);
    const subfolders = folders.filter((f) => queueOfFolder(f) === 'outgoing');
    for (const [folder, list] of [[OUTGOING, files] as const, ...(await Promise.all(subfolders.map(async (f) => [f, (await listFolder(mail, f, warnings)).files] as const)))]) {
      summary.addFolder(folder);
      for (const f of list) {
        if (!isOutgoingMessage(f.name)) continue;
        let head: string;
        try {
          head = await readHead(mail.abs(f.path));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw new UnsafePathError(`${mail.abs(f.path)}: ${describeFsError(err)}`, { cause: err });
        }
        summary.putFile(folder, f.name, { size: f.size, mtimeMs: f.mtimeMs, sender: senderLabel(head) });
        countSize('outgoing', f.size);
      }
    }
  }
  for (const folder of [INCOMING, INCOMING_BAK]) {
    if (!(await present(folder))) continue;
    summary.addFolder(folder);
    const scan = await scanIncomingFolder(mail, folder, warnings);
    for (const stem of [...scan.pairs, ...scan.orphans]) for (const f of stem.files) summary.putFile(folder, f.name, { size: f.size, mtimeMs: f.mtimeMs });
    // Same-size groups of incoming messages are keyed by the message file's size, as in the collector.
    for (const pair of scan.pairs) countSize('incoming', (pair.files.find((f) => f.kind === 'tmp') ?? pair.files.find((f) => f.kind === 'tm$'))!.size);
  }
  summary.settle();
  const snap = summary.snapshot(now.getTime());

  const folders: FolderReport[] = snap.folders.map((f) => ({
    queue: f.queue,
    folder: f.folder,
    messages: f.messages,
    bytes: f.bytes,
    oldest: f.messages ? new Date(now.getTime() - f.oldestAgeSeconds * 1000).toISOString() : null,
    oldestAgeSeconds: f.messages ? Math.round(f.oldestAgeSeconds) : null,
  }));
  const orphans: QueueReport['orphans'] = snap.folders.flatMap((f) =>
    f.orphans ? [{ folder: f.folder, kind: 'tmp' as const, files: f.orphans.tmp }, { folder: f.folder, kind: 'dat' as const, files: f.orphans.dat }] : [],
  );
  const sameSize = (q: QueueName): QueueReport['sameSize'][QueueName] => {
    const groups = [...sizes[q]].map(([size, messages]) => ({ size, messages })).sort((a, b) => b.messages - a.messages || a.size - b.size);
    return { largest: snap.largestSameSize[q], groups: groups.filter((g) => g.messages > 1).slice(0, top) };
  };
  return {
    mailDir: mail.root,
    folders,
    senders: { distinct: snap.distinctSenders, top: snap.topSenders },
    sameSize: { outgoing: sameSize('outgoing'), incoming: sameSize('incoming') },
    orphans,
    warnings,
  };
}
