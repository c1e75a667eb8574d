// The example Alertmanager config (alertmanager/alertmanager.yml): checked by
// amtool, its routes tested for every alert of the rules, and its inhibition
// tested against a real Alertmanager.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG, exampleConfigFor, startAlertmanager, startWebhook, type RunningAlertmanager, type Webhook } from '../alertmanager/harness.js';
import { fetchText, waitFor } from '../test/harness/processes.js';
import { DEFAULT_THRESHOLDS, buildRules, type AlertingRule } from './rules.js';

const run = promisify(execFile);

/** amtool's exit status and output; a missing amtool throws (the test fails). */
async function amtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('amtool', args);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

const routeTest = (receiver: string, labels: Record<string, string>) =>
  amtool(
    'config',
    'routes',
    'test',
    `--config.file=${EXAMPLE_CONFIG}`,
    `--verify.receivers=${receiver}`,
    ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
  );

const alerts = buildRules(DEFAULT_THRESHOLDS).groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r));
const RECEIVER = { critical: 'pager', warning: 'ticket', info: 'null' } as const;

describe('alertmanager/alertmanager.yml', () => {
  it('passes amtool check-config', async () => {
    const { code, output } = await amtool('check-config', EXAMPLE_CONFIG);
    expect(output).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('routes every alert of the rules by severity: critical → pager, warning → ticket, info → null', async () => {
    for (const a of alerts) {
      const { code, output } = await routeTest(RECEIVER[a.labels.severity], {
        alertname: a.alert,
        severity: a.labels.severity,
        account: 'info@domaine.com',
      });
      expect({ alert: a.alert, code, output }).toMatchObject({ code: 0 });
    }
  });

  it('fails amtool verification for a wrong receiver, and sends unlabelled alerts to the ticket queue', async () => {
    const wrong = await routeTest('ticket', { alertname: 'MailrelayOpenRelay', severity: 'critical' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toContain('Expected receivers did not match');
    expect((await routeTest('ticket', { alertname: 'SomethingElse' })).code).toBe(0);
  });
});

describe('a real Alertmanager with the example config', () => {
  let webhook: Webhook;
  let am: RunningAlertmanager;

  beforeAll(async () => {
    webhook = await startWebhook();
    am = await startAlertmanager(exampleConfigFor(webhook.url));
  });
  afterAll(async () => {
    await am?.stop();
    await webhook?.stop();
  });

  it('pages the critical alert, inhibits the warnings of the same account only, and tickets the rest', async () => {
    const alert = (alertname: string, severity: string, extra: Record<string, string> = {}) => ({
      labels: { alertname, severity, job: 'mailrelay', ...extra },
      annotations: { summary: alertname },
      startsAt: new Date().toISOString(),
    });
    const res = await fetch(`${am.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        alert('MailrelayAccountExternalRecipientsHigh', 'critical', { account: 'info@domaine.com' }),
        alert('MailrelayAccountForeignSender', 'warning', { account: 'info@domaine.com' }),
        alert('MailrelayAccountForeignSender', 'warning', { account: 'compta@domaine.com' }),
        // No account: a critical without one inhibits nothing.
        alert('MailrelayExporterDown', 'critical', { instance: 'mx1:9712' }),
        alert('MailrelayQueueRetryGrowing', 'warning', { instance: 'mx1:9712' }),
        alert('MailrelayIncomingOrphans', 'info', { instance: 'mx1:9712', folder: '_incoming.bak' }),
      ]),
    });
    expect(res.status).toBe(200);

    type ApiAlert = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } };
    const state = (list: ApiAlert[], alertname: string, account?: string) =>
      list.find((a) => a.labels.alertname === alertname && a.labels.account === account)?.status.state;
    const listed = await waitFor(
      async () => {
        const list = JSON.parse(await fetchText(`${am.url}/api/v2/alerts`)) as ApiAlert[];
        return list.length === 6 ? list : undefined;
      },
      { what: 'Alertmanager to list the 6 alerts' },
    );
    expect(state(listed, 'MailrelayAccountForeignSender', 'info@domaine.com')).toBe('suppressed');
    expect(state(listed, 'MailrelayAccountForeignSender', 'compta@domaine.com')).toBe('active');
    expect(state(listed, 'MailrelayQueueRetryGrowing')).toBe('active');
    expect(state(listed, 'MailrelayAccountExternalRecipientsHigh', 'info@domaine.com')).toBe('active');

    // The webhook gets one group per alertname and account; wait for the four routed groups.
    const sent = await waitFor(
      async () => {
        const got = webhook.notifications.flatMap((n) => n.alerts.map((a) => `${n.path} ${a.labels.alertname} ${a.labels.account ?? '-'}`));
        return got.length >= 4 ? got.sort() : undefined;
      },
      { what: 'four notifications at the webhook', timeoutMs: 20_000 },
    );
    // Give a late (wrong) notification a chance to arrive before asserting the exact set.
    await new Promise((r) => setTimeout(r, 2_000));
    const all = webhook.notifications.flatMap((n) => n.alerts.map((a) => `${n.path} ${a.labels.alertname} ${a.labels.account ?? '-'}`));
    expect([...new Set(all)].sort()).toEqual(sent);
    expect(sent).toEqual([
      '/pager MailrelayAccountExternalRecipientsHigh info@domaine.com',
      '/pager MailrelayExporterDown -',
      '/ticket MailrelayAccountForeignSender compta@domaine.com',
      '/ticket MailrelayQueueRetryGrowing -',
    ]);
    expect(webhook.notifications.every((n) => n.receiver === n.path.slice(1))).toBe(true);
  });
});
