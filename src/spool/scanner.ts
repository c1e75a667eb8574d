// Keeps a SpoolSummary of the mail queues up to date: a full scan at start,
// file events from fs.watch between scans, and a periodic full rescan that
// heals missed events. A scrape only reads the summary; it never waits for a
// scan and never touches the disk.
//
// A scan has two phases. The first lists each queue folder and lstats its
// files: that is all the depth, bytes and oldest age need, and `ready`
// resolves when it is done. The second reads the head of each outgoing
// message not known yet, to find its original sender; it runs behind the
// first, on worker threads for large batches, while scrapes and file events
// go on, and the sender figures fill in as it goes (snapshot().pendingSenders
// says how many are still to read). A rescan reuses what it knows: a file
// with the same size and modification time is not read again, and a folder
// whose directory has not changed since it was last listed (the same inode,
// mtime and ctime: making, removing or renaming an entry sets them; that mtime
// over 2 s older than the listing, for coarse timestamps) is not listed
// again, its known files are lstat'ed by name. A rescan of an unchanged queue
// is one lstat per file and one per folder.
//
// Why fs.watch and not chokidar: chokidar stats every file it watches and
// keeps a record per file, i.e. a second walk of a 200,000-file queue and its
// memory again; one non-recursive inotify watch per queue folder tells us the
// names that changed, and we lstat just those.
//
// Why synchronous calls, not fs/promises: through fs/promises each call is a
// libuv request, a thread hop and a promise, several microseconds of
// main-thread time per file, more than the system call itself; the same
// calls made synchronously cost about the system call. The main thread lists
// folders and keeps the summary in time-boxed slices (each runs at most
// SLICE_MS before yielding, so a scrape waits at most that long). A first
// look at a large folder (the first scan, a folder that was empty) has its
// lstats made on two worker threads (workers.ts), the second core, and the
// head reads are made there too; they come back as typed arrays. A rescan
// of a folder already known lstats on the main thread: its files are mostly
// unchanged, and passing a million names to a worker and its answers back
// costs more CPU than the lstats it would take off the main thread (at a
// million files: 1.32× a bare readdir + lstat loop's CPU through the
// workers). Small batches (file events) stay on the main thread too. The
// lstat makes no Stats object (fileStat.ts).
import { lstatSync, opendirSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { lstatFacts, type SizeAndTime } from './fileStat.js';
import { join, sep } from 'node:path';
import type { Logger } from '../logger.js';
import { stepAside } from '../turns.js';
import {
  HEAD_FAILED,
  HEAD_GONE,
  HEAD_NOT_REGULAR,
  HEAD_NO_SENDER,
  QueueFileWorkers,
  STAT_FAILED,
  STAT_FILE,
  STAT_GONE,
  STAT_OTHER,
  type HeadBatch,
  type StatBatch,
} from './workers.js';
import {
  HEAD_BYTES,
  INCOMING,
  INCOMING_BAK,
  OUTGOING,
  UNKNOWN_SENDER,
  isNotRegularFile,
  messageFileKind,
  normalizeSender,
  parseOriginalSender,
  queueOfFolder,
  readHeadSync,
  type HeadRead,
} from './layout.js';
import { SpoolSummary, type PendingBatch, type SpoolSnapshot } from './summary.js';

/** A directory entry; its name as latin1, one char per byte, so a name that is not UTF-8 is kept exactly. */
export interface QueueDirent {
  name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** An open directory, read one entry at a time (the entries come from the kernel in batches). */
export interface QueueDir {
  /** The next entry, or null at the end. */
  readSync(): QueueDirent | null;
  closeSync(): void;
}

/**
 * The file-system calls the scanner makes, so tests can inject faults a root
 * user cannot cause. File names are raw bytes: a name that is not valid
 * UTF-8 (Latin-1 from a Windows copy) must still be found and stat'ed.
 */
export interface SpoolFs {
  opendir(path: string): QueueDir;
  /** lstat; undefined when the path does not exist. */
  lstat(path: string | Buffer): Stats | undefined;
  /** Reads the start of a regular file into buf, never blocking (see readHeadSync). */
  readHead(path: string | Buffer, buf: Buffer): HeadRead;
  watch(path: string, listener: (event: string, filename: Buffer | null) => void): FSWatcher;
}

export const nodeSpoolFs: SpoolFs = {
  // 'latin1' names: one char per byte, no Buffer per entry, and nothing lost for names that are not UTF-8.
  opendir: (path) => opendirSync(path, { encoding: 'latin1', bufferSize: 1024 }),
  lstat: (path) => lstatSync(path, { throwIfNoEntry: false }),
  readHead: readHeadSync,
  watch: (path, listener) => watch(path, { persistent: false, encoding: 'buffer' }, (event, filename) => listener(event, filename)),
};

/** The null sender `<>` as a label value: an empty label value would read as a missing label. */
export const NULL_SENDER = '<>';

/** The top-level queue folders, watched through the mail directory itself. */
const TOP_FOLDERS = [OUTGOING, INCOMING, INCOMING_BAK] as const;
/** Reported even when missing (an empty queue: IceWarp recreates them when needed). */
const ALWAYS_REPORTED = new Set<string>([OUTGOING, INCOMING]);
/** Subfolders of `_outgoing` tracked at most; their names become label values. */
export const MAX_OUTGOING_SUBFOLDERS = 64;
const MAX_FOLDER_NAME = 100;
/** A folder with more pending names than this is rescanned instead: the pending set stays bounded. */
const MAX_PENDING_NAMES = 20_000;
const SLICE_MS = 5;
/**
 * How much older than the start of its last listing a folder's mtime must be
 * for an unchanged mtime to prove an unchanged folder (git's "racy" rule): a
 * file system stamps with coarse timestamps (a tick, a second, FAT's two),
 * so an entry made just after a listing can leave the stamp as it was.
 */
const RACY_MARGIN_MS = 2000;
const SETTLE_MS = 100;
const RECENTLY_REMOVED = 10_000;
/**
 * Files per batch handed to a worker (lstat or head): large enough that messaging costs little
 * per file. Each answer wakes the main thread; at a million files 4,096 rather than 1,024 saved
 * about 1 s of the main thread's CPU (and larger batches nothing more).
 */
const BATCH = 4096;
/** Fewer pending heads than this are read on the main thread: a worker is not worth starting for them. */
const INLINE_HEADS = 2048;

export interface SpoolScannerOptions {
  mailDirectory: string;
  topSenders: number;
  /** Full rescan period; 0 disables it. */
  rescanIntervalMs: number;
  /** How long file events are gathered before they are applied. */
  eventDelayMs?: number;
  /**
   * Worker threads for bulk file work (default 2; 0 does it all on the main
   * thread, in slices): the lstat of folders with more than a batch of
   * files, and the heads when many are pending. An injected `fs.lstat` or
   * `fs.readHead` is always honoured: that call is then made on the main thread.
   */
  workers?: number;
  now?: () => number;
  fs?: SpoolFs;
  log?: Logger;
}

/**
 * A folder as it was when last listed: the directory's identity and stamps,
 * when the listing began, and the subfolders it found (`_outgoing`).
 */
interface FolderListing {
  dev: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
  startedMs: number;
  subfolders: string[];
}

/** Folder passes of full scans and rescans since start. */
export interface FolderPasses {
  /** Passes that listed the folder. */
  listed: number;
  /** Passes that found the directory unchanged since its last listing and lstat'ed the files known instead. */
  unchanged: number;
}

export interface ScanStatus {
  success: boolean;
  /** The last full scan's first phase: listing and lstat of every queue folder. */
  durationSeconds: number;
}

export class SpoolScanner {
  /** Resolves when the first full scan has listed and stat'ed every queue folder: depth, bytes and ages are exact. */
  readonly ready: Promise<void>;
  private readonly summary: SpoolSummary;
  private readonly fs: SpoolFs;
  private readonly now: () => number;
  private readonly eventDelayMs: number;
  private readonly root: string;
  private readonly head = Buffer.allocUnsafe(HEAD_BYTES);
  /** What the last lstatFacts found. */
  private readonly stat: SizeAndTime = { size: 0, mtimeMs: 0 };
  private readonly workers: QueueFileWorkers | undefined;
  private readonly watchers = new Map<string, { watcher: FSWatcher; ino: number }>();
  private readonly pendingNames = new Map<string, Set<string>>();
  /** Folders whose existence or identity may have changed. */
  private readonly pendingChecks = new Set<string>();
  private readonly pendingRescans = new Set<string>();
  /** Senders of files that just left a folder, to skip re-reading them when they reappear in another (a move to retry). */
  private readonly recentlyRemoved = new Map<string, string>();
  /** Folders (or '' for the mail directory) that could not be read at their last scan. */
  private readonly failing = new Set<string>();
  /** Raw Original Sender addresses from the workers, normalized once each. */
  private readonly labels = new Map<string, string>();
  /** Each folder's last complete listing: a rescan of a directory that has not changed since skips the listing. */
  private readonly listings = new Map<string, FolderListing>();
  private readonly passes: FolderPasses = { listed: 0, unchanged: 0 };
  private work: Promise<void> = Promise.resolve();
  /** The second phase while it runs: reading pending heads. */
  private reading: Promise<void> | undefined;
  private readonly sendersDone = new Set<() => void>();
  private flushTimer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private fullScanQueued = false;
  private workersFailed = false;
  private stopped = false;
  private lastDuration: number | undefined;
  private errors = 0;
  private lastSlice = 0;
  private lastSettle = 0;

  constructor(private readonly options: SpoolScannerOptions) {
    this.summary = new SpoolSummary(options.topSenders);
    this.fs = options.fs ?? nodeSpoolFs;
    this.now = options.now ?? Date.now;
    this.eventDelayMs = options.eventDelayMs ?? 100;
    this.root = options.mailDirectory;
    const workers = options.workers ?? 2;
    this.workers = workers > 0 ? new QueueFileWorkers(workers) : undefined;
    this.watchRoot();
    this.ready = this.fullScan();
    this.setRescanInterval(options.rescanIntervalMs);
  }

  /** The queues as of the last applied change: O(folders + top senders). */
  snapshot(): SpoolSnapshot {
    return this.summary.snapshot(this.now());
  }

  /** Success: no queue folder failed at its last scan. Undefined before the first full scan. */
  status(): ScanStatus | undefined {
    if (this.lastDuration === undefined) return undefined;
    return { success: this.failing.size === 0, durationSeconds: this.lastDuration };
  }

  /** Folders that could not be read, files whose stat or head failed: a counter. */
  scanErrors(): number {
    return this.errors;
  }

  /** How many folder passes listed their folder, and how many found it unchanged and did not. */
  folderPasses(): FolderPasses {
    return { ...this.passes };
  }

  /** Whether every outgoing message's sender is read: the sender figures are complete. */
  sendersComplete(): boolean {
    return this.summary.pendingSenders() === 0;
  }

  /** Resolves the next time every known outgoing message's sender is read (at once if it is now). */
  whenSendersComplete(): Promise<void> {
    if (this.sendersComplete() && !this.reading) return Promise.resolve();
    return new Promise((resolve) => this.sendersDone.add(resolve));
  }

  setTopSenders(n: number): void {
    this.summary.setTopN(n);
  }

  setRescanInterval(ms: number): void {
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    if (ms > 0) {
      this.rescanTimer = setInterval(() => void this.fullScan(), ms);
      this.rescanTimer.unref();
    }
  }

  /** Runs a full scan (its first phase) after the work in progress; resolves when it is done. */
  fullScan(): Promise<void> {
    if (this.fullScanQueued) return this.work;
    this.fullScanQueued = true;
    return this.enqueue(async () => {
      this.fullScanQueued = false;
      const started = performance.now();
      await this.scanAll();
      this.lastDuration = (performance.now() - started) / 1000;
    });
  }

  /** Waits for the work queued so far and the head reading it started (tests). */
  async idle(): Promise<void> {
    await this.work;
    await this.whenSendersComplete();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
    // Workers first: the batches they hold fail at once instead of being waited for.
    await this.workers?.stop();
    await this.work;
    await this.reading;
    for (const done of this.sendersDone) done();
    this.sendersDone.clear();
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.work.then(async () => {
      if (this.stopped) return;
      try {
        await job();
      } catch (err) {
        this.errors++;
        this.options.log?.error('spool scan failed', { err });
      }
      this.readPendingHeads();
    });
    this.work = run;
    return run;
  }

  private async scanAll(): Promise<void> {
    let rootStats: Stats | undefined;
    let rootError: unknown;
    try {
      rootStats = statFollowing(this.root, this.fs);
    } catch (err) {
      rootError = err;
    }
    if (!rootStats?.isDirectory()) {
      this.fail('', rootError ?? new Error(`${this.root}: no such directory`));
      for (const f of this.summary.folderNames()) this.dropFolder(f);
      this.summary.settle();
      return;
    }
    this.failing.delete('');
    if (!this.watchers.has('')) this.watchRoot();
    for (const folder of TOP_FOLDERS) await this.scanFolder(folder, true);
  }

  /**
   * Lists one queue folder and lstats its files: what it holds replaces what
   * the summary had. For `_outgoing`, also finds its subfolders and (deep)
   * scans them. A folder whose directory has not changed since its last
   * listing is not listed again: its known files are lstat'ed (see unchangedSince).
   */
  private async scanFolder(folder: string, deep: boolean): Promise<void> {
    const path = join(this.root, folder);
    // Before the directory's lstat: whatever changes it after this time stamps it at this time or later.
    const startedMs = Date.now();
    let st: Stats | undefined;
    try {
      st = this.fs.lstat(path);
    } catch (err) {
      this.fail(folder, err);
      this.dropFolder(folder);
      return;
    }
    // A symlinked folder is not followed: it may point anywhere.
    if (st?.isSymbolicLink()) this.options.log?.warn('spool: queue folder is a symlink, not followed', { folder: path });
    if (!st?.isDirectory()) {
      this.failing.delete(folder);
      this.dropFolder(folder);
      if (ALWAYS_REPORTED.has(folder)) this.summary.addFolder(folder);
      this.summary.settle();
      return;
    }
    this.summary.addFolder(folder);
    this.watchFolder(folder, st.ino);
    const errorsBefore = this.errors;
    const listing = this.listings.get(folder);
    if (listing && !this.failing.has(folder) && unchangedSince(listing, st)) {
      this.passes.unchanged++;
      if (!(await this.statKnown(folder, path))) return;
      // A file that could not be lstat'ed was swept as a listing would; the next pass lists again.
      if (this.errors !== errorsBefore) this.listings.delete(folder);
      await this.scanSubfolders(folder, listing.subfolders, deep);
      return;
    }
    this.listings.delete(folder);
    this.passes.listed++;
    // A first look (no file known) goes to the workers; a rescan stays here (see the top of the file).
    const firstLook = this.summary.fileCount(folder) === 0;
    const generation = this.summary.beginScan(folder);
    const subfolders: string[] = [];
    const outgoing = queueOfFolder(folder) === 'outgoing';
    const paths = new FolderPaths(path);
    // Full batches of names go to the workers for lstat while the listing goes on; the rest is stat'ed here.
    const workers = firstLook && this.fs.lstat === nodeSpoolFs.lstat && !this.workersFailed ? this.workers : undefined;
    const inFlight = new Set<Promise<void>>();
    let batch: string[] = [];
    let failure: unknown;
    let abandoned = false;
    let dir: QueueDir | undefined;
    try {
      dir = this.fs.opendir(path);
      for (let entries = 0; ; entries++) {
        // (The clock is read every 64 entries: reading it costs about what handling an entry does.)
        if ((entries & 63) === 0 && performance.now() - this.lastSlice > SLICE_MS) {
          await this.yieldSlice();
          if (this.stopped || !this.summary.hasFolder(folder)) {
            abandoned = true;
            break;
          }
        }
        const d = dir.readSync();
        if (!d) break;
        if (d.isDirectory() || (folder === OUTGOING && !d.isFile() && !d.isSymbolicLink() && this.isDirectory(paths.of(d.name)))) {
          // (Some file systems give no entry type: then lstat says.)
          if (folder === OUTGOING) subfolders.push(folderLabel(d.name) ?? '');
          continue;
        }
        if (d.isSymbolicLink() || !wanted(d.name, outgoing)) continue;
        if (!workers) {
          this.applyName(folder, paths, d.name);
          continue;
        }
        batch.push(d.name);
        if (batch.length < BATCH) continue;
        const job: Promise<void> = this.statOnWorker(workers, folder, paths, batch).finally(() => inFlight.delete(job));
        inFlight.add(job);
        batch = [];
        if (inFlight.size >= 2 * workers.size) await Promise.race(inFlight);
      }
    } catch (err) {
      failure = err;
    } finally {
      try {
        dir?.closeSync();
      } catch {
        // Already closed, or the folder is gone: nothing to release.
      }
    }
    if (!failure && !abandoned) for (const name of batch) this.applyName(folder, paths, name);
    await Promise.all(inFlight);
    if (this.stopped || abandoned) return;
    if (failure !== undefined) {
      if (isCode(failure, 'ENOENT') || isCode(failure, 'ENOTDIR')) {
        // It vanished while we read it: the next event or scan says what replaced it.
        this.dropFolder(folder);
        if (ALWAYS_REPORTED.has(folder)) this.summary.addFolder(folder);
        this.pendingChecks.add(folder);
        this.scheduleFlush();
        return;
      }
      this.fail(folder, failure);
      this.dropFolder(folder);
      return;
    }
    this.summary.sweep(folder, generation);
    this.summary.settle();
    this.failing.delete(folder);
    // Kept only when every file was lstat'ed: a file whose lstat failed is not known, and only a listing finds it again.
    if (this.errors === errorsBefore) {
      this.listings.set(folder, { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, startedMs, subfolders });
    }
    await this.scanSubfolders(folder, subfolders, deep);
  }

  /**
   * The pass over a folder whose directory has not changed since it was
   * listed: no entry was made, removed or renamed, so the names are the ones
   * known, and each is lstat'ed, in the order known, as a listing would.
   * A file rewritten in place is seen by its size and time; one that is gone
   * after all (a racing delete) is forgotten. False when the pass was abandoned.
   */
  private async statKnown(folder: string, path: string): Promise<boolean> {
    const generation = this.summary.beginScan(folder);
    const paths = new FolderPaths(path);
    const names = this.summary.fileNames(folder);
    for (let i = 0; i < names.length; i++) {
      if ((i & 63) === 0 && performance.now() - this.lastSlice > SLICE_MS) {
        await this.yieldSlice();
        if (this.stopped || !this.summary.hasFolder(folder)) return false;
      }
      this.applyName(folder, paths, names[i]!);
    }
    this.summary.sweep(folder, generation);
    this.summary.settle();
    this.failing.delete(folder);
    return true;
  }

  /** After a pass over a folder: for `_outgoing`, tracks the subfolders it holds (within the limits) and scans them. */
  private async scanSubfolders(folder: string, subfolders: readonly string[], deep: boolean): Promise<void> {
    if (folder !== OUTGOING) return;
    const present = new Set<string>();
    for (const name of [...subfolders].sort()) {
      const sub = `${OUTGOING}/${name}`;
      if (name === '' || name.length > MAX_FOLDER_NAME || present.size >= MAX_OUTGOING_SUBFOLDERS) {
        this.options.log?.warn('spool: outgoing subfolder not tracked', { folder: sub.slice(0, 200) });
        continue;
      }
      present.add(sub);
    }
    for (const f of this.summary.folderNames()) {
      if (f.startsWith(`${OUTGOING}/`) && !present.has(f)) this.dropFolder(f);
    }
    for (const sub of present) {
      if (deep || !this.summary.hasFolder(sub)) await this.scanFolder(sub, false);
    }
  }

  /** Yields to the event loop between slices of work, settling what a scrape will read first. */
  /** A turn of the event loop, or a few while clients connect (Node accepts one connection a turn: see turns.ts). */
  private async yieldSlice(): Promise<void> {
    this.settleSoon();
    do await new Promise((r) => setImmediate(r));
    while (stepAside());
    this.lastSlice = performance.now();
  }

  /** Stats the named files of a folder and records them, in time-boxed slices. */
  private async applyNames(folder: string, names: Iterable<string>): Promise<void> {
    const paths = new FolderPaths(join(this.root, folder));
    for (const name of names) {
      if (performance.now() - this.lastSlice > SLICE_MS) {
        await this.yieldSlice();
        if (this.stopped || !this.summary.hasFolder(folder)) return;
      }
      this.applyName(folder, paths, name);
    }
    this.settleSoon();
  }

  /**
   * Recomputes the top senders and stale oldest times at most every
   * SETTLE_MS while a batch is being applied (with 50,000 senders a
   * recompute costs well under a millisecond); each scan and flush settles at its end.
   */
  private settleSoon(): void {
    if (performance.now() - this.lastSettle < SETTLE_MS) return;
    this.summary.settle();
    this.lastSettle = performance.now();
  }

  /**
   * The first phase for one file: lstat, and record it as it is now. An
   * outgoing message that is new or changed is recorded pending: the second
   * phase reads its head. `name` holds the file name's bytes as latin1.
   */
  private applyName(folder: string, paths: FolderPaths, name: string): void {
    const path = paths.of(name);
    let kind: number;
    try {
      kind = this.fs.lstat === nodeSpoolFs.lstat ? lstatFacts(path, this.stat) : this.injectedLstat(path);
    } catch (err) {
      this.countError(path, err);
      return;
    }
    if (kind === STAT_GONE) this.forget(folder, name);
    // A folder, a symlink (never followed) or a device: not a message.
    else if (kind === STAT_OTHER) this.summary.removeFile(folder, name);
    else this.record(folder, name, this.stat.size, this.stat.mtimeMs);
  }

  /** lstatFacts through an injected SpoolFs.lstat (tests). */
  private injectedLstat(path: string | Buffer): number {
    const st = this.fs.lstat(path);
    if (!st) return STAT_GONE;
    if (!st.isFile()) return STAT_OTHER;
    this.stat.size = st.size;
    this.stat.mtimeMs = st.mtimeMs;
    return STAT_FILE;
  }

  private record(folder: string, name: string, size: number, mtimeMs: number): void {
    if (this.summary.touchIfUnchanged(folder, name, size, mtimeMs)) return;
    // A message moved from another folder (to retry) keeps the sender read there.
    const sender = this.recentlyRemoved.size ? this.recentlyRemoved.get(moveKey(name, { size, mtimeMs })) : undefined;
    this.summary.putFile(folder, name, { size, mtimeMs, sender });
  }

  /** The first phase for a batch of names, their lstat made on a worker. */
  private async statOnWorker(workers: QueueFileWorkers, folder: string, paths: FolderPaths, names: string[]): Promise<void> {
    let r: StatBatch;
    try {
      r = await workers.stat(paths.prefix, names);
    } catch (err) {
      if (this.stopped) return;
      this.workerFailed(err);
      for (const name of names) this.applyName(folder, paths, name);
      return;
    }
    if (this.stopped) return;
    for (let i = 0; i < names.length; i++) {
      // A batch is applied in time-boxed slices too: a port hands over all the answers waiting at once.
      if ((i & 255) === 255 && performance.now() - this.lastSlice > SLICE_MS) {
        await this.yieldSlice();
        if (this.stopped) return;
      }
      const kind = r.kinds[i];
      if (kind === STAT_FILE) this.record(folder, names[i]!, r.sizes[i]!, r.mtimes[i]!);
      else if (kind === STAT_OTHER) this.summary.removeFile(folder, names[i]!);
      else if (kind === STAT_GONE) this.forget(folder, names[i]!);
      else if (kind === STAT_FAILED) this.errors++;
    }
    if (r.firstError) this.options.log?.debug('spool: cannot read file', { err: r.firstError });
  }

  /** A worker that could not start, or died: from now on the main thread does the work. */
  private workerFailed(err: unknown): void {
    if (!this.stopped && !this.workersFailed) this.options.log?.warn('spool: queue file worker failed, working on the main thread', { err: errorText(err) });
    this.workersFailed = true;
  }

  // --- the second phase: original senders ---------------------------------

  /** Starts reading the pending heads, unless that is under way; it runs until none is left. */
  private readPendingHeads(): void {
    if (this.reading || this.stopped) return;
    if (this.summary.pendingSenders() === 0) {
      this.notifySendersComplete();
      return;
    }
    this.reading = this.readHeads()
      .catch((err: unknown) => {
        this.errors++;
        this.options.log?.error('spool: reading message heads failed', { err: errorText(err) });
      })
      .finally(() => {
        this.reading = undefined;
        this.summary.settle();
        // Files that turned pending while the last batches were out (events, a rescan) are read now.
        if (!this.stopped && this.summary.pendingSenders() > 0) this.readPendingHeads();
        else this.notifySendersComplete();
      });
  }

  private notifySendersComplete(): void {
    for (const done of this.sendersDone) done();
    this.sendersDone.clear();
  }

  private async readHeads(): Promise<void> {
    // Two batches per worker in flight: one being read while the other's result is applied.
    const inFlight = new Set<Promise<void>>();
    for (;;) {
      if (this.stopped) break;
      const pending = this.summary.pendingSenders();
      const batch = this.summary.takePending(BATCH);
      if (!batch) break;
      const workers = this.fs.readHead === nodeSpoolFs.readHead && !this.workersFailed ? this.workers : undefined;
      if (!workers || pending < INLINE_HEADS) {
        await this.readInline(batch.folder, batch.names);
        continue;
      }
      const job: Promise<void> = this.readOnWorker(workers, batch).finally(() => inFlight.delete(job));
      inFlight.add(job);
      if (inFlight.size >= 2 * workers.size) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  /** Reads heads on the main thread, in time-boxed slices. */
  private async readInline(folder: string, names: string[]): Promise<void> {
    const paths = new FolderPaths(join(this.root, folder));
    for (let i = 0; i < names.length; i++) {
      if (performance.now() - this.lastSlice > SLICE_MS) {
        await this.yieldSlice();
        if (this.stopped) {
          this.summary.giveBack(folder, names.slice(i));
          return;
        }
      }
      const name = names[i]!;
      const path = paths.of(name);
      let read: HeadRead;
      try {
        read = this.fs.readHead(path, this.head);
      } catch (err) {
        this.headFailed(folder, name, path, err);
        continue;
      }
      const sender = senderLabel(this.head.toString('latin1', 0, read.bytes));
      this.summary.setSender(folder, name, sender, read.size, read.mtimeMs);
    }
    this.settleSoon();
  }

  /** Reads heads on a worker; each sender is kept against the size and time recorded when the file was handed out. */
  private async readOnWorker(workers: QueueFileWorkers, { folder, names, sizes, mtimes }: PendingBatch): Promise<void> {
    let result: HeadBatch;
    try {
      result = await workers.heads(join(this.root, folder) + sep, names);
    } catch (err) {
      this.workerFailed(err);
      this.summary.giveBack(folder, names);
      return;
    }
    if (this.stopped || !this.summary.hasFolder(folder)) return;
    const { codes, raws } = result;
    for (let i = 0; i < names.length; i++) {
      if ((i & 255) === 255 && performance.now() - this.lastSlice > SLICE_MS) {
        await this.yieldSlice();
        if (this.stopped || !this.summary.hasFolder(folder)) return;
      }
      const code = codes[i]!;
      const name = names[i]!;
      if (code >= 0 || code === HEAD_NO_SENDER) {
        const sender = code >= 0 ? this.labelOf(raws[code]!) : UNKNOWN_SENDER;
        this.summary.setSender(folder, name, sender, sizes[i]!, mtimes[i]!);
      } else if (code === HEAD_GONE) {
        this.forget(folder, name);
      } else if (code === HEAD_NOT_REGULAR) {
        this.summary.removeFile(folder, name);
      } else if (code === HEAD_FAILED) {
        this.errors++;
        this.setRecordedSender(folder, name, UNKNOWN_SENDER);
      }
    }
    if (result.firstError) this.options.log?.debug('spool: cannot read file', { err: result.firstError });
    this.settleSoon();
  }

  /** The label of a raw Original Sender address from a worker. The cache is bounded by the senders seen lately. */
  private labelOf(raw: string): string {
    let label = this.labels.get(raw);
    if (label === undefined) {
      if (this.labels.size >= 100_000) this.labels.clear();
      label = labelOfSender(normalizeSender(raw));
      this.labels.set(raw, label);
    }
    return label;
  }

  private headFailed(folder: string, name: string, path: string | Buffer, err: unknown): void {
    if (isCode(err, 'ENOENT')) this.forget(folder, name);
    // Swapped for a FIFO, a symlink or a folder since the lstat: not a message, as the lstat would have said.
    else if (isNotRegularFile(err)) this.summary.removeFile(folder, name);
    else {
      this.countError(path, err);
      this.setRecordedSender(folder, name, UNKNOWN_SENDER);
    }
  }

  /** Gives a pending file a sender without having read it (its head could not be read). */
  private setRecordedSender(folder: string, name: string, sender: string): void {
    const known = this.summary.file(folder, name);
    if (known) this.summary.setSender(folder, name, sender, known.size, known.mtimeMs);
  }

  // --- bookkeeping ------------------------------------------------------------

  private isDirectory(path: string | Buffer): boolean {
    try {
      return this.fs.lstat(path)?.isDirectory() ?? false;
    } catch {
      return false;
    }
  }

  private forget(folder: string, name: string): void {
    const known = this.summary.file(folder, name);
    if (known?.sender !== undefined) {
      this.recentlyRemoved.set(moveKey(name, known), known.sender);
      if (this.recentlyRemoved.size > RECENTLY_REMOVED) {
        this.recentlyRemoved.delete(this.recentlyRemoved.keys().next().value!);
      }
    }
    this.summary.removeFile(folder, name);
  }

  /** Forgets a folder (and, for `_outgoing`, its subfolders) and its watcher. */
  private dropFolder(folder: string): void {
    const doomed = folder === OUTGOING ? this.summary.folderNames().filter((f) => f.startsWith(`${OUTGOING}/`)) : [];
    for (const f of [...doomed, folder]) {
      this.summary.removeFolder(f);
      this.listings.delete(f);
      this.unwatch(f);
      this.pendingNames.delete(f);
      if (f !== folder) this.failing.delete(f);
    }
    this.summary.settle();
  }

  private fail(folder: string, err: unknown): void {
    this.errors++;
    this.failing.add(folder);
    this.options.log?.warn('spool: cannot read queue folder', { folder: join(this.root, folder), err: errorText(err) });
  }

  private countError(path: string | Buffer, err: unknown): void {
    this.errors++;
    this.options.log?.debug('spool: cannot read file', { path: path.toString(), err: errorText(err) });
  }

  // --- file events -------------------------------------------------------

  private watchRoot(): void {
    try {
      const watcher = this.fs.watch(this.root, (_event, raw) => {
        const filename = raw && raw.toString('latin1');
        if (filename === null) for (const f of TOP_FOLDERS) this.pendingRescans.add(f);
        else if ((TOP_FOLDERS as readonly string[]).includes(filename)) this.pendingChecks.add(filename);
        else return;
        this.scheduleFlush();
      });
      watcher.on('error', () => {
        watcher.close();
        this.watchers.delete('');
      });
      this.watchers.set('', { watcher, ino: -1 });
    } catch {
      // A missing mail directory: the full scan reports it; the next one retries.
    }
  }

  private watchFolder(folder: string, ino: number): void {
    const existing = this.watchers.get(folder);
    if (existing?.ino === ino) return;
    this.unwatch(folder);
    const outgoing = queueOfFolder(folder) === 'outgoing';
    let watcher: FSWatcher;
    try {
      watcher = this.fs.watch(join(this.root, folder), (_event, filename) => this.onEvent(folder, outgoing, filename));
    } catch (err) {
      // Without a watcher the periodic rescan still keeps the folder right.
      this.options.log?.warn('spool: cannot watch queue folder', { folder, err: errorText(err) });
      return;
    }
    watcher.on('error', () => {
      this.unwatch(folder);
      this.pendingChecks.add(folder);
      this.scheduleFlush();
    });
    this.watchers.set(folder, { watcher, ino });
  }

  private unwatch(folder: string): void {
    const w = this.watchers.get(folder);
    if (!w) return;
    w.watcher.close();
    this.watchers.delete(folder);
  }

  private onEvent(folder: string, outgoing: boolean, raw: Buffer | null): void {
    const filename = raw && raw.toString('latin1');
    const label = raw && folderLabel(raw.toString('latin1'));
    if (filename === null) {
      this.pendingRescans.add(folder);
    } else if (folder === OUTGOING && label && (this.summary.hasFolder(`${OUTGOING}/${label}`) || !messageFileKind(filename))) {
      // Maybe a subfolder appearing or going (retry, priority_N).
      this.pendingChecks.add(`${OUTGOING}/${label}`);
    } else if (wanted(filename, outgoing)) {
      let names = this.pendingNames.get(folder);
      if (!names) this.pendingNames.set(folder, (names = new Set()));
      names.add(filename);
      if (names.size > MAX_PENDING_NAMES) {
        this.pendingNames.delete(folder);
        this.pendingRescans.add(folder);
      }
    } else {
      return;
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      void this.enqueue(async () => {
        this.flushTimer = undefined;
        await this.flush();
      });
    }, this.eventDelayMs);
    this.flushTimer.unref();
  }

  private async flush(): Promise<void> {
    const rescans = [...this.pendingRescans];
    const checks = [...this.pendingChecks].filter((f) => !this.pendingRescans.has(f));
    const names = [...this.pendingNames];
    this.pendingRescans.clear();
    this.pendingChecks.clear();
    this.pendingNames.clear();
    for (const folder of rescans) await this.scanFolder(folder, true);
    for (const folder of checks) {
      if (queueOfFolder(folder) === undefined || !this.identityChanged(folder)) continue;
      if (!folder.startsWith(`${OUTGOING}/`)) await this.scanFolder(folder, true);
      else if (!this.watchers.has(OUTGOING)) continue;
      else if (!this.summary.hasFolder(folder)) await this.scanFolder(OUTGOING, false); // a new subfolder: within the limits
      else await this.scanFolder(folder, false);
    }
    for (const [folder, set] of names) {
      if (this.summary.hasFolder(folder) && !rescans.includes(folder)) await this.applyNames(folder, set);
    }
    this.summary.settle();
  }

  /** Whether a folder appeared, vanished or was replaced since we last looked. */
  private identityChanged(folder: string): boolean {
    let st: Stats | undefined;
    try {
      st = this.fs.lstat(join(this.root, folder));
    } catch {
      return true;
    }
    if (this.failing.has(folder)) return true;
    const tracked = this.summary.hasFolder(folder);
    if (!st?.isDirectory()) return tracked && (this.watchers.has(folder) || !ALWAYS_REPORTED.has(folder));
    return !tracked || this.watchers.get(folder)?.ino !== st.ino;
  }
}

/**
 * Paths of the files of one folder. Names are latin1 strings (one char per
 * byte): an ASCII name is appended as it is, any other is passed as bytes,
 * so a name that is not valid UTF-8 still reaches the file.
 */
class FolderPaths {
  /** The folder's path with a trailing separator. */
  readonly prefix: string;
  private bytes: Buffer | undefined;

  constructor(folderPath: string) {
    this.prefix = folderPath + sep;
  }

  of(name: string): string | Buffer {
    if (ASCII.test(name)) return this.prefix + name;
    this.bytes ??= Buffer.from(this.prefix);
    return Buffer.concat([this.bytes, Buffer.from(name, 'latin1')]);
  }
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** The sender label of an outgoing message from its head. */
export function senderLabel(head: string): string {
  return labelOfSender(parseOriginalSender(head));
}

/** The label of a parsed sender: `__unknown__` for none, `<>` for the null sender. */
function labelOfSender(sender: string | undefined): string {
  if (sender === undefined) return UNKNOWN_SENDER;
  if (sender === '') return NULL_SENDER;
  // The match is a slice of the 4 KiB head, and V8 keeps the whole head
  // alive for as long as the slice lives: copy it, or 200,000 queued
  // messages hold 800 MB of heads.
  return Buffer.from(sender, 'utf8').toString('utf8');
}

/** A subfolder name (latin1, one char per byte) as a label value: undefined when it is not valid UTF-8 (such a folder is not tracked). */
function folderLabel(latin1: string): string | undefined {
  const raw = Buffer.from(latin1, 'latin1');
  const name = raw.toString('utf8');
  return Buffer.from(name, 'utf8').equals(raw) ? name : undefined;
}

/** Files worth a stat: message files of the folder's queue. */
function wanted(name: string, outgoing: boolean): boolean {
  const kind = messageFileKind(name);
  return outgoing ? kind === 'tmp' : kind !== undefined;
}

function moveKey(name: string, st: { size: number; mtimeMs: number }): string {
  return `${name}\0${st.size}\0${st.mtimeMs}`;
}

/** The mail directory itself may be a symlink the admin made (/opt/icewarp/mail → /data/mail): follow that one only. */
function statFollowing(path: string, fs: SpoolFs): Stats | undefined {
  const st = fs.lstat(path);
  return st?.isSymbolicLink() ? statSync(path, { throwIfNoEntry: false }) : st;
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Whether a directory is provably as it was at its last listing: the same
 * directory (device and inode), the same mtime and ctime (making, removing or
 * renaming an entry sets both to the current time), and that mtime older than
 * the listing's start by the racy margin. Within the margin, an entry made
 * just after the listing could have left a coarse stamp as it was.
 */
function unchangedSince(listing: FolderListing, st: Stats): boolean {
  return (
    st.dev === listing.dev &&
    st.ino === listing.ino &&
    st.mtimeMs === listing.mtimeMs &&
    st.ctimeMs === listing.ctimeMs &&
    st.mtimeMs < listing.startedMs - RACY_MARGIN_MS
  );
}
