import { describe, expect, it } from 'vitest';
import { compareRotatedLogNames, logFileMatcher } from './files.js';

const sorted = (names: string[]) => [...names].sort(compareRotatedLogNames);

describe('compareRotatedLogNames', () => {
  it('reads logrotate numbered rotations oldest first: mail.log.2, mail.log.1, then mail.log', () => {
    expect(sorted(['mail.log', 'mail.log.1', 'mail.log.10', 'mail.log.2'])).toEqual(['mail.log.10', 'mail.log.2', 'mail.log.1', 'mail.log']);
  });

  it('reads dateext rotations by date, then the current file', () => {
    expect(sorted(['mail.log', 'mail.log-20261129', 'mail.log-20261128', 'mail.log-20251231'])).toEqual([
      'mail.log-20251231',
      'mail.log-20261128',
      'mail.log-20261129',
      'mail.log',
    ]);
  });

  it('reads dateformats with separators and hours, and Postfix maillog_file rotations', () => {
    expect(sorted(['maillog', 'maillog-2026-11-28', 'maillog-2026112818', 'maillog-2026-11-27'])).toEqual([
      'maillog-2026-11-27',
      'maillog-2026-11-28',
      'maillog-2026112818',
      'maillog',
    ]);
    expect(sorted(['postfix.log', 'postfix.log.20261128-184201', 'postfix.log.20261128-090000'])).toEqual([
      'postfix.log.20261128-090000',
      'postfix.log.20261128-184201',
      'postfix.log',
    ]);
  });

  it('keeps each log of a glob together, rotations before their current file', () => {
    expect(sorted(['mail.log', 'mail.err', 'mail.log.1', 'mail.err.1'])).toEqual(['mail.err.1', 'mail.err', 'mail.log.1', 'mail.log']);
  });

  it('is a total order', () => {
    const names = ['mail.log', 'mail.log.1', 'mail.log-20261128', 'mail.log.2'];
    for (const a of names) for (const b of names) expect(Math.sign(compareRotatedLogNames(a, b)) + Math.sign(compareRotatedLogNames(b, a))).toBe(0);
  });
});

describe('logFileMatcher', () => {
  it('a glob matches what it says, never compressed rotations', () => {
    const m = logFileMatcher('mail.log*');
    expect(['mail.log', 'mail.log.1', 'mail.log-20261128', 'mail.log.2.gz', 'mail.log.3.xz', 'mail.log-20261127.zst', 'mail.err'].filter(m)).toEqual([
      'mail.log',
      'mail.log.1',
      'mail.log-20261128',
    ]);
  });

  it('a plain name matches itself and its rotations, so logrotate renames are followed', () => {
    const m = logFileMatcher('mail.log');
    expect(['mail.log', 'mail.log.1', 'mail.log-20261128', 'mail.log.2.gz', 'mail.logger', 'mail.err', 'xmail.log'].filter(m)).toEqual([
      'mail.log',
      'mail.log.1',
      'mail.log-20261128',
    ]);
  });
});
