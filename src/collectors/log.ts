// The log pipeline's metrics: SMTP totals, per-account counters and windowed
// gauges, and the tailer's health. Every value is read from the pipeline's
// state at scrape time.
import { AccountBook, type AccountStats } from '../accounts/book.js';
import { logFeature, type LogPipeline } from '../pipeline/logPipeline.js';
import type { LogTailer } from '../tail/tailer.js';
import { labelPair, type Collector, type ExporterRegistry, type SampleWriter, type StateMetricDefinition } from './registry.js';

/** What the metrics read: a running pipeline, or the backfill's replay of one (src/backfill/). */
export type LogState = Pick<LogPipeline, 'book' | 'parser'> & { tailer: Pick<LogTailer, 'stats' | 'lagBytes'> };

type Definition = Omit<StateMetricDefinition, 'collect'> & { collect(p: LogState, sample: SampleWriter): void };

// An account's label text, rendered once and kept with its stats (accounts with their own
// series are never evicted): a WeakMap lookup per sample was a tenth of rendering 10,000 accounts.
function accountLabel(account: string, stats: AccountStats): string {
  return (stats.labelText ??= labelPair('account', account));
}

function one(read: (p: LogState) => number | undefined): Definition['collect'] {
  return (p, sample) => {
    const value = read(p);
    if (value !== undefined) sample('', value);
  };
}

function perAccount(read: (book: AccountBook, s: AccountStats) => number): Definition['collect'] {
  return (p, sample) => {
    for (const [account, s] of p.book.accountEntries()) sample(accountLabel(account, s), read(p.book, s));
  };
}

function perMechanism(counts: (b: AccountBook) => Record<string, number>): Definition['collect'] {
  return (p, sample) => {
    for (const mechanism of AccountBook.mechanisms()) sample(labelPair('mechanism', mechanism), counts(p.book)[mechanism]!);
  };
}

const DEFINITIONS: Definition[] = [
  { name: 'mailrelay_smtp_sessions_total', type: 'counter', help: 'Server SMTP sessions started.', collect: one((p) => p.book.sessions) },
  {
    name: 'mailrelay_smtp_auth_attempts_total',
    type: 'counter',
    help: 'SMTP AUTH exchanges that got a final reply, by mechanism.',
    collect: perMechanism((b) => b.authAttempts),
  },
  {
    name: 'mailrelay_smtp_auth_failures_total',
    type: 'counter',
    help: 'SMTP AUTH exchanges answered 4xx/5xx, by mechanism.',
    collect: perMechanism((b) => b.authFailures),
  },
  { name: 'mailrelay_account_logins_total', type: 'counter', help: 'Successful SMTP AUTH, by account.', collect: perAccount((_, s) => s.logins) },
  {
    name: 'mailrelay_account_auth_failures_total',
    type: 'counter',
    help: 'Failed SMTP AUTH, by the username tried.',
    collect(p, sample) {
      perAccount((_, s) => s.authFailures)(p, sample);
      for (const [account, failures] of p.book.failedEntries()) sample(labelPair('account', account), failures);
    },
  },
  {
    name: 'mailrelay_account_messages_total',
    type: 'counter',
    help: 'Messages accepted in sessions authenticated as the account.',
    collect: perAccount((_, s) => s.messages),
  },
  {
    name: 'mailrelay_account_recipients_total',
    type: 'counter',
    help: "Recipients of the account's accepted messages, by destination (external, local).",
    collect(p, sample) {
      for (const [account, s] of p.book.accountEntries()) {
        const label = accountLabel(account, s);
        sample(`${label},destination="external"`, s.externalRecipients);
        sample(`${label},destination="local"`, s.localRecipients);
      }
    },
  },
  {
    name: 'mailrelay_account_foreign_sender_messages_total',
    type: 'counter',
    help: 'Accepted messages of the account whose envelope sender (MAIL FROM) is not the account.',
    collect: perAccount((_, s) => s.foreignSenderMessages),
  },
  {
    name: 'mailrelay_account_sender_recipients_total',
    type: 'counter',
    help: "Accepted recipients of the account's messages by envelope sender (MAIL FROM; <> for the null sender), for its limits.account_senders most frequent senders, counted since the sender was tracked.",
    collect(p, sample) {
      for (const [account, s] of p.book.accountEntries()) {
        const label = accountLabel(account, s);
        s.senders.forEachLabelled((sender) => `${label},${labelPair('sender', sender)}`, sample);
      }
    },
  },
  {
    name: 'mailrelay_unauthenticated_relay_recipients_total',
    type: 'counter',
    help: 'External recipients of accepted messages in sessions without successful AUTH: the server relayed for someone who did not log in.',
    collect: one((p) => p.book.unauthenticatedRelayRecipients),
  },
  {
    name: 'mailrelay_relay_denied_total',
    type: 'counter',
    help: 'RCPTs refused as relaying (5xx, 5.7.1) in sessions without successful AUTH.',
    collect: one((p) => p.book.relayDenied),
  },
  {
    name: 'mailrelay_account_client_ips',
    type: 'gauge',
    help: 'Distinct client IPs with a successful AUTH as the account within detection.window of log time.',
    collect: perAccount((b, s) => b.clientIps(s)),
  },
  {
    name: 'mailrelay_account_recipient_domains',
    type: 'gauge',
    help: "Distinct external recipient domains of the account's accepted messages within detection.window of log time.",
    collect: perAccount((b, s) => b.recipientDomains(s)),
  },
  { name: 'mailrelay_log_lines_total', type: 'counter', help: 'Log lines read, parsed or not.', collect: one((p) => p.tailer.stats.lines) },
  { name: 'mailrelay_log_bytes_total', type: 'counter', help: 'Log bytes read.', collect: one((p) => p.tailer.stats.bytes) },
  {
    name: 'mailrelay_log_unparsed_lines_total',
    type: 'counter',
    help: "Log lines not in the MTA's line layout, skipped.",
    collect: one((p) => p.parser.stats.unparsed),
  },
  {
    name: 'mailrelay_log_read_errors_total',
    type: 'counter',
    help: 'Failures to list the log directory or to stat, open or read a log file (a file vanishing during rotation is not one).',
    collect: one((p) => p.tailer.stats.readErrors),
  },
  { name: 'mailrelay_log_files_opened_total', type: 'counter', help: 'Log files opened.', collect: one((p) => p.tailer.stats.filesOpened) },
  {
    name: 'mailrelay_log_truncations_total',
    type: 'counter',
    help: 'Log files found shorter than the saved offset, re-read from the start.',
    collect: one((p) => p.tailer.stats.truncations),
  },
  { name: 'mailrelay_log_lag_bytes', type: 'gauge', help: 'Bytes written to the log files and not yet read.', collect: one((p) => p.tailer.lagBytes()) },
  {
    name: 'mailrelay_log_last_line_timestamp_seconds',
    type: 'gauge',
    help: 'Log time of the last line with a time, in unix seconds.',
    collect: one((p) => p.parser.stats.lastLineTime),
  },
  { name: 'mailrelay_accounts_tracked', type: 'gauge', help: 'Accounts with their own series.', collect: one((p) => p.book.trackedAccounts) },
  {
    name: 'mailrelay_accounts_overflow_total',
    type: 'counter',
    help: 'Events counted under account="__overflow__" because the account limits were reached.',
    collect: one((p) => p.book.overflowEvents),
  },
];

/** Registers the log pipeline's metrics, read from `current()` at each rendering. */
export function registerLogMetrics(registry: ExporterRegistry, current: () => LogState | undefined): void {
  registry.addStateMetrics(
    DEFINITIONS.map((d) => ({
      ...d,
      collect(sample) {
        const p = current();
        if (p) d.collect(p, sample);
      },
    })),
  );
}

export const logCollector: Collector<LogPipeline> = {
  feature: logFeature,
  register: registerLogMetrics,
};
