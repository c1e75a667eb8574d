// Distinct keys (client IPs, recipient domains) seen within a sliding window
// of log time, bounded in number because attackers choose the keys.
//
// Not an insertion-ordered LRU (delete + set on every sighting, evict from the
// front): V8 leaves deleted entries as holes at the front of a Map, so
// reaching its first live entry costs up to its capacity, about 10 µs per
// sighting at 10,000 keys. Expiry is done at scrape time instead, and making
// room sheds the least recently seen tenth at once.
export class SlidingSet {
  private readonly lastSeen = new Map<string, number>();

  /** @param capacity most keys kept; beyond it the least recently seen are dropped. */
  constructor(private readonly capacity: number) {}

  add(key: string, time: number): void {
    const previous = this.lastSeen.get(key);
    if (previous === undefined) {
      if (this.lastSeen.size >= this.capacity) this.shed();
    } else if (previous >= time) {
      return;
    }
    this.lastSeen.set(key, time);
  }

  /** Keys seen after `now - window`. Forgets the older ones. */
  count(now: number, window: number): number {
    const cutoff = now - window;
    for (const [key, time] of this.lastSeen) if (time <= cutoff) this.lastSeen.delete(key);
    return this.lastSeen.size;
  }

  get size(): number {
    return this.lastSeen.size;
  }

  /** Forgets the least recently seen tenth (at least one key). */
  private shed(): void {
    const oldestFirst = [...this.lastSeen].sort((a, b) => a[1] - b[1]);
    const victims = Math.max(1, Math.floor(oldestFirst.length / 10));
    for (let i = 0; i < victims; i++) this.lastSeen.delete(oldestFirst[i]![0]);
  }
}
