import { describe, expect, it } from 'vitest';
import { clientConnected, stepAside } from './turns.js';

describe('stepAside', () => {
  it('skips turns only just after a client connected, and never more than a few in a row', () => {
    const t = 1_000_000;
    expect(stepAside(t)).toBe(false); // nobody connected
    clientConnected(t);
    const skipped = Array.from({ length: 12 }, (_, i) => stepAside(t + i * 0.1));
    // Eight turns in a row at most, then a slice runs, then it may step aside again.
    expect(skipped).toEqual([true, true, true, true, true, true, true, true, false, true, true, true]);
    expect(stepAside(t + 2.5)).toBe(false); // the moment has passed
    expect(stepAside(t + 3)).toBe(false);
    clientConnected(t + 10);
    expect(stepAside(t + 11)).toBe(true);
  });
});
