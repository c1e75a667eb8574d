// Distinct keys (client IPs, recipient domains) seen within a sliding window
// of log time, bounded in number because attackers choose the keys.
//
// Not an insertion-ordered LRU (delete + set on every sighting, evict from the
// front): V8 leaves deleted entries as holes at the front of a Map, so
// reaching its first live entry costs up to its capacity, about 10 µs per
// sighting at 10,000 keys. Expiry is done at scrape time instead, and making
// room sheds the least recently seen quarter at once.
export class SlidingSet {
  private readonly lastSeen = new Map<string, number>();
  /** The latest time added: a sighting at or after it cannot move a key's time back, so it needs no lookup first. */
  private latest = -Infinity;
  /** shed()'s scratch for the times, kept: the set sheds every quarter of its capacity under a flood. */
  private times: Float64Array | undefined;

  /** @param capacity most keys kept; beyond it the least recently seen are dropped. */
  constructor(private readonly capacity: number) {}

  add(key: string, time: number): void {
    const seen = this.lastSeen;
    // Log time mostly moves forward: one lookup (the set) while there is room.
    if (time >= this.latest && seen.size < this.capacity) {
      this.latest = time;
      seen.set(key, time);
      return;
    }
    const previous = seen.get(key);
    if (previous === undefined) {
      if (seen.size >= this.capacity) this.shed();
    } else if (previous >= time) {
      return;
    }
    if (time > this.latest) this.latest = time;
    seen.set(key, time);
  }

  /** Keys seen after `now - window`. Forgets the older ones. */
  count(now: number, window: number): number {
    const cutoff = now - window;
    const seen = this.lastSeen;
    seen.forEach((time, key) => {
      if (time <= cutoff) seen.delete(key);
    });
    return seen.size;
  }

  get size(): number {
    return this.lastSeen.size;
  }

  /**
   * Forgets the least recently seen quarter (at least one key); among keys
   * last seen at the same time, the first added go first. The cut-off time is
   * found by selection, not by sorting every entry: a sort of 10,000 entries was
   * the account book's largest cost (profiled during a catch-up). forEach, not
   * iterators (Float64Array.from of an iterator took 3 ms at 10,000 keys).
   * A quarter, not a tenth: under a flood of new keys (a stolen account
   * mailing 10,000 domains) the two passes over the set cost each addition
   * 2.5 times less, and a count at the bound (the attack is obvious) still
   * reads 7,500 or more.
   */
  private shed(): void {
    const seen = this.lastSeen;
    const victims = Math.max(1, Math.floor(seen.size / 4));
    if (this.times === undefined || this.times.length < seen.size) this.times = new Float64Array(seen.size);
    const times = this.times;
    let n = 0;
    seen.forEach((time) => {
      times[n++] = time;
    });
    const cutoff = smallest(times, n, victims - 1);
    let older = 0;
    for (let i = 0; i < n; i++) if (times[i]! < cutoff) older++;
    let ties = victims - older;
    seen.forEach((time, key) => {
      if (time < cutoff) seen.delete(key);
      else if (time === cutoff && ties > 0) {
        seen.delete(key);
        ties--;
      }
    });
  }
}

/** The k-th smallest value (0-based) of the first `length` of `values`, which it reorders (quickselect). */
function smallest(values: Float64Array, length: number, k: number): number {
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k]!;
  }
  return values[k]!;
}

/** One account's messages within a stretch of log time. */
export interface ActivityCounts {
  externalRecipients: number;
  messages: number;
  foreignSenderMessages: number;
}

const MINUTE = 60;
const HOUR = 3600;
/** Minute buckets kept: the last hour. */
const MINUTES_KEPT = 60;
/** Hour buckets kept: the last day. */
const HOURS_KEPT = 24;

/**
 * An account's recent messages in buckets of log time: per minute for the
 * last hour (external recipients, messages, foreign-sender messages) and per
 * hour for the last day (external recipients). At most 60 + 24 buckets, and
 * only for minutes and hours with a message, so an idle account costs
 * nothing and a busy one a few hundred numbers. A window of N minutes is the
 * current minute of log time and the N-1 before it.
 */
export class RecentActivity {
  /** Minute numbers (unix seconds / 60), oldest first, and 3 counts per minute. */
  private readonly minutes: number[] = [];
  private readonly minuteCounts: number[] = [];
  private readonly hours: number[] = [];
  private readonly hourExternal: number[] = [];

  add(time: number, externalRecipients: number, foreignSender: boolean): void {
    const i = slot(this.minutes, Math.floor(time / MINUTE), MINUTES_KEPT, this.minuteCounts, 3);
    if (i >= 0) {
      const c = this.minuteCounts;
      c[3 * i] = c[3 * i]! + externalRecipients;
      c[3 * i + 1] = c[3 * i + 1]! + 1;
      c[3 * i + 2] = c[3 * i + 2]! + (foreignSender ? 1 : 0);
    }
    const h = slot(this.hours, Math.floor(time / HOUR), HOURS_KEPT, this.hourExternal, 1);
    if (h >= 0) this.hourExternal[h] = this.hourExternal[h]! + externalRecipients;
  }

  /** The counts of the last `minutes` minutes (at most 60) ending at log time `now`. */
  lastMinutes(now: number, minutes: number): ActivityCounts {
    const from = Math.floor(now / MINUTE) - minutes;
    const out = { externalRecipients: 0, messages: 0, foreignSenderMessages: 0 };
    for (let i = this.minutes.length - 1; i >= 0 && this.minutes[i]! > from; i--) {
      out.externalRecipients += this.minuteCounts[3 * i]!;
      out.messages += this.minuteCounts[3 * i + 1]!;
      out.foreignSenderMessages += this.minuteCounts[3 * i + 2]!;
    }
    return out;
  }

  /** External recipients of the last `hours` hours (at most 24), the current hour included. */
  externalLastHours(now: number, hours: number): number {
    const from = Math.floor(now / HOUR) - hours;
    let sum = 0;
    for (let i = this.hours.length - 1; i >= 0 && this.hours[i]! > from; i--) sum += this.hourExternal[i]!;
    return sum;
  }

  /** Log time of the latest minute with a message; undefined before the first. */
  get lastMinute(): number | undefined {
    const m = this.minutes[this.minutes.length - 1];
    return m === undefined ? undefined : m * MINUTE;
  }
}

/**
 * The index of bucket `key` in the ascending `keys` (with `width` counts per
 * bucket in `counts`), made if missing, dropping the buckets that fell out of
 * the last `kept`; -1 for a key already older than those (a line read late).
 */
function slot(keys: number[], key: number, kept: number, counts: number[], width: number): number {
  let i = keys.length - 1;
  if (i >= 0 && keys[i] === key) return i;
  const newest = Math.max(key, keys[i] ?? key);
  if (key <= newest - kept) return -1;
  // Log time mostly moves forward: the bucket is the last one, or goes after it.
  while (i >= 0 && keys[i]! > key) i--;
  if (i >= 0 && keys[i] === key) return i;
  keys.splice(i + 1, 0, key);
  counts.splice((i + 1) * width, 0, ...new Array<number>(width).fill(0));
  let stale = 0;
  while (stale < keys.length && keys[stale]! <= newest - kept) stale++;
  if (stale > 0) {
    keys.splice(0, stale);
    counts.splice(0, stale * width);
    return i + 1 - stale;
  }
  return i + 1;
}
