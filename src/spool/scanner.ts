// Keeps a SpoolSummary of the mail queues up to date: a full scan at start,
// file events from fs.watch between scans, and a periodic full rescan that
// heals missed events. A scrape only reads the summary; it never waits for a
// scan and never touches the disk.
//
// Why fs.watch and not chokidar: chokidar stats every file it watches and
// keeps a record per file, i.e. a second walk of a 200,000-file queue and its
// memory again; one non-recursive inotify watch per queue folder tells us the
// names that changed, and we lstat just those.
//
// Why synchronous lstat/open/read in small time-boxed slices: a scan of
// 100,000 files through fs/promises queues ~400,000 requests on libuv's four
// threads and took 6-12 s here; the same calls made synchronously take under
// 1 s. Each slice runs at most SLICE_MS before yielding, so a scrape waits at
// most that long.
import { lstatSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Logger } from '../logger.js';
import {
  HEAD_BYTES,
  INCOMING,
  INCOMING_BAK,
  OUTGOING,
  UNKNOWN_SENDER,
  isNotRegularFile,
  isOutgoingMessage,
  messageFileKind,
  parseOriginalSender,
  queueOfFolder,
  readHeadSync,
} from './layout.js';
import { SpoolSummary, type SpoolSnapshot } from './summary.js';

/** A directory entry with its name as raw bytes. */
export interface QueueDirent {
  name: Buffer;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The file-system calls the scanner makes, so tests can inject faults a root
 * user cannot cause. File names are raw bytes: a name that is not valid
 * UTF-8 (Latin-1 from a Windows copy) must still be found and stat'ed.
 */
export interface SpoolFs {
  opendir(path: string): Promise<AsyncIterable<QueueDirent>>;
  /** lstat; undefined when the path does not exist. */
  lstat(path: string | Buffer): Stats | undefined;
  /** Reads the start of a regular file into buf, never blocking (see readHeadSync); returns the bytes read. */
  readHead(path: string | Buffer, buf: Buffer): number;
  watch(path: string, listener: (event: string, filename: Buffer | null) => void): FSWatcher;
}

export const nodeSpoolFs: SpoolFs = {
  // Node types Dir entries as string names; with encoding 'buffer' they are Buffers.
  opendir: async (path) => (await opendir(path, { bufferSize: 512, encoding: 'buffer' as BufferEncoding })) as unknown as AsyncIterable<QueueDirent>,
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
const SETTLE_MS = 100;
const RECENTLY_REMOVED = 10_000;

export interface SpoolScannerOptions {
  mailDirectory: string;
  topSenders: number;
  /** Full rescan period; 0 disables it. */
  rescanIntervalMs: number;
  /** How long file events are gathered before they are applied. */
  eventDelayMs?: number;
  now?: () => number;
  fs?: SpoolFs;
  log?: Logger;
}

export interface ScanStatus {
  success: boolean;
  durationSeconds: number;
}

export class SpoolScanner {
  readonly ready: Promise<void>;
  private readonly summary: SpoolSummary;
  private readonly fs: SpoolFs;
  private readonly now: () => number;
  private readonly eventDelayMs: number;
  private readonly root: string;
  private readonly head = Buffer.allocUnsafe(HEAD_BYTES);
  private readonly watchers = new Map<string, { watcher: FSWatcher; ino: number }>();
  private readonly pendingNames = new Map<string, Set<string>>();
  /** Folders whose existence or identity may have changed. */
  private readonly pendingChecks = new Set<string>();
  private readonly pendingRescans = new Set<string>();
  /** Senders of files that just left a folder, to skip re-reading them when they reappear in another (a move to retry). */
  private readonly recentlyRemoved = new Map<string, string>();
  /** Folders (or '' for the mail directory) that could not be read at their last scan. */
  private readonly failing = new Set<string>();
  private work: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private fullScanQueued = false;
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

  /** Runs a full scan after the work in progress; resolves when it is done. */
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

  /** Waits for the work queued so far (tests). */
  idle(): Promise<void> {
    return this.work;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
    await this.work;
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
   * Scans one queue folder: what it holds replaces what the summary had. For
   * `_outgoing`, also finds its subfolders and (deep) scans them.
   */
  private async scanFolder(folder: string, deep: boolean): Promise<void> {
    const path = join(this.root, folder);
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
    const generation = this.summary.beginScan(folder);
    const subfolders: string[] = [];
    const outgoing = queueOfFolder(folder) === 'outgoing';
    try {
      const dir = await this.fs.opendir(path);
      let batch: string[] = [];
      for await (const d of dir) {
        if (this.stopped) return;
        if (d.isDirectory() || (folder === OUTGOING && !d.isFile() && !d.isSymbolicLink() && this.isDirectory(path, d.name))) {
          // (Some file systems give no entry type: then lstat says.)
          if (folder === OUTGOING) subfolders.push(folderLabel(d.name) ?? '');
          continue;
        }
        const name = d.name.toString('latin1');
        if (d.isSymbolicLink() || !wanted(name, outgoing)) continue;
        batch.push(name);
        if (batch.length >= 256) {
          await this.applyNames(folder, batch);
          batch = [];
        }
      }
      await this.applyNames(folder, batch);
    } catch (err) {
      if (this.stopped) return;
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) {
        // It vanished while we read it: the next event or scan says what replaced it.
        this.dropFolder(folder);
        if (ALWAYS_REPORTED.has(folder)) this.summary.addFolder(folder);
        this.pendingChecks.add(folder);
        this.scheduleFlush();
        return;
      }
      this.fail(folder, err);
      this.dropFolder(folder);
      return;
    }
    this.summary.sweep(folder, generation);
    this.summary.settle();
    this.failing.delete(folder);
    if (folder !== OUTGOING) return;
    const present = new Set<string>();
    for (const name of subfolders.sort()) {
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

  /** Stats the named files of a folder and records them, in time-boxed slices. */
  private async applyNames(folder: string, names: Iterable<string>): Promise<void> {
    const dirPath = Buffer.from(join(this.root, folder) + sep);
    for (const name of names) {
      if (performance.now() - this.lastSlice > SLICE_MS) {
        this.settleSoon();
        await new Promise((r) => setImmediate(r));
        this.lastSlice = performance.now();
        if (this.stopped || !this.summary.hasFolder(folder)) return;
      }
      this.applyName(folder, dirPath, name);
    }
    this.settleSoon();
  }

  /**
   * Recomputes the top senders and stale oldest times at most every
   * SETTLE_MS while a batch is being applied (with 50,000 senders a
   * recompute costs about a millisecond); each scan and flush settles at its end.
   */
  private settleSoon(): void {
    if (performance.now() - this.lastSettle < SETTLE_MS) return;
    this.summary.settle();
    this.lastSettle = performance.now();
  }

  /** `name` holds the file name's bytes as latin1 (one char per byte): the summary's key. */
  private applyName(folder: string, dirPath: Buffer, name: string): void {
    const path = Buffer.concat([dirPath, Buffer.from(name, 'latin1')]);
    let st: Stats | undefined;
    try {
      st = this.fs.lstat(path);
    } catch (err) {
      this.countError(path, err);
      return;
    }
    if (!st) {
      this.forget(folder, name);
      return;
    }
    if (!st.isFile()) {
      // A folder, a symlink (never followed) or a device: not a message.
      this.summary.removeFile(folder, name);
      return;
    }
    const known = this.summary.file(folder, name);
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) {
      this.summary.touch(folder, name);
      return;
    }
    let sender: string | undefined;
    if (queueOfFolder(folder) === 'outgoing') {
      sender = this.recentlyRemoved.size ? this.recentlyRemoved.get(moveKey(name, st)) : undefined;
      if (sender === undefined) {
        try {
          sender = senderLabel(this.head.toString('latin1', 0, this.fs.readHead(path, this.head)));
        } catch (err) {
          if (isCode(err, 'ENOENT')) {
            this.forget(folder, name);
            return;
          }
          if (isNotRegularFile(err)) {
            // Swapped for a FIFO, a symlink or a folder since the lstat: not a message, as the lstat would have said.
            this.summary.removeFile(folder, name);
            return;
          }
          this.countError(path, err);
          sender = UNKNOWN_SENDER;
        }
      }
    }
    this.summary.putFile(folder, name, { size: st.size, mtimeMs: st.mtimeMs, sender });
  }

  private isDirectory(dirPath: string, name: Buffer): boolean {
    try {
      return this.fs.lstat(Buffer.concat([Buffer.from(dirPath + sep), name]))?.isDirectory() ?? false;
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

  private countError(path: Buffer, err: unknown): void {
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
    const label = raw && folderLabel(raw);
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

/** The sender label of an outgoing message from its head. */
export function senderLabel(head: string): string {
  const sender = parseOriginalSender(head);
  if (sender === undefined) return UNKNOWN_SENDER;
  if (sender === '') return NULL_SENDER;
  // The match is a slice of the 4 KiB head, and V8 keeps the whole head
  // alive for as long as the slice lives: copy it, or 200,000 queued
  // messages hold 800 MB of heads.
  return Buffer.from(sender, 'utf8').toString('utf8');
}

/** A subfolder name as a label value: undefined when it is not valid UTF-8 (such a folder is not tracked). */
function folderLabel(raw: Buffer): string | undefined {
  const name = raw.toString('utf8');
  return Buffer.from(name, 'utf8').equals(raw) ? name : undefined;
}

/** Files worth a stat: message files of the folder's queue. */
function wanted(name: string, outgoing: boolean): boolean {
  return outgoing ? isOutgoingMessage(name) : messageFileKind(name) !== undefined;
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
