// Postfix's mail log as SmtpFacts. Postfix logs a message in pieces, one
// daemon at a time, tied together by its queue ID:
//
//   smtpd    ABC: client=host[ip], sasl_method=LOGIN, sasl_username=user
//   cleanup  ABC: message-id=<…>
//   qmgr     ABC: from=<sender>, size=…, nrcpt=N (queue active)
//   smtp     ABC: to=<rcpt>, relay=…, status=sent|deferred|bounced (…)   one per recipient and attempt
//   qmgr     ABC: removed
//
// What the exporter counts, and when (see the README's Postfix section):
// - a session is an smtpd `connect from` (one smtpd process serves one
//   session at a time, so the process id names it until `disconnect`);
// - a login is a session's first queue ID carrying `sasl_username`: Postfix
//   names the SASL user only there. A session that authenticated and queued
//   nothing shows only `auth=1` in its disconnect line: an AUTH attempt of
//   mechanism `other`, without an account;
// - an AUTH failure is smtpd's `SASL <mech> authentication failed|aborted`,
//   by username when the line carries `sasl_username`;
// - a message is counted once its N recipients have each had a first
//   delivery attempt (sent, deferred or bounced), or at `removed`: its
//   recipients are known only from those lines, and retries of a deferred
//   recipient are not counted again;
// - a content filter's re-injection (second queue ID, no SASL fields) is the
//   same message: linked by `orig_queue_id` (XFORWARD) or by the first
//   queue ID's `queued as` reply, it is never counted a second time;
// - mail that did not come from an smtpd session (pickup, bounces,
//   forwarding) is no SMTP fact.
//
// Memory is bounded: open sessions, queue IDs and recipients held have
// fixed maxima; the oldest queue IDs give way first.
import {
  cleanAccount,
  detach,
  domainKey,
  type AuthMechanism,
  type LocalDomains,
  type Recipient,
  type SmtpFact,
} from '../smtp/facts.js';
import type { LogParser, LogParserStats } from '../smtp/parser.js';
import { wallClock, type WallClock } from '../smtp/timezone.js';
import { parsePostfixMessage, queueIdEnd, type PostfixEvent } from './messages.js';
import { postfixDaemon, SyslogScanner, wallSecondsWithYear } from './syslog.js';

export interface PostfixLogOptions {
  localDomains: LocalDomains;
  emit(fact: SmtpFact): void;
  /** The zone of traditional syslog times (no offset). Default Local. */
  timeZone?: string;
  /** Unix ms now: which year a traditional syslog time falls in. Default Date.now. */
  now?: () => number;
  /** Queue IDs followed at most (default 50,000); the oldest gives way. */
  maxOpenMessages?: number;
  /** Recipient addresses held over all open messages at most (default 200,000). */
  maxHeldRecipients?: number;
  /** smtpd sessions followed at most (default 10,000). */
  maxOpenSessions?: number;
}

export interface PostfixLogStats extends LogParserStats {
  openMessages: number;
  openSessions: number;
  /** Queue IDs let go before they finished, to keep memory bounded. */
  evictedMessages: number;
}

/** An smtpd session, named by its process id. */
interface Session {
  peer: string;
  /** Usernames that already counted a login in this session (one, in practice). */
  logins: string[];
  /** Logins counted here, with or without a username. */
  loginsCounted: number;
}

/** A message from an smtpd session, by queue ID, until it is counted. */
interface OpenMessage {
  peer: string;
  account: string | undefined;
  authenticated: boolean;
  /** From qmgr: undefined until the queue manager has it. */
  mailFrom: string | undefined;
  nrcpt: number;
  acceptedAt: number;
  /** Distinct `to=` seen (how many of the N recipients had their first attempt). */
  attempted: Set<string>;
  /** Distinct recipients as received (`orig_to`, or `to`), counted. */
  recipients: Map<string, Recipient>;
}

/** Delivery agents that hand mail to a mailbox here: the fallback for "local" without local_domains. */
const LOCAL_AGENTS = new Set(['local', 'virtual', 'lmtp', 'pipe']);
/** Recipients kept per message at most (Postfix's smtpd_recipient_limit defaults to 1000). */
const MAX_RECIPIENTS_PER_MESSAGE = 1000;
/** Queue IDs named by `queued as` before their own smtpd line, remembered at most. */
const MAX_CLAIMED = 10_000;

export class PostfixLog implements LogParser {
  private localDomains: LocalDomains;
  private readonly emit: (fact: SmtpFact) => void;
  private readonly now: () => number;
  private readonly maxOpenMessages: number;
  private readonly maxHeldRecipients: number;
  private readonly maxOpenSessions: number;
  private toUtc: WallClock;

  /** By `tag[pid]`: insertion order tells the oldest. */
  private readonly sessions = new Map<string, Session>();
  /** By queue ID: insertion order tells the oldest. */
  private readonly messages = new Map<string, OpenMessage>();
  /** Queue IDs a content filter (or another instance) re-injected a counted message as. */
  private readonly claimed = new Set<string>();
  private heldRecipients = 0;

  private lines = 0;
  private unparsed = 0;
  private lastTime = NaN;
  private evicted = 0;
  /** The wall-clock "now" for year inference, refreshed once per batch. */
  private nowWall = 0;
  private readonly scanner = new SyslogScanner();
  private lastTag = '';
  private lastDaemon: string | undefined = undefined;
  private lastDayKey = -1;
  private lastDayStart = 0;

  constructor(opts: PostfixLogOptions) {
    this.localDomains = opts.localDomains;
    this.emit = opts.emit;
    this.now = opts.now ?? Date.now;
    this.toUtc = wallClock(opts.timeZone ?? 'Local');
    this.maxOpenMessages = opts.maxOpenMessages ?? 50_000;
    this.maxHeldRecipients = opts.maxHeldRecipients ?? 200_000;
    this.maxOpenSessions = opts.maxOpenSessions ?? 10_000;
  }

  get stats(): PostfixLogStats {
    return {
      lines: this.lines,
      unparsed: this.unparsed,
      lastLineTime: Number.isNaN(this.lastTime) ? undefined : this.lastTime,
      openMessages: this.messages.size,
      openSessions: this.sessions.size,
      evictedMessages: this.evicted,
    };
  }

  setLocalDomains(localDomains: LocalDomains): void {
    this.localDomains = localDomains;
  }

  setTimeZone(zone: string): void {
    this.toUtc = wallClock(zone);
    this.lastDayKey = -1;
  }

  feedLines(_file: string, lines: readonly string[]): void {
    // A year for `Nov 29 18:42:01` is judged against the server's wall clock, read in the log's zone.
    const nowSeconds = Math.floor(this.now() / 1000);
    this.nowWall = nowSeconds + (nowSeconds - this.toUtc(nowSeconds));
    this.lastDayKey = -1; // a new "now" may move a day into another year
    for (let i = 0; i < lines.length; i++) this.feed(lines[i] as string);
  }

  private feed(text: string): void {
    this.lines++;
    const h = this.scanner;
    if (!h.scan(text)) {
      // An empty line (a trailing CR, a blank written by hand) is nothing to count.
      if (text.trim() !== '') this.unparsed++;
      return;
    }
    const time = h.wall ? this.toUtc(this.dayStart(h.month, h.day) + h.secondOfDay) : h.unixSeconds;
    this.lastTime = time;
    const tag = h.tag;
    if (tag !== this.lastTag) {
      this.lastTag = tag;
      this.lastDaemon = postfixDaemon(tag);
    }
    const daemon = this.lastDaemon;
    if (daemon === undefined) return; // Dovecot, amavis, opendkim …: same file, not ours
    if (daemon !== 'smtpd') {
      // Only smtpd opens a message to follow: qmgr and delivery lines of any other queue ID (a re-injected
      // copy, a bounce, local mail) say nothing the exporter counts, and most lines are such lines.
      const colon = queueIdEnd(text, h.messageStart);
      if (colon > 0 && !this.messages.has(text.slice(h.messageStart, colon))) return;
    }
    const event = parsePostfixMessage(daemon, text, h.messageStart);
    if (event === undefined) return;
    this.handle(event, tag, h.pid, daemon, time);
  }

  /** Wall-clock seconds of a traditional time's day, its year inferred (see wallSecondsWithYear); the last day is kept. */
  private dayStart(month: number, day: number): number {
    const key = month * 32 + day;
    if (key !== this.lastDayKey) {
      this.lastDayKey = key;
      this.lastDayStart = wallSecondsWithYear(month, day, 0, this.nowWall);
    }
    return this.lastDayStart;
  }

  private handle(e: PostfixEvent, tag: string, pid: number, daemon: string, time: number): void {
    // One smtpd process serves one session at a time: its tag and pid name the session.
    const process = daemon === 'smtpd' ? `${tag}[${pid}]` : '';
    switch (e.kind) {
      case 'connect': {
        this.sessions.delete(process); // a process id serves one session at a time
        this.addSession(process, detach(e.peer));
        this.emit({ type: 'session', time, peer: e.peer });
        return;
      }
      case 'disconnect': {
        const session = this.sessions.get(process);
        this.sessions.delete(process);
        // AUTH that worked in a session that queued nothing: Postfix never named the user.
        const unnamed = e.authOk - (session?.loginsCounted ?? 0);
        for (let i = 0; i < unnamed; i++) this.emit({ type: 'auth', time, peer: e.peer, mechanism: 'other', username: undefined, success: true });
        return;
      }
      case 'sasl_failed':
        this.emit({
          type: 'auth',
          time,
          peer: e.peer,
          mechanism: mechanismOf(e.mechanism),
          username: e.username === undefined ? undefined : accountOf(e.username),
          success: false,
        });
        return;
      case 'client':
        this.client(e, process, time);
        return;
      case 'rcpt_rejected': {
        if (!e.relay || e.code < 500) return;
        const session = this.sessions.get(process);
        if (session !== undefined && session.loginsCounted > 0) return; // denied to someone logged in: not a relay attempt
        const open = e.queueId === undefined ? undefined : this.messages.get(e.queueId);
        if (open?.authenticated) return;
        this.emit({ type: 'relay_denied', time, peer: e.peer });
        return;
      }
      case 'queued': {
        const m = this.messages.get(e.queueId);
        if (m === undefined) return; // not from an smtpd session we saw
        m.mailFrom = detach(e.from);
        m.nrcpt = e.nrcpt;
        m.acceptedAt = time;
        return;
      }
      case 'delivery':
        this.delivery(e, daemon);
        return;
      case 'removed': {
        const m = this.messages.get(e.queueId);
        if (m !== undefined) this.finish(e.queueId, m);
        return;
      }
    }
  }

  private client(e: Extract<PostfixEvent, { kind: 'client' }>, process: string, time: number): void {
    if (e.origQueueId !== undefined || this.claimed.delete(e.queueId)) return; // a re-injection: counted as its original
    let session = this.sessions.get(process);
    // Joined midway (started at the end of the log): follow the session from here, without counting it.
    if (session === undefined) session = this.addSession(process, detach(e.peer));
    const authenticated = e.saslMethod !== undefined;
    const account = e.saslUsername === undefined ? undefined : accountOf(e.saslUsername);
    if (authenticated && (account === undefined ? session.loginsCounted === 0 : !session.logins.includes(account))) {
      if (account !== undefined) session.logins.push(account);
      session.loginsCounted++;
      this.emit({ type: 'auth', time, peer: session.peer, mechanism: mechanismOf(e.saslMethod!), username: account, success: true });
    }
    const previous = this.messages.get(e.queueId);
    if (previous !== undefined) this.drop(e.queueId, previous);
    this.messages.set(e.queueId, {
      peer: session.peer,
      account,
      authenticated,
      mailFrom: undefined,
      nrcpt: 0,
      acceptedAt: time,
      attempted: new Set(),
      recipients: new Map(),
    });
    while (this.messages.size > this.maxOpenMessages) this.evictOldest();
  }

  private delivery(e: Extract<PostfixEvent, { kind: 'delivery' }>, daemon: string): void {
    if (e.queuedAs !== undefined) this.claim(e.queuedAs);
    const m = this.messages.get(e.queueId);
    if (m === undefined || m.mailFrom === undefined) return;
    let to: string | undefined;
    if (!m.attempted.has(e.to)) {
      if (m.attempted.size >= MAX_RECIPIENTS_PER_MESSAGE) return;
      to = detach(e.to);
      m.attempted.add(to);
      this.heldRecipients++;
    }
    // The recipient as the client gave it: an alias expanded into several mailboxes is one RCPT.
    const rcpt = e.origTo ?? e.to;
    if (!m.recipients.has(rcpt)) {
      const address = e.origTo === undefined ? (to ?? detach(e.to)) : detach(e.origTo);
      const at = address.lastIndexOf('@');
      const domain = at < 0 ? '' : address.slice(at + 1);
      const external = this.localDomains.configured ? !this.localDomains.isLocal(domain) : !LOCAL_AGENTS.has(daemon);
      m.recipients.set(address, { domainKey: domainKey(domain), external });
      this.heldRecipients++;
    }
    if (m.attempted.size >= m.nrcpt) this.finish(e.queueId, m);
    else while (this.heldRecipients > this.maxHeldRecipients && this.messages.size > 1) this.evictOldest();
  }

  /** Counts the message (when the queue manager had it and a recipient was tried) and forgets it. */
  private finish(queueId: string, m: OpenMessage): void {
    this.drop(queueId, m);
    if (m.mailFrom === undefined || m.recipients.size === 0) return;
    this.emit({
      type: 'message',
      time: m.acceptedAt,
      peer: m.peer,
      account: m.account,
      authenticated: m.authenticated,
      mailFrom: m.mailFrom,
      recipients: [...m.recipients.values()],
    });
  }

  private drop(queueId: string, m: OpenMessage): void {
    this.messages.delete(queueId);
    this.heldRecipients -= m.attempted.size + m.recipients.size;
  }

  /** The oldest open message gives way; what it knew so far still counts. */
  private evictOldest(): void {
    const oldest = this.messages.entries().next();
    if (oldest.done) return;
    this.evicted++;
    this.finish(oldest.value[0], oldest.value[1]);
  }

  /** `queued as X`: X is this message again (re-injected after a content filter, or handed to another instance). */
  private claim(queueId: string): void {
    const open = this.messages.get(queueId);
    if (open !== undefined) {
      // Its smtpd line came first (a filter without XFORWARD): it is no new message.
      this.drop(queueId, open);
      return;
    }
    if (this.claimed.size >= MAX_CLAIMED) this.claimed.delete(this.claimed.values().next().value!);
    this.claimed.add(detach(queueId));
  }

  private addSession(process: string, peer: string): Session {
    if (this.sessions.size >= this.maxOpenSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const session: Session = { peer, logins: [], loginsCounted: 0 };
    this.sessions.set(process, session);
    return session;
  }
}

/** The account label of a logged username; undefined when nothing is left of it. Kept, so never a slice of the line. */
function accountOf(username: string): string | undefined {
  const account = cleanAccount(username);
  return account === '' ? undefined : detach(account);
}

function mechanismOf(saslMethod: string): AuthMechanism {
  switch (saslMethod.toUpperCase()) {
    case 'LOGIN':
      return 'login';
    case 'PLAIN':
      return 'plain';
    case 'CRAM-MD5':
      return 'cram_md5';
    default:
      return 'other';
  }
}
