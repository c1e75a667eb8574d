// Every threshold of the detection, with what it means: one source for the
// Prometheus rules (alerts/rules.ts builds its PromQL from these), the Helm
// values, the README and runbooks, and any code that tells a user which signs
// of a stolen account are above their thresholds (so it says the same as the
// alerts). Counts are per account and summed over servers unless noted.
//
// The shape, from burn-rate alerting: a fast window with a short `for:` pages
// a burst in minutes, a slow window pages a trickle within the hour, and a
// page when several independent signs agree. Signs that are normal for some
// legitimate accounts (a newsletter's volume and spread of domains) compare
// the account with its own history: its "usual" value is the median, over
// the account's last `BASELINE_DAYS` complete UTC days, of each day's highest
// value. The day in progress is left out, so an attack does not raise its own
// baseline. An account without a complete day of history (a new one, for one
// to two days) has no baseline: the absolute thresholds alone decide for it,
// and the history-only signs (volume above usual, recipient domains, daily
// volume) stay silent.

/**
 * Days in a baseline: the median of the account's last `BASELINE_DAYS`
 * complete (UTC) days. Structural (it sets the rules' windows), so not a Helm value.
 */
export const BASELINE_DAYS = 7;

/** The defaults. Counts are numbers; durations are Prometheus durations. */
export const DEFAULT_THRESHOLDS = {
  // ---- burst: the fast window
  burstRecipients: 100,
  burstRange: '5m',
  burstFor: '1m',
  burstUsualFactor: 3,

  // ---- trickle: the slow window
  accountExternalRecipientsPerHour: 200,
  accountExternalRecipientsRange: '1h',
  accountExternalRecipientsFor: '10m',
  accountExternalRecipientsUsualFactor: 5,

  // ---- the signs of a stolen account, and the page when enough agree
  signExternalRecipients: 100,
  signExternalRecipientsUsualFactor: 3,
  signExternalRecipientsFor: '5m',

  accountClientIps: 5,
  accountClientIpsUsualFactor: 2,
  accountClientIpsFor: '5m',

  foreignSenderRatio: 0.5,
  foreignSenderMessages: 20,
  foreignSenderRange: '1h',
  foreignSenderFor: '5m',

  accountRecipientDomains: 20,
  accountRecipientDomainsUsualFactor: 2,
  accountRecipientDomainsFor: '5m',

  compromisedSigns: 2,
  compromisedFor: '5m',

  // ---- botnet logins
  botnetClientIps: 10,
  botnetUsualFactor: 3,
  botnetFor: '2m',

  // ---- daily volume
  accountExternalRecipientsPerDay: 1000,
  accountExternalRecipientsDayUsualFactor: 3,
  accountExternalRecipientsDayFor: '5m',

  // ---- password attacks
  authFailuresPerSecond: 0.5,
  authFailuresRateRange: '5m',
  authFailuresFor: '10m',
  accountAuthFailures: 10,
  accountAuthFailuresRange: '1h',
  accountLoginRange: '15m',
  accountAuthFailuresFor: '0m',

  // ---- open relay
  openRelayRange: '15m',
  openRelayFor: '0m',

  // ---- queues
  queueRetryMessages: 500,
  queueRetryGrowthRange: '30m',
  queueRetryFor: '10m',
  queueSenderRatio: 0.5,
  queueSenderMessages: 100,
  queueSenderFor: '5m',
  queueStuckAgeSeconds: 345600,
  queueStuckFor: '15m',
  incomingOrphansFor: '1h',

  // ---- the exporter itself
  exporterDownFor: '5m',
  logSilenceSeconds: 900,
  logSilenceFor: '5m',
  logLagBytes: 5242880,
  logLagGrowthRange: '15m',
  logLagFor: '15m',
  accountsOverflowRange: '1h',
  accountsOverflowFor: '0m',
  collectorFailingFor: '15m',

  // ---- active checks
  dnsblListedFor: '0m',
  dnsblQueryErrors: 3,
  dnsblQueryErrorsRange: '1h',
  dnsblQueryErrorsFor: '0m',
  relayProbeAcceptedFor: '0m',
  relayProbeFailingFor: '10m',
} as const;

type Defaults = typeof DEFAULT_THRESHOLDS;

/**
 * A threshold set. Counts are `number | string`: a string may be a template
 * placeholder (the Helm chart passes `{{ .Values… }}`), since thresholds are
 * only ever interpolated into PromQL and annotations.
 */
export type Thresholds = { [K in keyof Defaults]: Defaults[K] extends number ? number | string : string };

/** What each threshold means, for the Helm values' comments and for readers of this file. */
export const THRESHOLD_MEANINGS: { [K in keyof Thresholds]: string } = {
  burstRecipients: 'burst page: external recipients of one account within burstRange',
  burstRange: 'burst page: the fast window',
  burstFor: 'burst page: how long the fast window must stay above',
  burstUsualFactor: "burst page, for an account with history: its last hour must also exceed this many times its usual hour (a newsletter's own mailing is not a burst)",

  accountExternalRecipientsPerHour: 'trickle page: external recipients of one account within accountExternalRecipientsRange',
  accountExternalRecipientsRange: 'trickle page: the slow window',
  accountExternalRecipientsFor: 'trickle page: how long the slow window must stay above',
  accountExternalRecipientsUsualFactor: 'trickle page, for an account with history: the hour must also exceed this many times its usual hour',

  signExternalRecipients: 'sign "volume above usual": more external recipients in the slow window than this',
  signExternalRecipientsUsualFactor: 'sign "volume above usual": more than this many times the usual hour (history needed)',
  signExternalRecipientsFor: 'warning MailrelayAccountExternalRecipientsAboveUsual: for',

  accountClientIps: 'sign "many client IPs": more distinct IPs logged in within the detection window than this',
  accountClientIpsUsualFactor: 'sign "many client IPs", for an account with history: more than this many times its usual peak',
  accountClientIpsFor: 'warning MailrelayAccountManyClientIPs: for',

  foreignSenderRatio: 'sign "foreign sender": share (0..1) of the messages within foreignSenderRange whose MAIL FROM is not the account',
  foreignSenderMessages: 'sign "foreign sender": and more such messages than this',
  foreignSenderRange: 'sign "foreign sender": the window',
  foreignSenderFor: 'warning MailrelayAccountForeignSender: for',

  accountRecipientDomains: 'sign "recipient domains": more distinct external domains within the detection window than this',
  accountRecipientDomainsUsualFactor: 'sign "recipient domains": and more than this many times the usual peak (history needed)',
  accountRecipientDomainsFor: 'warning MailrelayAccountManyRecipientDomains: for',

  compromisedSigns: 'page MailrelayAccountCompromised: at least this many of the four signs at once',
  compromisedFor: 'page MailrelayAccountCompromised: for',

  botnetClientIps: 'botnet page: more distinct client IPs logged in within the detection window than this',
  botnetUsualFactor: 'botnet page, for an account with history: and more than this many times its usual peak',
  botnetFor: 'botnet page: for',

  accountExternalRecipientsPerDay: 'daily warning: external recipients in 24h (the per-account daily limit IceWarp recommends)',
  accountExternalRecipientsDayUsualFactor: 'daily warning: and more than this many times the usual day (history needed)',
  accountExternalRecipientsDayFor: 'daily warning: for',


  authFailuresPerSecond: 'password attack: failed AUTH per second on one server',
  authFailuresRateRange: 'password attack: rate window',
  authFailuresFor: 'password attack: for',
  accountAuthFailures: 'brute force succeeded: failed AUTH on one account within accountAuthFailuresRange',
  accountAuthFailuresRange: 'brute force succeeded: failures window',
  accountLoginRange: 'brute force succeeded: a successful login within this',
  accountAuthFailuresFor: 'brute force succeeded: for',

  openRelayRange: 'open relay: any external recipient accepted without AUTH within this',
  openRelayFor: 'open relay: for',

  queueRetryMessages: 'retry queue: messages in _outgoing/retry and _outgoing/priority_*',
  queueRetryGrowthRange: 'retry queue: and more than this long ago',
  queueRetryFor: 'retry queue: for',
  queueSenderRatio: 'queue held by one sender: share (0..1) of the outgoing queue',
  queueSenderMessages: 'queue held by one sender: and more messages than this',
  queueSenderFor: 'queue held by one sender: for',
  queueStuckAgeSeconds: 'stuck mail: oldest outgoing message, seconds (IceWarp stops retrying after 4 days)',
  queueStuckFor: 'stuck mail: for',
  incomingOrphansFor: 'unpaired files in incoming folders: for',

  exporterDownFor: 'exporter down: for',
  logSilenceSeconds: 'no SMTP log line for this many seconds of log time',
  logSilenceFor: 'log silent: for',
  logLagBytes: 'log lag: unread bytes',
  logLagGrowthRange: 'log lag: and growing over this',
  logLagFor: 'log lag: for',
  accountsOverflowRange: 'accounts overflow: any event under __overflow__ within this',
  accountsOverflowFor: 'accounts overflow: for',
  collectorFailingFor: 'collector failing: for',

  dnsblListedFor: 'DNSBL listing: for',
  dnsblQueryErrors: 'DNSBL query errors within dnsblQueryErrorsRange',
  dnsblQueryErrorsRange: 'DNSBL query errors: window',
  dnsblQueryErrorsFor: 'DNSBL query errors: for',
  relayProbeAcceptedFor: 'open-relay probe accepted: for',
  relayProbeFailingFor: 'open-relay probe failing: for',
};

/** The four signs of a stolen account that MailrelayAccountCompromised counts, each also a warning of its own. */
export const ACCOUNT_SIGNS = [
  {
    sign: 'volume',
    alert: 'MailrelayAccountExternalRecipientsAboveUsual',
    what: 'external recipients in the last hour, above the account\'s usual hour',
  },
  {
    sign: 'client_ips',
    alert: 'MailrelayAccountManyClientIPs',
    what: 'distinct client IPs logged in within the detection window, above the account\'s usual peak',
  },
  {
    sign: 'foreign_sender',
    alert: 'MailrelayAccountForeignSender',
    what: 'messages with a MAIL FROM that is not the account, most of its messages',
  },
  {
    sign: 'recipient_domains',
    alert: 'MailrelayAccountManyRecipientDomains',
    what: 'distinct external recipient domains within the detection window, above the account\'s usual peak',
  },
] as const;

export type AccountSign = (typeof ACCOUNT_SIGNS)[number]['sign'];

/** One account's numbers, as the rules see them (each summed over servers); a baseline is undefined without history. */
export interface AccountObservation {
  externalRecipientsLastHour: number;
  usualHour?: number;
  clientIps: number;
  usualClientIps?: number;
  messagesLastHour: number;
  foreignSenderMessagesLastHour: number;
  recipientDomains: number;
  usualRecipientDomains?: number;
}

/**
 * The signs above their thresholds for one account: the same conditions as
 * the recording rule `account:mailrelay_signs:active` (alerts/rules.ts), for
 * code that shows them without Prometheus. Numeric thresholds only.
 */
export function activeSigns(o: AccountObservation, t: NumericThresholds = DEFAULT_THRESHOLDS): AccountSign[] {
  const out: AccountSign[] = [];
  if (
    o.usualHour !== undefined &&
    o.externalRecipientsLastHour > t.signExternalRecipients &&
    o.externalRecipientsLastHour > t.signExternalRecipientsUsualFactor * o.usualHour
  ) {
    out.push('volume');
  }
  if (o.clientIps > t.accountClientIps && (o.usualClientIps === undefined || o.clientIps > t.accountClientIpsUsualFactor * o.usualClientIps)) {
    out.push('client_ips');
  }
  if (o.foreignSenderMessagesLastHour > t.foreignSenderMessages && o.foreignSenderMessagesLastHour > t.foreignSenderRatio * o.messagesLastHour) {
    out.push('foreign_sender');
  }
  if (
    o.usualRecipientDomains !== undefined &&
    o.recipientDomains > t.accountRecipientDomains &&
    o.recipientDomains > t.accountRecipientDomainsUsualFactor * o.usualRecipientDomains
  ) {
    out.push('recipient_domains');
  }
  return out;
}

/** The numeric thresholds of a set, as numbers (for code; the rules take placeholders too). */
export type NumericThresholds = { [K in keyof Defaults as Defaults[K] extends number ? K : never]: number };
