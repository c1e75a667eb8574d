// A one-shot scan of the mail queues on top of spool/layout.ts, with the
// spool metrics' definitions: outgoing messages are `.tmp` files in
// `_outgoing` and its direct subfolders; in `_incoming` and `_incoming.bak`
// a message is a complete `.tmp`/`.dat` pair (its bytes are both files', its
// age the older file's); a lone `.tmp` or `.dat` is an orphan. Symlinks are
// never followed: a symlinked file is skipped, a symlinked folder must stay
// inside the mail directory.
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
import { describeFsError, UnsafePathError, type MailDirectory } from './durable.js';

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
  queue: QueueName;
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

/** Counts like the spool metrics. `top` bounds the sender and same-size lists. */
export async function reportQueues(mail: MailDirectory, top: number, now: Date): Promise<QueueReport> {
  const warnings: string[] = [];
  const folders: FolderReport[] = [];
  const senderCounts = new Map<string, number>();
  const sizes: Record<QueueName, Map<number, number>> = { outgoing: new Map(), incoming: new Map() };
  const orphans: QueueReport['orphans'] = [];

  const folderReport = (queue: QueueName, folder: string, items: { bytes: number; mtimeMs: number }[]): void => {
    let bytes = 0;
    let oldest = Infinity;
    for (const it of items) {
      bytes += it.bytes;
      oldest = Math.min(oldest, it.mtimeMs);
      sizes[queue].set(it.bytes, (sizes[queue].get(it.bytes) ?? 0) + 1);
    }
    folders.push({
      queue,
      folder,
      messages: items.length,
      bytes,
      oldest: items.length ? new Date(oldest).toISOString() : null,
      oldestAgeSeconds: items.length ? Math.max(0, Math.round((now.getTime() - oldest) / 1000)) : null,
    });
  };

  const outFolders = await outgoingFolders(mail, warnings);
  for (const folder of outFolders) {
    const msgs = await listOutgoing(mail, [folder], warnings);
    for (const m of msgs) senderCounts.set(m.sender, (senderCounts.get(m.sender) ?? 0) + 1);
    folderReport('outgoing', folder, msgs.map((m) => ({ bytes: m.size, mtimeMs: m.mtimeMs })));
  }
  for (const folder of [INCOMING, INCOMING_BAK]) {
    if ((await mail.checkFolder(folder)) === 'missing') continue;
    const scan = await scanIncomingFolder(mail, folder, warnings);
    folderReport(
      'incoming',
      folder,
      scan.pairs.map((p) => ({ bytes: p.files.reduce((n, f) => n + f.size, 0), mtimeMs: Math.min(...p.files.map((f) => f.mtimeMs)) })),
    );
    let tmp = 0;
    let dat = 0;
    for (const o of scan.orphans) {
      for (const f of o.files) {
        if (f.kind === 'tmp') tmp++;
        else if (f.kind === 'dat') dat++;
      }
    }
    orphans.push({ folder, kind: 'tmp', files: tmp }, { folder, kind: 'dat', files: dat });
  }

  const sameSize = (q: QueueName): QueueReport['sameSize'][QueueName] => {
    const groups = [...sizes[q]].map(([size, messages]) => ({ size, messages })).sort((a, b) => b.messages - a.messages || a.size - b.size);
    return { largest: groups[0]?.messages ?? 0, groups: groups.filter((g) => g.messages > 1).slice(0, top) };
  };
  return {
    mailDir: mail.root,
    folders,
    senders: {
      distinct: senderCounts.size,
      top: [...senderCounts]
        .map(([sender, messages]) => ({ sender, messages }))
        .sort((a, b) => b.messages - a.messages || (a.sender < b.sender ? -1 : 1))
        .slice(0, top),
    },
    sameSize: { outgoing: sameSize('outgoing'), incoming: sameSize('incoming') },
    orphans,
    warnings,
  };
}
