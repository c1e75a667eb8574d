import { describe, expect, it } from 'vitest';
import { compareIcewarpLogNames } from './files.js';

describe('compareIcewarpLogNames', () => {
  it('orders by date, then rotation (no suffix first), undated names first', () => {
    const names = ['s20261128-02.log', 's120261128-01.log', 's20261128.log', 'notes.log', 's20261127.log', 's20261129.log', 's20261128-10.log'];
    expect([...names].sort(compareIcewarpLogNames)).toEqual([
      'notes.log',
      's20261127.log',
      's20261128.log',
      's120261128-01.log',
      's20261128-02.log',
      's20261128-10.log',
      's20261129.log',
    ]);
  });

  it('is a total order: equal only for the same name', () => {
    expect(compareIcewarpLogNames('s20261128.log', 's20261128.log')).toBe(0);
    expect(compareIcewarpLogNames('s20261128.log', 'x20261128.log')).toBeLessThan(0);
    expect(compareIcewarpLogNames('x20261128.log', 's20261128.log')).toBeGreaterThan(0);
  });
});
