// Distinct keys (client IPs, recipient domains) seen within a sliding window
// of log time. A Map keeps insertion order; re-inserting on every sighting
// keeps it ordered by last sighting, so expiry only ever looks at the front.

export class SlidingSet {
  private readonly lastSeen = new Map<string, number>();

  /** @param capacity most keys kept; beyond it the least recently seen is dropped (attacker-controlled keys). */
  constructor(private readonly capacity: number) {}

  add(key: string, time: number): void {
    this.lastSeen.delete(key);
    this.lastSeen.set(key, time);
    if (this.lastSeen.size > this.capacity) {
      this.lastSeen.delete(this.lastSeen.keys().next().value!);
    }
  }

  /** Keys seen after `now - window`. Forgets the older ones. */
  count(now: number, window: number): number {
    const cutoff = now - window;
    for (const [key, time] of this.lastSeen) {
      if (time > cutoff) break;
      this.lastSeen.delete(key);
    }
    return this.lastSeen.size;
  }

  keys(): IterableIterator<string> {
    return this.lastSeen.keys();
  }
}
