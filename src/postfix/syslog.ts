// The syslog layout of a mail log line: time, host, tag[pid]: message. Postfix
// logs through syslog (rsyslog writes /var/log/mail.log) or, with
// `maillog_file`, through its own postlogd; both give this layout. Pure.
//
// Times come in two forms:
// - traditional `Nov 29 18:42:01` (RSYSLOG_TraditionalFileFormat, Postfix's
//   maillog_file): wall-clock time of the server's zone, without a year;
// - RFC 3339 `2026-11-29T18:42:01.562774+00:00` (rsyslog's default
//   RSYSLOG_FileFormat, as on Debian 12): an instant.

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

// Month day time[.fraction] host tag[pid]: — the tag stops at a space, `[` or `:`.
const TRADITIONAL = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? \S+ ([^\s[:]+)(?:\[(\d+)\])?: /;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2}) \S+ ([^\s[:]+)(?:\[(\d+)\])?: /;

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

/** The header of a syslog line, or undefined when the line is not in that layout. */
export function parseSyslogHeader(text: string): SyslogHeader | undefined {
  const c = text.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) {
    const m = RFC3339.exec(text);
    if (!m) return undefined;
    const month = Number(m[2]);
    const day = Number(m[3]);
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = Number(m[6]);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
    const zone = m[7]!;
    const offset = zone === 'Z' ? 0 : (zone.charCodeAt(0) === 0x2d ? -1 : 1) * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60);
    const wall = Date.UTC(Number(m[1]), month - 1, day, hour, minute, second) / 1000;
    return { time: { kind: 'instant', unixSeconds: wall - offset }, tag: m[8]!, pid: m[9] === undefined ? -1 : Number(m[9]), messageStart: m[0].length };
  }
  const m = TRADITIONAL.exec(text);
  if (!m) return undefined;
  const month = MONTHS[m[1]!];
  const day = Number(m[2]);
  const hour = Number(m[3]);
  const minute = Number(m[4]);
  const second = Number(m[5]);
  if (month === undefined || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  return {
    time: { kind: 'wall', month, day, secondOfDay: hour * 3600 + minute * 60 + second },
    tag: m[6]!,
    pid: m[7] === undefined ? -1 : Number(m[7]),
    messageStart: m[0].length,
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
