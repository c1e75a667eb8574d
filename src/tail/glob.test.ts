import { describe, expect, it } from 'vitest';
import { compileFileNamePattern, FileNamePatternError } from './glob.js';

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
