import { describe, expect, it } from 'vitest';
import { AccountBook } from '../accounts/book.js';
import { PostfixLog } from '../postfix/log.js';
import { LocalDomains } from '../smtp/facts.js';
import { postfixScenario, type PostfixScenarioOptions } from './postfixScenario.js';

const OPTS: PostfixScenarioOptions = {
  seed: 5,
  start: new Date(Date.UTC(2026, 10, 28, 8)),
  durationSeconds: 2 * 3600,
  legitimateUsers: 10,
  inboundPerMinute: 4,
  spray: { perMinute: 2, usernames: 50 },
  attack: { account: 'info@domaine.com', startSecond: 3600, messagesPerMinute: 30, recipientsPerMessage: 8, ips: 12, senders: ['willm.b@orange.fr', 'bmyerd77@yahoo.com'] },
};

describe('the Postfix scenario', () => {
  it("is counted by the Postfix parser exactly as its own truth says", () => {
    const scenario = postfixScenario(OPTS);
    const book = new AccountBook({ maxAccounts: 1000, maxFailedUsernames: 1000, maxSendersPerAccount: 5, windowSeconds: 86400 });
    const log = new PostfixLog({ localDomains: new LocalDomains(['domaine.com']), emit: (f) => book.apply(f), timeZone: 'UTC', now: () => Date.UTC(2026, 10, 29) });
    let last = 0;
    const batch: string[] = [];
    for (const line of scenario.lines) {
      expect(line.time).toBeGreaterThanOrEqual(last);
      last = line.time;
      batch.push(line.text);
    }
    log.feedLines('mail.log', batch);
    const t = scenario.truth;
    expect(log.stats.unparsed).toBe(0);
    expect(log.stats.lines).toBe(t.lines);
    expect(book.sessions).toBe(t.sessions + reinjections(batch));
    const got = Object.fromEntries(
      [...book.accountEntries()].map(([a, s]) => [a, { logins: s.logins, messages: s.messages, externalRecipients: s.externalRecipients, localRecipients: s.localRecipients, foreignSenderMessages: s.foreignSenderMessages }]),
    );
    expect(got).toEqual(t.accounts);
    expect(Object.fromEntries(book.failedEntries())).toEqual(t.failedUsernames);
    expect(book.relayDenied).toBe(t.relayDenied);
    // The scenario holds what it says: a stolen account with a forged sender, a spray, refused relaying, a queue of spam.
    expect(t.accounts['info@domaine.com']!.foreignSenderMessages).toBe(t.accounts['info@domaine.com']!.messages);
    expect(t.accounts['info@domaine.com']!.externalRecipients).toBeGreaterThan(1000);
    expect(Object.keys(t.failedUsernames).length).toBeGreaterThan(20);
    expect(t.relayDenied).toBeGreaterThan(0);
    expect(scenario.deferred.filter((d) => d.from === 'willm.b@orange.fr').length).toBeGreaterThan(100);
  });

  it('stops the attacker from the second it is told to', () => {
    const scenario = postfixScenario({ ...OPTS, attack: { ...OPTS.attack!, stoppedSecond: 5400 } });
    const texts = [...scenario.lines].map((l) => l.text);
    const lastSpam = Math.max(...[...scenario.deferred].filter((d) => d.from === 'willm.b@orange.fr').map((d) => d.arrival));
    expect(lastSpam).toBeLessThan(OPTS.start.getTime() / 1000 + 5400 + 60);
    expect(texts.some((l) => l.includes('authentication failed') && l.includes('sasl_username=info@domaine.com'))).toBe(true);
  });
});

/** The content filter's re-injections connect to smtpd too: they are sessions of the log. */
function reinjections(lines: string[]): number {
  return lines.filter((l) => l.includes('connect from localhost[127.0.0.1]') && !l.includes('disconnect')).length;
}
