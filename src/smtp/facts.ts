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
  /** Lowercased address. */
  address: string;
  /** Lowercased domain part. */
  domain: string;
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
 * Local domains from the config: exact names, or `*.example.com` for its
 * subdomains. With none configured, the caller falls back to the MTA's own
 * verdict (IceWarp's "; will forward").
 */
export class LocalDomains {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      const lower = p.toLowerCase();
      if (lower.startsWith('*.')) this.suffixes.push(lower.slice(1));
      else this.exact.add(lower);
    }
  }

  get configured(): boolean {
    return this.exact.size > 0 || this.suffixes.length > 0;
  }

  isLocal(domain: string): boolean {
    const d = domain.toLowerCase();
    return this.exact.has(d) || this.suffixes.some((s) => d.endsWith(s));
  }
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
