// The signs of a stolen account that the exporter can judge from its own
// numbers, against the alert rules' own default thresholds: the console and
// `logs report` say what the alerts say, from one source of numbers.
//
// The one place that knows where the thresholds live:
// src/detection/thresholds.ts (DEFAULT_THRESHOLDS), which the rules are built from.
//
// What the exporter cannot judge: the rules' comparisons with an account's
// own history (its usual hour, client IPs and domains, kept by Prometheus)
// and their `for:` durations. A sign here is "above the threshold now"; an
// alert also needs it to last, and, for an account with history, to be
// unusual for it.
import { DEFAULT_RUNBOOK_BASE_URL } from '../../alerts/rules.js';
import type { AccountWindows } from '../accounts/book.js';
import { parseDuration } from '../config/duration.js';
import { BASELINE_DAYS, DEFAULT_THRESHOLDS } from '../detection/thresholds.js';

/** Where the numbers come from, for the page's footer and the report's header. */
export const THRESHOLDS_SOURCE = 'src/detection/thresholds.ts DEFAULT_THRESHOLDS';

export const HISTORY_NOTE = `Judged on the exporter's own numbers, now: the alert rules also need a sign to last (their "for:"), and compare an account with its own history in Prometheus (its usual hour, client IPs and domains: the median, over its last ${BASELINE_DAYS} complete days, of each day's highest), which this page cannot see. A newsletter above a threshold here is normal when it is its usual volume.`;

export interface SignCheck {
  /** Stable key for scripts: burst, hourly, botnet, daily, client_ips, foreign_sender, recipient_domains. */
  sign: string;
  /** What is measured, in words. */
  what: string;
  value: number;
  /** The condition, in words: "> 200". */
  limit: string;
  above: boolean;
  /** The alert this sign mirrors, and its page. */
  alert: string;
  severity: 'critical' | 'warning';
  runbook: string;
}

const n = (v: number | string): number => Number(v);
const runbook = (alert: string): string => `${DEFAULT_RUNBOOK_BASE_URL}/${alert}.md`;

/** One sign: how to read it from an account's windows, and when it is above. */
export interface SignRule extends Omit<SignCheck, 'value' | 'above' | 'what'> {
  what(w: AccountWindows): string;
  value(w: AccountWindows): number;
  above(w: AccountWindows): boolean;
}

const t = DEFAULT_THRESHOLDS;

/** The signs, most serious first; built once, so judging an account every minute (`logs report`) allocates nothing. */
export const SIGN_RULES: readonly SignRule[] = [
  {
    sign: 'burst',
    // The book keeps 5 minutes, the rules' default burstRange.
    what: () => 'external recipients in the last 5 minutes',
    value: (w) => w.externalRecipients5m,
    limit: `> ${n(t.burstRecipients)}`,
    above: (w) => w.externalRecipients5m > n(t.burstRecipients),
    alert: 'MailrelayAccountExternalRecipientsBurst',
    severity: 'critical',
    runbook: runbook('MailrelayAccountExternalRecipientsBurst'),
  },
  {
    sign: 'hourly',
    what: () => 'external recipients in the last hour',
    value: (w) => w.externalRecipients1h,
    limit: `> ${n(t.accountExternalRecipientsPerHour)}`,
    above: (w) => w.externalRecipients1h > n(t.accountExternalRecipientsPerHour),
    alert: 'MailrelayAccountExternalRecipientsHigh',
    severity: 'critical',
    runbook: runbook('MailrelayAccountExternalRecipientsHigh'),
  },
  {
    sign: 'botnet',
    what: () => 'client IPs that logged in within the detection window',
    value: (w) => w.clientIps,
    limit: `> ${n(t.botnetClientIps)}`,
    above: (w) => w.clientIps > n(t.botnetClientIps),
    alert: 'MailrelayAccountBotnetLogins',
    severity: 'critical',
    runbook: runbook('MailrelayAccountBotnetLogins'),
  },
  {
    sign: 'daily',
    what: () => 'external recipients in the last 24 hours',
    value: (w) => w.externalRecipients24h,
    limit: `> ${n(t.accountExternalRecipientsPerDay)}`,
    above: (w) => w.externalRecipients24h > n(t.accountExternalRecipientsPerDay),
    alert: 'MailrelayAccountExternalRecipientsDailyHigh',
    severity: 'warning',
    runbook: runbook('MailrelayAccountExternalRecipientsDailyHigh'),
  },
  {
    sign: 'client_ips',
    what: () => 'client IPs that logged in within the detection window',
    value: (w) => w.clientIps,
    limit: `> ${n(t.accountClientIps)}`,
    above: (w) => w.clientIps > n(t.accountClientIps),
    alert: 'MailrelayAccountManyClientIPs',
    severity: 'warning',
    runbook: runbook('MailrelayAccountManyClientIPs'),
  },
  {
    sign: 'foreign_sender',
    what: (w) => `messages with a MAIL FROM other than the account in the last hour (of ${w.messages1h})`,
    value: (w) => w.foreignSenderMessages1h,
    limit: `> ${n(t.foreignSenderMessages)} and > ${n(t.foreignSenderRatio) * 100}% of its messages`,
    above: (w) => w.foreignSenderMessages1h > n(t.foreignSenderMessages) && w.foreignSenderMessages1h > n(t.foreignSenderRatio) * w.messages1h,
    alert: 'MailrelayAccountForeignSender',
    severity: 'warning',
    runbook: runbook('MailrelayAccountForeignSender'),
  },
  {
    sign: 'recipient_domains',
    what: () => 'external recipient domains within the detection window',
    value: (w) => w.recipientDomains,
    limit: `> ${n(t.accountRecipientDomains)}`,
    above: (w) => w.recipientDomains > n(t.accountRecipientDomains),
    alert: 'MailrelayAccountManyRecipientDomains',
    severity: 'warning',
    runbook: runbook('MailrelayAccountManyRecipientDomains'),
  },
];

/** Every sign of one account, above its threshold or not, most serious first. */
export function accountSigns(w: AccountWindows): SignCheck[] {
  return SIGN_RULES.map(({ what, value, above, ...rule }) => ({ ...rule, what: what(w), value: value(w), above: above(w) }));
}

/** Minutes of the open-relay rule's window (whole minutes: the book keeps minutes). */
export const OPEN_RELAY_MINUTES = Math.max(1, Math.round((parseDuration(String(DEFAULT_THRESHOLDS.openRelayRange)) ?? 900) / 60));

export type Verdict = 'suspicious' | 'watch' | 'ok';

/** Signs at once that make an account suspicious even without a critical one. */
export const SIGNS_FOR_SUSPICIOUS = 2;

export const VERDICT_RULE = `Suspicious: a critical sign, or ${SIGNS_FOR_SUSPICIOUS} or more signs at once (a stolen account shows several: volume, many IPs, forged senders, many domains). Watch: one warning sign.`;

/** An account's verdict from its signs. */
export function verdictOf(signs: readonly SignCheck[]): Verdict {
  const above = signs.filter((s) => s.above);
  if (above.some((s) => s.severity === 'critical') || above.length >= SIGNS_FOR_SUSPICIOUS) return 'suspicious';
  return above.length > 0 ? 'watch' : 'ok';
}

/** Whether external recipients accepted without AUTH are an open relay (any at all, as the rule says). */
export function openRelaySign(recipients: number): SignCheck {
  return {
    sign: 'open_relay',
    what: `external recipients accepted without AUTH in the last ${OPEN_RELAY_MINUTES} minutes`,
    value: recipients,
    limit: '> 0',
    above: recipients > 0,
    alert: 'MailrelayOpenRelay',
    severity: 'critical',
    runbook: runbook('MailrelayOpenRelay'),
  };
}

/** A queued sender that holds the outgoing queue (MailrelayQueueDominatedBySender). */
export function queueDominatedBy(messages: number, outgoing: number): boolean {
  const t = DEFAULT_THRESHOLDS;
  return messages > n(t.queueSenderMessages) && messages > n(t.queueSenderRatio) * outgoing;
}

export const QUEUE_DOMINATED_LIMIT = `> ${n(DEFAULT_THRESHOLDS.queueSenderMessages)} messages and > ${n(DEFAULT_THRESHOLDS.queueSenderRatio) * 100}% of the outgoing queue`;
