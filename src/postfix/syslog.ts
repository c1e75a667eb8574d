// The syslog layout of a mail log line: time, host, tag[pid]: message. Postfix
// logs through syslog (rsyslog writes /var/log/mail.log) or, with
// `maillog_file`, through its own postlogd; both give this layout. Pure.
//
// Times come in two forms:
// - traditional `Nov 29 18:42:01` (RSYSLOG_TraditionalFileFormat, Postfix's
//   maillog_file): wall-clock time of the server's zone, without a year;
// - RFC 3339 `2026-11-29T18:42:01.562774+00:00` (rsyslog's default
//   RSYSLOG_FileFormat, as on Debian 12): an instant.
//
// The scanner reads a line by character codes and keeps what it found in
// its fields: the log pipeline calls it for every line, so it allocates
// nothing but the tag, and computes a date only when the hour changes.

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** A log line's header. */
export interface SyslogHeader {
  /** `wall`: month/day/secondOfDay, no year, no zone; `instant`: unixSeconds. */
  time: { kind: 'wall'; month: number; day: number; secondOfDay: number } | { kind: 'instant'; unixSeconds: number };
  /** The syslog tag: `postfix/smtpd`, `postfix/submission/smtpd`, `postfix-out/qmgr`, `dovecot`. */
  tag: string;
  /** The process id in brackets; -1 without one. */
  pid: number;
  /** Where the message starts (after `tag[pid]: `). */
  messageStart: number;
}

const digit = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : -1);
const two = (text: string, p: number): number => {
  const a = digit(text.charCodeAt(p));
  const b = digit(text.charCodeAt(p + 1));
  return a < 0 || b < 0 ? -1 : a * 10 + b;
};

/** Scans one line at a time; after scan() returns true, its fields describe that line. */
export class SyslogScanner {
  /** true: a traditional time (month, day, secondOfDay); false: an instant (unixSeconds). */
  wall = false;
  month = 0;
  day = 0;
  secondOfDay = 0;
  unixSeconds = 0;
  tag = '';
  pid = -1;
  messageStart = 0;
  // The RFC 3339 hour last seen: `2026-11-29T18`, its offset text and unix seconds.
  private hourText = '';
  private hourUnix = 0;

  scan(text: string): boolean {
    const c0 = text.charCodeAt(0);
    let p: number;
    if (c0 >= 0x30 && c0 <= 0x39) p = this.rfc3339(text);
    else p = this.traditional(text);
    if (p < 0) return false;
    // host, then the tag up to `[` or `:`.
    const host = text.indexOf(' ', p);
    if (host <= p) return false;
    const tagStart = host + 1;
    let q = tagStart;
    const end = text.length;
    while (q < end) {
      const c = text.charCodeAt(q);
      if (c === 0x5b || c === 0x3a || c === 0x20) break;
      q++;
    }
    if (q === tagStart || q >= end) return false;
    // The same program as the line before (the usual case) keeps its tag string: no new one a line.
    const sameTag = q - tagStart === this.tag.length && text.startsWith(this.tag, tagStart);
    let pid = -1;
    if (text.charCodeAt(q) === 0x5b) {
      pid = 0;
      let r = q + 1;
      let d: number;
      while ((d = digit(text.charCodeAt(r))) >= 0) {
        pid = pid * 10 + d;
        r++;
      }
      if (r === q + 1 || text.charCodeAt(r) !== 0x5d) return false;
      if (!sameTag) this.tag = text.slice(tagStart, q);
      q = r + 1;
    } else if (!sameTag) this.tag = text.slice(tagStart, q);
    if (text.charCodeAt(q) !== 0x3a || text.charCodeAt(q + 1) !== 0x20) return false;
    this.pid = pid;
    this.messageStart = q + 2;
    return true;
  }

  /** `2026-11-29T18:42:01[.frac](Z|±hh:mm) `; the position after it, or -1. */
  private rfc3339(text: string): number {
    if (text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(10) !== 0x54 || text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a) return -1;
    const minute = two(text, 14);
    const second = two(text, 17);
    if (minute < 0 || minute > 59 || second < 0 || second > 60) return -1;
    let p = 19;
    if (text.charCodeAt(p) === 0x2e) {
      p++;
      while (digit(text.charCodeAt(p)) >= 0) p++;
    }
    const z = text.charCodeAt(p);
    let zoneEnd: number;
    if (z === 0x5a) zoneEnd = p + 1;
    else if ((z === 0x2b || z === 0x2d) && text.charCodeAt(p + 3) === 0x3a) zoneEnd = p + 6;
    else return -1;
    if (text.charCodeAt(zoneEnd) !== 0x20) return -1;
    // The date, hour and offset change once an hour: computed then, compared as text otherwise.
    if (!(text.startsWith(this.hourText, 0) && this.hourText.length === 13 && text.startsWith(this.zoneText, p) && this.zoneText.length === zoneEnd - p)) {
      const year = two(text, 0) * 100 + two(text, 2);
      const month = two(text, 5);
      const day = two(text, 8);
      const hour = two(text, 11);
      if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23) return -1;
      let offset = 0;
      if (z !== 0x5a) {
        const oh = two(text, p + 1);
        const om = two(text, p + 4);
        if (oh < 0 || om < 0) return -1;
        offset = (z === 0x2d ? -1 : 1) * (oh * 3600 + om * 60);
      }
      this.hourText = text.slice(0, 13);
      this.zoneText = text.slice(p, zoneEnd);
      this.hourUnix = Date.UTC(year, month - 1, day, hour) / 1000 - offset;
    }
    this.wall = false;
    this.unixSeconds = this.hourUnix + minute * 60 + second;
    return zoneEnd + 1;
  }

  private zoneText = '';

  /** `Nov 29 18:42:01[.frac] ` (a single-digit day padded with a space); the position after it, or -1. */
  private traditional(text: string): number {
    const month = MONTHS[text.slice(0, 3)];
    if (month === undefined || text.charCodeAt(3) !== 0x20) return -1;
    let p = 4;
    if (text.charCodeAt(p) === 0x20) p++;
    let day = digit(text.charCodeAt(p));
    if (day < 0) return -1;
    p++;
    const d2 = digit(text.charCodeAt(p));
    if (d2 >= 0) {
      day = day * 10 + d2;
      p++;
    }
    if (text.charCodeAt(p) !== 0x20 || text.charCodeAt(p + 3) !== 0x3a || text.charCodeAt(p + 6) !== 0x3a) return -1;
    const hour = two(text, p + 1);
    const minute = two(text, p + 4);
    const second = two(text, p + 7);
    if (day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return -1;
    p += 9;
    if (text.charCodeAt(p) === 0x2e) {
      p++;
      while (digit(text.charCodeAt(p)) >= 0) p++;
    }
    if (text.charCodeAt(p) !== 0x20) return -1;
    this.wall = true;
    this.month = month;
    this.day = day;
    this.secondOfDay = hour * 3600 + minute * 60 + second;
    return p + 1;
  }
}

/** The header of a syslog line, or undefined when the line is not in that layout. */
export function parseSyslogHeader(text: string): SyslogHeader | undefined {
  const s = new SyslogScanner();
  if (!s.scan(text)) return undefined;
  return {
    time: s.wall ? { kind: 'wall', month: s.month, day: s.day, secondOfDay: s.secondOfDay } : { kind: 'instant', unixSeconds: s.unixSeconds },
    tag: s.tag,
    pid: s.pid,
    messageStart: s.messageStart,
  };
}

/**
 * The Postfix daemon of a syslog tag: `smtpd` for `postfix/smtpd`,
 * `postfix/submission/smtpd` (a master.cf service with its own syslog_name)
 * and `postfix-out/smtpd` (an instance of a multi-instance setup, named
 * postfix-<name> as postmulti requires); undefined for other programs.
 */
export function postfixDaemon(tag: string): string | undefined {
  if (!tag.startsWith('postfix')) return undefined;
  const next = tag.charCodeAt(7);
  if (next !== 0x2f && next !== 0x2d) return undefined; // `/` or `-`
  const slash = tag.lastIndexOf('/');
  return slash < 0 ? undefined : tag.slice(slash + 1);
}

const DAY = 86_400;

/**
 * Puts a traditional syslog time (no year) in the year that makes it the
 * latest time not after `nowWall` plus a day of slack for clocks and zones:
 * lines of December read in January fall in the past year, and a catch-up
 * of last week's rotated files keeps its own year. Feb 29 goes to the latest
 * leap year. Returns wall-clock seconds (to be read in the log's zone).
 */
export function wallSecondsWithYear(month: number, day: number, secondOfDay: number, nowWall: number): number {
  let year = new Date(nowWall * 1000).getUTCFullYear();
  const at = (y: number) => Date.UTC(y, month, day) / 1000 + secondOfDay;
  if (month === 1 && day === 29) {
    while (!isLeapYear(year) || at(year) > nowWall + DAY) year--;
    return at(year);
  }
  return at(year) > nowWall + DAY ? at(year - 1) : at(year);
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
