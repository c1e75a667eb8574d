// files → lines → SMTP facts → account counts, for any MTA: the MTA's
// LogSource says which files, in which order, and parses their lines; the
// tailer and the account book are the same for all. Knows nothing of prom-client.
import { isAbsolute, resolve } from 'node:path';
import { AccountBook, type AccountLimits } from '../accounts/book.js';
import type { Config } from '../config/config.js';
import { SettingsError, type CollectorStatus, type Feature, type Running } from '../feature.js';
import { folderProblem } from '../folders.js';
import type { Logger } from '../logger.js';
import { configuredLogSource } from '../mtas.js';
import { LocalDomains } from '../smtp/facts.js';
import type { LogParser, LogSource } from '../smtp/parser.js';
import { checkPositionsWritable } from '../tail/positions.js';
import { LogTailer, linesSink } from '../tail/tailer.js';

export interface LogSettings {
  source: LogSource;
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
  const source = configuredLogSource(config);
  if (!source) return undefined;
  return {
    source,
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
  readonly parser: LogParser;
  readonly tailer: LogTailer;
  readonly ready: Promise<void>;
  private lastBatchSeconds = 0;
  private startFailed = false;

  constructor(
    private settings: LogSettings,
    logger: Logger,
    opts: { watch?: boolean } = {},
  ) {
    const { source } = settings;
    this.book = new AccountBook(settings.limits);
    this.parser = source.createParser({
      localDomains: new LocalDomains(settings.localDomains),
      timeZone: source.timeZone,
      emit: (fact) => this.book.apply(fact),
    });
    this.tailer = new LogTailer({
      directory: source.directory,
      matches: source.matches,
      order: source.order,
      positionsFile: settings.positionsFile,
      startAt: settings.startAt,
      logger,
      watch: opts.watch ?? true,
      sink: linesSink((file, lines) => {
        const started = performance.now();
        this.parser.feedLines(file, lines);
        this.lastBatchSeconds = (performance.now() - started) / 1000;
      }),
    });
    this.ready = this.tailer.start().catch((err: unknown) => {
      // The tailer reports a missing folder through `healthy`; only a bug gets here.
      this.startFailed = true;
      logger.error('log pipeline failed to start', { err: err as Error, directory: source.directory });
    });
    logger.info('following SMTP logs', { mta: source.mta, directory: source.directory, pattern: source.pattern });
  }

  /** local_domains, the log time zone, limits and the window change in place: counters keep their history. */
  apply(next: LogSettings): boolean {
    if (tailKey(next) !== tailKey(this.settings)) return false;
    this.settings = next;
    this.parser.setLocalDomains(new LocalDomains(next.localDomains));
    this.parser.setTimeZone(next.source.timeZone);
    this.book.setLimits(next.limits);
    return true;
  }

  /** The MTA whose logs these are. */
  get mta(): string {
    return this.settings.source.mta;
  }

  /** Success derived from what fails now: the log folder, a followed file, the positions file. */
  status(): CollectorStatus {
    return { success: this.tailer.failures().length === 0 && !this.startFailed, durationSeconds: this.lastBatchSeconds };
  }

  async problems(): Promise<string[]> {
    const why = await folderProblem(this.settings.source.directory, this.settings.source.key);
    return why === undefined ? [] : [why];
  }

  stop(): Promise<void> {
    return this.tailer.stop();
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
