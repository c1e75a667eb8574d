// Per-account counting of SMTP facts with bounded cardinality.
//
// Accounts that logged in successfully get their own series, at most
// `maxAccounts`, never evicted: a real account's history must not vanish
// because of attacker traffic. Usernames seen only in failed AUTH live in a
// separate LRU of `maxFailedUsernames`, so a password spray with random names
// can never push real accounts out. What does not fit is counted under
// `__overflow__`; a failed username evicted from the LRU carries its count
// there too, so sums over `account` stay monotonic.
import { isForeignSender, type AuthMechanism, type SmtpFact } from '../smtp/facts.js';
import { SenderTally, senderLabel } from './senders.js';
import { RecentActivity, SlidingSet } from './window.js';

export const OVERFLOW = '__overflow__';

/** Distinct IPs or domains kept per account within the window; an attack beyond this is already obvious. */
export const MAX_WINDOW_KEYS = 10_000;

export interface AccountLimits {
  maxAccounts: number;
  maxFailedUsernames: number;
  /** detection.window, seconds of log time. */
  windowSeconds: number;
  /** limits.account_senders: envelope senders kept per account, the most frequent. */
  maxSendersPerAccount: number;
}

export class AccountStats {
  logins = 0;
  authFailures = 0;
  messages = 0;
  externalRecipients = 0;
  localRecipients = 0;
  foreignSenderMessages = 0;
  readonly clientIps = new SlidingSet<string>(MAX_WINDOW_KEYS);
  /** External recipient domains, by domainKey. */
  readonly recipientDomains = new SlidingSet<number>(MAX_WINDOW_KEYS);
  /** Accepted recipients by envelope sender (MAIL FROM), the most frequent few. */
  readonly senders: SenderTally;
  /** Messages per minute and hour of log time, for the windows of the console and `logs report`. */
  readonly recent = new RecentActivity();
  /** The account's label text, for whoever renders its series (collectors/log.ts), made once. */
  labelText: string | undefined = undefined;

  constructor(maxSenders: number) {
    this.senders = new SenderTally(maxSenders);
  }
}

/** One account's numbers over windows ending at the latest log time: what the signs of a stolen account are judged on. */
export interface AccountWindows {
  externalRecipients5m: number;
  externalRecipients1h: number;
  externalRecipients24h: number;
  messages1h: number;
  foreignSenderMessages1h: number;
  /** Distinct client IPs / external recipient domains within detection.window. */
  clientIps: number;
  recipientDomains: number;
}

const MECHANISMS: readonly AuthMechanism[] = ['login', 'plain', 'cram_md5', 'other'];

export class AccountBook {
  sessions = 0;
  readonly authAttempts: Record<AuthMechanism, number> = { login: 0, plain: 0, cram_md5: 0, other: 0 };
  readonly authFailures: Record<AuthMechanism, number> = { login: 0, plain: 0, cram_md5: 0, other: 0 };
  unauthenticatedRelayRecipients = 0;
  /** The same, per minute of log time: is the server an open relay right now? */
  readonly unauthenticatedRelayRecent = new RecentActivity();
  relayDenied = 0;
  /** Events counted under __overflow__. */
  overflowEvents = 0;
  /** The latest log time seen: "now" for the windows, so a catch-up of old logs gives the gauges of that time. */
  now = 0;

  /** Accounts with a successful login, insertion-ordered; __overflow__ is kept apart. */
  private readonly accounts = new Map<string, AccountStats>();
  private readonly overflow: AccountStats;
  /** Failed-only usernames → failures, ordered by last failure (LRU at the front). */
  private readonly failedOnly = new Map<string, number>();
  /**
   * Where eviction goes on from: a live iterator of failedOnly. A username
   * failing again moves to the back (delete + set), leaving a hole at the
   * front that a fresh iterator would step over at every eviction (up to
   * the map's capacity each time, under a spray); this one has stepped over
   * them once. Every entry before it has been evicted.
   */
  private oldestFailed: IterableIterator<[string, number]> | undefined;

  constructor(private limits: AccountLimits) {
    this.overflow = new AccountStats(limits.maxSendersPerAccount);
  }

  setLimits(limits: AccountLimits): void {
    const sendersChanged = limits.maxSendersPerAccount !== this.limits.maxSendersPerAccount;
    this.limits = limits;
    if (sendersChanged) for (const [, stats] of this.accountEntries()) stats.senders.setCapacity(limits.maxSendersPerAccount);
    while (this.failedOnly.size > limits.maxFailedUsernames) this.evictOldestFailed();
  }

  get windowSeconds(): number {
    return this.limits.windowSeconds;
  }

  apply(fact: SmtpFact): void {
    if (fact.time > this.now) this.now = fact.time;
    switch (fact.type) {
      case 'session':
        this.sessions++;
        return;
      case 'relay_denied':
        this.relayDenied++;
        return;
      case 'auth':
        this.authAttempts[fact.mechanism]++;
        if (fact.success) {
          if (fact.username === undefined) return;
          const stats = this.statsFor(fact.username);
          stats.logins++;
          stats.clientIps.add(fact.peer, fact.time);
        } else {
          this.authFailures[fact.mechanism]++;
          if (fact.username !== undefined) this.countFailure(fact.username);
        }
        return;
      case 'message': {
        let external = 0;
        for (const r of fact.recipients) if (r.external) external++;
        if (fact.account === undefined) {
          // A login without a username (NTLM, XOAUTH2) is still a login: only a session without one relays openly.
          if (!(fact.authenticated ?? false) && external > 0) {
            this.unauthenticatedRelayRecipients += external;
            this.unauthenticatedRelayRecent.add(fact.time, external, false);
          }
          return;
        }
        const stats = this.statsFor(fact.account);
        const foreign = isForeignSender(fact.account, fact.mailFrom);
        stats.messages++;
        stats.externalRecipients += external;
        stats.localRecipients += fact.recipients.length - external;
        if (foreign) stats.foreignSenderMessages++;
        for (const r of fact.recipients) if (r.external) stats.recipientDomains.add(r.domainKey, fact.time);
        stats.senders.add(senderLabel(fact.mailFrom), fact.recipients.length);
        stats.recent.add(fact.time, external, foreign);
        return;
      }
    }
  }

  /**
   * Accounts with their own series, __overflow__ last when it has counted
   * anything. The map's own iterator when there is no __overflow__: a scrape
   * walks them once per family, and a generator's steps cost more.
   */
  accountEntries(): IterableIterator<[string, AccountStats]> {
    return this.overflowEvents > 0 ? this.entriesWithOverflow() : this.accounts.entries();
  }

  private *entriesWithOverflow(): IterableIterator<[string, AccountStats]> {
    yield* this.accounts;
    yield [OVERFLOW, this.overflow];
  }

  /** An account's own stats; undefined when it has none (never logged in, or counted under __overflow__). */
  stats(account: string): AccountStats | undefined {
    return this.accounts.get(account);
  }

  /** Failed-only usernames and their failures. */
  failedEntries(): IterableIterator<[string, number]> {
    return this.failedOnly.entries();
  }

  get trackedAccounts(): number {
    return this.accounts.size;
  }

  /** Distinct client IPs / recipient domains of `stats` within the window ending at the latest log time. */
  clientIps(stats: AccountStats): number {
    return stats.clientIps.count(this.now, this.limits.windowSeconds);
  }

  recipientDomains(stats: AccountStats): number {
    return stats.recipientDomains.count(this.now, this.limits.windowSeconds);
  }

  /** The account's windows ending at the latest log time. */
  windows(stats: AccountStats): AccountWindows {
    const hour = stats.recent.lastMinutes(this.now, 60);
    return {
      externalRecipients5m: stats.recent.lastMinutes(this.now, 5).externalRecipients,
      externalRecipients1h: hour.externalRecipients,
      externalRecipients24h: stats.recent.externalLastHours(this.now, 24),
      messages1h: hour.messages,
      foreignSenderMessages1h: hour.foreignSenderMessages,
      clientIps: this.clientIps(stats),
      recipientDomains: this.recipientDomains(stats),
    };
  }

  static mechanisms(): readonly AuthMechanism[] {
    return MECHANISMS;
  }

  /** The stats of a logged-in account: its own when known or when there is room, else __overflow__. */
  private statsFor(account: string): AccountStats {
    const known = this.accounts.get(account);
    if (known) return known;
    // A username spelled like the overflow label can never have series of its own.
    if (account !== OVERFLOW && this.accounts.size < this.limits.maxAccounts) {
      const stats = new AccountStats(this.limits.maxSendersPerAccount);
      // A username that failed before it logged in brings its failures along.
      const failures = this.failedOnly.get(account);
      if (failures !== undefined) {
        stats.authFailures = failures;
        this.failedOnly.delete(account);
      }
      this.accounts.set(account, stats);
      return stats;
    }
    this.overflowEvents++;
    return this.overflow;
  }

  private countFailure(username: string): void {
    const known = this.accounts.get(username);
    if (known) {
      known.authFailures++;
      return;
    }
    if (username === OVERFLOW) {
      this.overflow.authFailures++;
      this.overflowEvents++;
      return;
    }
    const previous = this.failedOnly.get(username);
    if (previous !== undefined) this.failedOnly.delete(username);
    else if (this.failedOnly.size >= this.limits.maxFailedUsernames) this.evictOldestFailed();
    this.failedOnly.set(username, (previous ?? 0) + 1);
  }

  private evictOldestFailed(): void {
    let next = this.oldestFailed?.next();
    // A finished iterator stays finished whatever is added later: start another.
    if (next === undefined || next.done) next = (this.oldestFailed = this.failedOnly.entries()).next();
    if (next.done) return;
    const [username, failures] = next.value;
    this.failedOnly.delete(username);
    this.overflow.authFailures += failures;
    this.overflowEvents += failures;
  }
}
