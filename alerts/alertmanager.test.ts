// The example Alertmanager config (alertmanager/alertmanager.yml): checked by
// amtool, its routes tested for every alert of the rules, and its inhibition
// tested against a real Alertmanager.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import {
  EXAMPLE_CONFIG,
  exampleConfigFor,
  startAlertmanager,
  startWebhook,
  type Route,
  type RunningAlertmanager,
  type Webhook,
} from '../alertmanager/harness.js';
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

  it('pages without waiting more than 30 s, one page per account whichever of its alerts fire', () => {
    const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? /^(\d+)m$/.exec(d)?.[1] ?? NaN) * (d.endsWith('m') ? 60 : 1);
    const root = (parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as { route: Route }).route;
    const pager = root.routes?.find((r) => r.receiver === 'pager');
    expect(pager?.matchers).toEqual(['severity="critical"']);
    // Every route under the pager, with what it inherits: none waits longer than 30 s before the first page.
    const walk = (r: Route, wait: string): string[] => [r.group_wait ?? wait, ...(r.routes ?? []).flatMap((c) => walk(c, r.group_wait ?? wait))];
    const waits = walk(pager!, root.group_wait ?? '30s');
    for (const w of waits) expect(seconds(w), w).toBeLessThanOrEqual(30);
    expect(pager?.routes?.find((r) => r.matchers?.includes('account=~".+"'))?.group_by).toEqual(['account']);
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

  it('ties a warning ticketed minutes before to the page of the same account: one page for the account, its warnings muted', async () => {
    const account = 'rh@domaine.com';
    const alert = (alertname: string, severity: string, labels: Record<string, string> = {}) => ({
      labels: { alertname, severity, job: 'mailrelay', account, ...labels },
      annotations: { summary: alertname },
      startsAt: new Date().toISOString(),
    });
    const post = async (alerts: unknown[]) => {
      const res = await fetch(`${am.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
      expect(res.status).toBe(200);
    };
    const about = (receiver: string) =>
      webhook.notifications.filter((n) => n.receiver === receiver && n.alerts.some((a) => a.labels.account === account));

    // First the sign: a ticket.
    await post([alert('MailrelayAccountForeignSender', 'warning')]);
    await waitFor(async () => (about('ticket').length > 0 ? true : undefined), { what: `a ticket about ${account}`, timeoutMs: 20_000 });

    // Then the page: the burst and the agreeing signs arrive as one notification for the account.
    await post([alert('MailrelayAccountExternalRecipientsBurst', 'critical'), alert('MailrelayAccountCompromised', 'critical')]);
    const page = await waitFor(async () => about('pager')[0], { what: `a page about ${account}`, timeoutMs: 20_000 });
    expect(page.groupLabels).toEqual({ account });
    expect(page.alerts.map((a) => a.labels.alertname).sort()).toEqual(['MailrelayAccountCompromised', 'MailrelayAccountExternalRecipientsBurst']);

    // The earlier warning is now muted by the page, and a new warning of the account is never ticketed.
    type ApiAlert = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } };
    await post([alert('MailrelayAccountManyClientIPs', 'warning')]);
    const muted = await waitFor(
      async () => {
        const list = JSON.parse(await fetchText(`${am.url}/api/v2/alerts?filter=account%3D%22${encodeURIComponent(account)}%22`)) as ApiAlert[];
        const warnings = list.filter((a) => a.labels.severity === 'warning');
        return warnings.length === 2 && warnings.every((a) => a.status.state === 'suppressed') ? warnings : undefined;
      },
      { what: `the warnings of ${account} to be suppressed by its page` },
    );
    expect(muted.every((a) => a.status.inhibitedBy.length > 0)).toBe(true);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(about('ticket').flatMap((n) => n.alerts.map((a) => a.labels.alertname))).not.toContain('MailrelayAccountManyClientIPs');
    expect(about('pager')).toHaveLength(1);
  });
});
