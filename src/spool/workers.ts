// Worker threads for the two kinds of bulk file work a large queue asks
// for: lstat of the names a listing found (first phase), and reading
// message heads for their original sender (second phase). The main thread
// lists folders and keeps the summary; the system calls happen on the
// workers, on the second core, and come back as typed arrays.
//
// The worker's code is the function fileWorkerMain below, started with
// `eval` from its own text: it runs the same whether the scanner was built
// to dist/ or is run from source by the tests, and it imports nothing (the
// sender pattern, the open flags and whether fs's binding lstat may be used,
// fileStat.ts, come through workerData). It opens files as
// layout.readHeadSync does, never blocking and never following a symlink,
// but makes no fstat: see the head loop for what stands in for it.
import { Worker } from 'node:worker_threads';
import { bindingLstat } from './fileStat.js';
import { HEAD_BYTES, ORIGINAL_SENDER, QUEUE_FILE_OPEN_FLAGS } from './layout.js';

export { STAT_FAILED, STAT_FILE, STAT_GONE, STAT_OTHER } from './fileStat.js';

export interface StatBatch {
  kinds: Uint8Array;
  sizes: Float64Array;
  mtimes: Float64Array;
  /** The first failure of the batch (not a vanished file), for the log. */
  firstError?: string;
}

/** What became of one file's head (HeadBatch.codes), when not ≥ 0: an index into raws. */
export const HEAD_NO_SENDER = -1;
export const HEAD_GONE = -2;
export const HEAD_NOT_REGULAR = -3;
export const HEAD_FAILED = -4;

export interface HeadBatch {
  /** Per name: an index into raws (the Original Sender as written), or one of the HEAD_* codes. */
  codes: Int32Array;
  /** The distinct Original Sender addresses of the batch, as the pattern captured them. */
  raws: string[];
  firstError?: string;
}

interface Request {
  id: number;
  op: 'stat' | 'heads';
  /** The folder's path with a trailing separator. */
  dir: string;
  /** The file names as latin1 (one char per byte), joined by NUL (no file name holds one). */
  names: string;
}

/**
 * The worker's whole program. Self-contained: it is started from its own
 * source text, so it may use only its parameters and globals.
 */
function fileWorkerMain(
  require: NodeJS.Require,
  config: { pattern: string; flags: string; headBytes: number; openFlags: number; nice: number; bindingLstat: boolean },
): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  // Linux: lower this thread's priority (a nice value is per thread there, and "process" 0 is the
  // calling thread), so the main thread, which answers scrapes and applies file events, gets a core
  // first. Elsewhere a priority is the whole process's: the worker runs at the process's, as the
  // parser thread does (pipeline/parseWorker.ts).
  if (process.platform === 'linux') {
    try {
      (require('node:os') as typeof import('node:os')).setPriority(0, config.nice);
    } catch {
      // A sandbox that forbids it: the worker runs at the process's priority.
    }
  }
  const pattern = new RegExp(config.pattern, config.flags);
  const buf = Buffer.allocUnsafe(config.headBytes);
  const ascii = /^[\x00-\x7f]*$/;
  const PREFIX = 256;
  // lstat without a Stats object and its four Dates (see fileStat.ts, whose probe said whether this may be used).
  type BindingLstat = (path: string | Buffer, bigint: false, ctx: undefined, throwIfNoEntry: boolean) => Float64Array | undefined;
  const binding = config.bindingLstat ? (process as unknown as { binding(name: string): { lstat: BindingLstat } }).binding('fs') : undefined;
  parentPort!.on('message', (req: Request) => {
    const names = req.names.split('\0');
    const dirBytes = Buffer.from(req.dir);
    let firstError: string | undefined;
    if (req.op === 'stat') {
      const sizes = new Float64Array(names.length);
      const mtimes = new Float64Array(names.length);
      const kinds = new Uint8Array(names.length);
      for (let i = 0; i < names.length; i++) {
        // A name that is not ASCII is passed as its bytes: it may not be valid UTF-8.
        const path = ascii.test(names[i]!) ? req.dir + names[i] : Buffer.concat([dirBytes, Buffer.from(names[i]!, 'latin1')]);
        try {
          if (binding) {
            // statValues: mode at 1, size at 8, mtime seconds and nanoseconds at 12 and 13.
            const v = binding.lstat(path, false, undefined, false);
            if (!v) kinds[i] = 3;
            else if ((v[1]! & 0o170000) !== 0o100000) kinds[i] = 2;
            else {
              kinds[i] = 1;
              sizes[i] = v[8]!;
              mtimes[i] = v[12]! * 1e3 + v[13]! / 1e6;
            }
            continue;
          }
          const st = fs.lstatSync(path, { throwIfNoEntry: false });
          if (!st) kinds[i] = 3;
          else if (!st.isFile()) kinds[i] = 2;
          else {
            kinds[i] = 1;
            sizes[i] = st.size;
            mtimes[i] = st.mtimeMs;
          }
        } catch (err) {
          kinds[i] = 4;
          firstError ??= `${String(path)}: ${(err as Error).message}`;
        }
      }
      parentPort!.postMessage({ id: req.id, kinds, sizes, mtimes, firstError }, [kinds.buffer, sizes.buffer, mtimes.buffer]);
      return;
    }
    const codes = new Int32Array(names.length);
    const raws = new Map<string, number>();
    for (let i = 0; i < names.length; i++) {
      const path = ascii.test(names[i]!) ? req.dir + names[i] : Buffer.concat([dirBytes, Buffer.from(names[i]!, 'latin1')]);
      let fd = -1;
      try {
        fd = fs.openSync(path, config.openFlags);
        // No fstat (a system call per file): a read at a position is a pread(2), which a FIFO or
        // socket refuses (ESPIPE) and a folder too (EISDIR), so only a regular file (or a device
        // node, which only root can make) is read. The size and time the sender is recorded
        // against are the ones the listing's lstat saw (the scanner keeps them); a file changed
        // since gives its events, and the next lstat sends it back to be read again.
        const n = fs.readSync(fd, buf, 0, buf.length, 0);
        // The Original Sender line is the first line of an IceWarp queue file: decode a short
        // prefix first rather than the whole 4 KiB (a 4 KiB string per file is most of the
        // garbage, and so of the collector's time). A match that ends before the prefix does
        // is the match the whole head gives (the pattern's one required part, the words
        // "original sender", lies inside it, and its greedy tail stopped short of the cut);
        // anything else is decided on the whole head.
        let m = n > PREFIX ? pattern.exec(buf.toString('latin1', 0, PREFIX)) : null;
        if (!m || m.index + m[0].length >= PREFIX) m = pattern.exec(buf.toString('latin1', 0, n));
        if (!m) {
          codes[i] = -1;
          continue;
        }
        let raw = raws.get(m[1]!);
        if (raw === undefined) raws.set(m[1]!, (raw = raws.size));
        codes[i] = raw;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ENOENT') codes[i] = -2;
        else if (code === 'ELOOP' || code === 'EISDIR' || code === 'ESPIPE' || code === 'ENXIO') codes[i] = -3;
        else {
          codes[i] = -4;
          firstError ??= `${String(path)}: ${(err as Error).message}`;
        }
      } finally {
        if (fd >= 0) fs.closeSync(fd);
      }
    }
    parentPort!.postMessage({ id: req.id, codes, raws: [...raws.keys()], firstError }, [codes.buffer]);
  });
}

/**
 * The workers' nice value (10: below the main thread's, usually 0). Measured at a million files on
 * a loaded 2-core machine: scrapes during the head reads p50 1.2 ms instead of 8.6 ms, for heads
 * read about 12% slower while other processes want the cores too.
 */
const WORKER_NICE = Number(process.env.MAILRELAY_WORKER_NICE ?? 10);

const WORKER_SOURCE = `(${fileWorkerMain.toString()})(require, require('node:worker_threads').workerData);`;

interface Waiting {
  resolve(r: unknown): void;
  reject(err: Error): void;
}

/** One worker thread and the batches it was given. */
class FileWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private failed: Error | undefined;

  constructor(onExit: (w: FileWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { pattern: ORIGINAL_SENDER.source, flags: ORIGINAL_SENDER.flags, headBytes: HEAD_BYTES, openFlags: QUEUE_FILE_OPEN_FLAGS, nice: WORKER_NICE, bindingLstat: bindingLstat !== undefined },
      // A batch is a thousand names and a 4 KiB buffer: a small heap is plenty. The young
      // generation would otherwise grow to 32 MB per worker with the Stats each lstat leaves;
      // 8 MB rather than 4 halves the scavenges (at a million files, 2.5 s of CPU less for 10 MB).
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    this.worker.unref();
    this.worker.on('message', (r: { id: number }) => {
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      w?.resolve(r);
    });
    const fail = (err: Error): void => {
      this.failed ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      onExit(this);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`queue file worker exited (code ${code})`)));
  }

  get load(): number {
    return this.waiting.size;
  }

  run<T>(op: Request['op'], dir: string, names: readonly string[]): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.worker.postMessage({ id, op, dir, names: names.join('\0') } satisfies Request);
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Up to `size` worker threads, started when a batch comes and stopped after
 * `idleMs` without one, so an exporter whose queue is quiet holds no thread.
 */
export class QueueFileWorkers {
  private readonly workers = new Set<FileWorker>();
  private idleTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly size: number,
    private readonly idleMs = 10_000,
  ) {}

  /** lstat of `names` in `dir` (with its trailing separator). */
  stat(dir: string, names: readonly string[]): Promise<StatBatch> {
    return this.run('stat', dir, names);
  }

  /**
   * The heads of `names` in `dir` (with its trailing separator), each one's Original Sender. Only
   * regular files are read (no fstat: a FIFO or socket refuses a read at a position); the caller
   * records each sender against the size and time its own lstat saw.
   */
  heads(dir: string, names: readonly string[]): Promise<HeadBatch> {
    return this.run('heads', dir, names);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.terminateAll();
  }

  /** On the least busy worker, starting one while all are busy and there is room. */
  private run<T>(op: Request['op'], dir: string, names: readonly string[]): Promise<T> {
    if (this.stopped) return Promise.reject(new Error('queue file workers stopped'));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    let best: FileWorker | undefined;
    for (const w of this.workers) if (!best || w.load < best.load) best = w;
    if (!best || (best.load > 0 && this.workers.size < this.size)) {
      best = new FileWorker((w) => this.workers.delete(w));
      this.workers.add(best);
    }
    return best.run<T>(op, dir, names).finally(() => this.idleSoon());
  }

  private idleSoon(): void {
    if (this.stopped || this.idleTimer || [...this.workers].some((w) => w.load > 0)) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      void this.terminateAll();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private async terminateAll(): Promise<void> {
    const all = [...this.workers];
    this.workers.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }
}
