import { describe, expect, it } from 'vitest';
import { compareLogFileNames, compileFileNamePattern, FileNamePatternError } from './glob.js';

describe('compileFileNamePattern', () => {
  it.each([
    ['s*.log', 's20261128.log', true],
    ['s*.log', 's120261128-01.log', true],
    ['s*.log', 's.log', true],
    ['s*.log', 'x20261128.log', false],
    ['s*.log', 's20261128.log.gz', false],
    ['s*.log', 'S20261128.log', false],
    ['s????????.log', 's20261128.log', true],
    ['s????????.log', 's2026112.log', false],
    ['s(1).log', 's(1).log', true],
    ['s(1).log', 's1.log', false],
    ['a.b', 'axb', false],
    ['*', 'anything at all', true],
    ['[ab].log', '[ab].log', true],
    ['[ab].log', 'a.log', false],
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(compileFileNamePattern(pattern)(name)).toBe(expected);
  });

  it('rejects an empty pattern and folders, naming the pattern', () => {
    expect(() => compileFileNamePattern('')).toThrow(FileNamePatternError);
    expect(() => compileFileNamePattern('logs/s*.log')).toThrow(/"logs\/s\*\.log".*folder/);
  });
});

describe('compareLogFileNames', () => {
  it('orders by date, then rotation (no suffix first), undated names first', () => {
    const names = ['s20261128-02.log', 's120261128-01.log', 's20261128.log', 'notes.log', 's20261127.log', 's20261129.log', 's20261128-10.log'];
    expect([...names].sort(compareLogFileNames)).toEqual([
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
    expect(compareLogFileNames('s20261128.log', 's20261128.log')).toBe(0);
    expect(compareLogFileNames('s20261128.log', 'x20261128.log')).toBeLessThan(0);
    expect(compareLogFileNames('x20261128.log', 's20261128.log')).toBeGreaterThan(0);
  });
});
