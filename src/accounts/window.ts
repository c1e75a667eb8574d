// Distinct keys (client IPs, recipient domains) seen within a sliding window
// of log time, bounded in number because attackers choose the keys.
//
// Two generations of keys, each a Map of key → last sighting: a sighting
// goes into the current one; when it holds half the capacity, it becomes
// the previous one and the one before is dropped whole. A key seen again
// moves up, so what is dropped is what was not seen since the previous
// generation began: least recently seen first, with no per-key bookkeeping.
// Measured against what came before: an insertion-ordered LRU (delete + set
// on every sighting) left V8 holes at the front of its Map, about 10 µs a
// sighting at 10,000 keys; shedding the least recently seen quarter of one
// full Map (a selection over every key's time, then deleting them) made a
// flood of new keys cost 3.5 times a Map.set each. Expiry is done at scrape time.
export class SlidingSet<K = string> {
  private current = new Map<K, number>();
  private previous = new Map<K, number>();
  /** Keys a generation holds at most. */
  private readonly generation: number;
  /** The latest time added: a sighting at or after it cannot move a key's time back, so it needs no lookup first. */
  private latest = -Infinity;
  /**
   * The last count, and the oldest sighting among the keys it kept: until a
   * key is added or the cutoff reaches that sighting, a count finds the same
   * keys (a scrape at 10,000 accounts, most of them idle, walked them all).
   * -1: not counted since the last change.
   */
  private counted = -1;
  private oldestCounted = Infinity;

  /**
   * @param capacity most keys kept. The count is exact while fewer than
   * half of it are seen within the window; beyond, it reads at least half.
   */
  constructor(capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  add(key: K, time: number): void {
    if (time >= this.latest) this.latest = time;
    else {
      // A line read late: its sighting never moves a key's last one back.
      const known = this.current.get(key) ?? this.previous.get(key);
      if (known !== undefined && known >= time) return;
    }
    this.current.set(key, time);
    this.counted = -1;
    if (this.current.size >= this.generation) {
      this.previous = this.current;
      this.current = new Map();
    }
  }

  /** Keys seen after `now - window`. Forgets the older ones. */
  count(now: number, window: number): number {
    const cutoff = now - window;
    if (this.counted >= 0 && cutoff < this.oldestCounted) return this.counted;
    const { current, previous } = this;
    let n = 0;
    let oldest = Infinity;
    current.forEach((time, key) => {
      if (time <= cutoff) current.delete(key);
      else {
        n++;
        if (time < oldest) oldest = time;
      }
    });
    // A key in both was seen again since: the current generation has its last sighting.
    previous.forEach((time, key) => {
      if (time <= cutoff || current.has(key)) previous.delete(key);
      else {
        n++;
        if (time < oldest) oldest = time;
      }
    });
    this.counted = n;
    this.oldestCounted = oldest;
    return n;
  }

  /** Keys held (each once after a count). */
  get size(): number {
    return this.current.size + this.previous.size;
  }
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
