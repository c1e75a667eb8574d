import { describe, expect, it } from 'vitest';
import { parseCommandFlags, parseSizes, UsageError } from './args.js';

const SPEC = { 'mail-dir': 'string', sender: 'list', apply: 'boolean' } as const;

describe('parseCommandFlags', () => {
  it('reads --name value, --name=value, repeated lists and booleans', () => {
    const f = parseCommandFlags(['--mail-dir=/opt/icewarp/mail', '--sender', 'a@b.c', '--sender=d@e.f', '--apply'], SPEC);
    expect([f.string('mail-dir'), f.list('sender'), f.boolean('apply'), f.boolean('help')]).toEqual(['/opt/icewarp/mail', ['a@b.c', 'd@e.f'], true, false]);
  });

  it('keeps values with spaces and non-ASCII characters whole', () => {
    expect(parseCommandFlags(['--mail-dir', '/srv/mail dir é'], SPEC).string('mail-dir')).toBe('/srv/mail dir é');
  });

  it.each([
    [['--frobnicate'], 'unknown flag: --frobnicate'],
    [['stray'], 'unexpected argument: stray'],
    [['--mail-dir'], '--mail-dir needs a value'],
    [['--mail-dir', '--apply'], '--mail-dir needs a value'],
    [['--mail-dir', 'a', '--mail-dir', 'b'], '--mail-dir given twice'],
    [['--apply=yes'], '--apply takes no value'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseCommandFlags(argv, SPEC)).toThrow(new UsageError(message));
  });
});

describe('parseSizes', () => {
  it('takes exact byte counts only', () => {
    expect(parseSizes(['0', '1234'])).toEqual([0, 1234]);
    expect(() => parseSizes(['12kB'])).toThrow(UsageError);
    expect(() => parseSizes(['-1'])).toThrow(UsageError);
  });
});
