import { describe, expect, it } from 'vitest';
import { AccountBook } from '../accounts/book.js';
import { domainKey, type SmtpFact } from '../smtp/facts.js';
import type { SpoolSnapshot } from '../spool/summary.js';
import { buildIncident, type IncidentSources } from './incident.js';

const NOW = Date.UTC(2026, 10, 28, 14, 0, 0) / 1000;

function message(account: string, mailFrom: string, recipients: string[], time: number, peer = '198.51.100.7'): SmtpFact {
  return {
    type: 'message',
    time,
    peer,
    account,
    mailFrom,
    recipients: recipients.map((address) => ({ domainKey: domainKey(address.split('@')[1]!), external: !address.endsWith('@domaine.com') })),
  };
}

function login(account: string, peer: string, time: number): SmtpFact {
  return { type: 'auth', time, peer, mechanism: 'login', username: account, success: true };
}

/**
 * Three days of a newsletter at 150 external recipients an hour, and
 * info@domaine.com stolen three minutes ago: 45 messages of 8 recipients
 * under two forged senders, from 12 IPs. The newsletter's lifetime total is
 * ten times the stolen account's.
 */
function attackedBook(): AccountBook {
  const book = new AccountBook({ maxAccounts: 100, maxFailedUsernames: 100, windowSeconds: 3600, maxSendersPerAccount: 5 });
  for (let t = NOW - 72 * 3600; t < NOW; t += 60) {
    book.apply(login('newsletter@domaine.com', '203.0.113.10', t));
    book.apply(message('newsletter@domaine.com', 'newsletter@domaine.com', [`a${t}@partner.fr`, `b${t}@partner.fr`, `c${t}@cabinet-expert.fr`].slice(0, t % 120 === 0 ? 3 : 2), t, '203.0.113.10'));
  }
  book.apply(login('marie.martin@domaine.com', '192.0.2.44', NOW - 600));
  book.apply(message('marie.martin@domaine.com', 'marie.martin@domaine.com', ['client@gmail.com', 'compta@domaine.com'], NOW - 590, '192.0.2.44'));
  for (let i = 0; i < 45; i++) {
    const t = NOW - 180 + i * 4;
    const ip = `198.51.100.${i % 12}`;
    book.apply(login('info@domaine.com', ip, t));
    const rcpts = Array.from({ length: 8 }, (_, j) => `r${i}x${j}@${['yahoo.com', 'gmail.com', `site${i}.ru`][j % 3]}`);
    book.apply(message('info@domaine.com', i % 5 === 4 ? 'bmyerd77@yahoo.com' : 'willm.b@orange.fr', rcpts, t, ip));
  }
  return book;
}

function snapshot(topSenders: { sender: string; messages: number }[]): SpoolSnapshot {
  const outgoing = topSenders.reduce((n, t) => n + t.messages, 0);
  return {
    folders: [
      { folder: '_outgoing', queue: 'outgoing', deferred: false, messages: Math.floor(outgoing / 3), bytes: 1_000_000, oldestAgeSeconds: 5400 },
      { folder: '_outgoing/retry', queue: 'outgoing', deferred: true, messages: outgoing - Math.floor(outgoing / 3), bytes: 3_000_000, oldestAgeSeconds: 1700 },
      { folder: '_incoming', queue: 'incoming', deferred: false, messages: 3, bytes: 9000, oldestAgeSeconds: 20, orphans: { tmp: 0, dat: 0 } },
    ],
    topSenders,
    distinctSenders: topSenders.length,
    largestSameSize: { outgoing: 1350, incoming: 1 },
  };
}

const FORGED_QUEUE = snapshot([
  { sender: 'willm.b@orange.fr', messages: 1200 },
  { sender: 'bmyerd77@yahoo.com', messages: 150 },
  { sender: 'info@domaine.com', messages: 22 },
  { sender: 'newsletter@domaine.com', messages: 12 },
]);
/** The same spam, in a queue whose original sender line records the authenticated account. */
const ACCOUNT_QUEUE = snapshot([
  { sender: 'info@domaine.com', messages: 1372 },
  { sender: 'newsletter@domaine.com', messages: 12 },
]);

function sources(book: AccountBook, queue: SpoolSnapshot): IncidentSources {
  return { log: { book, mta: 'icewarp' }, queue: { snapshot: queue, mta: 'icewarp', location: '/opt/icewarp/mail', kind: 'folder' } };
}

const opts = { now: new Date((NOW + 5) * 1000), exporterCommand: 'mailrelay-exporter' };

describe('buildIncident', () => {
  it('puts the account stolen minutes ago first and marked, ahead of a busy account with ten times its lifetime total', () => {
    const book = attackedBook();
    const incident = buildIncident(sources(book, FORGED_QUEUE), opts);
    const accounts = incident.logs!.accounts;
    const stolen = accounts[0]!;
    const busy = accounts.find((a) => a.account === 'newsletter@domaine.com')!;
    expect(busy.totals.externalRecipients).toBeGreaterThanOrEqual(10 * stolen.totals.externalRecipients);
    expect(stolen.account).toBe('info@domaine.com');
    expect(stolen.verdict).toBe('suspicious');
    expect(stolen.windows).toMatchObject({ externalRecipients5m: 360, externalRecipients1h: 360, clientIps: 12, messages1h: 45, foreignSenderMessages1h: 45 });
    expect(stolen.signs.filter((s) => s.above).map((s) => s.sign)).toEqual(['burst', 'hourly', 'botnet', 'client_ips', 'foreign_sender', 'recipient_domains']);
    // The newsletter's day is above the daily threshold (a warning of the rules), nothing else: watched, never suspicious.
    expect(busy.verdict).toBe('watch');
    expect(busy.signs.filter((s) => s.above).map((s) => s.sign)).toEqual(['daily']);
    expect(busy.response).toBeUndefined();
    expect(accounts.map((a) => a.account)).toEqual(['info@domaine.com', 'newsletter@domaine.com', 'marie.martin@domaine.com']);
    expect(incident.logs!.asOf).toBe(new Date((NOW - 4) * 1000).toISOString());
    expect(incident.logs!.behindSeconds).toBe(9);
  });

  it('links the stolen account to the forged senders its spam is queued under, and quarantines those only', () => {
    const incident = buildIncident(sources(attackedBook(), FORGED_QUEUE), opts);
    const stolen = incident.logs!.accounts[0]!;
    expect(stolen.senders.map((s) => [s.sender, s.recipients, s.queuedMessages])).toEqual([
      ['willm.b@orange.fr', 36 * 8, 1200],
      ['bmyerd77@yahoo.com', 9 * 8, 150],
    ]);
    expect(stolen.queuedSenders).toEqual([
      { sender: 'willm.b@orange.fr', messages: 1200, via: 'envelope_sender' },
      { sender: 'bmyerd77@yahoo.com', messages: 150, via: 'envelope_sender' },
      { sender: 'info@domaine.com', messages: 22, via: 'account' },
    ]);
    const quarantine = stolen.response!.find((s) => s.title.startsWith('Move its spam'))!;
    expect(quarantine.commands).toEqual([
      'mailrelay-exporter queue quarantine --mail-dir=/opt/icewarp/mail --sender=willm.b@orange.fr --sender=bmyerd77@yahoo.com',
      'mailrelay-exporter queue quarantine --mail-dir=/opt/icewarp/mail --sender=willm.b@orange.fr --sender=bmyerd77@yahoo.com --apply',
    ]);
    // The queue's senders link back to the accounts.
    expect(incident.queue!.topSenders.map((t) => [t.sender, t.accounts, t.dominant])).toEqual([
      ['willm.b@orange.fr', ['info@domaine.com'], true],
      ['bmyerd77@yahoo.com', ['info@domaine.com'], false],
      ['info@domaine.com', ['info@domaine.com'], false],
      ['newsletter@domaine.com', ['newsletter@domaine.com'], false],
    ]);
  });

  it('quarantines by the account itself when that is what the queue records, and says its legitimate mail matches too', () => {
    const incident = buildIncident(sources(attackedBook(), ACCOUNT_QUEUE), opts);
    const stolen = incident.logs!.accounts[0]!;
    expect(stolen.queuedSenders).toEqual([{ sender: 'info@domaine.com', messages: 1372, via: 'account' }]);
    const quarantine = stolen.response!.find((s) => s.title.startsWith('Move its spam'))!;
    expect(quarantine.commands[0]).toBe('mailrelay-exporter queue quarantine --mail-dir=/opt/icewarp/mail --sender=info@domaine.com');
    expect(quarantine.note).toContain('legitimate queued mail matches too');
  });

  it('lists only accounts active within the last hour of log time', () => {
    const book = attackedBook();
    book.apply(login('old@domaine.com', '192.0.2.9', NOW - 5 * 3600));
    book.apply(message('old@domaine.com', 'old@domaine.com', ['x@gmail.com'], NOW - 5 * 3600));
    const incident = buildIncident(sources(book, FORGED_QUEUE), opts);
    expect(incident.logs!.accounts.map((a) => a.account)).not.toContain('old@domaine.com');
  });

  it('reports an open relay from the last minutes of log time, and each feature only when it runs', () => {
    const book = attackedBook();
    book.apply({ type: 'message', time: NOW - 60, peer: '203.0.113.99', account: undefined, mailFrom: 'x@spam.example', recipients: [{ domainKey: domainKey('gmail.com'), external: true }] });
    const incident = buildIncident({ log: { book, mta: 'icewarp' } }, opts);
    expect(incident.logs!.openRelay).toMatchObject({ value: 1, above: true, alert: 'MailrelayOpenRelay' });
    expect([incident.queue, incident.dnsbl, incident.relayProbe]).toEqual([undefined, undefined, undefined]);
    // Without the queue, the quarantine step says where to look.
    const quarantine = incident.logs!.accounts[0]!.response!.find((s) => s.title.startsWith('Move its spam'))!;
    expect(quarantine.commands).toEqual([]);
    expect(quarantine.note).toContain('icewarp.mail_directory');
  });
});
