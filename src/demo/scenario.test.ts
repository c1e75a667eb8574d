import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IcewarpSessions } from '../icewarp/sessions.js';
import { domainKey, isForeignSender, LocalDomains, type SmtpFact } from '../smtp/facts.js';
import { emptyTruth, scenarioLines, scenarioTruth, writeScenario, type ScenarioOptions, type ScenarioTruth } from './scenario.js';

/** Counts facts per the counting rules, independently of the generator's bookkeeping. */
function countFacts(facts: SmtpFact[], lines: number): ScenarioTruth {
  const truth: ScenarioTruth = { ...emptyTruth(), lines };
  const ips = new Map<string, Set<string>>();
  const domains = new Map<string, Set<number>>();
  const account = (name: string) =>
    (truth.accounts[name] ??= { logins: 0, messages: 0, externalRecipients: 0, localRecipients: 0, foreignSenderMessages: 0, clientIps: [], recipientDomains: [], senders: {} });
  for (const f of facts) {
    if (f.type === 'session') truth.sessions++;
    else if (f.type === 'relay_denied') truth.relayDenied++;
    else if (f.type === 'auth') {
      truth.authAttempts[f.mechanism]++;
      if (!f.success) {
        truth.authFailures[f.mechanism]++;
        if (f.username !== undefined) truth.failedUsernames[f.username] = (truth.failedUsernames[f.username] ?? 0) + 1;
      } else if (f.username !== undefined) {
        account(f.username).logins++;
        (ips.get(f.username) ?? ips.set(f.username, new Set()).get(f.username))?.add(f.peer);
      }
    } else if (f.account === undefined) {
      if (!(f.authenticated ?? false)) truth.unauthenticatedRelayRecipients += f.recipients.filter((r) => r.external).length;
    } else {
      const a = account(f.account);
      a.messages++;
      if (isForeignSender(f.account, f.mailFrom)) a.foreignSenderMessages++;
      const sender = f.mailFrom || '<>';
      a.senders[sender] = (a.senders[sender] ?? 0) + f.recipients.length;
      for (const r of f.recipients) {
        if (r.external) {
          a.externalRecipients++;
          (domains.get(f.account) ?? domains.set(f.account, new Set()).get(f.account))?.add(r.domainKey);
        } else a.localRecipients++;
      }
    }
  }
  for (const [name, a] of Object.entries(truth.accounts)) {
    a.clientIps = [...(ips.get(name) ?? [])].sort();
    a.recipientDomains = [...(domains.get(name) ?? [])].map(String).sort();
  }
  return truth;
}

/** The generator's truth with each account's recipient domains as the parser gives them: domainKey, as text. */
function withDomainKeys(truth: ScenarioTruth): ScenarioTruth {
  const accounts = Object.fromEntries(
    Object.entries(truth.accounts).map(([name, a]) => [name, { ...a, recipientDomains: a.recipientDomains.map((d) => String(domainKey(d))).sort() }]),
  );
  return { ...truth, accounts };
}

function fileOf(time: number): string {
  return `s${new Date(time * 1000).toISOString().slice(0, 10).replaceAll('-', '')}.log`;
}

function parse(opts: ScenarioOptions, localDomains: string[]): { counted: ScenarioTruth; unparsed: number } {
  const facts: SmtpFact[] = [];
  const parser = new IcewarpSessions({ localDomains: new LocalDomains(localDomains), emit: (f) => facts.push(f) });
  let lines = 0;
  for (const { time, line } of scenarioLines(opts)) {
    parser.feed(fileOf(time), line);
    lines++;
  }
  return { counted: countFacts(facts, lines), unparsed: parser.stats.unparsed };
}

const full: ScenarioOptions = {
  seed: 1,
  start: new Date(Date.UTC(2026, 10, 27, 22, 30, 0)), // crosses midnight: two log days
  durationSeconds: 3 * 3600,
  legitimateUsers: 20,
  inboundPerMinute: 20,
  outboundDeliveriesPerMinute: 10,
  spray: { perMinute: 6, usernames: 300 },
  attack: { account: 'info@domaine.com', startSecond: 3600, messagesPerMinute: 30, recipientsPerMessage: 8, ips: 40, foreignSender: true },
  busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2 },
};

/** Each incident in its own window, on accounts that are legitimate users before it. */
const withIncidents: ScenarioOptions = {
  seed: 3,
  start: new Date(Date.UTC(2026, 10, 2)),
  durationSeconds: 2 * 3600,
  legitimateUsers: 30,
  inboundPerMinute: 2,
  outboundDeliveriesPerMinute: 1,
  busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2, recipientDomains: 105 },
  incidents: [
    { kind: 'sending', account: 'compta@domaine.com', startSecond: 600, endSecond: 1200, messagesPerMinute: 10, recipientsPerMessage: 10, ips: 20, foreignSender: true },
    { kind: 'sending', account: 'rh@domaine.com', startSecond: 1800, messagesPerMinute: 1, recipientsPerMessage: 250 / 60, ips: 1, foreignSender: false },
    { kind: 'logins', account: 'accueil@domaine.com', startSecond: 3600, endSecond: 4200, loginsPerMinute: 3, ips: 30 },
    { kind: 'open_relay', startSecond: 4500, endSecond: 4800, recipientsPerMinute: 1 },
    { kind: 'spray', startSecond: 5400, endSecond: 6000, perMinute: 60, usernames: 200 },
  ],
};

describe('scenario: the parser counts exactly the truth', () => {
  it.each([
    ['a full attack scenario, local_domains configured', full, ['domaine.com']],
    ['a full attack scenario, IceWarp\'s "will forward" deciding', full, []],
    [
      'another seed, own-sender attack, another local domain',
      {
        seed: 42,
        start: new Date(Date.UTC(2026, 0, 1, 8, 0, 0)),
        durationSeconds: 5400,
        localDomain: 'exemple.fr',
        legitimateUsers: 35,
        inboundPerMinute: 7.5,
        outboundDeliveriesPerMinute: 3,
        spray: { perMinute: 1.5, usernames: 40 },
        attack: { account: 'compta@exemple.fr', startSecond: 600, messagesPerMinute: 4.5, recipientsPerMessage: 3, ips: 5, foreignSender: false },
      },
      ['exemple.fr'],
    ],
    ['only the defaults', { seed: 7, start: new Date(Date.UTC(2026, 5, 1)), durationSeconds: 1800 }, []],
    [
      'forged senders, then the password changed',
      { ...full, durationSeconds: 5400, attack: { ...full.attack!, senders: ['willm.b@orange.fr', 'bmyerd77@yahoo.com'], passwordChangedSecond: 4800 } },
      ['domaine.com'],
    ],
    ['incidents on legitimate accounts, and a newsletter', withIncidents, ['domaine.com']],
  ] as Array<[string, ScenarioOptions, string[]]>)('%s', (_name, opts, localDomains) => {
    const truth = scenarioTruth(opts);
    const { counted, unparsed } = parse(opts, localDomains);
    expect(unparsed).toBe(0);
    expect(counted).toEqual(withDomainKeys(truth));
  });

  it('the full scenario holds what its options ask for', () => {
    const t = scenarioTruth(full);
    const stolen = t.accounts['info@domaine.com'];
    const busy = t.accounts['newsletter@domaine.com'];
    // 2 hours of attack at 30 messages/min, 8 recipients each, foreign sender, many IPs and domains.
    expect(stolen?.messages).toBeGreaterThan(3000);
    expect(stolen?.foreignSenderMessages).toBe(stolen?.messages);
    expect(stolen?.externalRecipients).toBe((stolen?.messages ?? 0) * 8);
    expect(stolen?.clientIps.length).toBeGreaterThan(20);
    expect(stolen?.recipientDomains.length).toBeGreaterThan(20);
    // The busy account: about 150 external recipients an hour, from 2 IPs, as itself, to few domains.
    expect(busy?.externalRecipients).toBeGreaterThan(300);
    expect(busy?.externalRecipients).toBeLessThan(600);
    expect(busy?.clientIps).toHaveLength(2);
    expect(busy?.foreignSenderMessages).toBe(0);
    expect(busy?.recipientDomains.length).toBeLessThanOrEqual(7);
    // The spray: failures, with usernames, no logins.
    expect(Object.keys(t.failedUsernames).length).toBeGreaterThan(100);
    expect(t.authFailures.login + t.authFailures.plain).toBeGreaterThan(1000);
    expect(t.authFailures.other).toBeGreaterThan(0);
    expect(t.authAttempts.cram_md5).toBeGreaterThan(0);
    // Inbound: relay attempts refused; nothing relayed without AUTH.
    expect(t.relayDenied).toBeGreaterThan(0);
    expect(t.unauthenticatedRelayRecipients).toBe(0);
    expect(Object.keys(t.accounts).length).toBeGreaterThanOrEqual(20);
  });

  it('an attack with forged senders uses those, the first most; after the password change its logins fail', () => {
    const opts: ScenarioOptions = { ...full, durationSeconds: 5400, attack: { ...full.attack!, senders: ['willm.b@orange.fr', 'bmyerd77@yahoo.com'], passwordChangedSecond: 4800 } };
    const t = scenarioTruth(opts);
    const stolen = t.accounts['info@domaine.com']!;
    expect(Object.keys(stolen.senders).sort()).toEqual(['bmyerd77@yahoo.com', 'willm.b@orange.fr']);
    expect(stolen.senders['willm.b@orange.fr']!).toBeGreaterThan(3 * stolen.senders['bmyerd77@yahoo.com']!);
    expect(stolen.senders['willm.b@orange.fr']! + stolen.senders['bmyerd77@yahoo.com']!).toBe(stolen.externalRecipients);
    // 20 minutes of refused logins, about 10 a minute.
    expect(t.failedUsernames['info@domaine.com']).toBeGreaterThan(100);
    const before = scenarioTruth({ ...opts, attack: { ...opts.attack!, passwordChangedSecond: undefined } }).accounts['info@domaine.com']!;
    expect(stolen.messages).toBeLessThan(before.messages);
  });

  it('incidents happen in their windows, on accounts that were legitimate users before', () => {
    const t = scenarioTruth(withIncidents);
    const before = scenarioTruth({ ...withIncidents, durationSeconds: 590 });
    const compta = t.accounts['compta@domaine.com'];
    // Legitimate before: logged in from its own one or two IPs, as itself.
    expect(before.accounts['compta@domaine.com']?.foreignSenderMessages ?? 0).toBe(0);
    // 10 minutes at 10 messages of 10 external recipients, from 20 new IPs, foreign senders.
    expect(compta?.externalRecipients).toBeGreaterThan(900);
    expect(compta?.foreignSenderMessages).toBeGreaterThan(90);
    expect(compta?.clientIps.length).toBeGreaterThan(15);
    // The trickle: about 250 an hour, as itself, from one more IP.
    const rh = t.accounts['rh@domaine.com'];
    expect(rh?.externalRecipients).toBeGreaterThan(1.5 * 250);
    expect(rh?.externalRecipients).toBeLessThan(2 * 250 + 60);
    expect(rh?.foreignSenderMessages).toBe(0);
    expect(rh?.clientIps.length).toBeLessThanOrEqual(3);
    // The botnet: 30 IPs in 10 minutes, little mail.
    const accueil = t.accounts['accueil@domaine.com'];
    expect(accueil?.clientIps.length).toBeGreaterThanOrEqual(30);
    expect(accueil?.externalRecipients).toBeLessThan(40);
    // Open relay: a handful; spray: about 600 failures over its 200 names.
    expect(t.unauthenticatedRelayRecipients).toBeGreaterThanOrEqual(3);
    expect(t.unauthenticatedRelayRecipients).toBeLessThan(15);
    expect(Object.keys(t.failedUsernames).length).toBeGreaterThan(150);
    expect(Object.values(t.failedUsernames).reduce((a, b) => a + b, 0)).toBeGreaterThan(900);
    // The newsletter: 150 an hour to about 80 of its 105 subscriber domains an hour, as itself, from 2 IPs.
    const news = t.accounts['newsletter@domaine.com'];
    expect(news?.externalRecipients).toBeGreaterThan(250);
    expect(news?.externalRecipients).toBeLessThan(350);
    expect(news?.recipientDomains.length).toBeGreaterThan(90);
    expect(news?.recipientDomains.length).toBeLessThanOrEqual(105);
    expect(news?.foreignSenderMessages).toBe(0);
  });

  it('is deterministic for a seed, and another seed differs', () => {
    const a = [...scenarioLines({ ...full, durationSeconds: 600 })];
    const b = [...scenarioLines({ ...full, durationSeconds: 600 })];
    const c = [...scenarioLines({ ...full, seed: 2, durationSeconds: 600 })];
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(scenarioTruth({ ...full, durationSeconds: 600 }).lines).toBe(a.length);
  });

  it('yields lines in log-time order, with sessions interleaved and thread ids reused', () => {
    const lines = [...scenarioLines({ ...full, durationSeconds: 900 })];
    for (let i = 1; i < lines.length; i++) expect((lines[i]?.time ?? 0) >= (lines[i - 1]?.time ?? 0)).toBe(true);
    const first = lines[0];
    expect(first?.time).toBe(full.start.getTime() / 1000);
    // Interleaving: some line's next line belongs to another session while its own session goes on.
    const key = (l: string) => l.slice(0, l.indexOf(']') + 1);
    const keys = lines.map((l) => key(l.line));
    const interleaved = keys.some((k, i) => i + 2 < keys.length && keys[i + 1] !== k && keys[i + 2] === k);
    expect(interleaved).toBe(true);
    const threads = lines.filter((l) => l.line.endsWith(' Connected')).map((l) => l.line.slice(l.line.indexOf('['), l.line.indexOf(']') + 1));
    expect(new Set(threads).size).toBeLessThan(threads.length);
    // Lines look like IceWarp's.
    const text = lines.map((l) => l.line).join('\n');
    expect(text).toMatch(/^\S+ \[[0-9A-F]{4}\] \d\d:\d\d:\d\d >>> 220[ -]mail\.domaine\.com ESMTP IceWarp 13\.0\.2; \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/m);
    expect(text).toMatch(/ >>> 334 VXNlcm5hbWU6$/m);
    expect(text).toMatch(/ >>> 250 2\.1\.5 <[^>]+>\.\.\. Recipient ok; will forward$/m);
    expect(text).toMatch(/ >>> 250 2\.6\.0 \d+ bytes received in 00:00:\d\d; Message accepted for delivery$/m);
    expect(text).toMatch(/ <<< 220 mx\d\.\S+ ESMTP ready$/m);
    expect(text).toMatch(/^SYSTEM \[0000\] \d\d:\d\d:\d\d /m);
    expect(text).toMatch(/ \*\*\* <[^>]*> <[^>]+>.* OK$/m);
  });
});

describe('writeScenario', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes one file per UTC log day (CRLF when asked), holding every line, and returns the truth', async () => {
    dir = mkdtempSync(join(tmpdir(), 'scenario-'));
    const opts: ScenarioOptions = { ...full, durationSeconds: 3600 }; // 22:30 to 23:30 and the sessions finishing after
    const opts2: ScenarioOptions = { ...full, start: new Date(Date.UTC(2026, 10, 27, 23, 40)), durationSeconds: 1800 };
    const truth = await writeScenario(join(dir, 'lf'), opts);
    const truth2 = await writeScenario(join(dir, 'crlf'), opts2, { crlf: true });
    expect(truth).toEqual(scenarioTruth(opts));
    expect(truth2).toEqual(scenarioTruth(opts2));
    expect(readdirSync(join(dir, 'lf'))).toEqual(['s20261127.log']);
    expect(readdirSync(join(dir, 'crlf')).sort()).toEqual(['s20261127.log', 's20261128.log']);
    const lf = readFileSync(join(dir, 'lf', 's20261127.log'), 'utf8');
    expect(lf.split('\n').slice(0, -1)).toEqual([...scenarioLines(opts)].map((l) => l.line));
    const crlf = ['s20261127.log', 's20261128.log'].map((f) => readFileSync(join(dir ?? '', 'crlf', f), 'utf8')).join('');
    expect(crlf.endsWith('\r\n')).toBe(true);
    expect(crlf.split('\r\n').slice(0, -1)).toEqual([...scenarioLines(opts2)].map((l) => l.line));
    expect(truth2.lines).toBe(crlf.split('\r\n').length - 1);
    // Read back as the pipeline would: lines split on LF (CR left behind), dates from the file names, in batches.
    const facts: SmtpFact[] = [];
    const parser = new IcewarpSessions({ localDomains: new LocalDomains([]), emit: (f) => facts.push(f) });
    for (const f of ['s20261127.log', 's20261128.log']) {
      const fileLines = readFileSync(join(dir, 'crlf', f), 'utf8').split('\n').slice(0, -1);
      for (let i = 0; i < fileLines.length; i += 777) parser.feedLines(join(dir, 'crlf', f), fileLines.slice(i, i + 777));
    }
    expect(countFacts(facts, parser.stats.lines)).toEqual(withDomainKeys(truth2));
    expect(parser.stats.unparsed).toBe(0);
  });
});
