import { describe, expect, it } from 'vitest';
import { parseSyslogHeader, postfixDaemon, wallSecondsWithYear, type SyslogHeader } from './syslog.js';

const wall = (iso: string) => Date.parse(`${iso}Z`) / 1000;

describe('parseSyslogHeader', () => {
  // The same Postfix 3.7.11 run written three ways: Postfix's own maillog_file,
  // rsyslog's RSYSLOG_TraditionalFileFormat, and rsyslog's default (Debian 12).
  const rows: [string, string, Omit<SyslogHeader, 'messageStart'> & { message: string }][] = [
    [
      'maillog_file',
      'Nov 29 21:41:02 mail postfix/smtpd[19086]: connect from unknown[127.0.0.10]',
      { time: { kind: 'wall', month: 10, day: 29, secondOfDay: 21 * 3600 + 41 * 60 + 2 }, tag: 'postfix/smtpd', pid: 19086, message: 'connect from unknown[127.0.0.10]' },
    ],
    [
      'rsyslog traditional, multi-instance tag',
      'Nov 29 21:42:27 vm postfix-out/smtpd[20266]: connect from unknown[127.0.0.10]',
      { time: { kind: 'wall', month: 10, day: 29, secondOfDay: 21 * 3600 + 42 * 60 + 27 }, tag: 'postfix-out/smtpd', pid: 20266, message: 'connect from unknown[127.0.0.10]' },
    ],
    [
      'rsyslog RFC 3339 (Debian 12 default), submission service',
      '2026-11-29T21:42:35.558348+00:00 vm postfix/submission/smtpd[20471]: connect from unknown[127.0.0.11]',
      { time: { kind: 'instant', unixSeconds: wall('2026-11-29T21:42:35') }, tag: 'postfix/submission/smtpd', pid: 20471, message: 'connect from unknown[127.0.0.11]' },
    ],
    [
      'RFC 3339 with an offset',
      '2026-11-29T22:42:35.558348+01:00 vm postfix/smtps/smtpd[20552]: connect from unknown[127.0.0.12]',
      { time: { kind: 'instant', unixSeconds: wall('2026-11-29T21:42:35') }, tag: 'postfix/smtps/smtpd', pid: 20552, message: 'connect from unknown[127.0.0.12]' },
    ],
    [
      'a single-digit day is padded with a space',
      'Dec  1 00:00:09 mail postfix/qmgr[314]: EFC55A36216: removed',
      { time: { kind: 'wall', month: 11, day: 1, secondOfDay: 9 }, tag: 'postfix/qmgr', pid: 314, message: 'EFC55A36216: removed' },
    ],
    [
      'Dovecot',
      'Nov 29 21:30:53 vm dovecot: master: Dovecot v2.3.19.1 (9b53102964) starting up without any protocols (core dumps disabled)',
      { time: { kind: 'wall', month: 10, day: 29, secondOfDay: 21 * 3600 + 30 * 60 + 53 }, tag: 'dovecot', pid: -1, message: 'master: Dovecot v2.3.19.1 (9b53102964) starting up without any protocols (core dumps disabled)' },
    ],
  ];
  it.each(rows)('%s', (_name, line, expected) => {
    const h = parseSyslogHeader(line);
    expect(h).toBeDefined();
    const { messageStart, ...rest } = h!;
    expect({ ...rest, message: line.slice(messageStart) }).toEqual(expected);
  });

  it.each([
    ['an IceWarp line', '192.0.2.10 [0A00] 08:01:00 Connected'],
    ['a month that is none', 'Foo 29 21:41:02 mail postfix/smtpd[1]: connect from x[1.2.3.4]'],
    ['an hour out of range', 'Nov 29 25:41:02 mail postfix/smtpd[1]: connect from x[1.2.3.4]'],
    ['a date out of range', '2026-13-29T21:42:35+00:00 vm postfix/smtpd[1]: connect from x[1.2.3.4]'],
    ['no tag', 'Nov 29 21:41:02 mail'],
    ['empty', ''],
  ])('rejects %s', (_name, line) => {
    expect(parseSyslogHeader(line)).toBeUndefined();
  });
});

describe('postfixDaemon', () => {
  it.each([
    ['postfix/smtpd', 'smtpd'],
    ['postfix/submission/smtpd', 'smtpd'],
    ['postfix/smtps/smtpd', 'smtpd'],
    ['postfix-out/qmgr', 'qmgr'],
    ['postfix-out/submission/smtpd', 'smtpd'],
    ['postfix', undefined],
    ['postfixadmin/x', undefined],
    ['dovecot', undefined],
    ['amavis', undefined],
  ])('%s → %s', (tag, daemon) => {
    expect(postfixDaemon(tag)).toBe(daemon);
  });
});

describe('wallSecondsWithYear', () => {
  const at = (iso: string) => wall(iso);
  it('takes the current year for a time just past', () => {
    expect(wallSecondsWithYear(10, 29, 3600, at('2026-11-29T12:00:00'))).toBe(at('2026-11-29T01:00:00'));
  });
  it('puts December in the past year when read in January (New Year catch-up)', () => {
    const now = at('2027-01-01T00:05:00');
    expect(wallSecondsWithYear(11, 31, 23 * 3600 + 59 * 60 + 59, now)).toBe(at('2026-12-31T23:59:59'));
    expect(wallSecondsWithYear(0, 1, 60, now)).toBe(at('2027-01-01T00:01:00'));
  });
  it('allows a day of clock and zone slack before deciding a time is last year', () => {
    expect(wallSecondsWithYear(10, 30, 0, at('2026-11-29T12:00:00'))).toBe(at('2026-11-30T00:00:00'));
    expect(wallSecondsWithYear(11, 5, 0, at('2026-11-29T12:00:00'))).toBe(at('2025-12-05T00:00:00'));
  });
  it('puts Feb 29 in the latest leap year', () => {
    expect(wallSecondsWithYear(1, 29, 0, at('2027-03-01T00:00:00'))).toBe(at('2024-02-29T00:00:00'));
    expect(wallSecondsWithYear(1, 29, 0, at('2028-03-01T00:00:00'))).toBe(at('2028-02-29T00:00:00'));
  });
});
