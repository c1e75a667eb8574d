// `logs report`: who sent what over a stretch of log time, from the log files
// alone (no Prometheus, no running exporter), counted by the same account
// book as the exporter and judged by the same signs as the console. Pure:
// facts in, a report out; the command (cli/logs.ts) reads the files.
//
// A sign is judged the way the rules would have seen it during the period:
// at the end of every minute of log time, each active account's windows are
// compared with the thresholds, and the report keeps each sign's peak and
// the first minute it was above. An account stolen at 3 am and stopped at 4
// is still "suspicious" in a report written at noon.
import { AccountBook, OVERFLOW, type AccountLimits } from '../accounts/book.js';
import type { AuthMechanism, SmtpFact } from '../smtp/facts.js';
import { accountSigns, SIGN_RULES, THRESHOLDS_SOURCE, VERDICT_RULE, verdictOf, type SignCheck, type Verdict } from './thresholds.js';

/** Distinct client IPs or domains kept per account for the period; an attack beyond this is already obvious. */
const MAX_PERIOD_KEYS = 10_000;
/** Client IPs of unauthenticated relaying kept; the rest are summed under "other". */
const MAX_RELAY_CLIENTS = 1_000;
const MINUTE = 60;
const HOUR = 3600;

export interface ReportSign extends Omit<SignCheck, 'value' | 'above'> {
  /** The highest value during the period, at a minute's end. */
  peak: number;
  above: boolean;
  /** ISO log time of the first minute it was above. */
  firstAbove: string | undefined;
}

export interface ReportAccount {
  account: string;
  verdict: Verdict;
  logins: number;
  authFailures: number;
  messages: number;
  externalRecipients: number;
  localRecipients: number;
  foreignSenderMessages: number;
  /** Distinct over the period (at most 10,000 counted). */
  clientIps: number;
  recipientDomains: number;
  /** The most frequent envelope senders (limits.account_senders), with their accepted recipients. */
  senders: { sender: string; recipients: number }[];
  signs: ReportSign[];
}

export interface LogReportData {
  from: string;
  to: string;
  thresholds: { source: string; verdicts: string };
  sessions: number;
  authAttempts: Record<AuthMechanism, number>;
  authFailures: Record<AuthMechanism, number>;
  /** Accounts with a login or a message in the period, worst first. */
  accounts: ReportAccount[];
  /** Failed AUTH by the username tried (accounts that also logged in included), most first. */
  failedUsernames: { username: string; failures: number }[];
  unauthenticatedRelays: { recipients: number; byClient: { ip: string; recipients: number }[] };
  relayDenied: number;
  /** Events beyond the account limits, counted under __overflow__. */
  overflowEvents: number;
}

interface Peak {
  peak: number;
  firstAbove: number | undefined;
}

const RANK: Record<Verdict, number> = { suspicious: 2, watch: 1, ok: 0 };
const SEVERITY = { critical: 2, warning: 1 } as const;

export class LogReport {
  readonly book: AccountBook;
  private readonly periodIps = new Map<string, Set<string>>();
  /** External recipient domains, by domainKey. */
  private readonly periodDomains = new Map<string, Set<number>>();
  private readonly relayClients = new Map<string, number>();
  private relayOther = 0;
  /** Per account: its signs' peaks, in the order of SIGN_RULES. */
  private readonly peaks = new Map<string, Peak[]>();
  /** Accounts with a fact in the last hour of log time: the ones whose windows can change. */
  private readonly active = new Map<string, number>();
  private minute: number | undefined;

  /** Facts in [from, to) count; times are unix seconds. */
  constructor(
    private readonly from: number,
    private readonly to: number,
    limits: AccountLimits,
  ) {
    this.book = new AccountBook(limits);
  }

  apply(fact: SmtpFact): void {
    if (fact.time < this.from || fact.time >= this.to) return;
    const minute = Math.floor(fact.time / MINUTE);
    if (this.minute !== undefined && minute > this.minute) this.judge();
    if (this.minute === undefined || minute > this.minute) this.minute = minute;
    this.book.apply(fact);
    if (fact.type === 'auth' && fact.success && fact.username !== undefined) {
      keep(this.periodIps, fact.username, fact.peer);
      this.active.set(fact.username, fact.time);
    } else if (fact.type === 'message') {
      if (fact.account !== undefined) {
        for (const r of fact.recipients) if (r.external) keep(this.periodDomains, fact.account, r.domainKey);
        this.active.set(fact.account, fact.time);
      } else if (!(fact.authenticated ?? false)) {
        const external = fact.recipients.filter((r) => r.external).length;
        if (external > 0) {
          if (this.relayClients.has(fact.peer) || this.relayClients.size < MAX_RELAY_CLIENTS) {
            this.relayClients.set(fact.peer, (this.relayClients.get(fact.peer) ?? 0) + external);
          } else this.relayOther += external;
        }
      }
    }
  }

  /** The report, after the last fact. */
  finish(): LogReportData {
    this.judge();
    const book = this.book;
    const failed = new Map<string, number>(book.failedEntries());
    const accounts: ReportAccount[] = [];
    for (const [account, s] of book.accountEntries()) {
      if (s.authFailures > 0 && account !== OVERFLOW) failed.set(account, s.authFailures);
      if (s.logins === 0 && s.messages === 0) continue;
      const peaks = this.peaks.get(account);
      const signs: ReportSign[] = accountSigns(book.windows(s)).map(({ value: _now, above: _above, ...sign }, i) => {
        const p = peaks?.[i];
        return { ...sign, peak: p?.peak ?? 0, above: p?.firstAbove !== undefined, firstAbove: p?.firstAbove === undefined ? undefined : iso(p.firstAbove) };
      });
      accounts.push({
        account,
        verdict: verdictOf(signs.map((x) => ({ ...x, value: x.peak }))),
        logins: s.logins,
        authFailures: s.authFailures,
        messages: s.messages,
        externalRecipients: s.externalRecipients,
        localRecipients: s.localRecipients,
        foreignSenderMessages: s.foreignSenderMessages,
        clientIps: this.periodIps.get(account)?.size ?? 0,
        recipientDomains: this.periodDomains.get(account)?.size ?? 0,
        senders: s.senders.top().map((t) => ({ sender: t.sender, recipients: t.recipients })),
        signs,
      });
    }
    accounts.sort(worstFirst);
    const byClient = [...this.relayClients].map(([ip, recipients]) => ({ ip, recipients })).sort((a, b) => b.recipients - a.recipients || cmp(a.ip, b.ip));
    if (this.relayOther > 0) byClient.push({ ip: 'other', recipients: this.relayOther });
    return {
      from: iso(this.from),
      to: iso(this.to),
      thresholds: { source: THRESHOLDS_SOURCE, verdicts: VERDICT_RULE },
      sessions: book.sessions,
      authAttempts: { ...book.authAttempts },
      authFailures: { ...book.authFailures },
      accounts,
      failedUsernames: [...failed].map(([username, failures]) => ({ username, failures })).sort((a, b) => b.failures - a.failures || cmp(a.username, b.username)),
      unauthenticatedRelays: { recipients: book.unauthenticatedRelayRecipients, byClient },
      relayDenied: book.relayDenied,
      overflowEvents: book.overflowEvents,
    };
  }

  /** Compares every recently active account's windows with the thresholds, as of the latest log time. */
  private judge(): void {
    const now = this.book.now;
    for (const [account, last] of this.active) {
      if (last <= now - HOUR) {
        // Its windows are empty from here on: nothing more to judge.
        this.active.delete(account);
        continue;
      }
      const s = this.book.stats(account);
      if (!s) continue; // counted under __overflow__
      let peaks = this.peaks.get(account);
      if (!peaks) this.peaks.set(account, (peaks = SIGN_RULES.map(() => ({ peak: 0, firstAbove: undefined }))));
      const w = this.book.windows(s);
      for (let i = 0; i < SIGN_RULES.length; i++) {
        const rule = SIGN_RULES[i]!;
        const p = peaks[i]!;
        const value = rule.value(w);
        if (value > p.peak) p.peak = value;
        if (p.firstAbove === undefined && rule.above(w)) p.firstAbove = Math.floor(now / MINUTE) * MINUTE;
      }
    }
  }
}

function keep<K>(sets: Map<string, Set<K>>, account: string, key: K): void {
  let set = sets.get(account);
  if (!set) sets.set(account, (set = new Set()));
  if (set.size < MAX_PERIOD_KEYS) set.add(key);
}

function worstFirst(a: ReportAccount, b: ReportAccount): number {
  const weight = (x: ReportAccount) => x.signs.reduce((n, s) => n + (s.above ? 10 * SEVERITY[s.severity] : 0), 0);
  return RANK[b.verdict] - RANK[a.verdict] || weight(b) - weight(a) || b.externalRecipients - a.externalRecipients || cmp(a.account, b.account);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const iso = (unix: number): string => new Date(unix * 1000).toISOString();
