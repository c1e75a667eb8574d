import { describe, expect, it } from 'vitest';
import { UsageError } from './args.js';
import { period } from './logs.js';

const NOW = new Date(Date.UTC(2026, 10, 28, 12, 0, 0));
const t = (iso: string) => Date.parse(iso) / 1000;

describe('logs report: the period', () => {
  it('--since counts back from now; the default is the last 24 hours', () => {
    expect(period('90m', undefined, undefined, 'UTC', NOW)).toEqual({ from: t('2026-11-28T10:30:00Z'), to: t('2026-11-28T12:00:01Z') });
    expect(period(undefined, undefined, undefined, 'UTC', NOW)).toEqual({ from: t('2026-11-27T12:00:00Z'), to: t('2026-11-28T12:00:01Z') });
  });

  it('reads a time without an offset in the log time zone, and one with an offset as it says', () => {
    expect(period(undefined, '2026-11-28T06:00', '2026-11-28 07:30:15', 'Europe/Paris', NOW)).toEqual({ from: t('2026-11-28T05:00:00Z'), to: t('2026-11-28T06:30:15Z') });
    expect(period(undefined, '2026-11-28', undefined, '+02:00', NOW)).toEqual({ from: t('2026-11-27T22:00:00Z'), to: t('2026-11-28T12:00:01Z') });
    expect(period(undefined, '2026-11-28T06:00:00Z', '2026-11-28T09:00+01:00', 'Europe/Paris', NOW)).toEqual({ from: t('2026-11-28T06:00:00Z'), to: t('2026-11-28T08:00:00Z') });
  });

  it.each([
    [['1h', '2026-11-28', undefined], 'give --since or --from/--to, not both'],
    [['soon', undefined, undefined], '--since soon: must be a duration'],
    [[undefined, undefined, '2026-11-28'], '--to needs --from'],
    [[undefined, '28/11/2026', undefined], '--from 28/11/2026: must be a time such as'],
    [[undefined, '2026-11-28T08:00', '2026-11-28T07:00'], 'is not after --from'],
  ] as const)('refuses %j: %s', (args, message) => {
    expect(() => period(args[0], args[1], args[2], 'UTC', NOW)).toThrow(UsageError);
    expect(() => period(args[0], args[1], args[2], 'UTC', NOW)).toThrow(message);
  });
});
