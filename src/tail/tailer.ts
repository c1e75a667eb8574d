// Follows a directory of log files and delivers complete lines, in batches.
// It owns rotation, truncation and saved positions and knows nothing of SMTP
// (as mtail's tailer does). Tests step it with poll() instead of sleeping.
//
// Reading: big chunks (1 MiB), newlines found with Buffer.lastIndexOf, each
// run of complete lines decoded at once. toString('utf8') turns bytes that
// are not UTF-8 into U+FFFD; a newline byte can never be part of a
// multi-byte sequence, so a bad byte cannot swallow a line end or the lines
// after it. A partial last line is left unread (the offset stays before it)
// and read again once its newline has arrived.
//
// Files are followed by name and identified by inode+dev; each read opens
// the file and closes it again, so no descriptor is held on rotated files.
// Known limits, as in mtail and promtail: a file rewritten in place to at
// least its old size between two reads is not seen as truncated, and lines
// written to a file just before it is replaced under the same name (not
// IceWarp's way: it starts new names) are lost if they were not read yet.
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../logger.js';
import { readPositions, sameDirectory, writePositions, type SavedPosition } from './positions.js';

export interface TailOptions {
  directory: string;
  /** Which file names in the directory are logs to follow. */
  matches(name: string): boolean;
  /** Oldest first: older files are read to their end before newer ones. The MTA's naming decides. */
  order(a: string, b: string): number;
  positionsFile: string;
  startAt: 'end' | 'beginning';
  /** Complete lines of one file, in order, without line endings, decoded as UTF-8 with U+FFFD for bad bytes. Called synchronously; the offset after these lines is saved only after it returns. */
  onLines(file: string, lines: string[]): void;
  logger: Logger;
  /** false in tests: no chokidar, no timers; the test calls poll(). Default true. */
  watch?: boolean;
  /** How often positions are flushed to disk while running (ms, default 1000) and the safety re-scan interval (default 5000 ms) for missed events. */
  positionsFlushMs?: number;
  rescanMs?: number;
  /**
   * Bytes read at once (default 1 MiB). Also the longest line: a line longer
   * than this is delivered in pieces of this size (counted in
   * stats.linesCut), so memory stays bounded whatever is in the file.
   */
  readChunkBytes?: number;
}

export interface TailStats {
  /** Lines delivered. */
  lines: number;
  /** Bytes consumed (complete lines with their line endings). */
  bytes: number;
  /** Files started being followed (a new name, or a name now pointing at a new file). */
  filesOpened: number;
  /** Files found shorter than the offset already read, then read again from the start. */
  truncations: number;
  /** Failures to list, stat, open or read, other than a file vanishing during rotation. */
  readErrors: number;
  /** Pieces of lines longer than readChunkBytes, delivered cut (also counted in lines). */
  linesCut: number;
}

const DEFAULT_CHUNK = 1 << 20;

/** A log file being followed. */
interface FollowedFile {
  name: string;
  path: string;
  inode: bigint;
  dev: bigint;
  /** Just after the last complete line delivered. */
  offset: number;
  /** Size at the last stat or read. */
  size: number;
  /** Where the last read stopped (end of file then); equal to size means nothing new. */
  readEnd: number;
}

export class LogTailer {
  readonly stats: TailStats = { lines: 0, bytes: 0, filesOpened: 0, truncations: 0, readErrors: 0, linesCut: 0 };

  private readonly opts: TailOptions;
  private readonly directory: string;
  private readonly matches: (name: string) => boolean;
  private readonly order: (a: string, b: string) => number;
  private readonly log: Logger;
  private readonly buf: Buffer;
  private readonly files = new Map<string, FollowedFile>();

  // Positions loaded at start; used by the first listing only.
  private saved: Map<string, SavedPosition> | undefined;
  private positionsLoaded = false;
  private firstPollDone = false;

  private isHealthy = true;
  private changes = 0; // bumped whenever a position changes
  private flushedChanges = -1;
  private flushChain: Promise<void> = Promise.resolve();

  // One runner at a time; events and poll() only leave requests for it.
  private runner: Promise<void> | undefined;
  private wantFull = false;
  private readonly wantNames = new Set<string>();
  private fullWaiters: Array<() => void> = [];

  private watcher: FSWatcher | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private signalStop: () => void = () => undefined;
  private readonly stopSignal = new Promise<void>((done) => (this.signalStop = done));
  private readonly failing = new Set<string>(); // files whose error was logged once

  constructor(opts: TailOptions) {
    this.opts = opts;
    this.directory = resolve(opts.directory);
    this.matches = opts.matches;
    this.order = opts.order;
    this.log = opts.logger;
    const chunk = opts.readChunkBytes ?? DEFAULT_CHUNK;
    if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`readChunkBytes must be a positive integer, got ${chunk}`);
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** Whether the last poll could read the directory (for mailrelay_collector_success). */
  get healthy(): boolean {
    return this.isHealthy;
  }

  /** Bytes in the tracked files beyond what has been read (from the last stat). */
  lagBytes(): number {
    let lag = 0;
    for (const f of this.files.values()) lag += Math.max(0, f.size - f.offset);
    return lag;
  }

  /** Reads every existing file to its end (older files first), then follows. Resolves when that first catch-up is done. */
  async start(): Promise<void> {
    if (this.stopped) return;
    if (this.opts.watch ?? true) {
      // Watch before the catch-up so that writes during it are not missed:
      // their events leave a request the runner serves right after.
      const ready = this.startWatching();
      await this.poll();
      await Promise.race([ready, this.stopSignal]);
      if (this.stopped) return;
      this.timers.push(setInterval(() => this.request(undefined), this.opts.rescanMs ?? 5000));
      this.timers.push(setInterval(() => void this.flushIfChanged(), this.opts.positionsFlushMs ?? 1000));
      for (const t of this.timers) t.unref();
    } else {
      await this.poll();
    }
    if (!this.stopped) await this.flushIfChanged();
  }

  /** One step: list the directory, notice new/deleted/shrunk files, read all new complete lines. */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((done) => {
      this.fullWaiters.push(done);
      this.request(undefined);
    });
  }

  /** Flushes positions atomically (write temp + fsync + rename) and stops watching. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.signalStop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await w.close();
    while (this.runner) await this.runner;
    try {
      await this.flushPositions();
    } catch (err) {
      this.log.error('could not save log positions', { file: this.opts.positionsFile, err });
    }
  }

  /** Saves the positions now (write temp + fsync + rename). Throws PositionsFileError. */
  flushPositions(): Promise<void> {
    const run = this.flushChain.then(() => this.writeNow());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async writeNow(): Promise<void> {
    // Before the directory was first listed, the saved positions are all we
    // know: writing now would replace them with nothing.
    if (!this.firstPollDone) return;
    const changes = this.changes;
    const files = new Map<string, SavedPosition>();
    for (const f of [...this.files.values()].sort((a, b) => this.order(a.name, b.name))) {
      files.set(f.name, { offset: f.offset, inode: f.inode, dev: f.dev });
    }
    await writePositions(this.opts.positionsFile, { directory: this.directory, files });
    this.flushedChanges = changes;
  }

  private async flushIfChanged(): Promise<void> {
    if (this.changes === this.flushedChanges || !this.positionsLoaded) return;
    try {
      await this.flushPositions();
      this.failing.delete(':positions');
    } catch (err) {
      if (!this.failing.has(':positions')) this.log.error('could not save log positions', { file: this.opts.positionsFile, err });
      this.failing.add(':positions');
    }
  }

  // ---- scheduling ----------------------------------------------------------

  /** Asks for a full poll (name undefined) or a read of one changed file. */
  private request(name: string | undefined): void {
    if (this.stopped) return;
    if (name === undefined) this.wantFull = true;
    else this.wantNames.add(name);
    if (this.runner) return; // the running loop picks it up: never two polls at once
    this.runner = this.runRequests().finally(() => {
      this.runner = undefined;
      if (this.wantFull || this.wantNames.size > 0) this.request(undefined);
    });
  }

  private async runRequests(): Promise<void> {
    while (!this.stopped && (this.wantFull || this.wantNames.size > 0)) {
      if (this.wantFull) {
        const waiters = this.fullWaiters;
        this.fullWaiters = [];
        this.wantFull = false;
        this.wantNames.clear();
        await this.fullPoll();
        for (const w of waiters) w();
      } else {
        const names = [...this.wantNames].sort(this.order);
        this.wantNames.clear();
        await this.readChanged(names);
      }
    }
    // Stopped with callers still waiting: they get what was read so far.
    if (this.stopped) {
      for (const w of this.fullWaiters.splice(0)) w();
    }
  }

  private startWatching(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const w = watch(this.directory, { depth: 0, ignoreInitial: true, persistent: true, atomic: false, ignorePermissionErrors: true });
    this.watcher = w;
    // 'raw' comes straight from fs.watch, before chokidar's own stat, so
    // several writes within one millisecond still each wake the reader.
    w.on('raw', (event, path) => {
      // fs.watch may not say which file changed: then look at all of them.
      if (!path) return this.request(undefined);
      const name = basename(path);
      if (!this.matches(name)) return;
      this.request(event === 'change' && this.files.has(name) ? name : undefined);
    });
    w.on('all', (event, path) => {
      if (event === 'change') return; // covered by 'raw'
      const name = basename(path);
      if (path === this.directory || this.matches(name)) this.request(undefined);
    });
    w.on('error', (err) => {
      this.log.warn('watching the log directory failed; the periodic re-scan continues', { directory: this.directory, err });
      this.request(undefined);
    });
    return new Promise((ready) => w.once('ready', () => ready()));
  }

  // ---- polling -------------------------------------------------------------

  private async fullPoll(): Promise<void> {
    try {
      if (!this.positionsLoaded) await this.loadPositions();
      const listed = await this.listDirectory();
      if (!listed) return;
      // The first listing that works: if the folder was missing at start
      // (a mount not up yet), its files count as existing at first start.
      const initial = !this.firstPollDone;
      for (const name of [...this.files.keys()]) {
        if (!listed.has(name)) this.forget(name, 'deleted');
      }
      // A file that is listed but cannot be stat'ed keeps its position.
      const names = [...listed.keys()].sort(this.order);
      for (const name of names) {
        const st = listed.get(name);
        if (st) await this.follow(name, st, initial);
      }
      this.firstPollDone = true;
      this.saved = undefined;
      for (const name of names) {
        const f = this.files.get(name);
        if (f) await this.readNew(f);
      }
    } catch (err) {
      // Not expected: each step handles its own errors. Never let one escape the watcher.
      this.stats.readErrors++;
      this.log.error('reading the log directory failed', { directory: this.directory, err });
    }
  }

  /** After a change event: stat and read just these files; anything unusual asks for a full poll. */
  private async readChanged(names: string[]): Promise<void> {
    try {
      for (const name of names) {
        const f = this.files.get(name);
        if (!f) {
          this.wantFull = true;
          continue;
        }
        const st = await this.statFile(f.path);
        if (!st || st.ino !== f.inode || st.dev !== f.dev) {
          this.wantFull = true;
          continue;
        }
        this.noteSize(f, Number(st.size));
        await this.readNew(f);
      }
    } catch (err) {
      this.stats.readErrors++;
      this.log.error('reading a log file failed', { directory: this.directory, err });
    }
  }

  /**
   * Regular files whose names match, with their stats (null: there, but stat
   * failed); undefined when the directory cannot be read.
   */
  private async listDirectory(): Promise<Map<string, BigIntStats | null> | undefined> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (err) {
      this.stats.readErrors++;
      if (this.isHealthy) this.log.error('cannot read the log directory', { directory: this.directory, err });
      this.isHealthy = false;
      return undefined;
    }
    if (!this.isHealthy) {
      this.log.info('the log directory can be read again', { directory: this.directory });
      // A watcher set up while the folder was missing sees the folder appear, not the files in it.
      if (this.watcher) {
        void this.watcher.close();
        // Then one more listing, for files made before the new watcher was ready.
        void this.startWatching().then(() => this.request(undefined));
      }
    }
    this.isHealthy = true;
    const out = new Map<string, BigIntStats | null>();
    for (const name of names) {
      if (!this.matches(name)) continue;
      const st = await this.statFile(join(this.directory, name));
      if (st === null || st?.isFile()) out.set(name, st);
    }
    return out;
  }

  /** undefined when the file is gone (a normal event during rotation), null when it cannot be stat'ed (logged once). */
  private async statFile(path: string): Promise<BigIntStats | null | undefined> {
    try {
      return await stat(path, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.readFailed(path, err);
      return null;
    }
  }

  /** Starts following a new file, or notices that a followed one was replaced or truncated. */
  private async follow(name: string, st: BigIntStats, initial: boolean): Promise<void> {
    const size = Number(st.size);
    let f = this.files.get(name);
    if (f && (f.inode !== st.ino || f.dev !== st.dev)) {
      this.forget(name, 'replaced by a new file');
      f = undefined;
    }
    if (!f) {
      const path = join(this.directory, name);
      const offset = initial ? await this.initialOffset(name, path, st) : 0;
      f = { name, path, inode: st.ino, dev: st.dev, offset, size, readEnd: offset === size ? size : -1 };
      this.files.set(name, f);
      this.stats.filesOpened++;
      this.changes++;
      this.log.debug('following log file', { file: name, offset });
      return;
    }
    this.noteSize(f, size);
  }

  private noteSize(f: FollowedFile, size: number): void {
    if (size < f.offset) {
      this.stats.truncations++;
      this.log.warn('log file is shorter than what was read: reading it again from the start', { file: f.name, size, offset: f.offset });
      f.offset = 0;
      f.readEnd = -1;
      this.changes++;
    }
    f.size = size;
  }

  /** Where to begin in a file that exists when the tailer starts. */
  private async initialOffset(name: string, path: string, st: BigIntStats): Promise<number> {
    const size = Number(st.size);
    const saved = this.saved?.get(name);
    if (saved) {
      // Inode only: device numbers are not stable across reboots, remounts
      // and container restarts, and a mismatch would re-read everything.
      if (saved.inode !== st.ino) {
        this.log.info('log file was replaced while the exporter was not running: reading it from the start', { file: name });
        return 0;
      }
      if (size < saved.offset) {
        this.stats.truncations++;
        this.log.warn('log file is shorter than the saved position: reading it again from the start', { file: name, size, offset: saved.offset });
        return 0;
      }
      return saved.offset;
    }
    // With saved positions, a file not in them appeared while the exporter
    // was not running: read it all, or the restart would skip lines.
    if (this.saved || this.opts.startAt === 'beginning') return 0;
    return this.endOfLastCompleteLine(path, size);
  }

  /** start_at end: just after the last newline, so a line being written is read whole once complete. */
  private async endOfLastCompleteLine(path: string, size: number): Promise<number> {
    if (size === 0) return 0;
    const n = Math.min(size, this.buf.length);
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, 'r');
      const { bytesRead } = await fh.read(this.buf, 0, n, size - n);
      const nl = this.buf.lastIndexOf(0x0a, bytesRead - 1);
      if (nl >= 0) return size - n + nl + 1;
      return size <= this.buf.length ? 0 : size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.readFailed(path, err);
      return size;
    } finally {
      await fh?.close();
    }
  }

  private forget(name: string, why: string): void {
    if (!this.files.delete(name)) return;
    this.changes++;
    this.log.debug(`letting go of log file: ${why}`, { file: name });
  }

  private async loadPositions(): Promise<void> {
    this.positionsLoaded = true;
    const file = this.opts.positionsFile;
    try {
      const loaded = await readPositions(file);
      if (!loaded) {
        this.log.info('no saved log positions: first start', { file, start_at: this.opts.startAt });
        return;
      }
      if (!sameDirectory(loaded.directory, this.directory)) {
        this.log.info('saved log positions are for another directory: ignoring them', { file, saved: loaded.directory, directory: this.directory });
        return;
      }
      this.saved = loaded.files;
    } catch (err) {
      this.log.warn('ignoring the saved log positions', { file, err, start_at: this.opts.startAt });
    }
  }

  // ---- reading -------------------------------------------------------------

  /** Reads a file from its offset to its end and delivers the complete lines. */
  private async readNew(f: FollowedFile): Promise<void> {
    if (f.readEnd === f.size) return; // unchanged since the last read
    let fh: FileHandle;
    try {
      fh = await open(f.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.wantFull = true; // deleted: the next listing lets it go
      else this.readFailed(f.path, err);
      return;
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (st.ino !== f.inode || st.dev !== f.dev) {
        this.wantFull = true; // replaced since the listing
        return;
      }
      this.noteSize(f, Number(st.size));
      await this.readLines(fh, f);
      this.failing.delete(f.path);
    } catch (err) {
      this.readFailed(f.path, err);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  private async readLines(fh: FileHandle, f: FollowedFile): Promise<void> {
    const buf = this.buf;
    let carry = 0; // bytes of an incomplete line at the start of buf
    for (;;) {
      if (this.stopped) break;
      const { bytesRead } = await fh.read(buf, carry, buf.length - carry, f.offset + carry);
      if (bytesRead === 0) break;
      const end = carry + bytesRead;
      const nl = buf.lastIndexOf(0x0a, end - 1);
      if (nl < 0) {
        if (end < buf.length) {
          carry = end;
          continue;
        }
        // A line longer than the buffer: deliver this piece so memory stays bounded.
        this.stats.linesCut++;
        this.log.debug('log line longer than the read buffer: delivering it cut', { file: f.name, offset: f.offset, bytes: end });
        this.deliver(f, [buf.toString('utf8', 0, end)], end);
        carry = 0;
        continue;
      }
      this.deliver(f, splitLines(buf.toString('utf8', 0, nl)), nl + 1);
      carry = end - nl - 1;
      if (carry > 0) buf.copyWithin(0, nl + 1, end);
    }
    f.readEnd = f.offset + carry;
    if (f.readEnd > f.size) f.size = f.readEnd;
  }

  private deliver(f: FollowedFile, lines: string[], bytes: number): void {
    try {
      this.opts.onLines(f.name, lines);
    } catch (err) {
      // Delivering the batch again would fail the same way forever.
      this.log.error('processing log lines failed; moving past them', { file: f.name, offset: f.offset, lines: lines.length, err });
    }
    f.offset += bytes;
    this.stats.lines += lines.length;
    this.stats.bytes += bytes;
    this.changes++;
  }

  private readFailed(path: string, err: unknown): void {
    this.stats.readErrors++;
    if (this.failing.has(path)) return;
    this.failing.add(path);
    this.log.error('cannot read log file', { file: path, err });
  }
}

/** Splits complete lines (the text holds no final newline) and drops a CR before each LF. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (text.includes('\r')) {
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i] as string;
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
  }
  return lines;
}
