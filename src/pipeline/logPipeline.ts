// files → lines → SMTP facts → account counts, for any MTA: the MTA's
// LogSource says which files, in which order, and parses their lines; the
// tailer and the account book are the same for all. Knows nothing of
// prom-client.
//
// The parser runs in the main thread, in slices of about a millisecond
// between turns of the event loop, so scrapes and file events wait at most
// that long. A thread of its own for it (parserThread.ts, opt-in with
// MAILRELAY_PARSER_THREAD=1) was measured against this (BENCHMARKS.md, log
// section): handing facts across costs 1.3-1.5 times the CPU in all (string
// copies, facts rebuilt as objects); with two free cores the catch-up is a
// little faster but scrapes wait longer, and on a machine whose other work
// leaves no core free it is slower (on Linux the thread runs at nice 19, so
// that other work, the MTA's, comes first).
import { isAbsolute, resolve } from 'node:path';
import { AccountBook, type AccountLimits } from '../accounts/book.js';
import type { Config } from '../config/config.js';
import { SettingsError, type CollectorStatus, type Feature, type Running } from '../feature.js';
import { folderProblem } from '../folders.js';
import type { Logger } from '../logger.js';
import { configuredMta } from '../mtas.js';
import { LocalDomains, type SmtpFact } from '../smtp/facts.js';
import { feedChunkTo, type LogParser, type LogParserStats, type LogSource } from '../smtp/parser.js';
import { checkPositionsWritable } from '../tail/positions.js';
import { LogTailer, type LineSink } from '../tail/tailer.js';
import { PARSE_WORKER, ParserThread, parserThreadAvailable } from './parserThread.js';
import { inSlices } from './slices.js';

/** MAILRELAY_PARSER_THREAD=1: the parser in a thread of its own (see the top of this file). */
export function parserThreadWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.MAILRELAY_PARSER_THREAD;
  return v === '1' || v === 'true';
}

export interface LogSettings {
  source: LogSource;
  /** The MTA's config section: the parser thread makes its LogSource again from it. */
  section: unknown;
  positionsFile: string;
  startAt: 'end' | 'beginning';
  localDomains: string[];
  limits: AccountLimits;
}

export function accountLimits(config: Config): AccountLimits {
  return {
    maxAccounts: config.limits.max_accounts,
    maxFailedUsernames: config.limits.max_failed_usernames,
    windowSeconds: config.detection.window,
    maxSendersPerAccount: config.limits.account_senders,
  };
}

/** The log pipeline's settings; undefined when the configured MTA's section names no logs. */
export function logSettings(config: Config): LogSettings | undefined {
  const configured = configuredMta(config);
  const source = configured?.mta.logSource(configured.section);
  if (!source) return undefined;
  return {
    source,
    section: configured!.section,
    positionsFile: config.positions_file,
    startAt: config.start_at,
    localDomains: config.local_domains,
    limits: accountLimits(config),
  };
}

/** What needs a new tailer (and new counters) when it changes; the rest is applied in place. */
function tailKey(s: LogSettings): string {
  const { mta, directory, pattern } = s.source;
  return JSON.stringify([mta, directory, pattern, s.positionsFile, s.startAt]);
}

export class LogPipeline implements Running<LogSettings> {
  readonly book: AccountBook;
  /** The parser's counts (lines, unparsed, last line time), wherever it runs. */
  readonly parser: { readonly stats: LogParserStats };
  readonly tailer: LogTailer;
  readonly ready: Promise<void>;
  /** Where the MTA's parser runs: its own thread, or this one (see parserThread.ts). */
  private readonly parsing: { thread: ParserThread } | { here: LogParser };
  private lastBatchSeconds = 0;
  private startFailed = false;

  constructor(
    private settings: LogSettings,
    logger: Logger,
    /** parserThread: false parses in this thread; a URL names the worker module (tests run the built one). */
    opts: { watch?: boolean; parserThread?: boolean | URL } = {},
  ) {
    const { source } = settings;
    this.book = new AccountBook(settings.limits);
    const count = (fact: SmtpFact): void => this.book.apply(fact);
    let sink: LineSink;
    const where = opts.parserThread ?? (parserThreadWanted() && parserThreadAvailable);
    if (where !== false) {
      const init = { mta: source.mta, section: settings.section, localDomains: settings.localDomains, timeZone: source.timeZone };
      const thread = new ParserThread(init, source, count, logger, where instanceof URL ? where : PARSE_WORKER);
      this.parsing = { thread };
      this.parser = thread;
      sink = thread;
    } else {
      const here = source.createParser({ localDomains: new LocalDomains(settings.localDomains), timeZone: source.timeZone, emit: count });
      this.parsing = { here };
      this.parser = here;
      sink = this.sinkTo(here);
    }
    this.tailer = new LogTailer({
      directory: source.directory,
      matches: source.matches,
      order: source.order,
      positionsFile: settings.positionsFile,
      startAt: settings.startAt,
      logger,
      watch: opts.watch ?? true,
      sink,
    });
    const started = performance.now();
    this.ready = this.tailer.start().then(
      () => {
        // How long a backlog took (the benchmark reads it too): what was there at start, counted.
        const { lines, bytes } = this.tailer.stats;
        logger.info('caught up with the log files', { lines, bytes, seconds: Number(((performance.now() - started) / 1000).toFixed(3)) });
      },
      (err: unknown) => {
        // The tailer reports a missing folder through `healthy`; only a bug gets here.
        this.startFailed = true;
        logger.error('log pipeline failed to start', { err: err as Error, directory: source.directory });
      },
    );
    logger.info('following SMTP logs', { mta: source.mta, directory: source.directory, pattern: source.pattern, parser_thread: 'thread' in this.parsing });
  }

  /**
   * Chunks of lines straight to a parser in this thread, a slice at a time
   * (slices.ts: a 1 MiB chunk is 15-30 ms of parsing). The tailer waits for
   * the returned promise before it hands on the next chunk.
   */
  private sinkTo(parser: LogParser): LineSink {
    return {
      write: (file, chunk, counted) => {
        const started = performance.now();
        let lines = 0;
        const finish = (): void => {
          this.lastBatchSeconds = (performance.now() - started) / 1000;
          counted(lines);
        };
        const parsed = inSlices(chunk, (from, to) => {
          lines += feedChunkTo(parser, file, chunk.subarray(from, to));
        });
        if (parsed === undefined) return finish();
        return parsed.then(finish);
      },
    };
  }

  /** local_domains, the log time zone, limits and the window change in place: counters keep their history. */
  apply(next: LogSettings): boolean {
    if (tailKey(next) !== tailKey(this.settings)) return false;
    this.settings = next;
    if ('thread' in this.parsing) this.parsing.thread.setSettings(next.localDomains, next.source.timeZone);
    else {
      this.parsing.here.setLocalDomains(new LocalDomains(next.localDomains));
      this.parsing.here.setTimeZone(next.source.timeZone);
    }
    this.book.setLimits(next.limits);
    return true;
  }

  /** The MTA whose logs these are. */
  get mta(): string {
    return this.settings.source.mta;
  }

  /** Success derived from what fails now: the log folder, a followed file, the positions file. */
  status(): CollectorStatus {
    const degraded = 'thread' in this.parsing && this.parsing.thread.degraded;
    const seconds = 'thread' in this.parsing ? this.parsing.thread.lastBatchSeconds : this.lastBatchSeconds;
    return { success: this.tailer.failures().length === 0 && !this.startFailed && !degraded, durationSeconds: seconds };
  }

  async problems(): Promise<string[]> {
    const why = await folderProblem(this.settings.source.directory, this.settings.source.key);
    return why === undefined ? [] : [why];
  }

  /** The tailer stops reading and waits for its chunks to be counted, then the parser thread ends. */
  async stop(): Promise<void> {
    await this.tailer.stop();
    if ('thread' in this.parsing) await this.parsing.thread.stop();
  }
}

/** A positions file that cannot be written would lose every offset at each restart: refused at start and at reload. */
export async function checkLogSettings(settings: LogSettings): Promise<void> {
  try {
    await checkPositionsWritable(settings.positionsFile);
  } catch (err) {
    const reason = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    const file = settings.positionsFile;
    const shown = isAbsolute(file) ? file : `${file} (${resolve(file)})`;
    throw new SettingsError('positions_file', `${shown} cannot be written: ${reason}`, { cause: err });
  }
}

export const logFeature: Feature<LogSettings, LogPipeline> = {
  name: 'log',
  settings: logSettings,
  check: checkLogSettings,
  start: (settings, log) => new LogPipeline(settings, log),
};
