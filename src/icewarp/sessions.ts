// The IceWarp SMTP session state machine: log lines in, SmtpFacts out.
// A session is `peer [thread]`, started by its `Connected` line; sessions of
// different peers interleave. Only server sessions (IceWarp receiving) yield
// facts. Replies are matched to commands in order (a FIFO), which also
// covers PIPELINING. AUTH passwords are never decoded or kept: the line that
// carries one is recognised by its position in the exchange and dropped.
//
// Lines are read as bytes (a chunk from the tailer, or a string encoded
// once): a line becomes no string at all unless it carries something to
// keep (a peer, a sender's address, a username), and then only that part
// does; a recipient's domain becomes a number (domainKey).

import { cleanAccount, domainKey, domainKeyOfBytes, type AuthMechanism, type LocalDomains, type Recipient, type SmtpFact } from '../smtp/facts.js';
import type { ScannedLines } from '../smtp/parser.js';
import { wallClock, type WallClock } from '../smtp/timezone.js';
import { LineScanner, fileDaySeconds, loadScanned, scannedStart } from './line.js';

export interface IcewarpSessionsOptions {
  localDomains: LocalDomains;
  emit(fact: SmtpFact): void;
  /** Open sessions kept at most; the oldest is dropped beyond. Default 20,000. */
  maxOpenSessions?: number;
  /** The zone of `HH:MM:SS` times (see timezone.ts). Default UTC. */
  timeZone?: string;
}

export interface IcewarpSessionStats {
  lines: number;
  unparsed: number;
  /** Unix seconds of the last line with a time. */
  lastLineTime: number | undefined;
  openSessions: number;
}

const enum Role {
  Unknown,
  Server,
  Client,
}

const enum Command {
  Helo,
  Auth,
  Mail,
  Rcpt,
  Data,
  Bdat,
  BdatLast,
  Rset,
  StartTls,
  Other,
}

const enum AuthStage {
  /** The server's final reply is all that is left. */
  Final,
  LoginUser,
  LoginPassword,
  PlainResponse,
  CramResponse,
  /** An unknown mechanism: its client lines are opaque. */
  Opaque,
}

/** Pipelined commands kept waiting for their replies, at most. */
const MAX_PENDING = 512;
/** Accepted RCPTs kept per transaction, at most (a message to more is still one message). */
const MAX_RECIPIENTS = 10_000;
const MAX_ADDRESS_LENGTH = 320;
/** Base64 of a username longer than cleanAccount keeps is not worth decoding. */
const MAX_USERNAME_BASE64 = 1400;

class SmtpSession {
  role = Role.Unknown;
  // What names the session (see LineScanner): `peer [thread]` as numbers.
  readonly sessionHash: number;
  readonly prefixLength: number;
  readonly threadNumber: number;
  readonly peerHash: number;
  readonly prefixHash: number;
  /** Seen from its `Connected` line (not joined midway). */
  readonly connected: boolean;
  readonly peer: string;
  pending: Command[] = [];
  /** Addresses of pending MAIL commands, in order. */
  pendingSenders: string[] = [];
  /** Pending RCPTs, in order: each one's domainKey, and whether local_domains names the domain (when configured). */
  pendingDomains: number[] = [];
  pendingLocal: boolean[] = [];
  /** Inside a multi-line reply whose first line was handled: absorb its other lines. */
  continuation = false;
  /** The DATA (or BDAT) at the head of `pending` got its 354. */
  dataStarted = false;
  /** …and its message was already accepted by an OK `***` summary. */
  dataAccepted = false;
  // AUTH exchange in progress (the head of `pending` is Auth).
  authMechanism: AuthMechanism = 'other';
  authStage = AuthStage.Final;
  authUsername: string | undefined = undefined;
  /** The server sent 334: the next client line answers it. */
  authAwaitingResponse = false;
  // Session state.
  authenticated = false;
  account: string | undefined = undefined;
  /** Envelope sender of the open transaction; undefined = no transaction. */
  mailFrom: string | undefined = undefined;
  recipients: Recipient[] = [];

  constructor(s: LineScanner, peer: string, connected: boolean) {
    this.sessionHash = s.sessionHash;
    this.prefixLength = s.prefixLength;
    this.threadNumber = s.threadNumber;
    this.peerHash = s.peerHash;
    this.prefixHash = s.prefixHash;
    this.peer = peer;
    this.connected = connected;
  }

  endTransaction(): void {
    this.mailFrom = undefined;
    this.recipients = [];
  }
}

/**
 * Open sessions by `peer [thread]`, found without building a key string per
 * line: a map on a hash of the prefix, then a comparison of numbers. Insertion order
 * tells the oldest, for eviction.
 */
class SessionTable {
  private readonly byHash = new Map<number, SmtpSession[]>();
  private readonly order = new Set<SmtpSession>();

  get size(): number {
    return this.order.size;
  }

  /** The session of the line just scanned. */
  find(line: LineScanner): SmtpSession | undefined {
    const list = this.byHash.get(line.sessionHash);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as SmtpSession;
      if (s.prefixLength === line.prefixLength && s.threadNumber === line.threadNumber && s.peerHash === line.peerHash && s.prefixHash === line.prefixHash) return s;
    }
    return undefined;
  }

  add(session: SmtpSession, max: number): void {
    if (this.order.size >= max) {
      const oldest = this.order.values().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    this.order.add(session);
    const list = this.byHash.get(session.sessionHash);
    if (list === undefined) this.byHash.set(session.sessionHash, [session]);
    else list.push(session);
  }

  delete(session: SmtpSession): void {
    if (!this.order.delete(session)) return;
    const list = this.byHash.get(session.sessionHash);
    if (list === undefined) return;
    const at = list.indexOf(session);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byHash.delete(session.sessionHash);
  }
}

export class IcewarpSessions {
  private localDomains: LocalDomains;
  private readonly emit: (fact: SmtpFact) => void;
  private readonly maxOpenSessions: number;
  private readonly sessions = new SessionTable();
  private readonly scanner = new LineScanner();
  /** Where feed() encodes a string line. */
  private scratch = Buffer.allocUnsafe(4096);
  private readonly fileDays = new Map<string, number | undefined>();
  private lines = 0;
  private unparsed = 0;
  /** NaN until a line with a time: a number field stays unboxed on the hot path. */
  private lastTime = NaN;
  /** Last file's name and day, to skip the map lookup on the hot path. */
  private lastFile = '';
  private lastFileDay: number | undefined = undefined;
  private toUtc: WallClock;

  constructor(opts: IcewarpSessionsOptions) {
    this.toUtc = wallClock(opts.timeZone ?? 'UTC');
    this.localDomains = opts.localDomains;
    this.emit = opts.emit;
    this.maxOpenSessions = opts.maxOpenSessions ?? 20_000;
  }

  get stats(): IcewarpSessionStats {
    return {
      lines: this.lines,
      unparsed: this.unparsed,
      lastLineTime: Number.isNaN(this.lastTime) ? undefined : this.lastTime,
      openSessions: this.sessions.size,
    };
  }

  setLocalDomains(localDomains: LocalDomains): void {
    this.localDomains = localDomains;
  }

  setTimeZone(zone: string): void {
    this.toUtc = wallClock(zone);
  }

  /** Lines as strings (tests, and callers that have lines already): each is encoded once and read as bytes. */
  feedLines(file: string, lines: readonly string[]): void {
    for (let i = 0; i < lines.length; i++) this.feed(file, lines[i] as string);
  }

  feed(file: string, text: string): void {
    // Up to 3 bytes a UTF-16 code unit.
    if (this.scratch.length < text.length * 3) this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, text.length * 3));
    const n = this.scratch.write(text, 0, 'utf8');
    this.feedBytes(file, this.scratch, 0, n);
  }

  /**
   * Complete lines as the tailer hands them on: bytes separated by LF (a
   * CR before it is dropped); the last line's LF may be missing. Returns the
   * number of lines.
   */
  feedChunk(file: string, chunk: Buffer, start = 0, end = chunk.length): number {
    let lines = 0;
    let at = start;
    while (at < end) {
      let nl = chunk.indexOf(LF, at);
      if (nl < 0 || nl >= end) nl = end;
      this.feedBytes(file, chunk, at, nl);
      lines++;
      at = nl + 1;
    }
    return lines;
  }

  /**
   * A chunk's lines as another thread scanned them (scanLines): the same
   * as feedChunk(file, chunk), without scanning again. Returns the number of lines.
   */
  feedScanned(file: string, chunk: Buffer, lines: ScannedLines): number {
    const s = this.scanner;
    for (let i = 0; i < lines.count; i++) {
      this.lines++;
      if (loadScanned(s, lines, i)) this.scanned(file, chunk, scannedStart(lines, i));
      else this.unparsed++;
    }
    return lines.count;
  }

  /** One line: buf[start, end), without its LF. */
  feedBytes(file: string, buf: Buffer, start: number, end: number): void {
    this.lines++;
    if (this.scanner.scan(buf, start, end)) this.scanned(file, buf, start);
    else this.unparsed++;
  }

  /** The line at `start` of buf, which this.scanner has just read (its fields are the line's). */
  private scanned(file: string, buf: Buffer, start: number): void {
    const s = this.scanner;
    let time: number;
    if (s.timeKind === 1) {
      const day = this.dayOf(file);
      // A file name without a date: keep the day of the last known time.
      const base = day ?? (Number.isNaN(this.lastTime) ? 0 : Math.floor(this.lastTime / 86400) * 86400);
      time = this.toUtc(base + s.timeValue);
      this.lastTime = time;
    } else if (s.timeKind === 2) {
      time = s.timeValue;
      this.lastTime = time;
    } else {
      time = Number.isNaN(this.lastTime) ? 0 : this.lastTime;
    }
    const r = s.restStart;
    const end = s.restEnd;
    if (r + 3 > end) return; // no content, or too short to be a protocol line
    const c0 = buf[r]!;
    const c1 = buf[r + 1]!;
    // `<<< text`, or a bare `<<<` when an empty line was sent (and trailing spaces were trimmed).
    const arrow = c0 === c1 && c1 === buf[r + 2] && (r + 3 === end || buf[r + 3] === 0x20);
    const isIn = arrow && c0 === 0x3c ? true : arrow && c0 === 0x3e ? false : undefined;
    if (isIn === undefined) {
      if (c0 === 0x43 && end - r === 9 && bytesAre(buf, r, CONNECTED)) this.connect(buf, start, s);
      else if (c0 === 0x44 && end - r === 12 && bytesAre(buf, r, DISCONNECTED)) {
        const ended = this.sessions.find(s);
        if (ended !== undefined) this.sessions.delete(ended);
      } else if (c0 === 0x2a && c1 === 0x2a && buf[r + 2] === 0x2a && buf[r + 3] === 0x20) this.summary(this.sessions.find(s), buf, r, end, time);
      // SYSTEM and other service lines: nothing to count.
      return;
    }
    let session = this.sessions.find(s);
    if (session === undefined) {
      // Joined midway (the exporter started at the end of a file): follow it, but it did not start under our eyes.
      session = new SmtpSession(s, buf.toString('utf8', start, s.bracket - 1), false);
      this.sessions.add(session, this.maxOpenSessions);
    }
    const p = r + 3 === end ? end : r + 4;
    if (session.role === Role.Unknown) {
      if (!this.decideRole(session, buf, p, end, isIn, time)) return;
    }
    if (session.role !== Role.Server) return;
    if (isIn) this.clientLine(session, buf, p, end);
    else this.serverLine(session, buf, p, end, time);
  }

  /**
   * `*** <from> <to> … OK`: IceWarp's summary of a received message, written
   * between the 354 and the final reply to DATA. Some logs (IceWarp's own
   * documentation example) end there, so an OK summary accepts the message;
   * the final reply that may follow then only closes the DATA command.
   */
  private summary(session: SmtpSession | undefined, buf: Buffer, r: number, end: number, time: number): void {
    if (session === undefined || session.role !== Role.Server || !session.dataStarted || session.pending[0] !== Command.Data) return;
    if (!(end - r >= 7 && buf[end - 3] === 0x20 && buf[end - 2] === 0x4f && buf[end - 1] === 0x4b)) return; // ` OK`
    this.acceptMessage(session, time);
    session.dataStarted = false;
    session.dataAccepted = true;
  }

  private acceptMessage(session: SmtpSession, time: number): void {
    if (session.mailFrom === undefined) return;
    this.emit({
      type: 'message',
      time,
      peer: session.peer,
      account: session.account,
      authenticated: session.authenticated,
      mailFrom: session.mailFrom,
      recipients: session.recipients,
    });
    session.endTransaction();
  }

  private dayOf(file: string): number | undefined {
    if (file === this.lastFile) return this.lastFileDay;
    let day: number | undefined;
    if (this.fileDays.has(file)) day = this.fileDays.get(file);
    else {
      day = fileDaySeconds(file);
      if (this.fileDays.size >= 256) this.fileDays.clear();
      this.fileDays.set(file, day);
    }
    this.lastFile = file;
    this.lastFileDay = day;
    return day;
  }

  private connect(buf: Buffer, start: number, line: LineScanner): void {
    // Thread ids are reused: a Connected line always starts afresh.
    const previous = this.sessions.find(line);
    if (previous !== undefined) this.sessions.delete(previous);
    this.sessions.add(new SmtpSession(line, buf.toString('utf8', start, line.bracket - 1), true), this.maxOpenSessions);
  }

  /**
   * The first protocol line tells the direction: a server session starts
   * with our greeting going out (`>>> 220`), a client session with the
   * remote greeting coming in (`<<< 220`). Returns false when the line was
   * consumed (the greeting itself).
   */
  private decideRole(session: SmtpSession, buf: Buffer, p: number, end: number, isIn: boolean, time: number): boolean {
    const code = replyCode(buf, p, end);
    if (isIn) {
      if (code >= 0) {
        session.role = Role.Client; // a reply coming in: IceWarp is the client
        return false;
      }
      // A command coming in before any greeting was logged: still IceWarp serving.
      session.role = Role.Server;
      if (session.connected) this.emit({ type: 'session', time, peer: session.peer });
      return true;
    }
    if (code < 0) {
      session.role = Role.Client; // a command going out
      return false;
    }
    session.role = Role.Server;
    const greeting = session.connected || code === 220;
    if (greeting) {
      this.emit({ type: 'session', time, peer: session.peer });
      session.continuation = buf[p + 3] === 0x2d;
      return false;
    }
    return true; // joined midway at a reply: handle it
  }

  /** `<<< …`: a command, or an answer inside an AUTH exchange. */
  private clientLine(session: SmtpSession, buf: Buffer, p: number, end: number): void {
    session.continuation = false;
    if (session.authAwaitingResponse) {
      session.authAwaitingResponse = false;
      this.authResponse(session, buf, p, end);
      return;
    }
    if (session.pending.length >= MAX_PENDING) {
      // Lost track (replies missing from the log): start matching afresh.
      session.pending.length = 0;
      session.pendingSenders.length = 0;
      session.pendingDomains.length = 0;
      session.pendingLocal.length = 0;
      session.dataStarted = false;
      session.dataAccepted = false;
    }
    const c = p < end ? buf[p]! | 0x20 : 0;
    let cmd = Command.Other;
    if (c === 0x6d && wordAt(buf, p, end, MAIL)) {
      cmd = Command.Mail;
      session.endTransaction(); // a new MAIL FROM ends the transaction before it
      session.pendingSenders.push(envelopeAddress(buf, p + 4, end));
    } else if (c === 0x72 && wordAt(buf, p, end, RCPT)) {
      cmd = Command.Rcpt;
      this.pendingRecipient(session, buf, p + 4, end);
    } else if (c === 0x64 && wordAt(buf, p, end, DATA)) {
      cmd = Command.Data;
    } else if (c === 0x61 && wordAt(buf, p, end, AUTH)) {
      cmd = Command.Auth;
      this.authStart(session, buf, p + 4, end);
    } else if (c === 0x72 && wordAt(buf, p, end, RSET)) {
      cmd = Command.Rset;
      session.endTransaction();
    } else if ((c === 0x65 && wordAt(buf, p, end, EHLO)) || (c === 0x68 && wordAt(buf, p, end, HELO))) {
      cmd = Command.Helo;
      session.endTransaction();
    } else if (c === 0x62 && wordAt(buf, p, end, BDAT)) {
      cmd = / LAST\s*$/i.test(buf.toString('latin1', p + 4, end)) ? Command.BdatLast : Command.Bdat;
    } else if (c === 0x73 && wordAt(buf, p, end, STARTTLS)) {
      cmd = Command.StartTls;
    }
    session.pending.push(cmd);
  }

  /** `>>> …`: a reply to the oldest pending command. */
  private serverLine(session: SmtpSession, buf: Buffer, p: number, end: number, time: number): void {
    const code = replyCode(buf, p, end);
    if (code < 0) return;
    const multiLine = buf[p + 3] === 0x2d;
    if (session.continuation) {
      // IceWarp often logs only the first line of a multi-line reply; all its lines share the code.
      if (!multiLine) session.continuation = false;
      return;
    }
    if (multiLine) session.continuation = true;
    const cmd = session.pending[0];
    if (cmd === undefined) return; // unsolicited (e.g. 421 at shutdown)
    if (code >= 300 && code < 400) {
      if (cmd === Command.Auth && code === 334) {
        session.authAwaitingResponse = true;
        // LOGIN prompts say what they ask for: follow them, so a lost line can never make a password pass for a username.
        if (session.authMechanism === 'login') {
          if (bytesAre(buf, p + 4, PASSWORD_PROMPT, end)) session.authStage = AuthStage.LoginPassword;
          else if (bytesAre(buf, p + 4, USERNAME_PROMPT, end)) session.authStage = AuthStage.LoginUser;
        }
      }
      else if (cmd === Command.Data && code === 354) session.dataStarted = true;
      return; // intermediate: the command is still waiting for its final reply
    }
    session.pending.shift();
    const ok = code >= 200 && code < 300;
    switch (cmd) {
      case Command.Mail: {
        const address = session.pendingSenders.shift() ?? '';
        if (ok) {
          session.mailFrom = address;
          session.recipients = [];
        }
        break;
      }
      case Command.Rcpt: {
        const domainKey = session.pendingDomains.shift() ?? EMPTY_DOMAIN;
        const local = session.pendingLocal.shift() ?? false;
        if (ok) {
          if (session.mailFrom !== undefined && session.recipients.length < MAX_RECIPIENTS) {
            session.recipients.push(this.recipient(domainKey, local, buf, p, end));
          }
        } else if (code >= 500 && !session.authenticated && namesRelaying(buf, p, end)) {
          this.emit({ type: 'relay_denied', time, peer: session.peer });
        }
        break;
      }
      case Command.Data:
      case Command.BdatLast: {
        session.dataStarted = false;
        if (ok && !session.dataAccepted) this.acceptMessage(session, time);
        session.dataAccepted = false;
        session.endTransaction();
        break;
      }
      case Command.Bdat:
        if (!ok) session.endTransaction();
        break;
      case Command.Auth:
        this.authFinal(session, ok, time);
        break;
      case Command.StartTls:
        if (ok) session.endTransaction();
        break;
      default:
        break;
    }
  }

  /** An accepted RCPT: local_domains when configured, else IceWarp's `will forward` in the reply (buf[p, end)). */
  private recipient(domainKey: number, local: boolean, buf: Buffer, p: number, end: number): Recipient {
    // IceWarp ends the reply with it: look there first.
    const external = this.localDomains.configured
      ? !local
      : (end - WILL_FORWARD.length >= p && bytesAre(buf, end - WILL_FORWARD.length, WILL_FORWARD, end)) || contains(buf, p, end, WILL_FORWARD);
    return { domainKey, external };
  }

  /**
   * `RCPT TO:<a> …` waiting for its reply: the address's domain as a
   * number, and whether local_domains (as it is when the RCPT is read) names
   * it, both read from the bytes: no string.
   */
  private pendingRecipient(session: SmtpSession, buf: Buffer, p: number, end: number): void {
    const start = envelopeStart(buf, p, end);
    const from = start < 0 ? end : start;
    let to = start < 0 ? end : envelopeEnd;
    // The domain: after the last `@` of the mailbox's first bytes (as many as an address of MAX_ADDRESS_LENGTH characters can take).
    if (to - from > MAX_ADDRESS_LENGTH * 4) to = from + MAX_ADDRESS_LENGTH * 4;
    let at = to - 1;
    while (at >= from && buf[at] !== 0x40) at--;
    const domainFrom = at < from ? to : at + 1;
    const key = domainKeyOfBytes(buf, domainFrom, to);
    session.pendingDomains.push(key);
    session.pendingLocal.push(this.localDomains.configured && this.localDomains.isLocalBytes(buf, domainFrom, to, key));
  }

  private authStart(session: SmtpSession, buf: Buffer, p: number, end: number): void {
    session.authUsername = undefined;
    session.authAwaitingResponse = false;
    while (p < end && buf[p] === 0x20) p++;
    let m = p;
    while (m < end && buf[m] !== 0x20) m++;
    let initial = m;
    while (initial < end && buf[initial] === 0x20) initial++;
    const hasInitial = initial < end;
    if (wordIs(buf, p, m, LOGIN)) {
      session.authMechanism = 'login';
      if (hasInitial) {
        session.authUsername = decodeUsername(buf, initial, end);
        session.authStage = AuthStage.LoginPassword;
      } else session.authStage = AuthStage.LoginUser;
    } else if (wordIs(buf, p, m, PLAIN)) {
      session.authMechanism = 'plain';
      if (hasInitial) {
        session.authUsername = plainUsername(buf, initial, end);
        session.authStage = AuthStage.Final;
      } else session.authStage = AuthStage.PlainResponse;
    } else if (wordIs(buf, p, m, CRAM_MD5)) {
      session.authMechanism = 'cram_md5';
      session.authStage = AuthStage.CramResponse;
    } else {
      session.authMechanism = 'other';
      session.authStage = AuthStage.Opaque;
    }
  }

  private authResponse(session: SmtpSession, buf: Buffer, p: number, end: number): void {
    if (end - p === 1 && buf[p] === 0x2a) {
      // `*`: the client cancels; the server answers 501, a failed attempt.
      session.authStage = AuthStage.Final;
      return;
    }
    switch (session.authStage) {
      case AuthStage.LoginUser:
        session.authUsername = decodeUsername(buf, p, end);
        session.authStage = AuthStage.LoginPassword;
        break;
      case AuthStage.LoginPassword:
        // The password: not decoded, not kept, not even made a string.
        session.authStage = AuthStage.Final;
        break;
      case AuthStage.PlainResponse:
        session.authUsername = plainUsername(buf, p, end);
        session.authStage = AuthStage.Final;
        break;
      case AuthStage.CramResponse:
        session.authUsername = cramUsername(buf, p, end);
        session.authStage = AuthStage.Final;
        break;
      default:
        break;
    }
  }

  private authFinal(session: SmtpSession, ok: boolean, time: number): void {
    const username = session.authUsername === undefined ? undefined : cleanAccount(session.authUsername);
    const account = username === '' ? undefined : username;
    this.emit({ type: 'auth', time, peer: session.peer, mechanism: session.authMechanism, username: account, success: ok });
    if (ok) {
      session.authenticated = true;
      session.account = account;
    }
    session.authUsername = undefined;
    session.authAwaitingResponse = false;
    session.authStage = AuthStage.Final;
  }
}

const LF = 0x0a;
/** The domainKey of a RCPT without a readable address. */
const EMPTY_DOMAIN = domainKey('');
const ascii = (word: string): Uint8Array => Uint8Array.from(word, (c) => c.charCodeAt(0));
const CONNECTED = ascii('Connected');
const DISCONNECTED = ascii('Disconnected');
const MAIL = ascii('MAIL');
const RCPT = ascii('RCPT');
const DATA = ascii('DATA');
const AUTH = ascii('AUTH');
const RSET = ascii('RSET');
const EHLO = ascii('EHLO');
const HELO = ascii('HELO');
const BDAT = ascii('BDAT');
const STARTTLS = ascii('STARTTLS');
const LOGIN = ascii('LOGIN');
const PLAIN = ascii('PLAIN');
const CRAM_MD5 = ascii('CRAM-MD5');
const PASSWORD_PROMPT = ascii('UGFzc3dvcmQ6');
const USERNAME_PROMPT = ascii('VXNlcm5hbWU6');
const WILL_FORWARD = ascii('will forward');
const RELAYING = ascii('5.7.1');

/** `word` (exact bytes) at p, within end when given. */
function bytesAre(buf: Buffer, p: number, word: Uint8Array, end = buf.length): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (buf[p + i] !== word[i]) return false;
  return true;
}

/** Whether buf[from, end) contains `word`. A loop, not Buffer.indexOf, which would search on past the line. */
function contains(buf: Buffer, from: number, end: number, word: Uint8Array): boolean {
  const first = word[0];
  for (let i = from, last = end - word.length; i <= last; i++) {
    if (buf[i] === first && bytesAre(buf, i, word, end)) return true;
  }
  return false;
}

/** The first `byte` in buf[from, end), or -1 (bounded by the line, unlike Buffer.indexOf). */
function indexIn(buf: Buffer, byte: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === byte) return i;
  return -1;
}

/** The 3-digit reply code at p (followed by space, `-` or the end), or -1. */
function replyCode(buf: Buffer, p: number, end: number): number {
  if (p + 3 > end) return -1;
  const a = buf[p]! - 0x30;
  const b = buf[p + 1]! - 0x30;
  const c = buf[p + 2]! - 0x30;
  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  if (p + 3 < end) {
    const n = buf[p + 3];
    if (n !== 0x20 && n !== 0x2d) return -1;
  }
  return a * 100 + b * 10 + c;
}

/** Case-insensitive `word` (upper-case ASCII) at p, followed by a space, a colon or the end. */
function wordAt(buf: Buffer, p: number, end: number, word: Uint8Array): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) {
    const c = buf[p + i]!;
    const w = word[i]!;
    if (c !== w && (c | 0x20) !== (w | 0x20)) return false;
  }
  if (p + word.length === end) return true;
  const n = buf[p + word.length];
  return n === 0x20 || n === 0x3a;
}

/** buf[p, end) is `word` (upper-case ASCII), ignoring case. */
function wordIs(buf: Buffer, p: number, end: number, word: Uint8Array): boolean {
  if (end - p !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    const c = buf[p + i]!;
    const w = word[i]!;
    if (c !== w && !(w >= 0x41 && w <= 0x5a && c === (w | 0x20))) return false;
  }
  return true;
}

/** Where the address of `FROM:<a> …` / `TO: <a> …` ends, set by envelopeStart. */
let envelopeEnd = 0;

/**
 * Where the address of `FROM:<a> …` / `TO: <a> …` starts in buf (the mailbox
 * of a source route `<@a,@b:user@c>`), or -1 without a colon; its end is
 * left in envelopeEnd.
 */
function envelopeStart(buf: Buffer, p: number, end: number): number {
  const colon = indexIn(buf, 0x3a, p, end);
  if (colon < 0) return -1;
  let i = colon + 1;
  while (i < end && buf[i] === 0x20) i++;
  let from = i;
  let to: number;
  if (buf[i] === 0x3c) {
    from = i + 1;
    to = indexIn(buf, 0x3e, from, end);
    if (to < 0) to = end;
    if (buf[from] === 0x40) {
      const route = indexIn(buf, 0x3a, from, to);
      if (route >= 0) from = route + 1;
    }
  } else {
    to = indexIn(buf, 0x20, i, end);
    if (to < 0) to = end;
  }
  envelopeEnd = to;
  return from;
}

/** The address of `FROM:<a> …` / `TO: <a> …` (lowercased; '' for `<>`), cut to MAX_ADDRESS_LENGTH characters. */
function envelopeAddress(buf: Buffer, p: number, end: number): string {
  const from = envelopeStart(buf, p, end);
  if (from < 0) return '';
  // A character takes at most 4 bytes: decoding this many is enough for MAX_ADDRESS_LENGTH characters.
  let address = buf.toString('utf8', from, Math.min(envelopeEnd, from + MAX_ADDRESS_LENGTH * 4));
  if (address.length > MAX_ADDRESS_LENGTH) address = address.slice(0, MAX_ADDRESS_LENGTH);
  return address.toLowerCase();
}

/** 5.7.1 as the enhanced status code, or a text naming relaying. */
function namesRelaying(buf: Buffer, p: number, end: number): boolean {
  if (bytesAre(buf, p + 4, RELAYING, end) && (p + 9 === end || buf[p + 9] === 0x20)) return true;
  return /relay/i.test(buf.toString('latin1', p + 4, end));
}

/**
 * Base64 text at buf[p, end) decoded into a buffer the caller zeroes.
 * latin1 keeps one character per byte; the decoder skips what is not base64,
 * as it skipped the U+FFFD of a decoded line.
 */
function base64Bytes(buf: Buffer, p: number, end: number): Buffer {
  return Buffer.from(buf.toString('latin1', p, end), 'base64');
}

/** A base64 username (AUTH LOGIN): invalid UTF-8 becomes U+FFFD. */
function decodeUsername(buf: Buffer, p: number, end: number): string | undefined {
  const user = base64Bytes(buf, p, Math.min(end, p + MAX_USERNAME_BASE64)).toString('utf8');
  return user === '' ? undefined : user;
}

/**
 * The user of an AUTH PLAIN response `authzid \0 user \0 password`: only the
 * bytes between the first and second NUL become a string; the buffer is
 * zeroed. Without both NULs nothing is taken (the bytes might be the password).
 */
function plainUsername(buf: Buffer, p: number, end: number): string | undefined {
  const decoded = base64Bytes(buf, p, end);
  try {
    const first = decoded.indexOf(0);
    if (first < 0) return undefined;
    const second = decoded.indexOf(0, first + 1);
    if (second < 0 || second === first + 1) return undefined;
    return decoded.toString('utf8', first + 1, second);
  } finally {
    decoded.fill(0);
  }
}

/** The user of a CRAM-MD5 response `user<space>digest`. */
function cramUsername(buf: Buffer, p: number, end: number): string | undefined {
  const decoded = base64Bytes(buf, p, end);
  try {
    const space = decoded.lastIndexOf(0x20);
    return space <= 0 ? undefined : decoded.toString('utf8', 0, space);
  } finally {
    decoded.fill(0);
  }
}
