// Prometheus recording and alerting rules for detection.md's signs, built from
// one parameter set (src/detection/thresholds.ts). Thresholds are only ever
// interpolated into strings, so a caller (the Helm chart) can pass
// placeholders such as `{{ .Values.prometheusRule.thresholds.burstRecipients }}`
// and get a template out.
//
// Baselines come from coarse series recorded by a group of their own that
// Prometheus runs once an hour: one sample an hour (the last hour) and one a
// day (the day's peak and total, at its evaluation between 00:00 and 01:00
// UTC); a baseline is the median of the last days' samples. The account group
// runs at every evaluation and reads those with last_over_time. No rule reads
// more than an hour of raw samples, nor more than a sample an hour of history,
// and nothing that changes once an hour is computed every minute: at 10,000
// accounts that is what keeps an evaluation cheap.
import { stringify } from 'yaml';
import { recordingLevels as levelsOf } from '../src/backfill/ruleLevels.js';
import { parseDuration } from '../src/config/duration.js';
import { BASELINE_DAYS, DEFAULT_THRESHOLDS, type Thresholds } from '../src/detection/thresholds.js';

export { DEFAULT_THRESHOLDS, type Thresholds } from '../src/detection/thresholds.js';

/**
 * For end-to-end tests with a 1 s scrape and evaluation interval: windows of
 * seconds, same counts except where a short window cannot reach them. The
 * baselines keep their days, so a short test has no history: the absolute
 * thresholds decide, as for a new account.
 */
export const FAST_THRESHOLDS: Thresholds = {
  ...DEFAULT_THRESHOLDS,
  burstRange: '10s',
  burstFor: '2s',
  accountExternalRecipientsRange: '30s',
  accountExternalRecipientsFor: '3s',
  signExternalRecipientsFor: '3s',
  accountClientIpsFor: '3s',
  foreignSenderRange: '30s',
  foreignSenderFor: '3s',
  accountRecipientDomainsFor: '3s',
  compromisedFor: '3s',
  botnetFor: '3s',
  accountExternalRecipientsDayFor: '3s',
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
  /**
   * The lowest of some thresholds, as the rule file must write it: for Helm
   * placeholders, a template that the chart renders into a number.
   */
  smallest?: (values: (number | string)[]) => string;
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
  /** Prometheus' global evaluation_interval when absent. */
  interval?: string;
  rules: (RecordingRule | AlertingRule)[];
}

const MEDIAN = `median${BASELINE_DAYS}d`;

/** Recording rule names, shared with dashboards and runbooks. The suffixes name the default windows. */
export const RECORDED = {
  // Windows over the raw counters and gauges, summed over servers, every evaluation.
  externalRecipients5m: 'account:mailrelay_external_recipients:increase5m',
  externalRecipients: 'account:mailrelay_external_recipients:increase1h',
  messages: 'account:mailrelay_messages:increase1h',
  foreignSenderMessages: 'account:mailrelay_foreign_sender_messages:increase1h',
  clientIps: 'account:mailrelay_client_ips:sum',
  recipientDomains: 'account:mailrelay_recipient_domains:sum',
  authFailures: 'account:mailrelay_auth_failures:increase1h',
  // Coarse history, recorded by the baseline group (BASELINE_INTERVAL): one sample an hour (the last hour)…
  externalRecipientsHourly: 'account:mailrelay_external_recipients:increase1h_hourly',
  clientIpsHourly: 'account:mailrelay_client_ips:hourly',
  recipientDomainsHourly: 'account:mailrelay_recipient_domains:hourly',
  /** The last 24 hours, from the hourly samples. */
  externalRecipientsDay: 'account:mailrelay_external_recipients:increase24h',
  // …and one a day (at the evaluation between 00:00 and 01:00 UTC, the day before it, for accounts present all of it).
  externalRecipientsDailyPeak: 'account:mailrelay_external_recipients:increase1h_max1d',
  externalRecipientsDaily: 'account:mailrelay_external_recipients:increase1d',
  clientIpsDailyPeak: 'account:mailrelay_client_ips:max1d',
  recipientDomainsDailyPeak: 'account:mailrelay_recipient_domains:max1d',
  // Baselines, every hour: the median of the last complete days; absent without one.
  externalRecipientsBaseline: `account:mailrelay_external_recipients:increase1h_max1d_${MEDIAN}`,
  externalRecipientsDayBaseline: `account:mailrelay_external_recipients:increase1d_${MEDIAN}`,
  clientIpsBaseline: `account:mailrelay_client_ips:max1d_${MEDIAN}`,
  recipientDomainsBaseline: `account:mailrelay_recipient_domains:max1d_${MEDIAN}`,
  // The accounts the volume and client-IP alerts can concern (above the lowest of their
  // thresholds), and their baselines: a handful of series, which those alerts read instead of
  // reading every account's series and baseline again.
  externalRecipientsWatched: 'account:mailrelay_external_recipients:increase1h_watched',
  externalRecipientsWatchedBaseline: `account:mailrelay_external_recipients:increase1h_max1d_${MEDIAN}_watched`,
  clientIpsWatched: 'account:mailrelay_client_ips:sum_watched',
  clientIpsWatchedBaseline: `account:mailrelay_client_ips:max1d_${MEDIAN}_watched`,
  /** The daily warning's accounts, recorded with the baselines (once an hour): their last 24 hours. */
  externalRecipientsDayAboveUsual: 'account:mailrelay_external_recipients:increase24h_above_usual',
  /** One series per account and sign above its thresholds (label `sign`); the value is the sign's measured number. */
  signs: 'account:mailrelay_signs:value',
  retryMessages: 'instance:mailrelay_spool_retry_messages:sum',
  outgoingMessages: 'instance:mailrelay_spool_outgoing_messages:sum',
} as const;

/**
 * The baseline group runs once an hour: its series change no more often, and
 * at 10,000 accounts computing them at every evaluation cost more than
 * everything else together. (promtool test rules evaluates every group at
 * every step whatever its interval: forPromtoolTest gates it to one step an
 * hour for the tests.)
 */
export const BASELINE_INTERVAL = '1h';
/** The brute-force warning's group (see loginAlerts). */
export const LOGIN_INTERVAL = '5m';
/**
 * The account groups, in the order promtool must run them (its
 * group_eval_order, in every file of alerts/tests/ and in the time-to-page
 * suite; it runs groups in a random order unless told): the baselines and
 * the logins read the account group's series of the same instant, as in
 * Prometheus, where that group ran within the last minute.
 */
export const ACCOUNT_GROUPS = ['mailrelay.accounts', 'mailrelay.accounts.baselines', 'mailrelay.accounts.logins'] as const;
const EACH_DAY = 'on () (hour() == 0)';
/** The 24 hourly samples of the last day, the 25th (a day ago) left out. */
const ONE_DAY = '23h59m';
/** The daily samples of the last BASELINE_DAYS days (the one a week ago left out). */
const BASELINE_RANGE = `${BASELINE_DAYS - 1}d23h59m`;
/**
 * The account group (and a dashboard) reads the baseline group's latest
 * sample over this: an hour apart, plus one missed evaluation (a restart)
 * before it goes blind.
 */
export const LATEST_BASELINE = '2h';
/**
 * An alert on an hourly result reads it over this: a result the group no
 * longer records (it ended) is gone five minutes after that evaluation.
 */
const LATEST_HOURLY_RESULT = '1h5m';

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
  const R = { ...RECORDED } as Record<keyof typeof RECORDED, string>;
  // The account group reads the baseline group's series as their latest hourly sample.
  for (const name of ['externalRecipientsBaseline', 'clientIpsBaseline', 'recipientDomainsBaseline'] as const) {
    R[name] = `last_over_time(${RECORDED[name]}[${LATEST_BASELINE}])`;
  }
  const B = RECORDED;
  const sumIncrease = (selector: string, range: string) => `sum by (account) (increase(${selector}[${range}]))`;
  const external = 'mailrelay_account_recipients_total{destination="external"}';
  /** `series` above `threshold`, unless the account has a baseline and `series` is within `factor` × it. */
  const aboveUnlessUsual = (series: string, threshold: number | string, factor: number | string, baseline: string) =>
    [`${series} > ${threshold}`, `unless on (account)`, `${series} <= ${factor} * ${baseline}`].join('\n');
  /** `series` above `threshold` and above `factor` × its baseline (none without history). */
  const aboveUsual = (series: string, threshold: number | string, factor: number | string, baseline: string) =>
    `(${series} > ${threshold}) > ${factor} * ${baseline}`;
  /** The lowest of some thresholds (see RuleOptions.smallest). */
  const smallest = (...values: (number | string)[]): string => {
    if (opts.smallest !== undefined) return opts.smallest(values);
    if (!values.every((v): v is number => typeof v === 'number')) throw new Error(`alerts/rules.ts: the lowest of ${values.join(', ')} needs RuleOptions.smallest`);
    return String(Math.min(...values));
  };
  /** A daily sample: at the evaluation between 00:00 and 01:00 UTC, for accounts that were there a day before it. */
  const daily = (expr: string) => [expr, `and on (account)`, `${B.externalRecipientsHourly} offset 1d`, `and ${EACH_DAY}`].join('\n');

  // The signs of a stolen account: each a warning, together a page.
  const signs = {
    volume: aboveUsual(R.externalRecipientsWatched, t.signExternalRecipients, t.signExternalRecipientsUsualFactor, R.externalRecipientsWatchedBaseline),
    client_ips: aboveUnlessUsual(R.clientIpsWatched, t.accountClientIps, t.accountClientIpsUsualFactor, R.clientIpsWatchedBaseline),
    foreign_sender: `(${R.foreignSenderMessages} > ${t.foreignSenderMessages}) > ${t.foreignSenderRatio} * ${R.messages}`,
    recipient_domains: aboveUsual(R.recipientDomains, t.accountRecipientDomains, t.accountRecipientDomainsUsualFactor, R.recipientDomainsBaseline),
  } as const;
  const sign = (name: keyof typeof signs) => `max by (account) (${R.signs}{sign="${name}"})`;

  // Recording rules sit in the group of the alerts that read them: rules of one
  // group run in order, so an alert always sees this evaluation's values.
  const accountRecording: RecordingRule[] = [
    { record: R.externalRecipients5m, expr: sumIncrease(external, t.burstRange) },
    { record: R.externalRecipients, expr: sumIncrease(external, t.accountExternalRecipientsRange) },
    { record: R.messages, expr: sumIncrease('mailrelay_account_messages_total', t.foreignSenderRange) },
    { record: R.foreignSenderMessages, expr: sumIncrease('mailrelay_account_foreign_sender_messages_total', t.foreignSenderRange) },
    { record: R.clientIps, expr: 'sum by (account) (mailrelay_account_client_ips)' },
    { record: R.recipientDomains, expr: 'sum by (account) (mailrelay_account_recipient_domains)' },
    { record: R.authFailures, expr: sumIncrease('mailrelay_account_auth_failures_total', t.accountAuthFailuresRange) },
    // At 10,000 accounts each read of every account's series or baseline is most of a
    // rule's cost: they are read once here, the alerts read the few accounts left.
    {
      record: R.externalRecipientsWatched,
      expr: `${R.externalRecipients} > ${smallest(t.signExternalRecipients, t.accountExternalRecipientsPerHour, t.burstRecipients)}`,
    },
    { record: R.externalRecipientsWatchedBaseline, expr: `${R.externalRecipientsBaseline} and on (account) ${R.externalRecipientsWatched}` },
    { record: R.clientIpsWatched, expr: `${R.clientIps} > ${smallest(t.accountClientIps, t.botnetClientIps)}` },
    { record: R.clientIpsWatchedBaseline, expr: `${R.clientIpsBaseline} and on (account) ${R.clientIpsWatched}` },
    {
      record: R.signs,
      expr: Object.entries(signs)
        .map(([name, expr]) => `label_replace(\n  ${expr.split('\n').join('\n  ')}\n, "sign", "${name}", "", "")`)
        .join('\nor\n'),
    },
  ];
  // The baseline group, once an hour. Its instant reads of the account group's series
  // find their sample of the last minute.
  const baselineRecording: RecordingRule[] = [
    { record: B.externalRecipientsHourly, expr: B.externalRecipients },
    { record: B.clientIpsHourly, expr: B.clientIps },
    { record: B.recipientDomainsHourly, expr: B.recipientDomains },
    { record: B.externalRecipientsDay, expr: `sum_over_time(${B.externalRecipientsHourly}[${ONE_DAY}])` },
    { record: B.externalRecipientsDailyPeak, expr: daily(`max_over_time(${B.externalRecipientsHourly}[${ONE_DAY}])`) },
    { record: B.externalRecipientsDaily, expr: daily(B.externalRecipientsDay) },
    { record: B.clientIpsDailyPeak, expr: daily(`max_over_time(${B.clientIpsHourly}[${ONE_DAY}])`) },
    { record: B.recipientDomainsDailyPeak, expr: daily(`max_over_time(${B.recipientDomainsHourly}[${ONE_DAY}])`) },
    { record: B.externalRecipientsBaseline, expr: `quantile_over_time(0.5, ${B.externalRecipientsDailyPeak}[${BASELINE_RANGE}])` },
    { record: B.externalRecipientsDayBaseline, expr: `quantile_over_time(0.5, ${B.externalRecipientsDaily}[${BASELINE_RANGE}])` },
    { record: B.clientIpsBaseline, expr: `quantile_over_time(0.5, ${B.clientIpsDailyPeak}[${BASELINE_RANGE}])` },
    { record: B.recipientDomainsBaseline, expr: `quantile_over_time(0.5, ${B.recipientDomainsDailyPeak}[${BASELINE_RANGE}])` },
    // Its inputs change once an hour: the daily warning compares them here, once.
    {
      record: B.externalRecipientsDayAboveUsual,
      expr: aboveUsual(B.externalRecipientsDay, t.accountExternalRecipientsPerDay, t.accountExternalRecipientsDayUsualFactor, B.externalRecipientsDayBaseline),
    },
  ];

  const usualHour = `its usual hour (the median, over its last ${BASELINE_DAYS} complete days, of each day's busiest hour)`;
  const usualPeak = `its usual peak (the median, over its last ${BASELINE_DAYS} complete days, of each day's highest)`;
  const accountAlerts: AlertingRule[] = [
    alert(
      'MailrelayAccountExternalRecipientsBurst',
      'critical',
      t.burstFor,
      [
        `${R.externalRecipients5m} > ${t.burstRecipients}`,
        `unless on (account)`,
        `${R.externalRecipientsWatched} <= ${t.burstUsualFactor} * ${R.externalRecipientsWatchedBaseline}`,
      ].join('\n'),
      `Account ${account} is sending a burst of mail to external recipients`,
      `Account ${account} sent to ${value} external recipients in the last ${t.burstRange} across all servers ` +
        `(threshold ${t.burstRecipients}; with history, its last hour is also above ${t.burstUsualFactor}× ${usualHour}). ` +
        `Its password is probably stolen and the server is relaying spam.`,
    ),
    alert(
      'MailrelayAccountExternalRecipientsHigh',
      'critical',
      t.accountExternalRecipientsFor,
      aboveUnlessUsual(R.externalRecipientsWatched, t.accountExternalRecipientsPerHour, t.accountExternalRecipientsUsualFactor, R.externalRecipientsWatchedBaseline),
      `Account ${account} is sending to an abnormal number of external recipients`,
      `Account ${account} sent to ${value} external recipients in the last ${t.accountExternalRecipientsRange} across all servers ` +
        `(threshold ${t.accountExternalRecipientsPerHour}; with history, also above ${t.accountExternalRecipientsUsualFactor}× ${usualHour}). ` +
        `Its password is probably stolen and the server is relaying spam.`,
    ),
    alert(
      'MailrelayAccountBotnetLogins',
      'critical',
      t.botnetFor,
      aboveUnlessUsual(R.clientIpsWatched, t.botnetClientIps, t.botnetUsualFactor, R.clientIpsWatchedBaseline),
      `Account ${account} logs in from a botnet`,
      `Account ${account} authenticated successfully from ${value} distinct client IPs within the exporter's detection window ` +
        `(threshold ${t.botnetClientIps}; with history, also above ${t.botnetUsualFactor}× ${usualPeak}). ` +
        `Its password is in the hands of a botnet, which will send spam with it.`,
    ),
    alert(
      'MailrelayAccountCompromised',
      'critical',
      t.compromisedFor,
      `count by (account) (${R.signs}) >= ${t.compromisedSigns}`,
      `Account ${account} shows several signs of a stolen password at once`,
      `Account ${account} shows ${value} signs of a stolen account at once (threshold ${t.compromisedSigns}): ` +
        `${tpl(`range printf "${R.signs}{account=%q}" $labels.account | query | sortByLabel "sign"`)}${tpl('.Labels.sign')} ${tpl('end')}` +
        `(volume and recipient domains compared with its own history).`,
    ),
    alert(
      'MailrelayAccountExternalRecipientsAboveUsual',
      'warning',
      t.signExternalRecipientsFor,
      sign('volume'),
      `Account ${account} sends far more than usual`,
      `Account ${account} sent to ${value} external recipients in the last ${t.accountExternalRecipientsRange}, ` +
        `more than ${t.signExternalRecipientsUsualFactor}× ${usualHour} (minimum ${t.signExternalRecipients}).`,
    ),
    alert(
      'MailrelayAccountExternalRecipientsDailyHigh',
      'warning',
      t.accountExternalRecipientsDayFor,
      `last_over_time(${B.externalRecipientsDayAboveUsual}[${LATEST_HOURLY_RESULT}])`,
      `Account ${account} sent far more external mail than on a usual day`,
      `Account ${account} sent to ${value} external recipients in the last 24 hours (summed each hour) ` +
        `(threshold ${t.accountExternalRecipientsPerDay}, the per-account daily send limit IceWarp recommends), ` +
        `more than ${t.accountExternalRecipientsDayUsualFactor}× its usual day (the median of its last ${BASELINE_DAYS} complete days).`,
    ),
    alert(
      'MailrelayAccountManyClientIPs',
      'warning',
      t.accountClientIpsFor,
      sign('client_ips'),
      `Account ${account} logs in from many IP addresses`,
      `Account ${account} authenticated successfully from ${value} distinct client IPs within the exporter's detection window ` +
        `(threshold ${t.accountClientIps}; with history, also above ${t.accountClientIpsUsualFactor}× ${usualPeak}; summed over servers). ` +
        `A person uses one to three; stolen credentials are used from botnets.`,
    ),
    alert(
      'MailrelayAccountForeignSender',
      'warning',
      t.foreignSenderFor,
      sign('foreign_sender'),
      `Account ${account} sends with envelope senders that are not its own`,
      `Account ${account} sent ${value} messages with a foreign MAIL FROM in the last ${t.foreignSenderRange}, ` +
        `more than ${t.foreignSenderRatio} of its messages (minimum ${t.foreignSenderMessages}).`,
    ),
    alert(
      'MailrelayAccountManyRecipientDomains',
      'warning',
      t.accountRecipientDomainsFor,
      sign('recipient_domains'),
      `Account ${account} sends to far more external domains than usual`,
      `Account ${account} sent to ${value} distinct external recipient domains within the exporter's detection window ` +
        `(threshold ${t.accountRecipientDomains}, and more than ${t.accountRecipientDomainsUsualFactor}× ${usualPeak}).`,
    ),
  ];

  // Every five minutes: it reads every account's login counter three times (its increase, and
  // whether it is new within the window), as much as the rest of the account group, for a warning.
  const loginAlerts: AlertingRule[] = [
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

  const serverRecording: RecordingRule[] = [
    {
      // The exporter counts what each MTA keeps for a retry (IceWarp: retry/ and priority_*,
      // as IceWarp's staff count it; Postfix: deferred), so this rule needs no MTA's folder names.
      record: R.retryMessages,
      expr: 'sum without () (mailrelay_spool_deferred_messages)',
    },
    {
      record: R.outgoingMessages,
      expr: 'sum without (folder, queue) (mailrelay_spool_messages{queue="outgoing"})',
    },
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
      `${instance} holds ${value} messages waiting for a retry (IceWarp: _outgoing/retry and _outgoing/priority_*; Postfix: the deferred queue; threshold ${t.queueRetryMessages}), ` +
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
      { name: ACCOUNT_GROUPS[0], rules: [...accountRecording, ...accountAlerts] },
      { name: ACCOUNT_GROUPS[1], interval: BASELINE_INTERVAL, rules: baselineRecording },
      { name: ACCOUNT_GROUPS[2], interval: LOGIN_INTERVAL, rules: loginAlerts },
      { name: 'mailrelay.server', rules: [...serverRecording, ...serverAlerts] },
      { name: 'mailrelay.exporter', rules: exporterAlerts },
      { name: 'mailrelay.active-checks', rules: activeAlerts },
    ],
  };
}

/**
 * The recording rules in dependency levels, for `promtool tsdb create-blocks-from
 * rules`, which evaluates each rule on its own over stored series: a rule of
 * level n reads only raw series and series of levels below n, so the levels
 * are backfilled one after the other, each once the previous is in the TSDB.
 */
export function recordingLevels(groups: readonly RuleGroup[]): RecordingRule[][] {
  return levelsOf(groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r)));
}

/**
 * The rules as `promtool test rules` must see them. promtool evaluates every
 * group at every step of a test, whatever its `interval`, so the rules of a
 * group slower than the test's `step` are gated to the steps where
 * Prometheus would run it: once per interval, `offsetSeconds` into it (a real
 * Prometheus takes an offset from a hash of the group's name and file).
 * Between those the gated rules record nothing, as a slower group does.
 */
export function forPromtoolTest(rules: { groups: RuleGroup[] }, stepSeconds: number, offsetSeconds: number): { groups: RuleGroup[] } {
  return {
    groups: rules.groups.map(({ interval, ...g }) => {
      const every = interval === undefined ? 0 : parseDuration(interval);
      if (every === undefined) throw new Error(`rule group ${g.name}: interval ${interval} is not a duration`);
      if (every <= stepSeconds) return interval === undefined ? g : { name: g.name, interval, rules: g.rules };
      const gate = `on () (vector(time()) % ${every} == ${offsetSeconds % every})`;
      return { ...g, rules: g.rules.map((r) => ({ ...r, expr: `(\n${r.expr}\n)\nand ${gate}` })) };
    }),
  };
}

export const GENERATED_HEADER =
  '# Generated by alerts/generate.ts from alerts/rules.ts (DEFAULT_THRESHOLDS). Do not edit: change rules.ts and run `node dist/alerts/generate.js`.\n';

/** The rules as YAML; stable output for a given input. */
export function renderRulesYaml(t: Thresholds, opts: RuleOptions = {}): string {
  return GENERATED_HEADER + stringify(buildRules(t, opts), { lineWidth: 0 });
}

/**
 * The rules for the unit tests of alerts/tests/ (alerts/tests/mailrelay.rules.yml):
 * those of renderRulesYaml as promtool must test them (forPromtoolTest), the
 * baseline group at the top of each hour, for tests evaluated every minute
 * or every 15.
 */
export function renderPromtoolTestRulesYaml(t: Thresholds): string {
  return GENERATED_HEADER.replace('. Do not edit', ', for promtool test rules (forPromtoolTest). Do not edit') + stringify(forPromtoolTest(buildRules(t), 60, 0), { lineWidth: 0 });
}
