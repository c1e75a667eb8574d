// The in-memory picture of the mail queues: one entry per message file and
// aggregates kept up to date on every change, so that reading it (a scrape)
// costs O(folders + top senders), never O(files). Pure: the scanner feeds it
// what it found on disk.
import { isDeferredFolder, messageFileKind, queueOfFolder, stemOf, type MessageFileKind, type QueueName } from './layout.js';

/** What the scanner knows of one file. `sender` only matters for outgoing `.tmp` files. */
export interface FileFacts {
  size: number;
  mtimeMs: number;
  sender?: string;
}

interface FileEntry extends FileFacts {
  kind: MessageFileKind;
  /** The folder scan that last saw it: a full scan sweeps entries it did not see. */
  seen: number;
}

/** The files of one incoming message, by kind: a message is a `.tmp` (or `.tm$`) with its `.dat`. */
interface IncomingStem {
  tmp?: FileEntry;
  'tm$'?: FileEntry;
  dat?: FileEntry;
}

/** What one entry adds to the aggregates. */
interface Contribution {
  message?: { bytes: number; mtimeMs: number; sizeKey: number; sender?: string };
  orphan?: 'tmp' | 'dat';
}

interface FolderState {
  folder: string;
  queue: QueueName;
  files: Map<string, FileEntry>;
  /** Incoming folders only: pairs by stem. */
  stems: Map<string, IncomingStem>;
  generation: number;
  /** Files seen by the running scan: when it equals files.size, sweep() has nothing to do and skips its walk. */
  seenCount: number;
  messages: number;
  bytes: number;
  oldestMs: number | undefined;
  /** The oldest message left: recomputed by settle(), off the scrape path. */
  oldestDirty: boolean;
  orphanTmp: number;
  orphanDat: number;
}

/**
 * The `queue` label: mail waiting to leave (outgoing), received and not yet
 * processed (incoming), or set aside and never delivered as it stands
 * (quarantine: Postfix's hold queue).
 */
export type SpoolQueue = QueueName | 'quarantine';

/** A folder as a scrape sees it. */
export interface FolderSummary {
  folder: string;
  queue: SpoolQueue;
  /** Its messages wait for a retry after a failed delivery (IceWarp `_outgoing/retry`, Postfix `deferred`). */
  deferred: boolean;
  messages: number;
  bytes: number;
  /** 0 when the folder holds no message. */
  oldestAgeSeconds: number;
  /** Incoming folders only. */
  orphans?: { tmp: number; dat: number };
}

export interface SpoolSnapshot {
  folders: FolderSummary[];
  /** The largest senders of outgoing messages, most messages first, ties by name. */
  topSenders: { sender: string; messages: number }[];
  distinctSenders: number;
  largestSameSize: Record<QueueName, number>;
}

/**
 * Counts of messages per byte size, with the largest count kept exact in O(1)
 * per change: `byCount` says how many sizes have each count, so when the
 * largest group shrinks we know whether another group still has that count.
 */
class SameSizeGroups {
  private readonly bySize = new Map<number, number>();
  private readonly byCount = new Map<number, number>();
  largest = 0;

  add(size: number): void {
    const before = this.bySize.get(size) ?? 0;
    this.move(before, before + 1);
    this.bySize.set(size, before + 1);
  }

  remove(size: number): void {
    const before = this.bySize.get(size) ?? 0;
    if (before === 0) return;
    this.move(before, before - 1);
    if (before === 1) this.bySize.delete(size);
    else this.bySize.set(size, before - 1);
  }

  private move(from: number, to: number): void {
    if (from > 0) {
      const n = (this.byCount.get(from) ?? 1) - 1;
      if (n === 0) this.byCount.delete(from);
      else this.byCount.set(from, n);
    }
    if (to > 0) this.byCount.set(to, (this.byCount.get(to) ?? 0) + 1);
    if (to > this.largest) this.largest = to;
    else if (from === this.largest && to < from && !this.byCount.has(from)) this.largest = to;
  }
}

export class SpoolSummary {
  private readonly folders = new Map<string, FolderState>();
  private readonly senders = new Map<string, number>();
  private readonly sameSize: Record<QueueName, SameSizeGroups> = { outgoing: new SameSizeGroups(), incoming: new SameSizeGroups() };
  private top: { sender: string; messages: number }[] = [];
  private topDirty = false;

  constructor(private topN: number) {}

  setTopN(n: number): void {
    this.topN = n;
    this.topDirty = true;
    this.settle();
  }

  hasFolder(folder: string): boolean {
    return this.folders.has(folder);
  }

  folderNames(): string[] {
    return [...this.folders.keys()];
  }

  /** Starts tracking a queue folder (empty). Throws for a folder that is not a queue. */
  addFolder(folder: string): void {
    if (this.folders.has(folder)) return;
    const queue = queueOfFolder(folder);
    if (!queue) throw new Error(`${folder} is not a queue folder`);
    this.folders.set(folder, {
      folder,
      queue,
      files: new Map(),
      stems: new Map(),
      generation: 0,
      seenCount: 0,
      messages: 0,
      bytes: 0,
      oldestMs: undefined,
      oldestDirty: false,
      orphanTmp: 0,
      orphanDat: 0,
    });
  }

  /** Forgets a folder and everything counted from it. */
  removeFolder(folder: string): void {
    const state = this.folders.get(folder);
    if (!state) return;
    for (const name of [...state.files.keys()]) this.removeFile(folder, name);
    this.folders.delete(folder);
  }

  /** The facts last recorded for a file, to skip re-reading an unchanged file's head. */
  file(folder: string, name: string): Readonly<FileFacts> | undefined {
    return this.folders.get(folder)?.files.get(name);
  }

  /** Starts a full scan of a folder; files put or touched with the returned generation survive sweep(). */
  beginScan(folder: string): number {
    const state = this.folders.get(folder);
    if (!state) throw new Error(`${folder} is not tracked`);
    state.seenCount = 0;
    return ++state.generation;
  }

  /** Marks an unchanged file as seen by the running scan. */
  touch(folder: string, name: string): void {
    const state = this.folders.get(folder);
    const entry = state?.files.get(name);
    if (!state || !entry || entry.seen === state.generation) return;
    entry.seen = state.generation;
    state.seenCount++;
  }

  /** Removes the files the scan of `generation` did not see. */
  sweep(folder: string, generation: number): void {
    const state = this.folders.get(folder);
    if (!state || state.seenCount === state.files.size) return;
    const gone: string[] = [];
    for (const [name, entry] of state.files) if (entry.seen < generation) gone.push(name);
    for (const name of gone) this.removeFile(folder, name);
  }

  /**
   * Records a file as it is now. Files that are not message files for the
   * folder's queue (desktop.ini, lock files, `.dat` in `_outgoing`) are ignored.
   */
  putFile(folder: string, name: string, facts: FileFacts): void {
    const state = this.folders.get(folder);
    if (!state) return;
    const kind = messageFileKind(name);
    if (!kind || (state.queue === 'outgoing' && kind !== 'tmp')) return;
    const entry: FileEntry = { kind, size: facts.size, mtimeMs: facts.mtimeMs, seen: state.generation };
    if (state.queue === 'outgoing') entry.sender = facts.sender;
    if (state.files.get(name)?.seen !== state.generation) state.seenCount++;
    if (state.queue === 'outgoing') {
      const old = state.files.get(name);
      if (old) this.subtract(state, outgoingContribution(old));
      state.files.set(name, entry);
      this.add(state, outgoingContribution(entry));
      return;
    }
    const stem = stemOf(name);
    const pair = state.stems.get(stem) ?? {};
    this.subtract(state, incomingContribution(pair));
    const previous = state.files.get(name);
    if (previous && pair[previous.kind] === previous) delete pair[previous.kind];
    state.files.set(name, entry);
    pair[kind] = entry;
    state.stems.set(stem, pair);
    this.add(state, incomingContribution(pair));
  }

  removeFile(folder: string, name: string): void {
    const state = this.folders.get(folder);
    const entry = state?.files.get(name);
    if (!state || !entry) return;
    state.files.delete(name);
    if (entry.seen === state.generation) state.seenCount--;
    if (state.queue === 'outgoing') {
      this.subtract(state, outgoingContribution(entry));
      return;
    }
    const stem = stemOf(name);
    const pair = state.stems.get(stem);
    if (!pair) return;
    this.subtract(state, incomingContribution(pair));
    if (pair[entry.kind] === entry) delete pair[entry.kind];
    if (!pair.tmp && !pair['tm$'] && !pair.dat) state.stems.delete(stem);
    else this.add(state, incomingContribution(pair));
  }

  /**
   * Recomputes what removals left stale (a folder's oldest message, the top
   * senders). The scanner calls it after each batch of changes, so a scrape
   * never pays for it.
   */
  settle(): void {
    for (const state of this.folders.values()) {
      if (!state.oldestDirty) continue;
      let oldest: number | undefined;
      const visit = (c: Contribution): void => {
        if (c.message && (oldest === undefined || c.message.mtimeMs < oldest)) oldest = c.message.mtimeMs;
      };
      if (state.queue === 'outgoing') for (const e of state.files.values()) visit(outgoingContribution(e));
      else for (const p of state.stems.values()) visit(incomingContribution(p));
      state.oldestMs = oldest;
      state.oldestDirty = false;
    }
    if (this.topDirty) {
      this.top = topEntries(this.senders, this.topN);
      this.topDirty = false;
    }
  }

  /** The picture a scrape reports. O(folders + top senders). */
  snapshot(nowMs: number): SpoolSnapshot {
    const folders: FolderSummary[] = [];
    for (const s of [...this.folders.values()].sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0))) {
      const summary: FolderSummary = {
        folder: s.folder,
        queue: s.queue,
        deferred: isDeferredFolder(s.folder),
        messages: s.messages,
        bytes: s.bytes,
        oldestAgeSeconds: s.oldestMs === undefined ? 0 : Math.max(0, (nowMs - s.oldestMs) / 1000),
      };
      if (s.queue === 'incoming') summary.orphans = { tmp: s.orphanTmp, dat: s.orphanDat };
      folders.push(summary);
    }
    return {
      folders,
      topSenders: this.top.map((t) => ({ ...t })),
      distinctSenders: this.senders.size,
      largestSameSize: { outgoing: this.sameSize.outgoing.largest, incoming: this.sameSize.incoming.largest },
    };
  }

  private add(state: FolderState, c: Contribution): void {
    if (c.orphan === 'tmp') state.orphanTmp++;
    if (c.orphan === 'dat') state.orphanDat++;
    const m = c.message;
    if (!m) return;
    state.messages++;
    state.bytes += m.bytes;
    if (!state.oldestDirty && (state.oldestMs === undefined || m.mtimeMs < state.oldestMs)) state.oldestMs = m.mtimeMs;
    this.sameSize[state.queue].add(m.sizeKey);
    if (m.sender !== undefined) {
      this.senders.set(m.sender, (this.senders.get(m.sender) ?? 0) + 1);
      this.topDirty = true;
    }
  }

  private subtract(state: FolderState, c: Contribution): void {
    if (c.orphan === 'tmp') state.orphanTmp--;
    if (c.orphan === 'dat') state.orphanDat--;
    const m = c.message;
    if (!m) return;
    state.messages--;
    state.bytes -= m.bytes;
    if (m.mtimeMs === state.oldestMs) state.oldestDirty = true;
    this.sameSize[state.queue].remove(m.sizeKey);
    if (m.sender !== undefined) {
      const n = (this.senders.get(m.sender) ?? 1) - 1;
      if (n === 0) this.senders.delete(m.sender);
      else this.senders.set(m.sender, n);
      this.topDirty = true;
    }
  }
}

function outgoingContribution(e: FileEntry): Contribution {
  if (e.kind !== 'tmp') return {};
  return { message: { bytes: e.size, mtimeMs: e.mtimeMs, sizeKey: e.size, sender: e.sender } };
}

/**
 * An incoming message is a message file (`.tmp`, or `.tm$` as IceWarp's
 * formats allow) with its `.dat`: its bytes are both files, its time the
 * older one, its size for same-size grouping the message file's. A `.tmp` or
 * `.dat` alone is an orphan; a `.tm$` alone is still being written and
 * counts as nothing.
 */
function incomingContribution(p: IncomingStem): Contribution {
  const body = p.tmp ?? p['tm$'];
  if (body && p.dat) {
    return { message: { bytes: body.size + p.dat.size, mtimeMs: Math.min(body.mtimeMs, p.dat.mtimeMs), sizeKey: body.size } };
  }
  if (p.tmp) return { orphan: 'tmp' };
  if (p.dat && !p['tm$']) return { orphan: 'dat' };
  return {};
}

/** The n largest counts, ties by name: a bounded selection, O(senders · log n). */
export function topEntries(counts: ReadonlyMap<string, number>, n: number): { sender: string; messages: number }[] {
  const top: { sender: string; messages: number }[] = [];
  const before = (a: { sender: string; messages: number }, b: { sender: string; messages: number }): boolean =>
    a.messages > b.messages || (a.messages === b.messages && a.sender < b.sender);
  for (const [sender, messages] of counts) {
    const item = { sender, messages };
    if (top.length === n && !before(item, top[n - 1]!)) continue;
    // Binary search for the insertion point in the sorted top list.
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(top[mid]!, item)) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, item);
    if (top.length > n) top.pop();
  }
  return top;
}
