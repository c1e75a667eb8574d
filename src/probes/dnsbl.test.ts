import { describe, expect, it } from 'vitest';
import { classifyAnswers, classifyFailure, queryName, reverseName } from './dnsbl.js';

describe('reverseName', () => {
  it.each([
    ['192.0.2.1', '1.2.0.192'],
    ['127.0.0.2', '2.0.0.127'],
    ['203.0.113.255', '255.113.0.203'],
    ['2001:db8::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2'],
    ['2001:DB8:0:0:0:0:0:ABCD', 'd.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2'],
    ['::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0'],
    ['2a01:4f8:c17:b8f::2', '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.f.8.b.0.7.1.c.0.8.f.4.0.1.0.a.2'],
    ['fe80::1%eth0', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f'],
    // IPv4-mapped: the lists hold the IPv4 address.
    ['::ffff:192.0.2.1', '1.2.0.192'],
    ['::ffff:c000:201', '1.2.0.192'],
    // Embedded IPv4 that is not mapped stays IPv6.
    ['64:ff9b::192.0.2.1', '1.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0'],
  ])('%s → %s', (ip, name) => {
    expect(reverseName(ip)).toBe(name);
  });

  it('rejects what is not an IP address, naming it', () => {
    expect(() => reverseName('mail.example.com')).toThrow(/"mail\.example\.com" is not an IP address/);
  });

  it('appends the zone, without its trailing dot', () => {
    expect(queryName('192.0.2.1', 'zen.spamhaus.org')).toBe('1.2.0.192.zen.spamhaus.org');
    expect(queryName('192.0.2.1', 'bl.spamcop.net.')).toBe('1.2.0.192.bl.spamcop.net');
  });
});

describe('classifyAnswers', () => {
  it.each([
    [['127.0.0.2'], { kind: 'listed', answer: '127.0.0.2' }],
    [['127.0.0.254'], { kind: 'listed', answer: '127.0.0.254' }],
    [['127.0.0.10', '127.0.0.4', '127.0.0.4'], { kind: 'listed', answer: '127.0.0.4,127.0.0.10' }],
    [[], { kind: 'not_listed' }],
  ])('%j → %j', (answers, verdict) => {
    expect(classifyAnswers(answers)).toEqual(verdict);
  });

  it.each([
    [['127.255.255.254'], /refused by the zone.*127\.255\.255\.254/],
    [['127.255.255.252'], /refused by the zone/],
    [['127.255.255.255'], /refused by the zone/],
    [['127.0.0.2', '127.255.255.254'], /refused by the zone/],
    [['127.0.0.1'], /127\.0\.0\.1 is not a listing code/],
    [['127.0.0.255'], /127\.0\.0\.255 is not a listing code/],
    [['127.0.1.2'], /127\.0\.1\.2 is not a listing code/],
    [['93.184.216.34'], /unexpected answer 93\.184\.216\.34/],
    [['::1'], /unexpected answer ::1/],
  ])('%j is a query error', (answers, reason) => {
    const verdict = classifyAnswers(answers);
    expect(verdict.kind).toBe('error');
    expect(verdict.kind === 'error' && verdict.reason).toMatch(reason);
  });
});

describe('classifyFailure', () => {
  const failure = (code: string) => Object.assign(new Error(`queryA ${code} x`), { code });
  it.each([
    ['ENOTFOUND', { kind: 'not_listed' }],
    ['ENODATA', { kind: 'not_listed' }],
    ['ETIMEOUT', { kind: 'error', reason: 'ETIMEOUT' }],
    ['EREFUSED', { kind: 'error', reason: 'EREFUSED' }],
    ['ESERVFAIL', { kind: 'error', reason: 'ESERVFAIL' }],
    ['ECONNREFUSED', { kind: 'error', reason: 'ECONNREFUSED' }],
  ])('%s → %j', (code, verdict) => {
    expect(classifyFailure(failure(code))).toEqual(verdict);
  });

  it('keeps the message of an error without a code', () => {
    expect(classifyFailure(new Error('boom'))).toEqual({ kind: 'error', reason: 'boom' });
  });
});
