// Prometheus recording and alerting rules for detection.md's signs, built from
// one parameter set. Thresholds are only ever interpolated into strings, so a
// caller (the Helm chart) can pass placeholders such as
// `{{ .Values.prometheusRule.thresholds.accountExternalRecipientsPerHour }}`
// and get a template out.
import { stringify } from 'yaml';

/** Counts are `number | string` (a string may be a template placeholder); durations are Prometheus durations. */
export interface Thresholds {
  /** External recipients of one account within `accountExternalRecipientsRange` (all instances summed). */
  accountExternalRecipientsPerHour: number | string;
  accountExternalRecipientsRange: string;
  accountExternalRecipientsFor: string;
  /** The hourly count must also exceed this many times the account's median over `baselineRange`, when that history exists. */
  baselineFactor: number | string;
  baselineRange: string;
  /** Step of the baseline subquery: one point per window at defaults ("median hour"). */
  baselineStep: string;

  accountExternalRecipientsPerDay: number | string;
  accountExternalRecipientsDayRange: string;
  accountExternalRecipientsDayFor: string;

  /** Distinct client IPs (the exporter's windowed gauge, summed over instances). */
  accountClientIps: number | string;
  accountClientIpsFor: string;

  /** Share (0..1) of an account's messages with a foreign envelope sender, and a minimum count. */
  foreignSenderRatio: number | string;
  foreignSenderMessages: number | string;
  foreignSenderRange: string;
  foreignSenderFor: string;

  accountRecipientDomains: number | string;
  accountRecipientDomainsFor: string;

  /** Failed AUTH per second on one server. */
  authFailuresPerSecond: number | string;
  authFailuresRateRange: string;
  authFailuresFor: string;

  /** Failed AUTH on one account within `accountAuthFailuresRange`, with a successful login within `accountLoginRange`. */
  accountAuthFailures: number | string;
  accountAuthFailuresRange: string;
  accountLoginRange: string;
  accountAuthFailuresFor: string;

  /** Any external recipient accepted without AUTH within this range. */
  openRelayRange: string;
  openRelayFor: string;

  queueRetryMessages: number | string;
  queueRetryGrowthRange: string;
  queueRetryFor: string;

  /** Share (0..1) of the outgoing queue held by one original sender, and a minimum count. */
  queueSenderRatio: number | string;
  queueSenderMessages: number | string;
  queueSenderFor: string;

  /** Seconds (IceWarp stops retrying after 4 days). */
  queueStuckAgeSeconds: number | string;
  queueStuckFor: string;

  incomingOrphansFor: string;

  exporterDownFor: string;
  /** Seconds since the last log line's time. */
  logSilenceSeconds: number | string;
  logSilenceFor: string;
  logLagBytes: number | string;
  logLagGrowthRange: string;
  logLagFor: string;
  accountsOverflowRange: string;
  accountsOverflowFor: string;
  collectorFailingFor: string;

  dnsblListedFor: string;
  dnsblQueryErrors: number | string;
  dnsblQueryErrorsRange: string;
  dnsblQueryErrorsFor: string;
  relayProbeAcceptedFor: string;
  relayProbeFailingFor: string;
}

/** detection.md's defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  accountExternalRecipientsPerHour: 200,
  accountExternalRecipientsRange: '1h',
  accountExternalRecipientsFor: '10m',
  baselineFactor: 10,
  baselineRange: '7d',
  baselineStep: '1h',

  accountExternalRecipientsPerDay: 1000,
  accountExternalRecipientsDayRange: '24h',
  accountExternalRecipientsDayFor: '5m',

  accountClientIps: 5,
  accountClientIpsFor: '5m',

  foreignSenderRatio: 0.5,
  foreignSenderMessages: 20,
  foreignSenderRange: '1h',
  foreignSenderFor: '5m',

  accountRecipientDomains: 20,
  accountRecipientDomainsFor: '5m',

  authFailuresPerSecond: 0.5,
  authFailuresRateRange: '5m',
  authFailuresFor: '10m',

  accountAuthFailures: 10,
  accountAuthFailuresRange: '1h',
  accountLoginRange: '15m',
  accountAuthFailuresFor: '0m',

  openRelayRange: '15m',
  openRelayFor: '0m',

  queueRetryMessages: 500,
  queueRetryGrowthRange: '30m',
  queueRetryFor: '10m',

  queueSenderRatio: 0.5,
  queueSenderMessages: 100,
  queueSenderFor: '5m',

  queueStuckAgeSeconds: 345600,
  queueStuckFor: '15m',

  incomingOrphansFor: '1h',

  exporterDownFor: '5m',
  logSilenceSeconds: 900,
  logSilenceFor: '5m',
  logLagBytes: 5242880,
  logLagGrowthRange: '15m',
  logLagFor: '15m',
  accountsOverflowRange: '1h',
  accountsOverflowFor: '0m',
  collectorFailingFor: '15m',

  dnsblListedFor: '0m',
  dnsblQueryErrors: 3,
  dnsblQueryErrorsRange: '1h',
  dnsblQueryErrorsFor: '0m',
  relayProbeAcceptedFor: '0m',
  relayProbeFailingFor: '10m',
};

/**
 * For end-to-end tests with a 1 s scrape and evaluation interval: windows of
 * seconds, same counts except where a short window cannot reach them.
 */
export const FAST_THRESHOLDS: Thresholds = {
  ...DEFAULT_THRESHOLDS,
  accountExternalRecipientsRange: '30s',
  accountExternalRecipientsFor: '3s',
  baselineRange: '10m',
  baselineStep: '30s',
  accountExternalRecipientsDayRange: '2m',
  accountExternalRecipientsDayFor: '3s',
  accountClientIpsFor: '3s',
  foreignSenderRange: '30s',
  foreignSenderFor: '3s',
  accountRecipientDomainsFor: '3s',
  authFailuresRateRange: '10s',
  authFailuresFor: '5s',
  accountAuthFailuresRange: '1m',
  accountLoginRange: '30s',
  openRelayRange: '30s',
  queueRetryGrowthRange: '30s',
  queueRetryFor: '3s',
  queueSenderFor: '3s',
  queueStuckFor: '3s',
  incomingOrphansFor: '10s',
  exporterDownFor: '5s',
  logSilenceFor: '5s',
  logLagGrowthRange: '10s',
  logLagFor: '10s',
  accountsOverflowRange: '1m',
  collectorFailingFor: '5s',
  dnsblQueryErrorsRange: '1m',
  relayProbeFailingFor: '5s',
};

export const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/mailrelay-exporter/mailrelay-exporter/blob/main/docs/runbooks';

export interface RuleOptions {
  /** Runbook pages are `<runbookBaseUrl>/<AlertName>.md`. */
  runbookBaseUrl?: string;
  /** Selects the exporter's `up` series. */
  exporterSelector?: string;
  /**
   * Wrap Prometheus' own `{{ … }}` annotation templates so that Helm passes
   * them through (`{{ "{{" }} … {{ "}}" }}`); threshold placeholders are untouched.
   */
  helmEscape?: boolean;
}

export type Severity = 'critical' | 'warning' | 'info';

export interface RecordingRule {
  record: string;
  expr: string;
}

export interface AlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: Severity };
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  rules: (RecordingRule | AlertingRule)[];
}

/** Recording rule names, shared with dashboards. The suffixes name the default windows. */
export const RECORDED = {
  externalRecipients: 'account:mailrelay_external_recipients:increase1h',
  externalRecipientsBaseline: 'account:mailrelay_external_recipients:increase1h_median7d',
  externalRecipientsDay: 'account:mailrelay_external_recipients:increase24h',
  messages: 'account:mailrelay_messages:increase1h',
  foreignSenderMessages: 'account:mailrelay_foreign_sender_messages:increase1h',
  clientIps: 'account:mailrelay_client_ips:sum',
  recipientDomains: 'account:mailrelay_recipient_domains:sum',
  authFailures: 'account:mailrelay_auth_failures:increase1h',
  retryMessages: 'instance:mailrelay_spool_retry_messages:sum',
  outgoingMessages: 'instance:mailrelay_spool_outgoing_messages:sum',
} as const;

export function buildRules(t: Thresholds, opts: RuleOptions = {}): { groups: RuleGroup[] } {
  const base = (opts.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL).replace(/\/+$/, '');
  const up = `up{${opts.exporterSelector ?? 'job="mailrelay"'}}`;
  // A Prometheus annotation template, escaped for Helm when asked.
  const tpl = (inner: string): string => (opts.helmEscape ? `{{ "{{" }} ${inner} {{ "}}" }}` : `{{ ${inner} }}`);
  const account = tpl('$labels.account');
  const value = tpl('$value | humanize');
  const instance = tpl('$labels.instance');
  const alert = (
    name: string,
    severity: Severity,
    forDuration: string,
    expr: string,
    summary: string,
    description: string,
  ): AlertingRule => ({
    alert: name,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description, runbook_url: `${base}/${name}.md` },
  });
  const R = RECORDED;

  // Recording rules sit in the group of the alerts that read them: rules of one
  // group run in order, so an alert always sees this evaluation's values.
  const accountRecording: RecordingRule[] = [
    {
      record: R.externalRecipients,
      expr: `sum by (account) (increase(mailrelay_account_recipients_total{destination="external"}[${t.accountExternalRecipientsRange}]))`,
    },
    {
      // A subquery samples the window once per step: the median of the past windows, cheaply.
      record: R.externalRecipientsBaseline,
      expr: `quantile_over_time(0.5, ${R.externalRecipients}[${t.baselineRange}:${t.baselineStep}])`,
    },
    {
      record: R.externalRecipientsDay,
      expr: `sum by (account) (increase(mailrelay_account_recipients_total{destination="external"}[${t.accountExternalRecipientsDayRange}]))`,
    },
    {
      record: R.messages,
      expr: `sum by (account) (increase(mailrelay_account_messages_total[${t.foreignSenderRange}]))`,
    },
    {
      record: R.foreignSenderMessages,
      expr: `sum by (account) (increase(mailrelay_account_foreign_sender_messages_total[${t.foreignSenderRange}]))`,
    },
    { record: R.clientIps, expr: 'sum by (account) (mailrelay_account_client_ips)' },
    { record: R.recipientDomains, expr: 'sum by (account) (mailrelay_account_recipient_domains)' },
    {
      record: R.authFailures,
      expr: `sum by (account) (increase(mailrelay_account_auth_failures_total[${t.accountAuthFailuresRange}]))`,
    },
  ];

  const serverRecording: RecordingRule[] = [
    {
      // IceWarp's staff count the retry queue as retry/ plus priority_*.
      record: R.retryMessages,
      expr: 'sum without (folder) (mailrelay_spool_messages{queue="outgoing", folder=~"_outgoing/(retry|priority_.+)"})',
    },
    {
      record: R.outgoingMessages,
      expr: 'sum without (folder, queue) (mailrelay_spool_messages{queue="outgoing"})',
    },
  ];

  const accountAlerts: AlertingRule[] = [
    alert(
      'MailrelayAccountExternalRecipientsHigh',
      'critical',
      t.accountExternalRecipientsFor,
      // With less than baselineRange of history (no sample baselineRange ago), the absolute threshold alone decides.
      [
        `${R.externalRecipients} > ${t.accountExternalRecipientsPerHour}`,
        `and on (account)`,
        `(`,
        `    ${R.externalRecipients} > ${t.baselineFactor} * ${R.externalRecipientsBaseline}`,
        `  or on (account)`,
        `    (${R.externalRecipients} unless on (account) ${R.externalRecipients} offset ${t.baselineRange})`,
        `)`,
      ].join('\n'),
      `Account ${account} is sending to an abnormal number of external recipients`,
      `Account ${account} sent to ${value} external recipients in the last ${t.accountExternalRecipientsRange} across all servers ` +
        `(threshold ${t.accountExternalRecipientsPerHour}, and ${t.baselineFactor}× its median over ${t.baselineRange} when that history exists). ` +
        `Its password is probably stolen and the server is relaying spam.`,
    ),
    alert(
      'MailrelayAccountExternalRecipientsDailyHigh',
      'warning',
      t.accountExternalRecipientsDayFor,
      `${R.externalRecipientsDay} > ${t.accountExternalRecipientsPerDay}`,
      `Account ${account} exceeded the daily external recipient limit`,
      `Account ${account} sent to ${value} external recipients in the last ${t.accountExternalRecipientsDayRange} ` +
        `(threshold ${t.accountExternalRecipientsPerDay}, the per-account daily send limit IceWarp recommends).`,
    ),
    alert(
      'MailrelayAccountManyClientIPs',
      'warning',
      t.accountClientIpsFor,
      `${R.clientIps} > ${t.accountClientIps}`,
      `Account ${account} logs in from many IP addresses`,
      `Account ${account} authenticated successfully from ${value} distinct client IPs within the exporter's detection window ` +
        `(threshold ${t.accountClientIps}; summed over servers). A person uses one to three; stolen credentials are used from botnets.`,
    ),
    alert(
      'MailrelayAccountForeignSender',
      'warning',
      t.foreignSenderFor,
      [
        `${R.foreignSenderMessages} > ${t.foreignSenderMessages}`,
        `and on (account)`,
        `${R.foreignSenderMessages} > ${t.foreignSenderRatio} * ${R.messages}`,
      ].join('\n'),
      `Account ${account} sends with envelope senders that are not its own`,
      `Account ${account} sent ${value} messages with a foreign MAIL FROM in the last ${t.foreignSenderRange}, ` +
        `more than ${t.foreignSenderRatio} of its messages (minimum ${t.foreignSenderMessages}).`,
    ),
    alert(
      'MailrelayAccountManyRecipientDomains',
      'warning',
      t.accountRecipientDomainsFor,
      `${R.recipientDomains} > ${t.accountRecipientDomains}`,
      `Account ${account} sends to many unrelated external domains`,
      `Account ${account} sent to ${value} distinct external recipient domains within the exporter's detection window ` +
        `(threshold ${t.accountRecipientDomains}).`,
    ),
    alert(
      'MailrelayAccountBruteForceSucceeded',
      'warning',
      t.accountAuthFailuresFor,
      // A login series that appeared within the window is a first login: increase() cannot see it.
      [
        `${R.authFailures} > ${t.accountAuthFailures}`,
        `and on (account)`,
        `(`,
        `    sum by (account) (increase(mailrelay_account_logins_total[${t.accountLoginRange}])) > 0`,
        `  or on (account)`,
        `    sum by (account) (mailrelay_account_logins_total unless mailrelay_account_logins_total offset ${t.accountLoginRange})`,
        `)`,
      ].join('\n'),
      `Account ${account} logged in after a password attack`,
      `Account ${account} had ${value} failed logins in the last ${t.accountAuthFailuresRange} ` +
        `(threshold ${t.accountAuthFailures}) and a successful login within ${t.accountLoginRange}: its password may have been guessed.`,
    ),
  ];

  const serverAlerts: AlertingRule[] = [
    alert(
      'MailrelayAuthFailuresHigh',
      'warning',
      t.authFailuresFor,
      `sum without (mechanism) (rate(mailrelay_smtp_auth_failures_total[${t.authFailuresRateRange}])) > ${t.authFailuresPerSecond}`,
      `Password attack on the SMTP server ${instance}`,
      `${instance} answers ${tpl('printf "%.2f" $value')} failed AUTH per second (threshold ${t.authFailuresPerSecond}/s): a brute-force or password-spray attack.`,
    ),
    alert(
      'MailrelayOpenRelay',
      'critical',
      t.openRelayFor,
      `increase(mailrelay_unauthenticated_relay_recipients_total[${t.openRelayRange}]) > 0`,
      `${instance} relays mail for clients that did not log in`,
      `${instance} accepted ${value} external recipients without AUTH in the last ${t.openRelayRange}: the server is an open relay.`,
    ),
    alert(
      'MailrelayQueueRetryGrowing',
      'warning',
      t.queueRetryFor,
      [
        `${R.retryMessages} > ${t.queueRetryMessages}`,
        `and`,
        `delta(${R.retryMessages}[${t.queueRetryGrowthRange}]) > 0`,
      ].join('\n'),
      `The retry queue of ${instance} is filling up`,
      `${instance} holds ${value} messages in _outgoing/retry and _outgoing/priority_* (threshold ${t.queueRetryMessages}), ` +
        `more than ${t.queueRetryGrowthRange} ago: undeliverable mail (often spam) is piling up.`,
    ),
    alert(
      'MailrelayQueueDominatedBySender',
      'critical',
      t.queueSenderFor,
      [
        `mailrelay_spool_sender_messages > ${t.queueSenderMessages}`,
        `and`,
        `mailrelay_spool_sender_messages / ignoring (sender) group_left ${R.outgoingMessages} > ${t.queueSenderRatio}`,
      ].join('\n'),
      `One sender fills the outgoing queue of ${instance}`,
      `${tpl('$labels.sender')} is the original sender of ${value} messages in the outgoing queue of ${instance}, ` +
        `more than ${t.queueSenderRatio} of it (minimum ${t.queueSenderMessages}): a spam run.`,
    ),
    alert(
      'MailrelayQueueStuckMessages',
      'warning',
      t.queueStuckFor,
      `mailrelay_spool_oldest_message_age_seconds{queue="outgoing"} > ${t.queueStuckAgeSeconds}`,
      `Stuck mail in ${tpl('$labels.folder')} on ${instance}`,
      `The oldest message in ${tpl('$labels.folder')} on ${instance} is ${tpl('$value | humanizeDuration')} old ` +
        `(threshold ${t.queueStuckAgeSeconds} s): IceWarp has stopped retrying it.`,
    ),
    alert(
      'MailrelayIncomingOrphans',
      'info',
      t.incomingOrphansFor,
      `sum without (kind) (mailrelay_spool_orphan_files) > 0`,
      `Unpaired files in ${tpl('$labels.folder')} on ${instance}`,
      `${tpl('$labels.folder')} on ${instance} holds ${value} .tmp or .dat files without their pair; ` +
        `they cannot be processed. Move the pairs back and set the orphans aside.`,
    ),
  ];

  const exporterAlerts: AlertingRule[] = [
    alert(
      'MailrelayExporterDown',
      'critical',
      t.exporterDownFor,
      `${up} == 0 or absent(${up})`,
      `mailrelay-exporter is down: spam relaying goes undetected`,
      `Prometheus cannot scrape mailrelay-exporter ${instance} (or has no such target): no account, queue or relay alert can fire.`,
    ),
    alert(
      'MailrelayLogSilent',
      'critical',
      t.logSilenceFor,
      `time() - mailrelay_log_last_line_timestamp_seconds > ${t.logSilenceSeconds}`,
      `mailrelay-exporter on ${instance} reads no SMTP log lines`,
      `The last SMTP log line read by ${instance} is ${tpl('$value | humanizeDuration')} old (threshold ${t.logSilenceSeconds} s): ` +
        `the exporter is blind to the log, or the SMTP service is stopped.`,
    ),
    alert(
      'MailrelayLogLagGrowing',
      'critical',
      t.logLagFor,
      [
        `mailrelay_log_lag_bytes > ${t.logLagBytes}`,
        `and`,
        `delta(mailrelay_log_lag_bytes[${t.logLagGrowthRange}]) > 0`,
      ].join('\n'),
      `mailrelay-exporter on ${instance} falls behind the SMTP log`,
      `${instance} has ${tpl('$value | humanize1024')}B of SMTP log unread (threshold ${t.logLagBytes} bytes) and the backlog grows: its alerts come late.`,
    ),
    alert(
      'MailrelayAccountsOverflow',
      'warning',
      t.accountsOverflowFor,
      `increase(mailrelay_accounts_overflow_total[${t.accountsOverflowRange}]) > 0`,
      `mailrelay-exporter on ${instance} counts accounts under __overflow__`,
      `${instance} counted ${value} events under account="__overflow__" in the last ${t.accountsOverflowRange}: ` +
        `more accounts than limits.max_accounts, so some accounts are not named.`,
    ),
    alert(
      'MailrelayCollectorFailing',
      'warning',
      t.collectorFailingFor,
      `mailrelay_collector_success == 0`,
      `The ${tpl('$labels.collector')} collector of ${instance} fails`,
      `The ${tpl('$labels.collector')} collector of mailrelay-exporter ${instance} has been failing for ${t.collectorFailingFor}: its metrics are stale or missing.`,
    ),
  ];

  const activeAlerts: AlertingRule[] = [
    alert(
      'MailrelayDnsblListed',
      'critical',
      t.dnsblListedFor,
      `mailrelay_dnsbl_listed == 1`,
      `${tpl('$labels.ip')} is listed on ${tpl('$labels.zone')}`,
      `The server address ${tpl('$labels.ip')} is listed on the DNS blacklist ${tpl('$labels.zone')} (answer ${tpl('$labels.answer')}): ` +
        `receivers that use it refuse its mail.`,
    ),
    alert(
      'MailrelayDnsblQueryErrors',
      'warning',
      t.dnsblQueryErrorsFor,
      `increase(mailrelay_dnsbl_query_errors_total[${t.dnsblQueryErrorsRange}]) > ${t.dnsblQueryErrors}`,
      `DNSBL queries to ${tpl('$labels.zone')} fail`,
      `${value} queries to ${tpl('$labels.zone')} failed in the last ${t.dnsblQueryErrorsRange} (threshold ${t.dnsblQueryErrors}): ` +
        `a listing there would go unnoticed.`,
    ),
    alert(
      'MailrelayRelayProbeAccepted',
      'critical',
      t.relayProbeAcceptedFor,
      `mailrelay_open_relay_probe_accepted == 1`,
      `${tpl('$labels.target')} accepts relaying without AUTH`,
      `The open-relay probe of ${instance} got a 2xx reply to RCPT for an external recipient from ${tpl('$labels.target')} ` +
        `without logging in: the server is an open relay.`,
    ),
    alert(
      'MailrelayRelayProbeFailing',
      'warning',
      t.relayProbeFailingFor,
      `mailrelay_open_relay_probe_success == 0`,
      `The open-relay probe of ${tpl('$labels.target')} fails`,
      `The open-relay probe of ${instance} could not complete an SMTP dialogue with ${tpl('$labels.target')}: ` +
        `relay mode is not being verified.`,
    ),
  ];

  return {
    groups: [
      { name: 'mailrelay.accounts', rules: [...accountRecording, ...accountAlerts] },
      { name: 'mailrelay.server', rules: [...serverRecording, ...serverAlerts] },
      { name: 'mailrelay.exporter', rules: exporterAlerts },
      { name: 'mailrelay.active-checks', rules: activeAlerts },
    ],
  };
}

export const GENERATED_HEADER =
  '# Generated by alerts/generate.ts from alerts/rules.ts (DEFAULT_THRESHOLDS). Do not edit: change rules.ts and run `node dist/alerts/generate.js`.\n';

/** The rules as YAML; stable output for a given input. */
export function renderRulesYaml(t: Thresholds, opts: RuleOptions = {}): string {
  return GENERATED_HEADER + stringify(buildRules(t, opts), { lineWidth: 0 });
}
