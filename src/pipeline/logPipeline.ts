// files → lines → SMTP facts → account counts. Composes the tailer, the
// IceWarp session parser and the account book; knows nothing of prom-client.
import { AccountBook, type AccountLimits } from '../accounts/book.js';
import type { CollectorStatus, LandingTable, Running } from '../collectors/collector.js';
import type { Config } from '../config/config.js';
import { IcewarpSessions } from '../icewarp/sessions.js';
import type { Logger } from '../logger.js';
import { LocalDomains } from '../smtp/facts.js';
import { LogTailer } from '../tail/tailer.js';

export function accountLimits(config: Config): AccountLimits {
  return {
    maxAccounts: config.limits.max_accounts,
    maxFailedUsernames: config.limits.max_failed_usernames,
    windowSeconds: config.detection.window,
  };
}

/** The part of the config that needs a new tailer when it changes; the rest is applied in place. */
export function tailSettings(config: Config): unknown {
  const { log_directory, log_file_pattern } = config.icewarp;
  if (!log_directory) return undefined;
  return { log_directory, log_file_pattern, positions_file: config.positions_file, start_at: config.start_at };
}

export class LogPipeline implements Running {
  readonly book: AccountBook;
  readonly sessions: IcewarpSessions;
  readonly tailer: LogTailer;
  readonly ready: Promise<void>;
  private lastBatchSeconds = 0;
  private startFailed = false;

  constructor(private config: Config, logger: Logger, opts: { watch?: boolean } = {}) {
    const directory = config.icewarp.log_directory;
    if (!directory) throw new Error('icewarp.log_directory is not set');
    this.book = new AccountBook(accountLimits(config));
    this.sessions = new IcewarpSessions({
      localDomains: new LocalDomains(config.local_domains),
      timeZone: config.icewarp.log_time_zone,
      emit: (fact) => this.book.apply(fact),
    });
    this.tailer = new LogTailer({
      directory,
      pattern: config.icewarp.log_file_pattern,
      positionsFile: config.positions_file,
      startAt: config.start_at,
      logger,
      watch: opts.watch ?? true,
      onLines: (file, lines) => {
        const started = performance.now();
        this.sessions.feedLines(file, lines);
        this.lastBatchSeconds = (performance.now() - started) / 1000;
      },
    });
    this.ready = this.tailer.start().catch((err: unknown) => {
      // The tailer reports a missing folder through `healthy`; only a bug gets here.
      this.startFailed = true;
      logger.error('log pipeline failed to start', { err: err as Error, directory });
    });
    logger.info('following IceWarp SMTP logs', { directory, pattern: config.icewarp.log_file_pattern });
  }

  /** local_domains, the log time zone, limits and the window change in place: counters keep their history. */
  reconfigure(config: Config): boolean {
    if (JSON.stringify(tailSettings(config)) !== JSON.stringify(tailSettings(this.config))) return false;
    this.config = config;
    this.sessions.setLocalDomains(new LocalDomains(config.local_domains));
    this.sessions.setTimeZone(config.icewarp.log_time_zone);
    this.book.setLimits(accountLimits(config));
    return true;
  }

  status(): CollectorStatus {
    return { success: this.tailer.healthy && !this.startFailed, durationSeconds: this.lastBatchSeconds };
  }

  landingTable(): LandingTable {
    return {
      title: 'Accounts with the most external recipients',
      columns: ['account', 'external recipients', 'messages', `client IPs (last ${this.book.windowSeconds / 60} min)`],
      rows: this.book
        .topByExternalRecipients(10)
        .map(([account, s]) => [account, String(s.externalRecipients), String(s.messages), String(this.book.clientIps(s))]),
    };
  }

  stop(): Promise<void> {
    return this.tailer.stop();
  }
}
