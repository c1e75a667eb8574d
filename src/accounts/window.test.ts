import { describe, expect, it } from 'vitest';
import { RecentActivity, SlidingSet } from './window.js';

describe('SlidingSet', () => {
  it('counts distinct keys seen within the window, by their last sighting', () => {
    const s = new SlidingSet(100);
    s.add('198.51.100.1', 100);
    s.add('198.51.100.2', 200);
    s.add('198.51.100.1', 300);
    s.add('198.51.100.1', 250); // an older line read late does not move the last sighting back
    expect(s.count(300, 3600)).toBe(2);
    expect(s.count(3800, 3600)).toBe(1); // .2, last seen at 200, is out; .1 at 300 is in
    expect(s.count(3900, 3600)).toBe(0);
    expect(s.size).toBe(0);
  });

  it('stays within its capacity, dropping the least recently seen first', () => {
    const s = new SlidingSet(10);
    for (let i = 0; i < 10; i++) s.add(`k${i}`, i);
    s.add('k0', 100); // seen again: now the most recent
    s.add('new', 101);
    // A quarter (two keys) made room: k1 and k2, the least recently seen; k0, seen again, survived.
    expect(s.size).toBe(9);
    expect(s.count(101, 98.5)).toBe(9); // every key left was seen after time 2.5: k3…k9, k0 and new
    expect(s.count(101, 97.5)).toBe(8); // k3 (time 3) is the oldest left
    for (let i = 0; i < 1000; i++) s.add(`spray${i}`, 200 + i);
    expect(s.size).toBeLessThanOrEqual(10);
    expect(s.count(1199, 5)).toBe(5); // the five most recent keys
  });

  it('makes room by dropping exactly the least recently seen quarter, the first added first among equal times', () => {
    // What shedding means, written the slow way: sort by last sighting (stably), drop the first quarter.
    const reference = (entries: [string, number][]): string[] => {
      const sorted = [...entries].sort((a, b) => a[1] - b[1]);
      const victims = Math.max(1, Math.floor(sorted.length / 4));
      const gone = new Set(sorted.slice(0, victims).map(([k]) => k));
      return entries.filter(([k]) => !gone.has(k)).map(([k]) => k);
    };
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 50; round++) {
      const capacity = 10 + Math.floor(random() * 200);
      const s = new SlidingSet(capacity);
      const kept = new Map<string, number>();
      // Few distinct times: many ties at the cut-off.
      for (let i = 0; i < capacity; i++) {
        const time = Math.floor(random() * 5);
        s.add(`k${i}`, time);
        kept.set(`k${i}`, time);
      }
      s.add('newcomer', 10);
      expect([...keysOf(s)].sort(), `round ${round}`).toEqual([...reference([...kept]), 'newcomer'].sort());
    }
  });
});

/** The keys a SlidingSet holds (its private map: the test compares them with the slow way's). */
function keysOf(s: SlidingSet): Set<string> {
  return new Set((s as unknown as { lastSeen: Map<string, number> }).lastSeen.keys());
}

describe('RecentActivity', () => {
  const T = Date.UTC(2026, 10, 28, 6, 0, 0) / 1000; // a whole hour

  it('sums the last N minutes of log time: the current minute and the N-1 before', () => {
    const a = new RecentActivity();
    a.add(T + 10, 8, true); // minute 0
    a.add(T + 4 * 60 + 59, 2, false); // minute 4
    a.add(T + 5 * 60, 1, true); // minute 5
    expect(a.lastMinutes(T + 5 * 60 + 30, 5)).toEqual({ externalRecipients: 3, messages: 2, foreignSenderMessages: 1 });
    expect(a.lastMinutes(T + 5 * 60 + 30, 60)).toEqual({ externalRecipients: 11, messages: 3, foreignSenderMessages: 2 });
    expect(a.lastMinutes(T + 65 * 60, 60)).toEqual({ externalRecipients: 0, messages: 0, foreignSenderMessages: 0 });
    expect(a.lastMinute).toBe(T + 5 * 60);
  });

  it('counts a line read late into its own minute and hour; one older than the kept buckets only where it still fits', () => {
    const a = new RecentActivity();
    a.add(T + 120, 1, false);
    a.add(T + 10, 4, false); // read after a later line
    a.add(T + 120 - 3600, 100, false); // an hour before the newest: out of the minutes, still in the day
    expect(a.lastMinutes(T + 120, 2)).toEqual({ externalRecipients: 1, messages: 1, foreignSenderMessages: 0 });
    expect(a.lastMinutes(T + 120, 3)).toEqual({ externalRecipients: 5, messages: 2, foreignSenderMessages: 0 });
    expect(a.externalLastHours(T + 120, 24)).toBe(105);
    a.add(T - 25 * 3600, 1000, false); // older than the day kept: in no window
    expect(a.externalLastHours(T + 120, 24)).toBe(105);
  });

  it('keeps an hour of minutes and a day of hours, no more, however long it runs', () => {
    const a = new RecentActivity();
    for (let m = 0; m < 3 * 24 * 60; m++) a.add(T + m * 60, 1, false);
    const now = T + (3 * 24 * 60 - 1) * 60;
    expect(a.lastMinutes(now, 60).externalRecipients).toBe(60);
    expect(a.lastMinutes(now, 5).externalRecipients).toBe(5);
    // The current hour (all 60 of its minutes) and the 23 before.
    expect(a.externalLastHours(now, 24)).toBe(24 * 60);
    const internals = a as unknown as { minutes: number[]; hours: number[]; minuteCounts: number[] };
    expect(internals.minutes.length).toBeLessThanOrEqual(60);
    expect(internals.minuteCounts.length).toBe(3 * internals.minutes.length);
    expect(internals.hours.length).toBeLessThanOrEqual(24);
  });
});
