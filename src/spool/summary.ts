// The in-memory picture of the mail queues: what the scanner knows of each
// message file and aggregates kept up to date on every change, so that
// reading it (a scrape) costs O(folders + top senders), never O(files). Pure:
// the scanner feeds it what it found on disk.
//
// A million queued messages is what a relay incident looks like, so the
// outgoing folders keep their files in a compact table (typed arrays indexed
// by slot, an open-addressing index from name to slot, senders interned to
// small integers) rather than an object per file in a Map: about 90 bytes per
// message (half of it the name) instead of 400.
// Incoming folders are small (what IceWarp has not yet processed) and pair
// files by stem, so they keep an entry object per file.
import { isDeferredFolder, messageFileKind, queueOfFolder, stemOf, type MessageFileKind, type QueueName } from './layout.js';

/** What the scanner knows of one file. `sender` only matters for outgoing `.tmp` files. */
export interface FileFacts {
  size: number;
  mtimeMs: number;
  /** An outgoing message's sender label; undefined while its head is not read yet (pending). */
  sender?: string;
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
  /**
   * Outgoing messages whose head is not read yet: counted in their folder's
   * messages and bytes, not yet in the sender figures. 0 when those are
   * complete; a source that learns every sender with its listing (Postfix's
   * postqueue) leaves it out. The sender figures (this, topSenders,
   * distinctSenders) are of one moment, the last settle(): they always add up.
   */
  pendingSenders?: number;
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

/**
 * Sender labels interned to small integers, with their message counts. An
 * id is freed when its count drops to 0, so a stream of one-off senders does
 * not grow the book.
 */
class SenderBook {
  private readonly ids = new Map<string, number>();
  private labels: string[] = [];
  private counts = new Int32Array(64);
  private readonly free: number[] = [];
  distinct = 0;
  dirty = false;

  /** Counts one more message of `label`; returns its id. */
  add(label: string): number {
    let id = this.ids.get(label);
    if (id === undefined) {
      id = this.free.pop() ?? this.labels.length;
      if (id === this.labels.length) this.labels.push(label);
      else this.labels[id] = label;
      if (id >= this.counts.length) this.counts = grow(this.counts, id + 1);
      this.ids.set(label, id);
      this.distinct++;
    }
    this.counts[id]!++;
    this.dirty = true;
    return id;
  }

  remove(id: number): void {
    if (--this.counts[id]! > 0) {
      this.dirty = true;
      return;
    }
    this.ids.delete(this.labels[id]!);
    this.labels[id] = '';
    this.free.push(id);
    this.distinct--;
    this.dirty = true;
  }

  label(id: number): string {
    return this.labels[id]!;
  }

  /** The n largest counts, ties by label. */
  top(n: number): { sender: string; messages: number }[] {
    const top = new TopList(n);
    for (let id = 0; id < this.labels.length; id++) if (this.counts[id]! > 0) top.offer(this.labels[id]!, this.counts[id]!);
    return top.items;
  }
}

/** What every queue folder keeps, whatever its queue. */
abstract class QueueFolder {
  /** The scan that last began: files it did not see are swept at its end. */
  generation = 0;
  /** Files seen by the running scan: when it equals the file count, sweep() has nothing to do and skips its walk. */
  seenCount = 0;
  messages = 0;
  bytes = 0;
  oldestMs: number | undefined;
  /** The oldest message left: recomputed by settle(), off the scrape path. */
  oldestDirty = false;
  orphanTmp = 0;
  orphanDat = 0;

  constructor(
    readonly folder: string,
    readonly queue: QueueName,
    protected readonly sameSize: SameSizeGroups,
  ) {}

  abstract fileCount(): number;
  abstract facts(name: string): FileFacts | undefined;
  /** Marks the file seen by the running scan if it is recorded with this size and modification time; returns whether it was. */
  abstract touchIfUnchanged(name: string, size: number, mtimeMs: number): boolean;
  abstract touch(name: string): void;
  abstract put(name: string, kind: MessageFileKind, facts: FileFacts): void;
  abstract remove(name: string): void;
  abstract fileNames(): string[];
  /** Names of files the scan of `generation` did not see. */
  abstract unseen(generation: number): string[];
  abstract findOldest(): number | undefined;

  protected addMessage(bytes: number, mtimeMs: number, sizeKey: number): void {
    this.messages++;
    this.bytes += bytes;
    if (!this.oldestDirty && (this.oldestMs === undefined || mtimeMs < this.oldestMs)) this.oldestMs = mtimeMs;
    this.sameSize.add(sizeKey);
  }

  protected removeMessage(bytes: number, mtimeMs: number, sizeKey: number): void {
    this.messages--;
    this.bytes -= bytes;
    if (mtimeMs === this.oldestMs) this.oldestDirty = true;
    this.sameSize.remove(sizeKey);
  }
}

/**
 * File name → slot, by open addressing over an Int32Array (linear probing,
 * backward-shift deletion, at most half full), instead of a Map: about 12
 * bytes per file instead of about 40, and no rehash of a million-entry Map.
 * The names themselves stay in the folder's table; this holds slot numbers
 * and each slot's hash.
 */
class NameIndex {
  /** slot + 1 per bucket; 0 is an empty bucket. */
  private buckets = new Int32Array(64);
  private hashes = new Int32Array(16);
  size = 0;
  /** The last name hashed: a scan looks a new file up, then adds it, so the second hash is free. */
  private lastName = '';
  private lastHash = hashName('');

  constructor(private readonly nameOf: (slot: number) => string | undefined) {}

  private hash(name: string): number {
    if (name !== this.lastName) {
      this.lastName = name;
      this.lastHash = hashName(name);
    }
    return this.lastHash;
  }

  get(name: string): number | undefined {
    const mask = this.buckets.length - 1;
    for (let b = this.hash(name) & mask; ; b = (b + 1) & mask) {
      const entry = this.buckets[b]!;
      if (entry === 0) return undefined;
      if (this.nameOf(entry - 1) === name) return entry - 1;
    }
  }

  /** Adds a name that is not in the index yet. */
  add(name: string, slot: number): void {
    if (2 * (this.size + 1) > this.buckets.length) this.resize(this.buckets.length * 2);
    if (slot >= this.hashes.length) this.hashes = grow(this.hashes, slot + 1);
    const h = this.hash(name);
    this.hashes[slot] = h;
    const mask = this.buckets.length - 1;
    let b = h & mask;
    while (this.buckets[b] !== 0) b = (b + 1) & mask;
    this.buckets[b] = slot + 1;
    this.size++;
  }

  delete(slot: number): void {
    const mask = this.buckets.length - 1;
    let b = this.hashes[slot]! & mask;
    while (this.buckets[b] !== slot + 1) {
      if (this.buckets[b] === 0) return;
      b = (b + 1) & mask;
    }
    // Backward shift: move up each following entry that probed past the freed bucket.
    for (let next = (b + 1) & mask; this.buckets[next] !== 0; next = (next + 1) & mask) {
      const home = this.hashes[this.buckets[next]! - 1]! & mask;
      if (((next - home) & mask) >= ((next - b) & mask)) {
        this.buckets[b] = this.buckets[next]!;
        b = next;
      }
    }
    this.buckets[b] = 0;
    this.size--;
  }

  private resize(length: number): void {
    const old = this.buckets;
    this.buckets = new Int32Array(length);
    const mask = length - 1;
    for (const entry of old) {
      if (entry === 0) continue;
      let b = this.hashes[entry - 1]! & mask;
      while (this.buckets[b] !== 0) b = (b + 1) & mask;
      this.buckets[b] = entry;
    }
  }
}

/** FNV-1a over the name's char codes (latin1 names: one per byte). */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Pending outgoing files handed out to have their heads read, with the size
 * and modification time recorded for each when it was handed out: a sender
 * read is kept against those (setSender), so a file changed since is read again.
 */
export interface PendingBatch {
  folder: string;
  names: string[];
  sizes: number[];
  mtimes: number[];
}

/** The sender column of a slot whose head is not read yet. */
const PENDING = -1;
/** …and of a pending slot handed out to be read (takePending), so it is not handed out twice. */
const READING = -2;

/**
 * An outgoing folder: `.tmp` files only, each a message, in a table of slots.
 * A free slot has no name; freed slots are reused before the table grows.
 */
class OutgoingFolder extends QueueFolder {
  private names: (string | undefined)[] = [];
  private readonly slots = new NameIndex((slot) => this.names[slot]);
  private size = new Float64Array(16);
  private mtime = new Float64Array(16);
  /** A SenderBook id, or PENDING / READING. */
  private sender = new Int32Array(16);
  private seen = new Uint32Array(16);
  private readonly free: number[] = [];
  pending = 0;
  /** Where the next takePending() starts looking: pending slots come in runs (a scan fills a table in order). */
  private cursor = 0;
  /**
   * The slot after the last one a scan touched. A folder lists its files in
   * the same order each time it is not changed (and a first scan fills the
   * table in that order), so a rescan finds most files here, without the
   * hash and the random access into the index (about 1 s of CPU per million files).
   */
  private next = 0;
  /** The same for setSender. */
  private nextRead = 0;

  constructor(folder: string, sameSize: SameSizeGroups, private readonly senders: SenderBook) {
    super(folder, 'outgoing', sameSize);
  }

  fileCount(): number {
    return this.slots.size;
  }

  facts(name: string): FileFacts | undefined {
    const i = this.slots.get(name);
    if (i === undefined) return undefined;
    const id = this.sender[i]!;
    return { size: this.size[i]!, mtimeMs: this.mtime[i]!, sender: id >= 0 ? this.senders.label(id) : undefined };
  }

  touchIfUnchanged(name: string, size: number, mtimeMs: number): boolean {
    const i = this.names[this.next] === name ? this.next : this.slots.get(name);
    if (i === undefined) return false;
    this.next = i + 1;
    if (this.size[i] !== size || this.mtime[i] !== mtimeMs) return false;
    if (this.seen[i] !== this.generation) {
      this.seen[i] = this.generation;
      this.seenCount++;
    }
    return true;
  }

  touch(name: string): void {
    const i = this.slots.get(name);
    if (i === undefined || this.seen[i] === this.generation) return;
    this.seen[i] = this.generation;
    this.seenCount++;
  }

  put(name: string, kind: MessageFileKind, facts: FileFacts): void {
    if (kind !== 'tmp') return;
    let i = this.slots.get(name);
    if (i === undefined) {
      i = this.allocate(name);
    } else {
      this.release(i);
      if (this.seen[i] === this.generation) this.seenCount--;
    }
    this.size[i] = facts.size;
    this.mtime[i] = facts.mtimeMs;
    this.seen[i] = this.generation;
    this.seenCount++;
    if (facts.sender === undefined) {
      this.sender[i] = PENDING;
      this.pending++;
      if (i < this.cursor) this.cursor = i;
    } else {
      this.sender[i] = this.senders.add(facts.sender);
    }
    this.addMessage(facts.size, facts.mtimeMs, facts.size);
  }

  remove(name: string): void {
    const i = this.slots.get(name);
    if (i === undefined) return;
    this.release(i);
    if (this.seen[i] === this.generation) this.seenCount--;
    this.slots.delete(i);
    this.names[i] = undefined;
    this.free.push(i);
  }

  /**
   * Records the sender read from a pending file's head, if the file is still
   * the one that was read: same size and modification time as recorded.
   * Otherwise it changed since: it goes back to pending, to be read again.
   * Returns whether the sender was recorded.
   */
  setSender(name: string, sender: string, size: number, mtimeMs: number): boolean {
    // Senders come back in the order takePending handed the files out: most are at the slot after the last.
    const i = this.names[this.nextRead] === name ? this.nextRead : this.slots.get(name);
    if (i === undefined) return false;
    this.nextRead = i + 1;
    if (this.sender[i]! >= 0) return false;
    if (this.size[i] !== size || this.mtime[i] !== mtimeMs) {
      this.sender[i] = PENDING;
      if (i < this.cursor) this.cursor = i;
      return false;
    }
    this.pending--;
    this.sender[i] = this.senders.add(sender);
    return true;
  }

  /**
   * Hands out up to `max` pending files to be read, with the size and time recorded for each;
   * they stay pending (uncounted) until setSender or giveBack.
   */
  takePending(max: number): PendingBatch {
    const out: PendingBatch = { folder: this.folder, names: [], sizes: [], mtimes: [] };
    const n = this.names.length;
    while (this.cursor < n && out.names.length < max) {
      const i = this.cursor++;
      if (this.sender[i] === PENDING && this.names[i] !== undefined) {
        this.sender[i] = READING;
        out.names.push(this.names[i]!);
        out.sizes.push(this.size[i]!);
        out.mtimes.push(this.mtime[i]!);
      }
    }
    return out;
  }

  /** Files handed out by takePending that could not be read after all: pending again. */
  giveBack(names: readonly string[]): void {
    for (const name of names) {
      const i = this.slots.get(name);
      if (i === undefined || this.sender[i] !== READING) continue;
      this.sender[i] = PENDING;
      if (i < this.cursor) this.cursor = i;
    }
  }

  fileNames(): string[] {
    return this.names.filter((n): n is string => n !== undefined);
  }

  unseen(generation: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.names.length; i++) if (this.names[i] !== undefined && this.seen[i]! < generation) out.push(this.names[i]!);
    return out;
  }

  findOldest(): number | undefined {
    let oldest = Infinity;
    for (let i = 0; i < this.names.length; i++) if (this.names[i] !== undefined && this.mtime[i]! < oldest) oldest = this.mtime[i]!;
    return oldest === Infinity ? undefined : oldest;
  }

  private allocate(name: string): number {
    let i = this.free.pop();
    if (i === undefined) {
      i = this.names.length;
      this.names.push(name);
      if (i >= this.size.length) {
        this.size = grow(this.size, i + 1);
        this.mtime = grow(this.mtime, i + 1);
        this.sender = grow(this.sender, i + 1);
        this.seen = grow(this.seen, i + 1);
      }
    } else {
      this.names[i] = name;
    }
    this.slots.add(name, i);
    return i;
  }

  /** Takes a slot's file out of the aggregates (before it is replaced or removed). */
  private release(i: number): void {
    const id = this.sender[i]!;
    if (id >= 0) this.senders.remove(id);
    else this.pending--;
    this.removeMessage(this.size[i]!, this.mtime[i]!, this.size[i]!);
  }
}

/** What the scanner knows of one file of an incoming folder. */
interface IncomingEntry {
  kind: MessageFileKind;
  size: number;
  mtimeMs: number;
  /** The folder scan that last saw it: a full scan sweeps entries it did not see. */
  seen: number;
}

/** The files of one incoming message, by kind: a message is a `.tmp` (or `.tm$`) with its `.dat`. */
interface IncomingStem {
  tmp?: IncomingEntry;
  'tm$'?: IncomingEntry;
  dat?: IncomingEntry;
}

/** What one stem adds to the aggregates. */
interface Contribution {
  message?: { bytes: number; mtimeMs: number; sizeKey: number };
  orphan?: 'tmp' | 'dat';
}

/** An incoming folder: `.tmp`/`.tm$` and `.dat` files paired by stem. */
class IncomingFolder extends QueueFolder {
  private readonly files = new Map<string, IncomingEntry>();
  private readonly stems = new Map<string, IncomingStem>();

  constructor(folder: string, sameSize: SameSizeGroups) {
    super(folder, 'incoming', sameSize);
  }

  fileCount(): number {
    return this.files.size;
  }

  facts(name: string): FileFacts | undefined {
    const e = this.files.get(name);
    return e && { size: e.size, mtimeMs: e.mtimeMs };
  }

  touchIfUnchanged(name: string, size: number, mtimeMs: number): boolean {
    const e = this.files.get(name);
    if (e === undefined || e.size !== size || e.mtimeMs !== mtimeMs) return false;
    this.touch(name);
    return true;
  }

  touch(name: string): void {
    const e = this.files.get(name);
    if (!e || e.seen === this.generation) return;
    e.seen = this.generation;
    this.seenCount++;
  }

  put(name: string, kind: MessageFileKind, facts: FileFacts): void {
    const entry: IncomingEntry = { kind, size: facts.size, mtimeMs: facts.mtimeMs, seen: this.generation };
    const previous = this.files.get(name);
    if (previous?.seen !== this.generation) this.seenCount++;
    const stem = stemOf(name);
    const pair = this.stems.get(stem) ?? {};
    this.subtract(incomingContribution(pair));
    if (previous && pair[previous.kind] === previous) delete pair[previous.kind];
    this.files.set(name, entry);
    pair[kind] = entry;
    this.stems.set(stem, pair);
    this.add(incomingContribution(pair));
  }

  remove(name: string): void {
    const entry = this.files.get(name);
    if (!entry) return;
    this.files.delete(name);
    if (entry.seen === this.generation) this.seenCount--;
    const stem = stemOf(name);
    const pair = this.stems.get(stem);
    if (!pair) return;
    this.subtract(incomingContribution(pair));
    if (pair[entry.kind] === entry) delete pair[entry.kind];
    if (!pair.tmp && !pair['tm$'] && !pair.dat) this.stems.delete(stem);
    else this.add(incomingContribution(pair));
  }

  fileNames(): string[] {
    return [...this.files.keys()];
  }

  unseen(generation: number): string[] {
    const out: string[] = [];
    for (const [name, e] of this.files) if (e.seen < generation) out.push(name);
    return out;
  }

  findOldest(): number | undefined {
    let oldest: number | undefined;
    for (const p of this.stems.values()) {
      const m = incomingContribution(p).message;
      if (m && (oldest === undefined || m.mtimeMs < oldest)) oldest = m.mtimeMs;
    }
    return oldest;
  }

  private add(c: Contribution): void {
    if (c.orphan === 'tmp') this.orphanTmp++;
    if (c.orphan === 'dat') this.orphanDat++;
    if (c.message) this.addMessage(c.message.bytes, c.message.mtimeMs, c.message.sizeKey);
  }

  private subtract(c: Contribution): void {
    if (c.orphan === 'tmp') this.orphanTmp--;
    if (c.orphan === 'dat') this.orphanDat--;
    if (c.message) this.removeMessage(c.message.bytes, c.message.mtimeMs, c.message.sizeKey);
  }
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

export class SpoolSummary {
  private readonly folders = new Map<string, OutgoingFolder | IncomingFolder>();
  private readonly senders = new SenderBook();
  private readonly sameSize: Record<QueueName, SameSizeGroups> = { outgoing: new SameSizeGroups(), incoming: new SameSizeGroups() };
  /** The sender figures as of the last settle(), all from the same moment, so a scrape sees them agree. */
  private top: { sender: string; messages: number }[] = [];
  private distinctSenders = 0;
  private settledPending = 0;

  constructor(private topN: number) {}

  setTopN(n: number): void {
    this.topN = n;
    this.senders.dirty = true;
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
    this.folders.set(
      folder,
      queue === 'outgoing' ? new OutgoingFolder(folder, this.sameSize.outgoing, this.senders) : new IncomingFolder(folder, this.sameSize.incoming),
    );
  }

  /** Forgets a folder and everything counted from it. */
  removeFolder(folder: string): void {
    const state = this.folders.get(folder);
    if (!state) return;
    for (const name of state.fileNames()) state.remove(name);
    this.folders.delete(folder);
  }

  /** The facts last recorded for a file. */
  file(folder: string, name: string): Readonly<FileFacts> | undefined {
    return this.folders.get(folder)?.facts(name);
  }

  /**
   * For a scan that found a file with this size and modification time: when
   * it is recorded so, marks it seen and returns true (nothing to read
   * again); otherwise returns false and the caller puts it.
   */
  touchIfUnchanged(folder: string, name: string, size: number, mtimeMs: number): boolean {
    return this.folders.get(folder)?.touchIfUnchanged(name, size, mtimeMs) ?? false;
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
    this.folders.get(folder)?.touch(name);
  }

  /** Removes the files the scan of `generation` did not see. */
  sweep(folder: string, generation: number): void {
    const state = this.folders.get(folder);
    if (!state || state.seenCount === state.fileCount()) return;
    for (const name of state.unseen(generation)) state.remove(name);
  }

  /**
   * Records a file as it is now. Files that are not message files for the
   * folder's queue (desktop.ini, lock files, `.dat` in `_outgoing`) are
   * ignored. An outgoing message without a sender is pending: counted in its
   * folder, not yet in the sender figures.
   */
  putFile(folder: string, name: string, facts: FileFacts): void {
    const kind = messageFileKind(name);
    if (kind) this.folders.get(folder)?.put(name, kind, facts);
  }

  removeFile(folder: string, name: string): void {
    this.folders.get(folder)?.remove(name);
  }

  /** Outgoing messages whose head is not read yet, in all folders. */
  pendingSenders(): number {
    let n = 0;
    for (const f of this.folders.values()) if (f instanceof OutgoingFolder) n += f.pending;
    return n;
  }

  /**
   * Hands out up to `max` pending outgoing files of one folder to have their
   * heads read; undefined when none is left to hand out. Each comes back
   * through setSender (read) or giveBack (not read).
   */
  takePending(max: number): PendingBatch | undefined {
    for (const f of this.folders.values()) {
      if (!(f instanceof OutgoingFolder) || f.pending === 0) continue;
      const batch = f.takePending(max);
      if (batch.names.length) return batch;
    }
    return undefined;
  }

  /** The names of a folder's recorded files, in table order (the order its first listing gave them). */
  fileNames(folder: string): string[] {
    return this.folders.get(folder)?.fileNames() ?? [];
  }

  /** Files of a folder, known or not (a rescan of a folder that holds none is a first look). */
  fileCount(folder: string): number {
    return this.folders.get(folder)?.fileCount() ?? 0;
  }

  /** See OutgoingFolder.setSender: the sender is kept only if the file is still the one read. */
  setSender(folder: string, name: string, sender: string, size: number, mtimeMs: number): boolean {
    const f = this.folders.get(folder);
    return f instanceof OutgoingFolder && f.setSender(name, sender, size, mtimeMs);
  }

  giveBack(folder: string, names: readonly string[]): void {
    const f = this.folders.get(folder);
    if (f instanceof OutgoingFolder) f.giveBack(names);
  }

  /**
   * Recomputes what removals left stale (a folder's oldest message, the top
   * senders). The scanner calls it after each batch of changes, so a scrape
   * never pays for it.
   */
  settle(): void {
    for (const state of this.folders.values()) {
      if (!state.oldestDirty) continue;
      state.oldestMs = state.findOldest();
      state.oldestDirty = false;
    }
    if (this.senders.dirty) {
      this.top = this.senders.top(this.topN);
      this.distinctSenders = this.senders.distinct;
      this.senders.dirty = false;
    }
    this.settledPending = this.pendingSenders();
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
      distinctSenders: this.distinctSenders,
      largestSameSize: { outgoing: this.sameSize.outgoing.largest, incoming: this.sameSize.incoming.largest },
      pendingSenders: this.settledPending,
    };
  }
}

/** A copy of a column with room for more slots (half again: a million-slot table wastes less than with doubling). */
function grow<T extends Float64Array | Int32Array | Uint32Array>(a: T, atLeast: number): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max(atLeast, Math.ceil(a.length * 1.5)));
  b.set(a);
  return b;
}

/**
 * The n largest counts offered, ties by name: a bounded selection, O(offers ·
 * log n). An offer that cannot make the list is turned away before anything
 * is allocated (most senders of a large queue have one message).
 */
class TopList {
  readonly items: { sender: string; messages: number }[] = [];

  constructor(private readonly n: number) {}

  offer(sender: string, messages: number): void {
    const top = this.items;
    if (this.n <= 0) return;
    if (top.length === this.n) {
      const last = top[this.n - 1]!;
      if (messages < last.messages || (messages === last.messages && sender >= last.sender)) return;
    }
    // Binary search for the insertion point in the sorted list.
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const t = top[mid]!;
      if (t.messages > messages || (t.messages === messages && t.sender < sender)) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, { sender, messages });
    if (top.length > this.n) top.pop();
  }
}

/** The n largest counts, ties by name, as a full sort would give them. */
export function topEntries(counts: Iterable<readonly [string, number]>, n: number): { sender: string; messages: number }[] {
  const top = new TopList(n);
  for (const [sender, messages] of counts) top.offer(sender, messages);
  return top.items;
}
