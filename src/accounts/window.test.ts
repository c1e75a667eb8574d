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
    expect(s.count(3875, 3600)).toBe(1); // still in: its last sighting is 300, not the 250 read late
    expect(s.count(3900, 3600)).toBe(0);
    expect(s.size).toBe(0);
  });

  it('stays within its capacity under a flood of new keys, keeping the most recent, and counts at least half of it', () => {
    const s = new SlidingSet(10);
    for (let i = 0; i < 5; i++) s.add(`k${i}`, i);
    s.add('k0', 100); // seen again: moves up
    for (let i = 5; i < 10; i++) s.add(`k${i}`, 100 + i);
    // k1…k4 were not seen since their generation was left behind: gone. k0, seen again, is kept.
    expect([...keysOf(s)].sort()).toEqual(['k0', 'k5', 'k6', 'k7', 'k8', 'k9']);
    for (let i = 0; i < 1000; i++) {
      s.add(`spray${i}`, 200 + i);
      expect(s.size).toBeLessThanOrEqual(10);
      const counted = s.count(200 + i, 10_000);
      expect(counted).toBeGreaterThanOrEqual(Math.min(i + 1, 5));
      expect(counted).toBeLessThanOrEqual(10);
    }
    expect(s.count(1199, 3)).toBe(3); // the three most recent keys
  });

  it('counts exactly, as a set of every key would, while fewer than half its capacity are seen within the window', () => {
    // The slow way: every key's last sighting, never forgotten.
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 30; round++) {
      const capacity = 20 + Math.floor(random() * 200);
      const window = 50;
      const s = new SlidingSet(capacity);
      const all = new Map<string, number>();
      let now = 0;
      for (let i = 0; i < 3000; i++) {
        now += random() < 0.3 ? 1 : 0;
        // Keys from a pool large enough to fill generations, few enough within a window to stay under half the capacity;
        // one sighting in ten comes late (an older line read after newer ones).
        const key = `k${Math.floor(random() * capacity * 3)}`;
        const time = random() < 0.1 ? Math.max(0, now - Math.floor(random() * 20)) : now;
        s.add(key, time);
        all.set(key, Math.max(all.get(key) ?? -1, time));
        const inWindow = [...all.values()].filter((t) => t > now - window).length;
        if (inWindow >= capacity / 2) continue; // beyond the exact range
        if (i % 7 === 0) expect(s.count(now, window), `round ${round}, step ${i}`).toBe(inWindow);
      }
    }
  });

  it('counts between additions as a walk over every key would, as the cutoff passes each sighting (scrapes with no new line)', () => {
    let seed = 11;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const window = 30;
    const s = new SlidingSet(10_000);
    const all = new Map<string, number>();
    let now = 0;
    for (let i = 0; i < 2000; i++) {
      now += random() < 0.2 ? 1 : 0;
      if (random() < 0.3) {
        const key = `k${Math.floor(random() * 200)}`;
        const time = random() < 0.1 ? Math.max(0, now - Math.floor(random() * 20)) : now;
        s.add(key, time);
        all.set(key, Math.max(all.get(key) ?? -1, time));
      }
      // Often several counts in a row with nothing added between, `now` moving on.
      const inWindow = [...all.values()].filter((t) => t > now - window).length;
      expect(s.count(now, window), `step ${i}`).toBe(inWindow);
    }
    // Idle: the log stops, the window slides past every sighting one second at a time.
    for (let end = now + window + 1; now <= end; now++) {
      expect(s.count(now, window), `idle at ${now}`).toBe([...all.values()].filter((t) => t > now - window).length);
    }
    expect(s.size).toBe(0);
  });
});

/** The keys a SlidingSet holds (its private generations). */
function keysOf(s: SlidingSet): Set<string> {
  const g = s as unknown as { current: Map<string, number>; previous: Map<string, number> };
  return new Set([...g.current.keys(), ...g.previous.keys()]);
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
