// A real Postfix 3.7 with Dovecot SASL on 127.0.0.1 (test/harness/postfix.ts),
// driven by swaks from several 127.x addresses: legitimate users, inbound
// mail, a refused relay attempt, a trusted copier, a password spray and a
// stolen account sending to external domains under forged senders, whose
// mail piles up deferred (the network is "down"). The built exporter, in its
// own process, reads Postfix's log and `postqueue -j`; its per-account counts
// must be what the test sent, its queue gauges what postqueue lists, and the
// alert naming the stolen account must fire through a real Prometheus.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_THRESHOLDS, renderRulesYaml } from '../../alerts/rules.js';
import { startExporter, type RunningExporter } from '../harness/exporter.js';
import { POSTQUEUE, startPostfix, swaks, type RunningPostfix, type SwaksSession } from '../harness/postfix.js';
import { waitFor } from '../harness/processes.js';
import { startPrometheus, type RunningPrometheus } from '../harness/prometheus.js';

const DOMAIN = 'domaine.com';
const STOLEN = 'info@domaine.com';
const USERS: Record<string, string> = {
  'marie.martin@domaine.com': 'Marie-2026!',
  'contact@domaine.com': 'Contact-2026!',
  [STOLEN]: 'Info-2026!',
  'compta@domaine.com': 'Compta-2026!',
};
const MAILBOXES = [...Object.keys(USERS), 'rh@domaine.com', 'accueil@domaine.com', 'direction@domaine.com'];
const COPIER = '127.0.0.200';

let dir: string;
let postfix: RunningPostfix | undefined;
let exporter: RunningExporter | undefined;
let prometheus: RunningPrometheus | undefined;

/** What the test sent, session by session, with what Postfix answered. */
interface Sent extends SwaksSession {
  accepted: boolean;
}
const sent: Sent[] = [];

async function send(s: SwaksSession): Promise<void> {
  const r = await swaks(s);
  sent.push({ ...s, accepted: r.code === 0 });
}

const isLocal = (a: string) => a.toLowerCase().endsWith(`@${DOMAIN}`);
const domainOf = (a: string) => a.slice(a.lastIndexOf('@') + 1).toLowerCase();

/** The account series the exporter must show, from what was sent and accepted (every recipient here exists or is external). */
function expectedSeries(): Map<string, number> {
  const out = new Map<string, number>();
  const add = (k: string, n: number) => out.set(k, (out.get(k) ?? 0) + n);
  const ips = new Map<string, Set<string>>();
  const domains = new Map<string, Set<string>>();
  for (const s of sent) {
    const user = s.auth?.user.toLowerCase();
    const good = s.auth !== undefined && USERS[s.auth.user] === s.auth.password;
    if (s.auth && !good) add(`mailrelay_account_auth_failures_total{account="${user}"}`, 1);
    if (!s.to || !s.accepted) continue;
    const external = s.to.filter((t) => !isLocal(t));
    if (!good) {
      add('mailrelay_unauthenticated_relay_recipients_total', external.length);
      continue;
    }
    add(`mailrelay_account_logins_total{account="${user}"}`, 1);
    add(`mailrelay_account_auth_failures_total{account="${user}"}`, 0); // an account that logged in has its own series, failures or not
    add(`mailrelay_account_messages_total{account="${user}"}`, 1);
    add(`mailrelay_account_recipients_total{account="${user}",destination="external"}`, external.length);
    add(`mailrelay_account_recipients_total{account="${user}",destination="local"}`, s.to.length - external.length);
    add(`mailrelay_account_foreign_sender_messages_total{account="${user}"}`, s.mailFrom!.toLowerCase() === user ? 0 : 1);
    (ips.get(user!) ?? ips.set(user!, new Set()).get(user!)!).add(s.from);
    const d = domains.get(user!) ?? domains.set(user!, new Set()).get(user!)!;
    for (const r of external) d.add(domainOf(r));
  }
  for (const [u, set] of ips) add(`mailrelay_account_client_ips{account="${u}"}`, set.size);
  for (const [u, set] of domains) add(`mailrelay_account_recipient_domains{account="${u}"}`, set.size);
  return out;
}

const ACCOUNT_SERIES =
  /^(mailrelay_(?:account_(?:logins|messages|recipients|foreign_sender_messages|auth_failures)_total|account_client_ips|account_recipient_domains|unauthenticated_relay_recipients_total)(?:\{[^}]*\})?) (\S+)$/;

function seriesOf(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = ACCOUNT_SERIES.exec(line);
    if (x) m.set(x[1]!, Number(x[2]));
  }
  return m;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-postfix-test-'));
  postfix = await startPostfix({ localDomains: [DOMAIN], mailboxes: MAILBOXES, users: USERS, mynetworks: [`${COPIER}/32`] });
  writeFileSync(join(dir, 'rules.yml'), renderRulesYaml(FAST_THRESHOLDS));
  exporter = await startExporter({
    dir,
    configYaml: [
      'postfix:',
      `  log_file: ${postfix.maillog}`,
      '  log_time_zone: Local',
      `  postqueue: ${POSTQUEUE}`,
      `  config_directory: ${postfix.configDir}`,
      `local_domains: [${DOMAIN}]`,
      'start_at: beginning',
      `positions_file: ${join(dir, 'positions.json')}`,
      'spool:',
      '  rescan_interval: 1s',
      '',
    ].join('\n'),
  });
  prometheus = await startPrometheus({ targets: [`127.0.0.1:${exporter.port}`], jobName: 'mailrelay', ruleFiles: [join(dir, 'rules.yml')] });
  await prometheus.waitForTargetsUp();

  const pf = postfix;
  // Legitimate users: submission (through the content filter) and port 25.
  await send({ port: pf.submissionPort, from: '127.0.0.10', helo: 'laptop-marie', auth: { mechanism: 'LOGIN', user: 'marie.martin@domaine.com', password: USERS['marie.martin@domaine.com']! }, mailFrom: 'marie.martin@domaine.com', to: ['client@gmail.com', 'compta@domaine.com'] });
  await send({ port: pf.smtpPort, from: '127.0.0.11', helo: 'pc-contact', auth: { mechanism: 'PLAIN', user: 'contact@domaine.com', password: USERS['contact@domaine.com']! }, mailFrom: 'contact@domaine.com', to: ['supplier@fournisseur-bois.fr', 'rh@domaine.com'] });
  await send({ port: pf.submissionPort, from: '127.0.0.10', helo: 'laptop-marie', auth: { mechanism: 'PLAIN', user: 'marie.martin@domaine.com', password: USERS['marie.martin@domaine.com']! }, mailFrom: 'marie.martin@domaine.com', to: ['accueil@domaine.com'] });
  // Inbound mail, a refused relay attempt, the trusted copier relaying without AUTH.
  await send({ port: pf.smtpPort, from: '127.0.0.7', helo: 'mx.partner.example', mailFrom: 'news@partner.example', to: ['info@domaine.com'] });
  await send({ port: pf.smtpPort, from: '127.0.0.4', helo: 'relay-test', mailFrom: 'spammer@example.net', to: ['victim@example.org'] });
  await send({ port: pf.smtpPort, from: COPIER, helo: 'copier', mailFrom: 'copier@domaine.com', to: ['someone@gmail.com', 'direction@domaine.com'] });
  // A password spray: several addresses, several usernames, the stolen account among them.
  const spray: Promise<void>[] = [];
  for (let i = 0; i < 24; i++) {
    const user = i % 2 === 0 ? STOLEN : ['admin@domaine.com', 'test@domaine.com', 'compta@domaine.com'][i % 3]!;
    spray.push(send({ port: pf.smtpPort, from: `127.0.1.${1 + (i % 6)}`, helo: 'scanner', auth: { mechanism: i % 4 < 2 ? 'LOGIN' : 'PLAIN', user, password: `guess-${i}` }, quitAfterAuth: true }));
    if (spray.length === 4) await Promise.all(spray.splice(0));
  }
  await Promise.all(spray);
  // The password worked: the stolen account sends first one message (its series exist before the flood), then the spam.
  const stolen = (n: number): SwaksSession => ({
    port: pf.submissionPort,
    from: `127.0.2.${1 + (n % 8)}`,
    helo: 'orange.fr',
    auth: { mechanism: 'LOGIN', user: STOLEN, password: USERS[STOLEN]! },
    mailFrom: n % 3 === 0 ? 'willm.b@orange.fr' : `promo${n}@orange.fr`,
    to: Array.from({ length: 20 }, (_, k) => `target${n}.${k}@spam-target-${k % 7}.example`),
  });
  await send(stolen(0));
  await new Promise((r) => setTimeout(r, 3000));
  const flood: Promise<void>[] = [];
  for (let n = 1; n <= 26; n++) {
    flood.push(send(stolen(n)));
    if (flood.length === 6) await Promise.all(flood.splice(0));
  }
  await Promise.all(flood);
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop();
  await postfix?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('Postfix with Dovecot SASL, end to end', () => {
  it('Postfix answered as the scenario says', () => {
    expect(sent.filter((s) => !s.accepted).map((s) => s.from)).toEqual([
      '127.0.0.4', // relay refused
      ...sent.filter((s) => s.from.startsWith('127.0.1.')).map((s) => s.from), // every spray attempt
    ]);
    expect(sent.filter((s) => s.auth?.user === STOLEN && s.accepted)).toHaveLength(27);
  });

  it('counts per account exactly what was sent', async () => {
    const expected = expectedSeries();
    const got = await waitFor(
      async () => {
        const s = seriesOf(await exporter!.metrics());
        for (const [k, v] of expected) if (s.get(k) !== v) return false;
        return s;
      },
      { what: 'the exporter to count every message the test sent', timeoutMs: 60_000, intervalMs: 500 },
    ).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\nexpected ${JSON.stringify([...expected])}\ngot ${JSON.stringify([...seriesOf(await exporter!.metrics())])}`, { cause: err });
    });
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
    const text = await exporter!.metrics();
    expect(text).toMatch(/^mailrelay_relay_denied_total 1$/m);
    expect(text).toMatch(/^mailrelay_log_unparsed_lines_total 0$/m);
    // The stolen account: 8 addresses, 7 target domains, a forged sender on every message.
    expect(got.get(`mailrelay_account_client_ips{account="${STOLEN}"}`)).toBe(8);
    expect(got.get(`mailrelay_account_recipient_domains{account="${STOLEN}"}`)).toBe(7);
    expect(got.get(`mailrelay_account_foreign_sender_messages_total{account="${STOLEN}"}`)).toBe(27);
    // Passwords never reach the metrics.
    for (const password of Object.values(USERS)) expect(text).not.toContain(password);
  }, 90_000);

  it('exports the queue as postqueue -j lists it', async () => {
    await waitFor(
      async () => {
        const listing = await postfix!.queue();
        const text = await exporter!.metrics();
        const byQueue = (q: string) => listing.filter((m) => m.queue_name === q);
        const deferred = byQueue('deferred');
        const spam = listing.filter((m) => m.sender === 'willm.b@orange.fr' && (m.queue_name === 'deferred' || m.queue_name === 'active'));
        const want = [
          `mailrelay_spool_messages{queue="outgoing",folder="deferred"} ${deferred.length}`,
          `mailrelay_spool_bytes{queue="outgoing",folder="deferred"} ${deferred.reduce((n, m) => n + (m.message_size as number), 0)}`,
          `mailrelay_spool_messages{queue="outgoing",folder="active"} ${byQueue('active').length}`,
          `mailrelay_spool_messages{queue="quarantine",folder="hold"} ${byQueue('hold').length}`,
          `mailrelay_spool_deferred_messages ${deferred.length}`,
          `mailrelay_spool_sender_messages{sender="willm.b@orange.fr"} ${spam.length}`,
          `mailrelay_spool_senders ${new Set(listing.filter((m) => m.queue_name !== 'hold').map((m) => String(m.sender).toLowerCase())).size}`,
        ];
        // The spam is there: every message of the stolen account waits for a retry.
        if (deferred.length < 27) return false;
        return want.every((w) => text.includes(`\n${w}\n`));
      },
      { what: 'the queue gauges to equal postqueue -j', timeoutMs: 60_000, intervalMs: 1000 },
    );
  }, 90_000);

  it('fires the alert that names the stolen account, and names no legitimate one', async () => {
    const alert = await waitFor(
      async () => (await prometheus!.alerts()).find((a) => a.labels.alertname === 'MailrelayAccountExternalRecipientsHigh' && a.labels.account === STOLEN && a.state === 'firing'),
      { what: `MailrelayAccountExternalRecipientsHigh for ${STOLEN}`, timeoutMs: 60_000, intervalMs: 500 },
    ).catch(async (err: unknown) => {
      const alerts = await prometheus!.alerts().catch(() => []);
      throw new Error(`${(err as Error).message}\nalerts: ${JSON.stringify(alerts.map((a) => [a.labels.alertname, a.labels.account, a.state, a.value]))}`, { cause: err });
    });
    expect(alert.labels.severity).toBe('critical');
    expect(alert.annotations.description).toContain(STOLEN);
    const named = new Set((await prometheus!.alerts()).map((a) => a.labels.account).filter((a): a is string => a !== undefined));
    expect([...named]).toEqual([STOLEN]);
  }, 90_000);
});
