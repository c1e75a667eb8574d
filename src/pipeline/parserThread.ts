// The MTA's parser in a worker thread, fed by the tailer from the main
// thread: reading and counting (the account book, the metrics, the HTTP
// server) stay here, parsing runs on the other core, but for the MTA's
// first stage (scanLines: line ends, each line's layout), when it has one,
// which runs here as each chunk is handed on. Chunks cross in order
// (copied: this thread keeps its copy until the chunk's facts are back);
// each comes back with its facts, which are counted here, and only then is
// the chunk reported counted to the tailer, so saved positions never run
// ahead of the counts. Should the thread die (a bug), the chunks it had not
// answered are parsed here, in order, and parsing stays here.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import { LocalDomains, type SmtpFact } from '../smtp/facts.js';
import { feedChunkTo, type LogParser, type LogParserStats, type LogSource, type ScannedLines } from '../smtp/parser.js';
import type { LineSink } from '../tail/tailer.js';
import { stepAside } from '../turns.js';
import { applyFacts, type FactBatch } from './factBatch.js';
import { inSlices, SLICE_MS } from './slices.js';

/** What the worker needs to make the MTA's parser: plain data, cloned to it. */
export interface ParserThreadInit {
  mta: string;
  /** The MTA's config section, from which its log source is made again in the worker. */
  section: unknown;
  localDomains: string[];
  timeZone: string;
}

export type ToParser =
  /** `scanned`: the chunk's lines as the LogSource's scanLines read them here, when it has one. */
  | { kind: 'lines'; file: string; bytes: Uint8Array; scanned: ScannedLines | undefined }
  | { kind: 'settings'; localDomains: string[]; timeZone: string };

interface Counted {
  kind: 'counted';
  /** The chunk's bytes as sent, moved back for the next chunk. */
  bytes: Uint8Array;
  /** The scanned lines as sent, moved back too. */
  scanned: ScannedLines | undefined;
  lines: number;
  facts: FactBatch;
  stats: LogParserStats;
  seconds: number;
}

/** The worker's module beside this one. */
export const PARSE_WORKER = new URL('./parseWorker.js', import.meta.url);

/**
 * The compiled worker is there in the built exporter; from the TypeScript
 * sources (unit tests), Node cannot start it, and the parser runs in the
 * main thread instead (tests name the built worker to run it).
 */
export const parserThreadAvailable = existsSync(fileURLToPath(PARSE_WORKER));

interface InFlight {
  file: string;
  /** This thread's copy, parsed here should the worker fail before answering. */
  bytes: Buffer;
  counted: (lines: number) => void;
}

/** Chunks handed to the worker and not yet counted, at most: enough to keep both threads busy, little memory. */
const IN_FLIGHT = 8;
const BUFFER_BYTES = 1 << 20;

export class ParserThread implements LineSink {
  readonly stats: LogParserStats = { lines: 0, unparsed: 0, lastLineTime: undefined };
  /** Seconds the last chunk took: parsing there, counting here. */
  lastBatchSeconds = 0;
  private readonly worker: Worker;
  /** Chunks handed to the worker and not yet answered, oldest first. */
  private readonly inFlight: InFlight[] = [];
  /** Answers of the worker not counted yet, oldest first; `cursor`: where counting the first one is. */
  private readonly answers: Counted[] = [];
  private cursor = 0;
  private countingMs = 0;
  private readonly spare: Buffer[] = [];
  /** Memory moved back by the worker with its answers, for the next chunks sent (fresh memory costs page faults). */
  private readonly returned: ArrayBuffer[] = [];
  /** Scanned-lines arrays moved back by the worker, for the next chunks. */
  private readonly spareScanned: ScannedLines[] = [];
  private room: (() => void) | undefined;
  private drained: Array<() => void> = [];
  /** After the worker failed: the parser in this thread, and the worker's counts it goes on from. */
  private fallback: LogParser | undefined;
  private base: LogParserStats = { lines: 0, unparsed: 0, lastLineTime: undefined };
  private stopping = false;

  constructor(
    private readonly init: ParserThreadInit,
    private readonly source: LogSource,
    private readonly count: (fact: SmtpFact) => void,
    private readonly log: Logger,
    workerModule: URL = PARSE_WORKER,
  ) {
    this.worker = new Worker(workerModule, { workerData: init });
    this.worker.unref(); // never what keeps the process alive
    this.worker.on('message', (m: Counted) => this.answered(m));
    this.worker.on('error', (err) => this.failed(err));
    this.worker.on('exit', (code) => {
      if (!this.stopping) this.failed(new Error(`parser thread exited with code ${code}`));
    });
  }

  /** Whether parsing had to move back to the main thread. */
  get degraded(): boolean {
    return this.fallback !== undefined;
  }

  write(file: string, chunk: Buffer, counted: (lines: number) => void): void | Promise<void> {
    if (this.fallback) return this.parseHere(file, chunk, counted);
    const scanLines = this.source.scanLines?.bind(this.source);
    if (scanLines === undefined) return this.send(file, chunk, counted, undefined);
    // The MTA's first stage (line ends, each line's layout) runs here, the parser's thread having the heavier
    // share; a slice at a time, as parsing in this thread does (a 1 MiB chunk is 3-30 ms of it): scrapes and
    // clients connecting waited for whole chunks, and the first scrapes of a catch-up waited longest.
    let scanned = this.spareScanned.pop();
    const scanning = inSlices(chunk, (from, to) => {
      scanned = scanLines(chunk, scanned, from, to);
    });
    if (scanning === undefined) return this.send(file, chunk, counted, scanned);
    return scanning.then(() => this.send(file, chunk, counted, scanned));
  }

  /** The chunk and its scanned lines to the worker; a promise while IN_FLIGHT chunks are. */
  private send(file: string, chunk: Buffer, counted: (lines: number) => void, scanned: ScannedLines | undefined): void | Promise<void> {
    if (this.fallback) return this.parseHere(file, chunk, counted);
    let bytes = this.spare.pop();
    if (!bytes || bytes.length < chunk.length) bytes = Buffer.allocUnsafeSlow(Math.max(BUFFER_BYTES, chunk.length));
    chunk.copy(bytes);
    const own = bytes.subarray(0, chunk.length);
    this.inFlight.push({ file, bytes: own, counted });
    // Moved to the worker: a copy (a view would clone its whole buffer); the worker moves its memory back.
    const memory = this.returned.pop();
    const sent = memory !== undefined && memory.byteLength >= chunk.length ? new Uint8Array(memory, 0, chunk.length) : new Uint8Array(Math.max(BUFFER_BYTES, chunk.length)).subarray(0, chunk.length);
    sent.set(chunk);
    const message: ToParser = { kind: 'lines', file, bytes: sent, scanned };
    this.worker.postMessage(message, scanned ? [sent.buffer, scanned.ints.buffer as ArrayBuffer, scanned.times.buffer as ArrayBuffer] : [sent.buffer]);
    if (this.inFlight.length < IN_FLIGHT) return undefined;
    return new Promise((resolve) => (this.room = resolve));
  }

  drain(): Promise<void> {
    if (this.inFlight.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** local_domains and the log time zone, for the chunks written from now on. */
  setSettings(localDomains: string[], timeZone: string): void {
    this.init.localDomains = localDomains;
    this.init.timeZone = timeZone;
    if (this.fallback) {
      this.fallback.setLocalDomains(new LocalDomains(localDomains));
      this.fallback.setTimeZone(timeZone);
      return;
    }
    const message: ToParser = { kind: 'settings', localDomains, timeZone };
    this.worker.postMessage(message);
  }

  /** Counts what is in flight, then ends the thread. */
  async stop(): Promise<void> {
    await this.drain();
    this.stopping = true;
    await this.worker.terminate();
  }

  /**
   * The worker's answers are counted in slices of about SLICE_MS, one per
   * turn of the event loop: a port delivers all its waiting messages at
   * once, and counting eight chunks' facts in one go held scrapes and timers
   * for that long.
   */
  private answered(m: Counted): void {
    if (m.bytes.buffer.byteLength === BUFFER_BYTES && this.returned.length < IN_FLIGHT) this.returned.push(m.bytes.buffer as ArrayBuffer);
    if (m.scanned && this.spareScanned.length < IN_FLIGHT) this.spareScanned.push(m.scanned);
    this.answers.push(m);
    if (this.answers.length === 1) setImmediate(this.countNext);
  }

  private readonly countNext = (): void => {
    const m = this.answers[0];
    if (!m) return;
    if (stepAside()) return void setImmediate(this.countNext);
    const started = performance.now();
    const until = started + SLICE_MS;
    do this.cursor = applyFacts(m.facts, this.cursor, 256, this.count);
    while (this.cursor < m.facts.numbers.length && performance.now() < until);
    this.countingMs += performance.now() - started;
    if (this.cursor >= m.facts.numbers.length) this.finish();
    if (this.answers.length > 0) setImmediate(this.countNext);
  };

  /** The first answer's facts are all counted: its chunk is. */
  private finish(): void {
    const m = this.answers.shift()!;
    this.cursor = 0;
    this.stats.lines = m.stats.lines;
    this.stats.unparsed = m.stats.unparsed;
    this.stats.lastLineTime = m.stats.lastLineTime;
    this.lastBatchSeconds = m.seconds + this.countingMs / 1000;
    this.countingMs = 0;
    const done = this.inFlight.shift()!;
    if (done.bytes.buffer.byteLength === BUFFER_BYTES && this.spare.length < IN_FLIGHT) this.spare.push(Buffer.from(done.bytes.buffer));
    done.counted(m.lines);
    this.settle();
  }

  private settle(): void {
    if (this.room && this.inFlight.length < IN_FLIGHT) {
      const room = this.room;
      this.room = undefined;
      room();
    }
    if (this.inFlight.length === 0) for (const done of this.drained.splice(0)) done();
  }

  /**
   * A bug: the worker is gone. Parsing goes on in this thread with a new
   * parser, from the first chunk the worker had not answered: no line is
   * lost, but sessions open in the worker are (their later lines count as
   * lines of unknown sessions).
   */
  private failed(err: Error): void {
    if (this.fallback) return;
    // What it answered before it died is counted first, in order.
    for (let m = this.answers[0]; m; m = this.answers[0]) {
      this.cursor = applyFacts(m.facts, this.cursor, Infinity, this.count);
      this.finish();
    }
    this.log.error('the parser thread failed: parsing in the main thread from now on', { err, chunks_parsed_again: this.inFlight.length });
    this.base = { ...this.stats };
    this.fallback = this.source.createParser({
      localDomains: new LocalDomains(this.init.localDomains),
      timeZone: this.init.timeZone,
      emit: this.count,
    });
    for (const { file, bytes, counted } of this.inFlight.splice(0)) this.parseHere(file, bytes, counted);
    this.settle();
  }

  private parseHere(file: string, chunk: Buffer, counted: (lines: number) => void): void {
    const parser = this.fallback!;
    const lines = feedChunkTo(parser, file, chunk);
    this.stats.lines = this.base.lines + parser.stats.lines;
    this.stats.unparsed = this.base.unparsed + parser.stats.unparsed;
    this.stats.lastLineTime = parser.stats.lastLineTime ?? this.base.lastLineTime;
    counted(lines);
  }
}
