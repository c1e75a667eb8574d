// The whole alerting chain with real processes on 127.0.0.1: the built
// exporter follows a log directory where an attack is going on (lines written
// as their log time comes) and a queue full of spam; Prometheus scrapes it
// every second and evaluates the fast variant of alerts/mailrelay.rules.yml;
// Alertmanager, with the example config, notifies a webhook run by the test.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleConfigFor, startAlertmanager, startWebhook, type RunningAlertmanager, type Webhook } from '../../alertmanager/harness.js';
import { FAST_THRESHOLDS, renderRulesYaml } from '../../alerts/rules.js';
import { writeQueue } from '../../src/demo/queue.js';
import { scenarioLines, scenarioTruth, type ScenarioOptions } from '../../src/demo/scenario.js';
import { startExporter, type RunningExporter } from '../harness/exporter.js';
import { waitFor } from '../harness/processes.js';
import { startPrometheus, type RunningPrometheus } from '../harness/prometheus.js';

const STOLEN = 'info@domaine.com';
const BUSY = 'compta@domaine.com';
const SPAM_SENDER = 'willm.b@orange.fr';

let dir: string;
let webhook: Webhook | undefined;
let alertmanager: RunningAlertmanager | undefined;
let exporter: RunningExporter | undefined;
let prometheus: RunningPrometheus | undefined;
let writer: ReturnType<typeof setInterval> | undefined;
let legitimateAccounts: string[] = [];

/** Appends the scenario's lines to their daily file as their log time comes: a live server's log. */
function replay(opts: ScenarioOptions, logDir: string): ReturnType<typeof setInterval> {
  const lines = scenarioLines(opts);
  let next = lines.next();
  return setInterval(() => {
    const now = Date.now() / 1000;
    const chunks = new Map<string, string[]>();
    while (!next.done && next.value.time <= now) {
      const d = new Date(next.value.time * 1000);
      const file = `s${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}.log`;
      const chunk = chunks.get(file) ?? [];
      chunk.push(next.value.line + '\n');
      chunks.set(file, chunk);
      next = lines.next();
    }
    for (const [file, chunk] of chunks) appendFileSync(join(logDir, file), chunk.join(''));
  }, 200);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-alerts-e2e-'));
  const logDir = join(dir, 'smtp');
  const mailDir = join(dir, 'mail');
  mkdirSync(logDir);
  // The queue as the spam run left it: one sender, one size, most of the queue.
  writeQueue(mailDir, { seed: 4, legitimateMessages: 60, spamMessages: 400, spamSender: SPAM_SENDER, retryFraction: 0.4, incomingPairs: 5, incomingBakPairs: 0, incomingBakOrphans: 0 });
  writeFileSync(join(dir, 'rules.yml'), renderRulesYaml(FAST_THRESHOLDS));

  webhook = await startWebhook();
  alertmanager = await startAlertmanager(exampleConfigFor(webhook.url));
  exporter = await startExporter({
    dir,
    configYaml: [
      'icewarp:',
      `  log_directory: ${logDir}`,
      `  mail_directory: ${mailDir}`,
      'local_domains: [domaine.com]',
      'start_at: beginning',
      `positions_file: ${join(dir, 'positions.json')}`,
      'detection:',
      '  window: 1h',
      '',
    ].join('\n'),
  });
  prometheus = await startPrometheus({
    targets: [`127.0.0.1:${exporter.port}`],
    jobName: 'mailrelay',
    ruleFiles: [join(dir, 'rules.yml')],
    alertmanagerUrl: alertmanager.url,
  });
  await prometheus.waitForTargetsUp();

  // The fast rules count in 30 s windows what the defaults count in an hour, so
  // the busy account sends its 150 external recipients "an hour" every 30 s
  // (from two IPs, as itself), and the stolen account 300 (from 30 IPs, as strangers).
  const opts: ScenarioOptions = {
    seed: 7,
    start: new Date(Math.floor(Date.now() / 1000) * 1000),
    durationSeconds: 180,
    legitimateUsers: 200,
    inboundPerMinute: 20,
    outboundDeliveriesPerMinute: 10,
    spray: { perMinute: 6, usernames: 40 },
    attack: { account: STOLEN, startSecond: 3, messagesPerMinute: 60, recipientsPerMessage: 10, ips: 30, foreignSender: true },
    busyAccount: { account: BUSY, externalRecipientsPerHour: 150 * 120, ips: 2 },
  };
  writer = replay(opts, logDir);
  // Every account of the scenario that logs in, but the stolen one.
  legitimateAccounts = Object.keys(scenarioTruth(opts).accounts).filter((a) => a !== STOLEN);
}, 90_000);

afterAll(async () => {
  if (writer !== undefined) clearInterval(writer);
  await prometheus?.stop();
  await exporter?.stop();
  await alertmanager?.stop();
  await webhook?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('alerting end to end', () => {
  it('pages the stolen account through Alertmanager, and names no legitimate account', async () => {
    const hook = webhook!;
    const paged = await waitFor(
      async () =>
        hook.notifications
          .filter((n) => n.receiver === 'pager' && n.status === 'firing')
          .flatMap((n) => n.alerts)
          .find((a) => a.labels.alertname === 'MailrelayAccountExternalRecipientsHigh' && a.labels.account === STOLEN),
      { what: `the pager webhook to receive MailrelayAccountExternalRecipientsHigh for ${STOLEN}`, timeoutMs: 90_000, intervalMs: 500 },
    ).catch(async (err: unknown) => {
      const alerts = await prometheus!.alerts().catch(() => []);
      throw new Error(
        `${(err as Error).message}\nPrometheus alerts: ${JSON.stringify(alerts.map((a) => [a.labels.alertname, a.labels.account, a.state, a.value]))}\n` +
          `webhook: ${JSON.stringify(hook.notifications.map((n) => [n.receiver, n.alerts.map((a) => [a.labels.alertname, a.labels.account])]))}`,
        { cause: err },
      );
    });
    expect(paged.labels.severity).toBe('critical');
    expect(paged.annotations.description).toContain(STOLEN);
    expect(paged.annotations.runbook_url).toBe(
      'https://github.com/mailrelay-exporter/mailrelay-exporter/blob/main/docs/runbooks/MailrelayAccountExternalRecipientsHigh.md',
    );

    // The busy account's traffic is really there (so "no alert" means something).
    const busy = await prometheus!.query(`account:mailrelay_external_recipients:increase1h{account="${BUSY}"}`);
    expect(Number(busy[0]?.value[1] ?? 0)).toBeGreaterThan(20);

    // Every alert that names an account, pending or firing in Prometheus or
    // notified to any receiver, names the stolen one.
    const named = [
      ...(await prometheus!.alerts()).map((a) => a.labels),
      ...hook.notifications.flatMap((n) => n.alerts.map((a) => a.labels)),
    ]
      .map((l) => l.account)
      .filter((a): a is string => a !== undefined);
    expect(named.length).toBeGreaterThan(0);
    expect([...new Set(named)]).toEqual([STOLEN]);
    expect(legitimateAccounts).toContain(BUSY);
    expect(legitimateAccounts.length).toBeGreaterThan(5);
    expect(legitimateAccounts.filter((a) => named.includes(a))).toEqual([]);

    // The queue held by one sender pages too.
    await waitFor(
      async () =>
        hook.notifications
          .filter((n) => n.receiver === 'pager')
          .flatMap((n) => n.alerts)
          .find((a) => a.labels.alertname === 'MailrelayQueueDominatedBySender' && a.labels.sender === SPAM_SENDER),
      { what: `a page for the queue held by ${SPAM_SENDER}`, timeoutMs: 30_000, intervalMs: 500 },
    );
  }, 150_000);
});
