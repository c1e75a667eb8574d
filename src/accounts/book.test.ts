import { describe, expect, it } from 'vitest';
import { domainKey, type SmtpFact } from '../smtp/facts.js';
import { AccountBook, OVERFLOW } from './book.js';

const T0 = Date.UTC(2026, 10, 28, 6, 0, 0) / 1000;

function login(username: string, peer = '198.51.100.1', time = T0, success = true): SmtpFact {
  return { type: 'auth', time, peer, mechanism: 'login', username, success };
}

function message(account: string | undefined, mailFrom: string, rcpts: [string, boolean][], time = T0): SmtpFact {
  return {
    type: 'message',
    time,
    peer: '198.51.100.1',
    account,
    mailFrom,
    recipients: rcpts.map(([address, external]) => ({ domainKey: domainKey(address.split('@')[1]!), external })),
  };
}

function book(maxAccounts = 100, maxFailedUsernames = 100, windowSeconds = 3600, maxSendersPerAccount = 5): AccountBook {
  return new AccountBook({ maxAccounts, maxFailedUsernames, windowSeconds, maxSendersPerAccount });
}

function entries(b: AccountBook): Record<string, { logins: number; messages: number; ext: number; local: number; foreign: number; failures: number }> {
  return Object.fromEntries(
    [...b.accountEntries()].map(([a, s]) => [
      a,
      { logins: s.logins, messages: s.messages, ext: s.externalRecipients, local: s.localRecipients, foreign: s.foreignSenderMessages, failures: s.authFailures },
    ]),
  );
}

describe('AccountBook', () => {
  it('counts logins, messages, recipients by destination and foreign senders', () => {
    const b = book();
    b.apply(login('info@domaine.com'));
    b.apply(message('info@domaine.com', 'willm.b@orange.fr', [['a@yahoo.com', true], ['b@yahoo.com', true], ['c@domaine.com', false]]));
    b.apply(message('info@domaine.com', 'info@domaine.com', [['d@gmail.com', true]]));
    expect(entries(b)).toEqual({ 'info@domaine.com': { logins: 1, messages: 2, ext: 3, local: 1, foreign: 1, failures: 0 } });
    expect(b.authAttempts.login).toBe(1);
    expect(b.authFailures.login).toBe(0);
  });

  it('compares only local parts for an account without @', () => {
    const b = book();
    b.apply(login('info'));
    b.apply(message('info', 'info@domaine.com', [['a@yahoo.com', true]]));
    b.apply(message('info', 'spam@domaine.com', [['a@yahoo.com', true]]));
    expect(entries(b).info!.foreign).toBe(1);
  });

  it('counts external recipients of sessions without AUTH as unauthenticated relay, local ones not at all', () => {
    const b = book();
    b.apply(message(undefined, 'x@spam.example', [['a@yahoo.com', true], ['b@domaine.com', false]]));
    expect(b.unauthenticatedRelayRecipients).toBe(1);
    expect([...b.accountEntries()]).toEqual([]);
  });

  it('does not count a session authenticated without a username (NTLM) as open relay', () => {
    const b = book();
    b.apply({ ...message(undefined, 'x@domaine.com', [['a@yahoo.com', true]]), authenticated: true } as SmtpFact);
    expect(b.unauthenticatedRelayRecipients).toBe(0);
  });

  it('holds failed-only usernames apart; a spray never pushes real accounts out', () => {
    const b = book(2, 3);
    b.apply(login('info@domaine.com'));
    for (let i = 0; i < 50; i++) b.apply(login(`random${i}@domaine.com`, '203.0.113.9', T0, false));
    b.apply(login('contact@domaine.com'));
    expect([...b.accountEntries()].map(([a]) => a)).toEqual(['info@domaine.com', 'contact@domaine.com', OVERFLOW]);
    // The three most recent failed usernames keep their own series; 47 evicted failures went to __overflow__.
    expect([...b.failedEntries()]).toEqual([
      ['random47@domaine.com', 1],
      ['random48@domaine.com', 1],
      ['random49@domaine.com', 1],
    ]);
    expect(entries(b)[OVERFLOW]!.failures).toBe(47);
    expect(b.overflowEvents).toBe(47);
    expect(b.authFailures.login).toBe(50);
  });

  it('evicts the failed username whose last failure is oldest, however the others failed again or logged in meanwhile', () => {
    // The reference: a plain list, least recently failed first.
    let seed = 11;
    const random = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const b = book(1000, 5);
    const lru: [string, number][] = [];
    let evicted = 0;
    for (let i = 0; i < 2000; i++) {
      const name = `user${random(12)}@domaine.com`;
      const at = lru.findIndex(([n]) => n === name);
      if (random(10) === 0) {
        // Logs in: takes its failures along, out of the failed-only list.
        b.apply(login(name));
        if (at >= 0) lru.splice(at, 1);
        continue;
      }
      b.apply(login(name, '203.0.113.9', T0, false));
      if (b.stats(name)) continue; // logged in before: counted on the account
      const failures = at >= 0 ? lru.splice(at, 1)[0]![1] + 1 : 1;
      if (at < 0 && lru.length >= 5) evicted += lru.shift()![1];
      lru.push([name, failures]);
      expect([...b.failedEntries()], `step ${i}`).toEqual(lru);
    }
    expect(evicted).toBeGreaterThan(100);
    expect(entries(b)[OVERFLOW]!.failures).toBe(evicted);
  });

  it('sends accounts beyond max_accounts to __overflow__ and counts the events', () => {
    const b = book(1, 10);
    b.apply(login('a@domaine.com'));
    b.apply(login('b@domaine.com'));
    b.apply(message('b@domaine.com', 'b@domaine.com', [['x@yahoo.com', true]]));
    expect(entries(b)).toEqual({
      'a@domaine.com': { logins: 1, messages: 0, ext: 0, local: 0, foreign: 0, failures: 0 },
      [OVERFLOW]: { logins: 1, messages: 1, ext: 1, local: 0, foreign: 0, failures: 0 },
    });
    expect(b.overflowEvents).toBe(2);
    expect(b.trackedAccounts).toBe(1);
  });

  it('keeps a username spelled like the overflow label out of its own series', () => {
    const b = book();
    b.apply(login(OVERFLOW, '203.0.113.1', T0, false));
    b.apply(login(OVERFLOW));
    expect([...b.failedEntries()]).toEqual([]);
    expect([...b.accountEntries()].map(([a]) => a)).toEqual([OVERFLOW]);
  });

  it('brings earlier failures along when a failed username logs in (the moment brute force worked)', () => {
    const b = book();
    for (let i = 0; i < 11; i++) b.apply(login('info@domaine.com', '203.0.113.7', T0 + i, false));
    b.apply(login('info@domaine.com', '203.0.113.7', T0 + 20));
    expect(entries(b)['info@domaine.com']).toMatchObject({ logins: 1, failures: 11 });
    expect([...b.failedEntries()]).toEqual([]);
  });

  it('counts distinct client IPs and recipient domains within the window of log time', () => {
    const b = book(100, 100, 3600);
    b.apply(login('info@domaine.com', '198.51.100.1', T0));
    b.apply(login('info@domaine.com', '198.51.100.2', T0 + 600));
    b.apply(login('info@domaine.com', '198.51.100.1', T0 + 1200));
    b.apply(message('info@domaine.com', 'x@orange.fr', [['a@yahoo.com', true], ['b@gmail.com', true], ['c@domaine.com', false]], T0 + 1200));
    const [, stats] = [...b.accountEntries()][0]!;
    expect([b.clientIps(stats), b.recipientDomains(stats)]).toEqual([2, 2]);
    // 3601 s after the last sighting of .2 (T0+600) it has left the window; .1 was seen at T0+1200.
    b.apply({ type: 'session', time: T0 + 4201, peer: '192.0.2.1' });
    expect([b.clientIps(stats), b.recipientDomains(stats)]).toEqual([1, 2]);
    b.apply({ type: 'session', time: T0 + 4801, peer: '192.0.2.1' });
    expect([b.clientIps(stats), b.recipientDomains(stats)]).toEqual([0, 0]);
  });

  it('counts sessions, relay denials and failures by mechanism', () => {
    const b = book();
    b.apply({ type: 'session', time: T0, peer: '192.0.2.1' });
    b.apply({ type: 'relay_denied', time: T0, peer: '192.0.2.1' });
    b.apply({ type: 'auth', time: T0, peer: '192.0.2.1', mechanism: 'cram_md5', username: undefined, success: false });
    expect([b.sessions, b.relayDenied, b.authAttempts.cram_md5, b.authFailures.cram_md5]).toEqual([1, 1, 1, 1]);
    expect([...b.failedEntries()]).toEqual([]);
  });

  it('keeps the envelope senders of each account with their accepted recipients, local ones included', () => {
    const b = book(100, 100, 3600, 2);
    b.apply(login('info@domaine.com'));
    b.apply(message('info@domaine.com', 'info@domaine.com', [['boss@domaine.com', false]]));
    for (let i = 0; i < 3; i++) b.apply(message('info@domaine.com', 'willm.b@orange.fr', [['a@yahoo.com', true], ['b@gmail.com', true]]));
    b.apply(message('contact@domaine.com', '', [['x@yahoo.com', true]]));
    const senders = Object.fromEntries([...b.accountEntries()].map(([a, s]) => [a, s.senders.top().map((t) => [t.sender, t.recipients])]));
    expect(senders).toEqual({
      'info@domaine.com': [
        ['willm.b@orange.fr', 6],
        ['info@domaine.com', 1],
      ],
      'contact@domaine.com': [['<>', 1]],
    });
    // A smaller limit on reload applies to accounts already tracked.
    b.setLimits({ maxAccounts: 100, maxFailedUsernames: 100, windowSeconds: 3600, maxSendersPerAccount: 1 });
    expect([...b.accountEntries()][0]![1].senders.top().map((t) => t.sender)).toEqual(['willm.b@orange.fr']);
  });

  it('gives windows of log time ending at the latest line: a catch-up of old logs reads as of its last line', () => {
    const b = book();
    // A busy account all day, an account stolen in the last three minutes.
    for (let m = 0; m < 24 * 60; m += 2) b.apply(message('newsletter@domaine.com', 'newsletter@domaine.com', [['a@partner.fr', true], ['b@partner.fr', true]], T0 + m * 60));
    const stolenAt = T0 + 24 * 3600 - 180;
    for (let s = 0; s < 180; s += 10) b.apply(message('info@domaine.com', 'willm.b@orange.fr', Array.from({ length: 8 }, (_, i) => [`r${s}-${i}@yahoo.com`, true] as [string, boolean]), stolenAt + s));
    const w = Object.fromEntries([...b.accountEntries()].map(([a, s]) => [a, b.windows(s)]));
    expect(w['info@domaine.com']).toMatchObject({ externalRecipients5m: 144, externalRecipients1h: 144, messages1h: 18, foreignSenderMessages1h: 18, recipientDomains: 1 });
    expect(w['newsletter@domaine.com']).toMatchObject({ externalRecipients5m: 4, externalRecipients1h: 60, foreignSenderMessages1h: 0 });
    // Ten times the lifetime total of the stolen account, yet a small fraction of it in the last five minutes.
    expect([...b.accountEntries()].map(([, s]) => s.externalRecipients)).toEqual([1440, 144]);
    expect(w['newsletter@domaine.com']!.externalRecipients24h).toBeGreaterThanOrEqual(1380);
  });
});
