// A one-shot scan of the mail queues on top of spool/layout.ts, with the
// spool metrics' definitions: outgoing messages are `.tmp` files in
// `_outgoing` and its direct subfolders; in `_incoming` and `_incoming.bak`
// a message is a complete `.tmp` (or `.tm$`) / `.dat` pair; a lone `.tmp` or
// `.dat` is an orphan. The report's numbers come from the collector's own
// SpoolSummary. Symlinks are never followed: a symlinked file is skipped, a
// symlinked folder must stay inside the mail directory (the report, like the
// collector, skips it). Names are byte strings (names.ts): a name that is not
// UTF-8 is still found, counted and moved.
import { lstat, readdir } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import {
  INCOMING,
  INCOMING_BAK,
  isOutgoingMessage,
  messageFileKind,
  isNotRegularFile,
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
import { describeFsError, UnsafePathError, type MailDirectory } from './durable.js';
import { shown, textOf } from './names.js';

export interface QueueFile {
  /** Relative to the mail directory; a byte string, as `name`. */
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
  let entries: Dirent<Buffer>[];
  try {
    if ((await mail.checkFolder(folder)) === 'missing') throw Object.assign(new Error('no such folder'), { code: 'ENOENT' });
    entries = await readdir(mail.abs(folder), { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    if (err instanceof UnsafePathError) throw err;
    throw new UnsafePathError(`${mail.shownAbs(folder)}: ${describeFsError(err)}`, { cause: err });
  }
  const files: QueueFile[] = [];
  const folders: string[] = [];
  const named = entries.map((d) => ({ d, name: d.name.toString('latin1') }));
  for (const { d, name } of named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = `${folder}/${name}`;
    if (d.isSymbolicLink()) {
      warnings.push(`${shown(path)}: a symlink, not followed`);
    } else if (d.isDirectory()) {
      folders.push(path);
    } else if (d.isFile()) {
      try {
        const st = await lstat(mail.abs(path));
        files.push({ path, name, size: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        // Taken by IceWarp between readdir and lstat: no longer queued.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UnsafePathError(`${mail.shownAbs(path)}: ${describeFsError(err)}`, { cause: err });
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
      warnings.push(`${shown(folder)}: no such folder`);
      continue;
    }
    for (const f of (await listFolder(mail, folder, warnings)).files) {
      if (!isOutgoingMessage(f.name)) continue;
      let sender: string;
      try {
        sender = parseOriginalSender(await readHead(mail.abs(f.path))) ?? UNKNOWN_SENDER;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || isNotRegularFile(err)) continue;
        throw new UnsafePathError(`${mail.shownAbs(f.path)}: ${describeFsError(err)}`, { cause: err });
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
    const st = await mail.lstat(folder);
    if (st?.isSymbolicLink()) warnings.push(`${folder}: a symlink, not followed`);
    return st?.isDirectory() ?? false;
  };
  summary.addFolder(OUTGOING);
  summary.addFolder(INCOMING);
  if (await present(OUTGOING)) {
    const { files, folders } = await listFolder(mail, OUTGOING, warnings);
    // The collector tracks only subfolders whose names are UTF-8 (they become label values): so does the report.
    const subfolders: string[] = [];
    for (const f of folders.filter((f) => queueOfFolder(f) === 'outgoing')) {
      if (textOf(f) === undefined) warnings.push(`${shown(f)}: folder name not UTF-8; not counted, as in the spool metrics (queue quarantine still takes its messages)`);
      else subfolders.push(f);
    }
    for (const [folder, list] of [[OUTGOING, files] as const, ...(await Promise.all(subfolders.map(async (f) => [f, (await listFolder(mail, f, warnings)).files] as const)))]) {
      const label = textOf(folder)!;
      summary.addFolder(label);
      for (const f of list) {
        if (!isOutgoingMessage(f.name)) continue;
        let head: string;
        try {
          head = await readHead(mail.abs(f.path));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' || isNotRegularFile(err)) continue;
          throw new UnsafePathError(`${mail.shownAbs(f.path)}: ${describeFsError(err)}`, { cause: err });
        }
        // Keyed by the name's bytes (latin1), as the collector keys its files.
        summary.putFile(label, f.name, { size: f.size, mtimeMs: f.mtimeMs, sender: senderLabel(head) });
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
