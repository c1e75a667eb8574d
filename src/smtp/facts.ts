// What an MTA's SMTP log tells us, in words that do not depend on the MTA.
// A log parser (icewarp/, later others) turns lines into these facts; the
// account book (accounts/) counts them. Times are log times in unix seconds.

export type AuthMechanism = 'login' | 'plain' | 'cram_md5' | 'other';

/** A server session began (a client connected to us). Client sessions, where the MTA delivers elsewhere, are never facts. */
export interface SessionStarted {
  type: 'session';
  time: number;
  peer: string;
}

/** An AUTH exchange got its final reply. `username` is undefined when none was sent (e.g. cancelled with `*`). */
export interface AuthCompleted {
  type: 'auth';
  time: number;
  peer: string;
  mechanism: AuthMechanism;
  username: string | undefined;
  success: boolean;
}

export interface Recipient {
  /**
   * The address's domain (lowercased) as a number: domainKey(domain). Every
   * reader only counts distinct domains, and a parser reading bytes makes
   * no string for it (a string per recipient, and the hashing of each fresh
   * one in the account book's sets, were a sixth of a catch-up).
   */
  domainKey: number;
  external: boolean;
}

/** A message got a 2xx final reply to DATA. */
export interface MessageAccepted {
  type: 'message';
  time: number;
  peer: string;
  /** The account of a successful AUTH in this session; undefined without one. */
  account: string | undefined;
  /**
   * A successful AUTH happened in this session, even one whose username is
   * unknown (mechanism `other`: NTLM, GSSAPI …), so the mail is not relayed
   * for someone who did not log in. Absent means `account !== undefined`.
   */
  authenticated?: boolean;
  /** Lowercased envelope sender; '' for the null sender `<>`. */
  mailFrom: string;
  /** RCPTs answered 2xx in this transaction. */
  recipients: Recipient[];
}

/** A RCPT refused as relaying (5xx with 5.7.1, or a reply naming relaying) in a session without successful AUTH. */
export interface RelayDenied {
  type: 'relay_denied';
  time: number;
  peer: string;
}

export type SmtpFact = SessionStarted | AuthCompleted | MessageAccepted | RelayDenied;

export const MAX_ACCOUNT_LENGTH = 254;

/**
 * The account label value: lowercased, trimmed, cut to 254 characters.
 * Invalid UTF-8 was already replaced by U+FFFD when the bytes were decoded.
 * Control characters are replaced too: they are attacker-controlled.
 */
export function cleanAccount(username: string): string {
  // eslint-disable-next-line no-control-regex
  return username.trim().toLowerCase().replace(/[\u0000-\u001f\u007f]/g, '\ufffd').slice(0, MAX_ACCOUNT_LENGTH);
}

/** Is `mailFrom` someone other than `account`? For an account without `@`, only local parts are compared. */
export function isForeignSender(account: string, mailFrom: string): boolean {
  if (account.includes('@')) return mailFrom !== account;
  const at = mailFrom.lastIndexOf('@');
  return (at < 0 ? mailFrom : mailFrom.slice(0, at)) !== account;
}

/**
 * A domain as a 53-bit number made from its lowercased UTF-8 bytes (two
 * independent 32-bit hashes, one cut to 21 bits): two of 10,000 domains
 * share one about once in 10^8 (birthday bound), so counts of distinct
 * domains are exact in practice. Parsers reading bytes use domainKeyOfBytes,
 * which gives the same number.
 */
export function domainKey(domain: string): number {
  if (!isAsciiText(domain)) {
    const bytes = Buffer.from(domain.toLowerCase(), 'utf8');
    return keyOf(bytes, 0, bytes.length);
  }
  let a = FNV_OFFSET;
  let b = 0;
  for (let i = 0; i < domain.length; i++) {
    const c = asciiLower(domain.charCodeAt(i));
    a = Math.imul(a ^ c, FNV_PRIME);
    b = (Math.imul(b, 31) + c) | 0;
  }
  return join53(a, b);
}

/** domainKey of the text of buf[from, to) (UTF-8), without making a string when it is ASCII. */
export function domainKeyOfBytes(buf: Uint8Array, from: number, to: number): number {
  return isAscii(buf, from, to) ? keyOf(buf, from, to) : domainKey(utf8(buf, from, to));
}

function isAscii(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

function utf8(buf: Uint8Array, from: number, to: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('utf8');
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

function asciiLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** The key of bytes already lowercased beyond ASCII (ASCII letters are lowercased here). */
function keyOf(buf: Uint8Array, from: number, to: number): number {
  let a = FNV_OFFSET;
  let b = 0;
  for (let i = from; i < to; i++) {
    const c = asciiLower(buf[i]!);
    a = Math.imul(a ^ c, FNV_PRIME);
    b = (Math.imul(b, 31) + c) | 0;
  }
  return join53(a, b);
}

function join53(a: number, b: number): number {
  return (b & 0x1fffff) * 0x100000000 + (a >>> 0);
}

/**
 * Local domains from the config: exact names, or `*.example.com` for its
 * subdomains. With none configured, the caller falls back to the MTA's own
 * verdict (IceWarp's "; will forward").
 */
export class LocalDomains {
  private readonly exact = new Set<string>();
  /** `*.example.com` as `.example.com`: a domain is local when one of its dot-suffixes is one of these. */
  private readonly suffixes = new Set<string>();
  /**
   * The ASCII names and suffixes again by domainKey, for lines read as
   * bytes: one lookup a recipient (and one per dot near its end for the
   * suffixes) whatever their number, where a walk over the list cost a
   * comparison per name (500 names made the parser and the book 1.3-1.75
   * times as slow). A hit is then compared byte by byte: the answer is
   * exact. Non-ASCII names need no key: ASCII bytes never spell them.
   */
  private readonly exactKeys = new Map<number, string[]>();
  private readonly suffixKeys = new Map<number, string[]>();
  /**
   * The longest suffix, in characters and in ASCII bytes: only the dots
   * within that many characters of a domain's end are looked at. The domain
   * is the sender's to choose (an RCPT of 1,280 bytes and 640 dots); the
   * suffixes are the config's, so the work a recipient costs stays bounded
   * by the config.
   */
  private longestSuffix = 0;
  private longestAsciiSuffix = 0;

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      const lower = p.toLowerCase();
      const wildcard = lower.startsWith('*.');
      const name = wildcard ? lower.slice(1) : lower;
      (wildcard ? this.suffixes : this.exact).add(name);
      if (wildcard) this.longestSuffix = Math.max(this.longestSuffix, name.length);
      if (isAsciiText(name)) {
        if (wildcard) this.longestAsciiSuffix = Math.max(this.longestAsciiSuffix, name.length);
        const keys = wildcard ? this.suffixKeys : this.exactKeys;
        const key = domainKey(name);
        const same = keys.get(key);
        if (same === undefined) keys.set(key, [name]);
        else if (!same.includes(name)) same.push(name);
      }
    }
  }

  get configured(): boolean {
    return this.exact.size > 0 || this.suffixes.size > 0;
  }

  isLocal(domain: string): boolean {
    const d = domain.toLowerCase();
    if (this.exact.has(d)) return true;
    if (this.suffixes.size === 0) return false;
    for (let dot = d.indexOf('.', d.length - this.longestSuffix); dot >= 0; dot = d.indexOf('.', dot + 1)) if (this.suffixes.has(d.slice(dot))) return true;
    return false;
  }

  /**
   * isLocal of the text of buf[from, to) (UTF-8), compared as bytes when it
   * is ASCII. `key`: its domainKeyOfBytes, when the caller has it already.
   */
  isLocalBytes(buf: Uint8Array, from: number, to: number, key?: number): boolean {
    if (!isAscii(buf, from, to)) return this.isLocal(utf8(buf, from, to));
    if (this.exactKeys.size > 0 && matchesOne(this.exactKeys.get(key ?? keyOf(buf, from, to)), buf, from, to)) return true;
    if (this.suffixKeys.size === 0) return false;
    for (let dot = Math.max(from, to - this.longestAsciiSuffix); dot < to; dot++) {
      if (buf[dot] === 0x2e && matchesOne(this.suffixKeys.get(keyOf(buf, dot, to)), buf, dot, to)) return true;
    }
    return false;
  }
}

/** One of `names` (lowercased ASCII) is the whole of buf[from, to). */
function matchesOne(names: string[] | undefined, buf: Uint8Array, from: number, to: number): boolean {
  if (names === undefined) return false;
  for (const name of names) if (name.length === to - from && endsWithAscii(buf, from, to, name)) return true;
  return false;
}

function isAsciiText(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** buf[from, to) ends with `lower` (a lowercased name), ASCII letters compared without case. */
function endsWithAscii(buf: Uint8Array, from: number, to: number, lower: string): boolean {
  const start = to - lower.length;
  if (start < from) return false;
  for (let i = 0; i < lower.length; i++) if (asciiLower(buf[start + i]!) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * A copy that shares no memory with the line it was cut from. V8 makes a
 * slice of 13 or more characters a view that keeps its whole parent alive:
 * for a line cut from a read buffer, that is the whole buffer, and for an
 * AUTH line, the password. Slices shorter than that are copies, so the
 * string is rebuilt from 12-character pieces (cheaper than a Buffer round trip).
 * Every parser keeps what it holds on to (peers, addresses, usernames) through it.
 */
export function detach(s: string): string {
  if (s.length < 13) return s; // already a copy (or not a slice at all)
  const pieces: string[] = [];
  for (let i = 0; i < s.length; i += 12) pieces.push(s.slice(i, i + 12));
  return pieces.join(''); // join builds one flat string, fast to compare char by char
}
