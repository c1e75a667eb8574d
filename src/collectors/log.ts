// The log pipeline's metrics: SMTP totals, per-account counters and windowed
// gauges, and the tailer's health. Every value is read from the pipeline's
// state at scrape time.
import type { Registry } from 'prom-client';
import { AccountBook, type AccountStats } from '../accounts/book.js';
import { LogPipeline, tailSettings } from '../pipeline/logPipeline.js';
import type { Feature } from './collector.js';
import { registerStateMetrics, type Sample } from './stateMetric.js';

export const logFeature: Feature<LogPipeline> = {
  name: 'log',
  settings: tailSettings,
  start: (config, logger) => new LogPipeline(config, logger),
  registerMetrics(registry: Registry, current: () => LogPipeline | undefined) {
    // Yields the samples of `fn` for the running pipeline, nothing while it is off.
    const from = (fn: (p: LogPipeline) => Iterable<Sample>) => () => {
      const p = current();
      return p ? fn(p) : [];
    };
    const one = (fn: (p: LogPipeline) => number) => from((p) => [{ value: fn(p) }]);
    const perAccount = (fn: (book: AccountBook, s: AccountStats) => number) =>
      from(function* (p) {
        for (const [account, s] of p.book.accountEntries()) yield { labels: { account }, value: fn(p.book, s) };
      });
    const perMechanism = (counts: (b: AccountBook) => Record<string, number>) =>
      from((p) => AccountBook.mechanisms().map((mechanism) => ({ labels: { mechanism }, value: counts(p.book)[mechanism]! })));

    registerStateMetrics(registry, [
      { name: 'mailrelay_smtp_sessions_total', type: 'counter', help: 'Server SMTP sessions started.', read: one((p) => p.book.sessions) },
      {
        name: 'mailrelay_smtp_auth_attempts_total',
        type: 'counter',
        help: 'SMTP AUTH exchanges that got a final reply, by mechanism.',
        read: perMechanism((b) => b.authAttempts),
      },
      {
        name: 'mailrelay_smtp_auth_failures_total',
        type: 'counter',
        help: 'SMTP AUTH exchanges answered 4xx/5xx, by mechanism.',
        read: perMechanism((b) => b.authFailures),
      },
      { name: 'mailrelay_account_logins_total', type: 'counter', help: 'Successful SMTP AUTH, by account.', read: perAccount((_, s) => s.logins) },
      {
        name: 'mailrelay_account_auth_failures_total',
        type: 'counter',
        help: 'Failed SMTP AUTH, by the username tried.',
        read: from(function* (p) {
          for (const [account, s] of p.book.accountEntries()) yield { labels: { account }, value: s.authFailures };
          for (const [account, failures] of p.book.failedEntries()) yield { labels: { account }, value: failures };
        }),
      },
      {
        name: 'mailrelay_account_messages_total',
        type: 'counter',
        help: 'Messages accepted in sessions authenticated as the account.',
        read: perAccount((_, s) => s.messages),
      },
      {
        name: 'mailrelay_account_recipients_total',
        type: 'counter',
        help: 'Recipients of the account\'s accepted messages, by destination (external, local).',
        read: from(function* (p) {
          for (const [account, s] of p.book.accountEntries()) {
            yield { labels: { account, destination: 'external' }, value: s.externalRecipients };
            yield { labels: { account, destination: 'local' }, value: s.localRecipients };
          }
        }),
      },
      {
        name: 'mailrelay_account_foreign_sender_messages_total',
        type: 'counter',
        help: 'Accepted messages of the account whose envelope sender (MAIL FROM) is not the account.',
        read: perAccount((_, s) => s.foreignSenderMessages),
      },
      {
        name: 'mailrelay_unauthenticated_relay_recipients_total',
        type: 'counter',
        help: 'External recipients of accepted messages in sessions without successful AUTH: the server relayed for someone who did not log in.',
        read: one((p) => p.book.unauthenticatedRelayRecipients),
      },
      {
        name: 'mailrelay_relay_denied_total',
        type: 'counter',
        help: 'RCPTs refused as relaying (5xx, 5.7.1) in sessions without successful AUTH.',
        read: one((p) => p.book.relayDenied),
      },
      {
        name: 'mailrelay_account_client_ips',
        type: 'gauge',
        help: 'Distinct client IPs with a successful AUTH as the account within detection.window of log time.',
        read: perAccount((b, s) => b.clientIps(s)),
      },
      {
        name: 'mailrelay_account_recipient_domains',
        type: 'gauge',
        help: 'Distinct external recipient domains of the account\'s accepted messages within detection.window of log time.',
        read: perAccount((b, s) => b.recipientDomains(s)),
      },
      { name: 'mailrelay_log_lines_total', type: 'counter', help: 'Log lines read, parsed or not.', read: one((p) => p.tailer.stats.lines) },
      { name: 'mailrelay_log_bytes_total', type: 'counter', help: 'Log bytes read.', read: one((p) => p.tailer.stats.bytes) },
      {
        name: 'mailrelay_log_unparsed_lines_total',
        type: 'counter',
        help: 'Log lines not in the IceWarp line layout, skipped.',
        read: one((p) => p.sessions.stats.unparsed),
      },
      { name: 'mailrelay_log_files_opened_total', type: 'counter', help: 'Log files opened.', read: one((p) => p.tailer.stats.filesOpened) },
      {
        name: 'mailrelay_log_truncations_total',
        type: 'counter',
        help: 'Log files found shorter than the saved offset, re-read from the start.',
        read: one((p) => p.tailer.stats.truncations),
      },
      { name: 'mailrelay_log_lag_bytes', type: 'gauge', help: 'Bytes written to the log files and not yet read.', read: one((p) => p.tailer.lagBytes()) },
      {
        name: 'mailrelay_log_last_line_timestamp_seconds',
        type: 'gauge',
        help: 'Log time of the last line with a time, in unix seconds.',
        read: from((p) => (p.sessions.stats.lastLineTime === undefined ? [] : [{ value: p.sessions.stats.lastLineTime }])),
      },
      { name: 'mailrelay_accounts_tracked', type: 'gauge', help: 'Accounts with their own series.', read: one((p) => p.book.trackedAccounts) },
      {
        name: 'mailrelay_accounts_overflow_total',
        type: 'counter',
        help: 'Events counted under account="__overflow__" because the account limits were reached.',
        read: one((p) => p.book.overflowEvents),
      },
    ]);
  },
};
