import { describe, expect, it } from 'vitest';
import { isTimeZone, wallClock } from './timezone.js';

// Wall-clock times as IceWarp writes them: the date from the file name, HH:MM:SS, no offset.
const wall = (iso: string) => Date.parse(`${iso}Z`) / 1000;
const utc = (iso: string) => Date.parse(iso) / 1000;

describe('wallClock', () => {
  it.each([
    ['UTC', '2026-07-15T06:51:31', '2026-07-15T06:51:31Z'],
    ['+02:00', '2026-07-15T06:51:31', '2026-07-15T04:51:31Z'],
    ['-0530', '2026-07-15T06:51:31', '2026-07-15T12:21:31Z'],
    // Paris: CEST (+2) in summer, CET (+1) in winter.
    ['Europe/Paris', '2026-07-15T06:51:31', '2026-07-15T04:51:31Z'],
    ['Europe/Paris', '2026-01-15T06:51:31', '2026-01-15T05:51:31Z'],
    // The night of the change to summer time (29 March 2026, 02:00 → 03:00): both sides.
    ['Europe/Paris', '2026-03-29T01:59:59', '2026-03-29T00:59:59Z'],
    ['Europe/Paris', '2026-03-29T03:00:00', '2026-03-29T01:00:00Z'],
    ['America/New_York', '2026-11-28T08:00:00', '2026-11-28T13:00:00Z'],
  ])('%s: %s → %s', (zone, local, expected) => {
    expect(wallClock(zone)(wall(local))).toBe(utc(expected));
  });

  it('keeps converting right when the log crosses a DST change', () => {
    const toUtc = wallClock('Europe/Paris');
    expect([toUtc(wall('2026-10-24T12:00:00')), toUtc(wall('2026-10-26T12:00:00'))]).toEqual([
      utc('2026-10-24T10:00:00Z'),
      utc('2026-10-26T11:00:00Z'),
    ]);
  });

  it('knows which zones it understands', () => {
    expect(['UTC', 'Local', '+02:00', '-0500', 'Europe/Paris'].map(isTimeZone)).toEqual([true, true, true, true, true]);
    expect(['Mars/Olympus', '+2', 'CEST+1'].map(isTimeZone)).toEqual([false, false, false]);
  });
});
