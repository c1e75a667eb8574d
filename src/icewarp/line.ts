// The IceWarp SMTP log line layout: `<peer> [<thread>] <time> <rest>`.
// See ../shared/spec/icewarp-formats.md. Hot path: millions of lines per
// second, so the scanner walks the line's bytes (no string per line, no
// regex) and only the rare time formats take a slower road.

import type { ScannedLines } from '../smtp/parser.js';

/**
 * The time written on a line. `clock` is the common `HH:MM:SS` (optionally
 * `.mmm`) format: no date, no zone; the date comes from the file name and the
 * time is taken as UTC (IceWarp writes the server's local time and does not
 * say which zone that is). `instant` formats carry their own date (RFC 822
 * with its offset, ISO 8601).
 */
export type LineTime = { kind: 'clock'; secondsOfDay: number } | { kind: 'instant'; unix: number };

export interface LogLine {
  /** Remote IP (v4 or v6) for sessions, a word such as `SYSTEM` for service lines. */
  peer: string;
  /** Hex thread id, as written (4 or 8 digits seen). */
  thread: string;
  /** undefined when the time is in a format this parser does not know. */
  time: LineTime | undefined;
  /** Everything after the time, without a trailing CR. */
  rest: string;
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;

const MAX_PEER_LENGTH = 64;
const MAX_THREAD_LENGTH = 16;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/**
 * A reusable scanner over the bytes of one line: `scan()` fills its fields
 * (offsets into the buffer) instead of allocating a LogLine, so the session
 * state machine reads a line without turning it into a string. A newline
 * byte is never part of a UTF-8 sequence and the layout's delimiters are
 * ASCII, so scanning bytes finds what scanning the decoded text would.
 */
export class LineScanner {
  /** Index of the `[` (the peer is buf[start, bracket - 1)). */
  bracket = 0;
  /** Index of the `]`. */
  close = 0;
  /** The thread id's value as an int32 (only a hash beyond 8 digits). */
  threadNumber = 0;
  /** A hash of `peer [thread]` (a small integer, a cheap Map key). */
  sessionHash = 0;
  /**
   * With the thread number and the length of `peer [thread]`, two
   * independent 32-bit hashes name a session without comparing strings (a
   * collision needs both to collide on IPs of one length with one thread id:
   * about 2^-64).
   */
  peerHash = 0;
  prefixHash = 0;
  /** Bytes from the line's start to its `]`. */
  prefixLength = 0;
  /** Start of `<rest>`. */
  restStart = 0;
  /** End of `<rest>` (trailing CRs excluded). */
  restEnd = 0;
  /** 0 = no known time, 1 = clock (seconds of day), 2 = instant (unix seconds). */
  timeKind: 0 | 1 | 2 = 0;
  timeValue = 0;

  /** true when buf[start, end) (one line, without its LF) is in the line layout. */
  scan(buf: Buffer, start: number, end: number): boolean {
    // CRLF remnants: a reader splitting on LF leaves the CR behind.
    while (end > start && buf[end - 1] === CR) end--;
    // The peer, hashed on the way: with the thread id it names the session without building a string.
    let hash = 0;
    let fnv = 0x811c9dc5 | 0;
    let space = start;
    const peerLimit = start + MAX_PEER_LENGTH;
    for (; space < end && space <= peerLimit; space++) {
      const c = buf[space]!;
      if (c === SPACE) break;
      hash = (Math.imul(hash, 31) + c) | 0;
      fnv = Math.imul(fnv ^ c, 16777619);
    }
    if (space === start || space > peerLimit || space + 1 >= end || buf[space] !== SPACE) return false;
    const bracket = space + 1;
    if (buf[bracket] !== LBRACKET) return false;
    let i = bracket + 1;
    let thread = 0;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (!isHex(c)) break;
      thread = (thread << 4) | (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57); // int32: beyond 8 digits only a hash
      fnv = Math.imul(fnv ^ c, 16777619);
    }
    const threadLength = i - bracket - 1;
    if (threadLength === 0 || threadLength > MAX_THREAD_LENGTH || i >= end || buf[i] !== RBRACKET) return false;
    const close = i;
    if (close + 1 < end && buf[close + 1] !== SPACE) return false;
    this.bracket = bracket;
    this.close = close;
    this.prefixLength = close - start;
    this.threadNumber = thread;
    this.peerHash = hash;
    this.prefixHash = fnv;
    this.sessionHash = (hash ^ Math.imul(thread, 0x9e3779b1)) & 0x3fffffff;
    this.restEnd = end;
    const t = close + 2;
    // Fast path: `HH:MM:SS ` (optionally `.mmm`).
    if (
      t + 8 <= end &&
      buf[t + 2] === COLON &&
      buf[t + 5] === COLON &&
      isDigit(buf[t]!) &&
      isDigit(buf[t + 1]!) &&
      isDigit(buf[t + 3]!) &&
      isDigit(buf[t + 4]!) &&
      isDigit(buf[t + 6]!) &&
      isDigit(buf[t + 7]!)
    ) {
      const h = (buf[t]! - ZERO) * 10 + buf[t + 1]! - ZERO;
      const m = (buf[t + 3]! - ZERO) * 10 + buf[t + 4]! - ZERO;
      const s = (buf[t + 6]! - ZERO) * 10 + buf[t + 7]! - ZERO;
      let j = t + 8;
      let fraction = 0;
      if (j < end && buf[j] === DOT) {
        let scale = 0.1;
        j++;
        while (j < end && isDigit(buf[j]!)) {
          fraction += (buf[j]! - ZERO) * scale;
          scale /= 10;
          j++;
        }
      }
      if (h < 24 && m < 60 && s < 61 && (j === end || buf[j] === SPACE)) {
        this.timeKind = 1;
        this.timeValue = h * 3600 + m * 60 + s + fraction;
        this.restStart = j < end ? j + 1 : end;
        return true;
      }
    }
    this.slowTime(buf, t, end);
    return true;
  }

  /** RFC 822 and ISO 8601 times, else an unknown format whose end is guessed from the content. */
  private slowTime(buf: Buffer, t: number, end: number): void {
    if (t >= end) {
      this.timeKind = 0;
      this.restStart = end;
      return;
    }
    // latin1: one character per byte, so offsets in the text are offsets in the line.
    const head = buf.toString('latin1', t, Math.min(end, t + 48));
    const rfc = RFC822.exec(head);
    if (rfc) {
      const unix = rfc822Seconds(rfc);
      if (unix !== undefined) {
        this.timeKind = 2;
        this.timeValue = unix;
        this.restStart = Math.min(end, t + rfc[0].length);
        return;
      }
    }
    const iso = ISO8601.exec(head);
    if (iso) {
      const unix = isoSeconds(iso);
      if (unix !== undefined) {
        this.timeKind = 2;
        this.timeValue = unix;
        this.restStart = Math.min(end, t + iso[0].length);
        return;
      }
    }
    // Unknown time format: still find the content, so sessions keep working.
    this.timeKind = 0;
    this.restStart = t + contentStart(buf.toString('latin1', t, end));
  }
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
const ZONES: Record<string, number> = { ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

// `Thu, 22 Apr 2004 22:01:42 +0200` (day name optional, seconds optional, zone as offset or name), then a space or the end.
const RFC822 = /^(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{2}|\d{4}) (\d{2}):(\d{2})(?::(\d{2}))? ([+-]\d{4}|[A-Za-z]{1,3})(?: |$)/;
// `2013-07-15 06:51:31`, `2013-07-15T06:51:31.123+02:00`, `20130715T065131`; no zone = UTC like clock times.
const ISO8601 = /^(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2}):?(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?(?: |$)/;

function rfc822Seconds(m: RegExpExecArray): number | undefined {
  const month = MONTHS[(m[2] ?? '').toLowerCase()];
  if (month === undefined) return undefined;
  let year = Number(m[3]);
  if (year < 100) year += year < 50 ? 2000 : 1900;
  const zone = m[7] ?? '';
  let offsetMinutes: number | undefined;
  if (zone.startsWith('+') || zone.startsWith('-')) {
    const v = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5));
    offsetMinutes = zone.startsWith('-') ? -v : v;
  } else {
    offsetMinutes = ZONES[zone.toLowerCase()];
  }
  if (offsetMinutes === undefined) return undefined;
  const ms = Date.UTC(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? '0'));
  return Number.isFinite(ms) ? ms / 1000 - offsetMinutes * 60 : undefined;
}

function isoSeconds(m: RegExpExecArray): number | undefined {
  const month = Number(m[2]);
  if (month < 1 || month > 12) return undefined;
  const ms = Date.UTC(Number(m[1]), month - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (!Number.isFinite(ms)) return undefined;
  const fraction = m[7] ? Number(m[7]) : 0;
  const zone = m[8];
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const digits = zone.replace(':', '');
    const v = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
    offsetMinutes = digits.startsWith('-') ? -v : v;
  }
  return ms / 1000 + fraction - offsetMinutes * 60;
}

/** Where `<rest>` starts in `text` (what follows the time) when the time cannot be read: the first protocol marker, else after the next word. */
function contentStart(text: string): number {
  const end = text.length;
  let best = -1;
  for (const marker of ['<<< ', '>>> ', '*** ']) {
    const at = text.indexOf(marker);
    if (at >= 0 && (best < 0 || at < best)) best = at;
  }
  for (const word of ['Disconnected', 'Connected']) {
    const at = end - word.length;
    if (at >= 0 && text.startsWith(word, at) && (at === 0 || text.charCodeAt(at - 1) === SPACE || text.charCodeAt(at - 1) === TAB)) {
      if (best < 0 || at < best) best = at;
      break;
    }
  }
  if (best >= 0) return best;
  const space = text.indexOf(' ');
  return space < 0 ? end : space + 1;
}

/** Parse one log line; undefined when it is not in the `<peer> [<thread>] <time> <rest>` layout. */
export function parseLine(text: string): LogLine | undefined {
  const buf = Buffer.from(text, 'utf8');
  const s = new LineScanner();
  if (!s.scan(buf, 0, buf.length)) return undefined;
  const time: LineTime | undefined =
    s.timeKind === 1 ? { kind: 'clock', secondsOfDay: s.timeValue } : s.timeKind === 2 ? { kind: 'instant', unix: s.timeValue } : undefined;
  return {
    peer: buf.toString('utf8', 0, s.bracket - 1),
    thread: buf.toString('latin1', s.bracket + 1, s.close),
    time,
    rest: buf.toString('utf8', s.restStart, s.restEnd),
  };
}

/**
 * The day of a log file, from its name: `sYYYYMMDD.log`, `s1YYYYMMDD-01.log`
 * (type letter, server id, date, size-rotation counter). Unix seconds of that
 * day's 00:00 UTC, or undefined when the name carries no valid date.
 */
export function fileDaySeconds(file: string): number | undefined {
  const slash = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  const m = FILE_DATE.exec(file.slice(slash + 1));
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const ms = Date.UTC(year, month - 1, day);
  const d = new Date(ms);
  if (d.getUTCDate() !== day) return undefined; // 20130231
  return ms / 1000;
}

const FILE_DATE = /(\d{4})(\d{2})(\d{2})(?:-\d+)?(?:\.[A-Za-z0-9]+)*$/;

/** Int32 fields a line takes in ScannedLines.ints: start, end (without LF), then LineScanner's fields; restStart -1 for a line not in the layout. */
const FIELDS = 11;

/**
 * Scans the lines of chunk[from, to) (lines ending with LF, the last one's LF
 * possibly missing; `from` at a line's start, `to` after a LF or at the
 * chunk's end). From the chunk's start, into `into`'s arrays when they are
 * large enough (memory handed back by the other thread), else into new ones;
 * from further on, after the lines `into` holds already (a chunk scanned a
 * piece at a time).
 */
export function scanLines(chunk: Buffer, into?: ScannedLines, from = 0, to = chunk.length): ScannedLines {
  const s = new LineScanner();
  // Room for lines of 32 bytes (IceWarp's are 60-80), grown when shorter ones come.
  const guess = (chunk.length >> 5) + 16;
  const appending = from > 0 && into !== undefined;
  const reuse = appending || (into !== undefined && into.times.length >= guess);
  let ints = reuse ? into!.ints : new Int32Array(guess * FIELDS);
  let times = reuse ? into!.times : new Float64Array(guess);
  let count = appending ? into!.count : 0;
  let at = from;
  while (at < to) {
    let nl = chunk.indexOf(0x0a, at);
    if (nl < 0 || nl > to) nl = to;
    if (count === times.length) {
      const more = new Int32Array(ints.length * 2);
      more.set(ints);
      ints = more;
      const moreTimes = new Float64Array(times.length * 2);
      moreTimes.set(times);
      times = moreTimes;
    }
    const f = count * FIELDS;
    ints[f] = at;
    ints[f + 1] = nl;
    if (s.scan(chunk, at, nl)) {
      ints[f + 2] = s.restStart;
      ints[f + 3] = s.restEnd;
      ints[f + 4] = s.bracket;
      ints[f + 5] = s.sessionHash;
      ints[f + 6] = s.prefixLength;
      ints[f + 7] = s.threadNumber;
      ints[f + 8] = s.peerHash;
      ints[f + 9] = s.prefixHash;
      ints[f + 10] = s.timeKind;
      times[count] = s.timeValue;
    } else ints[f + 2] = -1;
    count++;
    at = nl + 1;
  }
  return { count, ints, times };
}

/** Line `i` of `lines` into `s`, as if s.scan had read it; false for a line not in the layout. */
export function loadScanned(s: LineScanner, lines: ScannedLines, i: number): boolean {
  const ints = lines.ints;
  const f = i * FIELDS;
  const restStart = ints[f + 2]!;
  if (restStart < 0) return false;
  s.restStart = restStart;
  s.restEnd = ints[f + 3]!;
  s.bracket = ints[f + 4]!;
  s.sessionHash = ints[f + 5]!;
  s.prefixLength = ints[f + 6]!;
  s.threadNumber = ints[f + 7]!;
  s.peerHash = ints[f + 8]!;
  s.prefixHash = ints[f + 9]!;
  s.timeKind = ints[f + 10]! as 0 | 1 | 2;
  s.timeValue = lines.times[i]!;
  return true;
}

/** Where line `i` of `lines` starts in its chunk. */
export function scannedStart(lines: ScannedLines, i: number): number {
  return lines.ints[i * FIELDS]!;
}
