import { describe, expect, it } from 'vitest';
import { SlidingSet } from './window.js';

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
    expect(s.size).toBe(10);
    // Ten keys seen after time 1.5 means k1 (time 1) made room and k0 (seen again) survived.
    expect(s.count(101, 99.5)).toBe(10);
    for (let i = 0; i < 1000; i++) s.add(`spray${i}`, 200 + i);
    expect(s.size).toBeLessThanOrEqual(10);
    expect(s.count(1199, 5)).toBe(5); // the five most recent keys
  });
});
