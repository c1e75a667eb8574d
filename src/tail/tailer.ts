// Follows a directory of log files and hands on complete lines, in chunks.
// It owns rotation, truncation and saved positions and knows nothing of SMTP
// (as mtail's tailer does). Tests step it with poll() instead of sleeping.
//
// Reading: big chunks (1 MiB); the newline before the end found with
// Buffer.lastIndexOf; each run of complete lines handed to the sink as bytes
// (a newline byte can never be part of a multi-byte UTF-8 sequence, so a bad
// byte cannot swallow a line end). A partial last line is left unread (the
// offset stays before it) and read again once its newline has arrived.
//
// Identity: a file is followed as device + inode, checked against a
// fingerprint of its first bytes (an inode freed by a deleted file can be
// reused), never by its name. A file renamed by rotation (IceWarp's
// `s20261128.log` → `s120261128-01.log`, logrotate's `mail.log` →
// `mail.log.1`) keeps its offset and its place in the reading order, the place
// its name had when it was first listed. Each read opens the file and closes
// it again, so no descriptor is held on rotated files (Windows could not
// rename them otherwise).
//
// Positions: the sink says when the lines of a chunk have been counted; a
// file's saved offset never goes past what has been counted, and positions
// are saved every second, catch-up included, so a kill re-reads at most about
// a second of lines. Known limits, as in mtail and promtail: lines written to
// a file just before it is renamed to a name that is not followed, or
// deleted, are lost if they were not read yet.
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../logger.js';
import { readFingerprint } from './fingerprint.js';
import { splitChunk } from './lines.js';
import { readPositions, sameDirectory, writePositions, type Fingerprint, type SavedFile } from './positions.js';

/** Where the tailer's lines go. */
export interface LineSink {
  /**
   * Complete lines of one file, in order, as bytes: each line ends with LF
   * (CRLF kept), but for a piece of a line longer than the read buffer,
   * which comes alone and without one. `chunk` is valid until the call
   * returns or, when it returns a promise, until that resolves: a sink that
   * keeps it longer copies it. `counted(lines)` is to be called
   * once those lines are counted, now or later, in the order of the writes;
   * the tailer saves positions only up to there. A returned promise holds
   * the reading back until it resolves.
   */
  write(file: string, chunk: Buffer, counted: (lines: number) => void): void | Promise<void>;
  /** Resolves once every line written has been counted. */
  drain?(): Promise<void>;
}

export interface TailOptions {
  directory: string;
  /** Which file names in the directory are logs to follow. */
  matches(name: string): boolean;
  /** Oldest first: older files are read to their end before newer ones. The MTA's naming decides. */
  order(a: string, b: string): number;
  positionsFile: string;
  startAt: 'end' | 'beginning';
  sink: LineSink;
  logger: Logger;
  /** false in tests: no chokidar, no timers; the test calls poll(). Default true. */
  watch?: boolean;
  /** How often positions are flushed to disk while running, catch-up included (ms, default 1000), and the safety re-scan interval (default 5000 ms) for missed events. */
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
  /** Lines counted by the sink. */
  lines: number;
  /** Bytes counted (complete lines with their line endings). */
  bytes: number;
  /** Files started being followed (a new file, not a renamed one). */
  filesOpened: number;
  /** Files found shorter than the offset already read, then read again from the start. */
  truncations: number;
  /** Failures to list, stat, open or read, other than a file vanishing during rotation. */
  readErrors: number;
  /** Pieces of lines longer than readChunkBytes, delivered cut (also counted in lines). */
  linesCut: number;
}

/** Something the tailer cannot do right now; success is derived from these (see failures()). */
export interface TailFailure {
  what: 'directory' | 'file' | 'positions';
  path: string;
  error: unknown;
}

const DEFAULT_CHUNK = 1 << 20;
/** Files let go of (deleted or renamed out of sight) are remembered this long, so a rename seen in two listings keeps its offset. */
const GONE_MS = 60_000;
const GONE_MAX = 256;

/** A log file being followed. */
interface FollowedFile {
  /** `dev:ino` */
  key: string;
  inode: bigint;
  dev: bigint;
  name: string;
  path: string;
  /** The name it had when first seen: its place in the reading order. */
  listedAs: string;
  /** Ties between equal listedAs: first seen first. */
  rank: number;
  /** Just after the last complete line handed to the sink. */
  offset: number;
  /** Just after the last complete line counted: what is saved. */
  counted: number;
  /** Bumped when the file is read again from its start: counts of older chunks no longer move `counted`. */
  generation: number;
  /** Size at the last stat or read. */
  size: number;
  /** Where the last read stopped (end of file then); equal to size means nothing new. */
  readEnd: number;
  fingerprint: Fingerprint | undefined;
  /** Size when the fingerprint was last checked: unchanged files are not read again to check it. */
  checkedSize: number;
  /** The last failure to stat or read it, cleared by a read that works. */
  error: unknown;
}

interface GoneFile {
  file: FollowedFile;
  at: number;
}

interface Listed {
  name: string;
  /** null: listed, but stat failed. */
  st: BigIntStats | null;
}

function identityKey(dev: bigint, ino: bigint): string {
  return `${dev}:${ino}`;
}

export class LogTailer {
  readonly stats: TailStats = { lines: 0, bytes: 0, filesOpened: 0, truncations: 0, readErrors: 0, linesCut: 0 };

  private readonly opts: TailOptions;
  private readonly directory: string;
  private readonly matches: (name: string) => boolean;
  private readonly order: (a: string, b: string) => number;
  private readonly sink: LineSink;
  private readonly log: Logger;
  private readonly buf: Buffer;
  /** The second buffer of readLines: one is read into while the other's lines are handed on. */
  private buf2: Buffer | undefined;
  /** By identity. */
  private readonly files = new Map<string, FollowedFile>();
  /** By current name. */
  private readonly names = new Map<string, FollowedFile>();
  private readonly gone = new Map<string, GoneFile>();
  private nextRank = 0;
  /** Saved files are ranked before any new one, in their saved order. */
  private readonly savedRanks = new Map<SavedFile, number>();

  // Positions loaded at start; used by the first successful listing only.
  private saved: SavedFile[] | undefined;
  private positionsLoaded = false;
  private listedOnce = false;
  /** The first listing failed (no folder yet): every file found later is new and read from its start. */
  private missingAtStart = false;

  // Outcomes of the latest attempts, from which healthy/failures() are derived.
  private directoryError: unknown = undefined;
  private readonly unstatable = new Map<string, unknown>();
  private positionsError: unknown = undefined;

  private changes = 0; // bumped whenever a counted offset or the set of files changes
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
  private readonly logged = new Set<string>(); // failures logged once until they clear

  constructor(opts: TailOptions) {
    this.opts = opts;
    this.directory = resolve(opts.directory);
    this.matches = opts.matches;
    this.order = opts.order;
    this.sink = opts.sink;
    this.log = opts.logger;
    const chunk = opts.readChunkBytes ?? DEFAULT_CHUNK;
    if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`readChunkBytes must be a positive integer, got ${chunk}`);
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** What cannot be read or written now: the directory, followed files, the positions file. */
  failures(): TailFailure[] {
    const out: TailFailure[] = [];
    if (this.directoryError !== undefined) out.push({ what: 'directory', path: this.directory, error: this.directoryError });
    for (const [name, error] of this.unstatable) out.push({ what: 'file', path: join(this.directory, name), error });
    for (const f of this.files.values()) if (f.error !== undefined) out.push({ what: 'file', path: f.path, error: f.error });
    if (this.positionsError !== undefined) out.push({ what: 'positions', path: this.opts.positionsFile, error: this.positionsError });
    return out;
  }

  /** No failure now (for mailrelay_collector_success). */
  get healthy(): boolean {
    return this.failures().length === 0;
  }

  /** Bytes in the tracked files beyond what has been counted (from the last stat). */
  lagBytes(): number {
    let lag = 0;
    for (const f of this.files.values()) lag += Math.max(0, f.size - f.counted);
    return lag;
  }

  /** Reads every existing file to its end (older files first), then follows. Resolves when that first catch-up is counted. */
  async start(): Promise<void> {
    if (this.stopped) return;
    if (this.opts.watch ?? true) {
      // Positions are saved during the catch-up too: a kill then re-reads about a second of lines, not the whole backlog.
      this.timers.push(setInterval(() => void this.flushIfChanged(), this.opts.positionsFlushMs ?? 1000));
      this.timers[0]!.unref();
      // Watch before the catch-up so that writes during it are not missed:
      // their events leave a request the runner serves right after.
      const ready = this.startWatching();
      await this.poll();
      await Promise.race([ready, this.stopSignal]);
      if (this.stopped) return;
      this.timers.push(setInterval(() => this.request(undefined), this.opts.rescanMs ?? 5000));
      for (const t of this.timers) t.unref();
    } else {
      await this.poll();
    }
    await this.sink.drain?.();
    if (!this.stopped) await this.flushIfChanged();
  }

  /** One step: list the directory, notice new/renamed/deleted/shrunk files, read all new complete lines. */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((done) => {
      this.fullWaiters.push(done);
      this.request(undefined);
    });
  }

  /** Stops reading, waits for the lines handed on to be counted, saves the positions and stops watching. */
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
    await this.sink.drain?.();
    try {
      await this.flushPositions();
      this.log.info('log positions saved', { file: this.opts.positionsFile, lines_counted: this.stats.lines });
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
    if (!this.listedOnce) return;
    const changes = this.changes;
    const files: SavedFile[] = this.inReadingOrder([...this.files.values()]).map((f) => ({
      name: f.name,
      listedAs: f.listedAs,
      inode: f.inode,
      dev: f.dev,
      offset: f.counted,
      fingerprint: f.fingerprint,
    }));
    try {
      await writePositions(this.opts.positionsFile, { directory: this.directory, files });
    } catch (err) {
      this.positionsError = err;
      throw err;
    }
    this.positionsError = undefined;
    this.flushedChanges = changes;
  }

  private async flushIfChanged(): Promise<void> {
    if (this.changes === this.flushedChanges || !this.positionsLoaded) return;
    try {
      await this.flushPositions();
      this.logged.delete(':positions');
    } catch (err) {
      if (!this.logged.has(':positions')) this.log.error('could not save log positions', { file: this.opts.positionsFile, err });
      this.logged.add(':positions');
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
        const names = [...this.wantNames];
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
      this.request(event === 'change' && this.names.has(name) ? name : undefined);
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
      if (!listed) {
        if (!this.listedOnce) this.missingAtStart = true;
        return;
      }
      const seen = new Set<FollowedFile>();
      for (const { name, st } of listed) {
        if (this.stopped) return;
        if (st === null) {
          // Cannot be stat'ed: whatever was followed under this name keeps its position.
          const known = this.names.get(name);
          if (known) seen.add(known);
          continue;
        }
        const f = await this.place(name, st, seen);
        if (f) seen.add(f);
      }
      for (const f of [...this.files.values()]) {
        if (!seen.has(f)) this.letGo(f, 'no longer in the directory');
      }
      this.listedOnce = true;
      this.saved = undefined;
      for (const f of this.inReadingOrder([...this.files.values()])) {
        if (this.stopped) return;
        await this.readNew(f);
      }
    } catch (err) {
      // Not expected: each step handles its own errors. Never let one escape the watcher.
      this.stats.readErrors++;
      this.log.error('reading the log directory failed', { directory: this.directory, err });
    }
  }

  /**
   * The followed file for a listed name: the same identity (renamed or not),
   * or a file to start following. undefined when it vanished meanwhile.
   */
  private async place(name: string, st: BigIntStats, seen: Set<FollowedFile>): Promise<FollowedFile | undefined> {
    const key = identityKey(st.dev, st.ino);
    const size = Number(st.size);
    const f = this.files.get(key);
    if (f && seen.has(f)) return f; // a second name (a hard link) of a file already placed
    if (f) {
      const path = join(this.directory, name);
      if (await this.stillSame(f, path, size)) {
        if (f.name !== name) {
          // A rotation: the file keeps its offset and its place in the reading order.
          this.log.info('log file renamed: following it under its new name', { from: f.name, to: name, offset: f.offset });
          this.rename(f, name);
        }
        this.noteSize(f, size);
        return f;
      }
      this.log.info('log file replaced by another with the same inode: reading the new one from its start', { file: name });
      this.drop(f);
    }
    return this.follow(name, key);
  }

  /**
   * Starts following a file under `name`: one let go of moments ago (renamed
   * out of sight and back), one saved before a restart (same inode and first
   * bytes), or a new one.
   */
  private async follow(name: string, key: string): Promise<FollowedFile | undefined> {
    const path = join(this.directory, name);
    // The name now belongs to this file; the one that had it is renamed or let go in this listing.
    const previous = this.names.get(name);
    if (previous) this.names.delete(name);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.unstatable.set(name, err);
        this.readFailed(path, err);
      }
      return undefined;
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (identityKey(st.dev, st.ino) !== key) return undefined; // replaced since the listing: the next one sees it
      const size = Number(st.size);
      const gone = this.gone.get(key);
      if (gone) {
        this.gone.delete(key);
        const check = await readFingerprint(fh, size, gone.file.fingerprint);
        if (check.same) {
          const f = gone.file;
          this.log.info('log file renamed: following it under its new name', { from: f.name, to: name, offset: f.offset });
          f.name = name;
          f.path = path;
          f.fingerprint = check.fingerprint;
          f.checkedSize = size;
          this.files.set(key, f);
          this.names.set(name, f);
          this.noteSize(f, size);
          this.changes++;
          return f;
        }
      }
      const head = await readFingerprint(fh, size, undefined);
      const saved = await this.savedPosition(name, st, fh);
      let offset = saved ? saved.offset : await this.firstOffset(fh, size);
      if (offset > size) {
        this.stats.truncations++;
        this.log.warn('log file is shorter than the saved position: reading it again from the start', { file: name, size, offset });
        offset = 0;
      }
      const f: FollowedFile = {
        key,
        inode: st.ino,
        dev: st.dev,
        name,
        path,
        listedAs: saved?.listedAs ?? name,
        // Saved files keep their order, before any new file.
        rank: saved ? this.savedRanks.get(saved)! : this.nextRank++,
        offset,
        counted: offset,
        generation: 0,
        size,
        readEnd: offset === size ? size : -1,
        fingerprint: head.fingerprint,
        checkedSize: size,
        error: undefined,
      };
      this.files.set(key, f);
      this.names.set(name, f);
      this.unstatable.delete(name);
      if (!saved) this.stats.filesOpened++;
      this.changes++;
      this.log.debug(saved ? 'following log file from its saved position' : 'following log file', { file: name, offset });
      return f;
    } catch (err) {
      this.unstatable.set(name, err);
      this.readFailed(path, err);
      return undefined;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * The saved position of this file, if it had one before the restart.
   * Device numbers are not stable across reboots, remounts and container
   * restarts: the inode and the first bytes identify a saved file (version 1
   * entries have no fingerprint: the inode alone, as version 1 did).
   */
  private async savedPosition(name: string, st: BigIntStats, fh: FileHandle): Promise<SavedFile | undefined> {
    if (!this.saved) return undefined;
    for (let i = 0; i < this.saved.length; i++) {
      const s = this.saved[i]!;
      if (s.inode !== st.ino) continue;
      // Shorter than the saved offset: the caller reads it again from its start, as a truncation.
      const shorter = Number(st.size) < s.offset;
      if (!shorter && s.fingerprint && !(await readFingerprint(fh, Number(st.size), s.fingerprint)).same) continue;
      this.saved.splice(i, 1);
      if (s.name !== name) this.log.info('log file renamed while the exporter was not running: going on from its saved position', { from: s.name, to: name, offset: s.offset });
      return s;
    }
    return undefined;
  }

  /** Where to begin in a file never followed before. */
  private async firstOffset(fh: FileHandle, size: number): Promise<number> {
    // start_at end applies to the files of the very first listing only. Files
    // that appear after it, or while the exporter was down (saved positions
    // exist), or in a log folder that was missing at start, are new: read
    // from their start.
    if (this.listedOnce || this.saved || this.missingAtStart || this.opts.startAt === 'beginning') return 0;
    return this.endOfLastCompleteLine(fh, size);
  }

  /**
   * Whether the followed file with this identity is still the same file: its
   * first bytes are those of its fingerprint. Read again only when its size
   * changed since the last check. Extends a short fingerprint as it grows.
   */
  private async stillSame(f: FollowedFile, path: string, size: number): Promise<boolean> {
    if (size === f.checkedSize) return true;
    const fp = f.fingerprint;
    // Shorter than its known head: truncated below the offset (noteSize
    // reads it again), or else a new file that got the inode.
    if (fp && size < fp.bytes) return size < f.offset;
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch {
      return true; // gone or unreadable: the read that follows says which
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (identityKey(st.dev, st.ino) !== f.key) return true; // changed since the listing: the next one sees it
      const check = await readFingerprint(fh, Number(st.size), fp);
      if (!check.same) return false;
      f.fingerprint = check.fingerprint;
      f.checkedSize = Number(st.size);
      return true;
    } catch {
      return true;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** After a change event: stat and read just these files; anything unusual asks for a full poll. */
  private async readChanged(names: string[]): Promise<void> {
    try {
      const files: FollowedFile[] = [];
      for (const name of names) {
        const f = this.names.get(name);
        if (f) files.push(f);
        else this.wantFull = true;
      }
      for (const f of this.inReadingOrder(files)) {
        const st = await this.statFile(f.path, f);
        if (!st || identityKey(st.dev, st.ino) !== f.key) {
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

  /** Regular files whose names match, in the MTA's order, with their stats; undefined when the directory cannot be read. */
  private async listDirectory(): Promise<Listed[] | undefined> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (err) {
      this.stats.readErrors++;
      if (this.directoryError === undefined) this.log.error('cannot read the log directory', { directory: this.directory, err });
      this.directoryError = err;
      return undefined;
    }
    if (this.directoryError !== undefined) {
      this.log.info('the log directory can be read again', { directory: this.directory });
      // A watcher set up while the folder was missing sees the folder appear, not the files in it.
      if (this.watcher) {
        void this.watcher.close();
        // Then one more listing, for files made before the new watcher was ready.
        void this.startWatching().then(() => this.request(undefined));
      }
    }
    this.directoryError = undefined;
    const out: Listed[] = [];
    const unstatable = new Set<string>();
    for (const name of names.filter((n) => this.matches(n)).sort(this.order)) {
      const path = join(this.directory, name);
      const st = await this.statFile(path, this.names.get(name));
      if (st === null) unstatable.add(name);
      if (st === null || st?.isFile()) out.push({ name, st });
    }
    for (const name of [...this.unstatable.keys()]) if (!unstatable.has(name)) this.unstatable.delete(name);
    return out;
  }

  /** undefined when the file is gone (a normal event during rotation), null when it cannot be stat'ed (logged once). */
  private async statFile(path: string, f: FollowedFile | undefined): Promise<BigIntStats | null | undefined> {
    try {
      return await stat(path, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (f) f.error = err;
      else this.unstatable.set(basename(path), err);
      this.readFailed(path, err);
      return null;
    }
  }

  private noteSize(f: FollowedFile, size: number): void {
    if (size < f.offset) {
      this.stats.truncations++;
      this.log.warn('log file is shorter than what was read: reading it again from the start', { file: f.name, size, offset: f.offset });
      this.restart(f);
    }
    f.size = size;
  }

  /** Reads the file again from its start; lines of older chunks still being counted no longer move its position. */
  private restart(f: FollowedFile): void {
    f.offset = 0;
    f.counted = 0;
    f.generation++;
    f.readEnd = -1;
    f.fingerprint = undefined;
    f.checkedSize = -1;
    this.changes++;
  }

  private rename(f: FollowedFile, name: string): void {
    if (this.names.get(f.name) === f) this.names.delete(f.name);
    f.name = name;
    f.path = join(this.directory, name);
    this.names.set(name, f);
    this.changes++;
  }

  /** Stops following a file, remembering its position for a while in case it shows up again under another name. */
  private letGo(f: FollowedFile, why: string): void {
    this.drop(f);
    const now = Date.now();
    for (const [key, g] of this.gone) if (now - g.at > GONE_MS || this.gone.size >= GONE_MAX) this.gone.delete(key);
    this.gone.set(f.key, { file: f, at: now });
    this.log.debug(`letting go of log file: ${why}`, { file: f.name });
  }

  private drop(f: FollowedFile): void {
    if (!this.files.delete(f.key)) return;
    if (this.names.get(f.name) === f) this.names.delete(f.name);
    this.changes++;
  }

  /** start_at end: just after the last newline, so a line being written is read whole once complete. */
  private async endOfLastCompleteLine(fh: FileHandle, size: number): Promise<number> {
    if (size === 0) return 0;
    const n = Math.min(size, this.buf.length);
    const { bytesRead } = await fh.read(this.buf, 0, n, size - n);
    const nl = this.buf.lastIndexOf(0x0a, bytesRead - 1);
    if (nl >= 0) return size - n + nl + 1;
    return size <= this.buf.length ? 0 : size;
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
      if (loaded.version === 1) this.log.info('saved log positions are by file name (version 1): matching them by inode, saving them by identity', { file });
      this.saved = loaded.files;
      loaded.files.forEach((s, i) => this.savedRanks.set(s, i - loaded.files.length));
    } catch (err) {
      this.log.warn('ignoring the saved log positions', { file, err, start_at: this.opts.startAt });
    }
  }

  /** Oldest first: by the place of the name each file had when first listed, then first seen first. */
  private inReadingOrder(files: FollowedFile[]): FollowedFile[] {
    return files.sort((a, b) => this.order(a.listedAs, b.listedAs) || a.rank - b.rank);
  }

  // ---- reading -------------------------------------------------------------

  /** Reads a file from its offset to its end and hands on the complete lines. */
  private async readNew(f: FollowedFile): Promise<void> {
    if (f.readEnd === f.size && f.error === undefined) return; // unchanged since the last read
    let fh: FileHandle;
    try {
      fh = await open(f.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.wantFull = true; // renamed or deleted: the next listing says which
      else this.fileFailed(f, err);
      return;
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (identityKey(st.dev, st.ino) !== f.key) {
        this.wantFull = true; // replaced since the listing
        return;
      }
      this.noteSize(f, Number(st.size));
      await this.readLines(fh, f);
      if (f.error !== undefined) this.log.info('log file can be read again', { file: f.path });
      f.error = undefined;
      this.logged.delete(f.path);
    } catch (err) {
      this.fileFailed(f, err);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * Reads from the offset to the end, handing on each run of complete lines.
   * The next read is issued before a chunk is handed on, so the disk (or the
   * page cache, through libuv's threads) works while the lines are counted.
   */
  private async readLines(fh: FileHandle, f: FollowedFile): Promise<void> {
    let buf = this.buf;
    let next = (this.buf2 ??= Buffer.allocUnsafe(this.buf.length));
    let carry = 0; // bytes of an incomplete line at the start of buf
    let reading = fh.read(buf, 0, buf.length, f.offset);
    for (;;) {
      const { bytesRead } = await reading;
      if (this.stopped || bytesRead === 0) break;
      const end = carry + bytesRead;
      const nl = buf.lastIndexOf(0x0a, end - 1);
      if (nl < 0 && end < buf.length) {
        carry = end;
        reading = fh.read(buf, carry, buf.length - carry, f.offset + carry);
        continue;
      }
      // A line longer than the buffer is handed on in pieces, so memory stays bounded.
      const lineEnd = nl < 0 ? end : nl + 1;
      if (nl < 0) {
        this.stats.linesCut++;
        this.log.debug('log line longer than the read buffer: delivering it cut', { file: f.name, offset: f.offset, bytes: end });
      }
      carry = end - lineEnd;
      next.set(buf.subarray(lineEnd, end), 0);
      reading = fh.read(next, carry, next.length - carry, f.offset + lineEnd + carry);
      await this.deliver(f, buf.subarray(0, lineEnd));
      [buf, next] = [next, buf];
    }
    f.readEnd = f.offset + carry;
    if (f.readEnd > f.size) f.size = f.readEnd;
  }

  private async deliver(f: FollowedFile, chunk: Buffer): Promise<void> {
    const bytes = chunk.length;
    f.offset += bytes;
    const end = f.offset;
    const generation = f.generation;
    let done = false;
    const counted = (lines: number): void => {
      if (done) return;
      done = true;
      this.stats.lines += lines;
      this.stats.bytes += bytes;
      if (f.generation === generation && end > f.counted) {
        f.counted = end;
        this.changes++;
      }
    };
    try {
      await this.sink.write(f.name, chunk, counted);
    } catch (err) {
      // Delivering the chunk again would fail the same way forever.
      this.log.error('processing log lines failed; moving past them', { file: f.name, offset: end - bytes, bytes, err });
      counted(0);
    }
  }

  private fileFailed(f: FollowedFile, err: unknown): void {
    f.error = err;
    this.readFailed(f.path, err);
  }

  private readFailed(path: string, err: unknown): void {
    this.stats.readErrors++;
    if (this.logged.has(path)) return;
    this.logged.add(path);
    this.log.error('cannot read log file', { file: path, err });
  }
}

/** A sink for code that takes lines as strings (decoded as UTF-8, U+FFFD for bad bytes, without line endings), counted when it returns. */
export function linesSink(onLines: (file: string, lines: string[]) => void): LineSink {
  return {
    write(file, chunk, counted) {
      const lines = splitChunk(chunk);
      try {
        onLines(file, lines);
      } finally {
        counted(lines.length);
      }
    },
  };
}

export { splitChunk, splitLines } from './lines.js';
