import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildDashboards, renderDashboard, RUNBOOK_BASE_URL, UIDS } from './build.js';
import { EXAMPLE_VALUES, lintDashboard, panelLinkUrls, panelsOf, queriesOf, substitute, type DashboardJson, type DashboardQuery } from './lint.js';

const run = promisify(execFile);
const DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

const built = buildDashboards();
/** What Grafana reads: the rendered JSON, parsed back. */
const dashboards: Record<string, DashboardJson> = Object.fromEntries(
  Object.entries(built).map(([file, d]) => [file, JSON.parse(renderDashboard(d)) as DashboardJson]),
);
const byUid = (uid: string): DashboardJson => Object.values(dashboards).find((d) => d.uid === uid)!;


describe('committed dashboard JSON', () => {
  it('is what build.ts generates (run `npm run build && node dist/dashboards/generate.js` after a change)', () => {
    for (const [file, d] of Object.entries(built)) {
      const path = join(DIR, file);
      expect(existsSync(path), `${file} is not committed`).toBe(true);
      expect(readFileSync(path, 'utf8'), `${file} is stale`).toBe(renderDashboard(d));
    }
    const committed = readdirSync(DIR).filter((f) => f.endsWith('.json'));
    expect(committed.sort()).toEqual(Object.keys(built).sort());
  });

  it('is written by the compiled generator', async () => {
    const generator = join(REPO, 'dist', 'dashboards', 'generate.js');
    expect(existsSync(generator), `${generator} is missing: run "npm run build"`).toBe(true);
    const out = await mkdtemp(join(tmpdir(), 'mailrelay-dashboards-'));
    try {
      await run(process.execPath, [generator, out]);
      for (const [file, d] of Object.entries(built)) expect(readFileSync(join(out, file), 'utf8')).toBe(renderDashboard(d));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('has stable, distinct uids and titles', () => {
    expect(Object.values(dashboards).map((d) => d.uid)).toEqual([UIDS.overview, UIDS.account, UIDS.exporter]);
    const titles = Object.values(dashboards).map((d) => d.title);
    expect(new Set(titles).size).toBe(titles.length);
  });
});

describe('Grafana conventions', () => {
  it.each(Object.keys(dashboards))('%s: datasource/job/instance variables, $__rate_interval, unit and description on every panel', (file) => {
    expect(lintDashboard(dashboards[file]!)).toEqual([]);
  });

  it('the lint catches each broken convention', () => {
    const d = structuredClone(byUid(UIDS.overview));
    const panels = panelsOf(d);
    const [first, second, third, fourth] = panels;
    delete first!.description;
    delete second!.fieldConfig!.defaults!.unit;
    third!.targets![0]!.expr = 'sum(rate(mailrelay_log_lines_total{job=~"$job", instance=~"$instance"}[5m]))';
    fourth!.targets![0]!.expr = 'sum(mailrelay_spool_messages{job=~"$job"}) + $nosuch';
    d.templating!.list = d.templating!.list!.filter((v) => v.name !== 'datasource');
    d.refresh = '5s';
    panels[5]!.title = panels[4]!.title;
    d.panels![2]!.gridPos = { ...d.panels![1]!.gridPos!, x: d.panels![1]!.gridPos!.x + 1 };
    const problems = lintDashboard(d).join('\n');
    expect(problems).toContain(`panel ${first!.id} (${first!.title}): no description`);
    expect(problems).toContain(`panel ${second!.id} (${second!.title}): no unit`);
    expect(problems).toContain('range [5m] is not [$__rate_interval]');
    expect(problems).toContain('rate() without [$__rate_interval]');
    expect(problems).toContain('mailrelay_spool_messages has no instance=~"$instance" matcher');
    expect(problems).toContain('unknown variable $nosuch');
    expect(problems).toContain('no "datasource" variable');
    expect(problems).toContain('refresh 5s is below 30s');
    expect(problems).toMatch(/overlaps panel/);
    expect(problems).toContain(`panel ${panels[5]!.id} (${panels[4]!.title}): another panel has the same title`);
  });

  it('every panel query carries the job and instance variables', () => {
    const targets = Object.values(dashboards).flatMap((d) => queriesOf(d).filter((q) => q.panelId !== undefined));
    expect(targets.length).toBeGreaterThan(50);
    for (const q of targets) {
      expect(q.expr, q.where).toContain('job=~"$job"');
      expect(q.expr, q.where).toContain('instance=~"$instance"');
    }
  });

  it('sets a sensible default time range and refresh', () => {
    for (const d of Object.values(dashboards)) {
      expect(d.time?.from).toMatch(/^now-\d+h$/);
      expect(d.time?.to).toBe('now');
      expect(d.refresh).toBe('1m');
    }
  });
});

describe('the overview', () => {
  const overview = byUid(UIDS.overview);
  const panels = panelsOf(overview);
  const exprs = (p: (typeof panels)[number]): string => (p.targets ?? []).map((t) => t.expr).join('\n');

  it('links every per-account table and series to the drill-down with the account preset', () => {
    // Panels whose rows or series are accounts (or queued senders): by legend, or by table column.
    const perAccount = panels.filter((p) => {
      const raw = p as unknown as { targets?: { legendFormat?: string }[]; transformations?: { id: string; options: { indexByName?: object } }[] };
      const legends = (raw.targets ?? []).map((t) => t.legendFormat ?? '');
      const columns = (raw.transformations ?? []).flatMap((t) => (t.id === 'organize' ? Object.keys(t.options.indexByName ?? {}) : []));
      return legends.some((l) => /\{\{(account|sender)\}\}/.test(l)) || columns.includes('account') || columns.includes('sender');
    });
    expect(perAccount.map((p) => p.title)).toEqual(
      expect.arrayContaining(['External recipients per account (top 10)', 'Client IPs per account (top 10)', 'Top accounts', 'Top queued senders']),
    );
    for (const p of perAccount) {
      const drill = panelLinkUrls(p).filter((u) => u.startsWith(`/d/${UIDS.account}/`));
      expect(drill, `${p.title} has no drill-down link`).toHaveLength(1);
      expect(drill[0]).toMatch(/var-account=\$\{__(value\.raw|field\.labels\.account):percentencode\}/);
      for (const v of ['datasource', 'job', 'instance']) expect(drill[0]).toContain(`\${${v}:queryparam}`);
      expect(drill[0]).toContain('${__url_time_range}');
    }
  });

  it('sorts the top-accounts table by external recipients, descending', () => {
    const top = panels.find((p) => p.title === 'Top accounts')! as unknown as { options: { sortBy: { displayName: string; desc: boolean }[] } };
    expect(top.options.sortBy).toEqual([{ displayName: 'External recipients /h', desc: true }]);
  });

  it('shows firing alerts as annotations and links to the runbooks', () => {
    expect(overview.annotations?.list?.[0]?.expr).toMatch(/^ALERTS\{alertstate="firing"/);
    expect(overview.links?.map((l) => l.url)).toContain(RUNBOOK_BASE_URL);
    const runbooks = panels.flatMap(panelLinkUrls).filter((u) => u.startsWith(`${RUNBOOK_BASE_URL}/Mailrelay`));
    expect(runbooks.length).toBeGreaterThanOrEqual(8);
  });

  it.each([
    ['open-relay recipients', 'mailrelay_unauthenticated_relay_recipients_total'],
    ['external recipients per account', 'mailrelay_account_recipients_total'],
    ['client IPs', 'mailrelay_account_client_ips'],
    ['foreign-sender share', 'mailrelay_account_foreign_sender_messages_total'],
    ['auth failures', 'mailrelay_smtp_auth_failures_total'],
    ['queue depth', 'mailrelay_spool_messages'],
    ['oldest message', 'mailrelay_spool_oldest_message_age_seconds'],
    ['top queued senders', 'mailrelay_spool_sender_messages'],
    ['DNSBL listings', 'mailrelay_dnsbl_listed'],
    ['DNSBL errors', 'mailrelay_dnsbl_query_errors_total'],
    ['DNSBL last check', 'mailrelay_dnsbl_last_check_timestamp_seconds'],
    ['relay probe accepted', 'mailrelay_open_relay_probe_accepted'],
    ['relay probe success', 'mailrelay_open_relay_probe_success'],
    ['relay probe duration', 'mailrelay_open_relay_probe_duration_seconds'],
  ])('has a panel for %s (%s)', (_, metric) => {
    expect(panels.some((p) => exprs(p).includes(`${metric}{`))).toBe(true);
  });
});

describe('the account drill-down', () => {
  const account = byUid(UIDS.account);

  it('has an account variable used by every panel', () => {
    expect(account.templating?.list?.find((v) => v.name === 'account')?.type).toBe('query');
    for (const p of panelsOf(account)) {
      for (const t of p.targets ?? []) expect(t.expr, p.title).toMatch(/(account|sender)=~"\$account"/);
    }
  });

  it.each([
    'mailrelay_account_logins_total',
    'mailrelay_account_client_ips',
    'mailrelay_account_recipient_domains',
    'mailrelay_account_recipients_total',
    'mailrelay_account_foreign_sender_messages_total',
    'mailrelay_account_auth_failures_total',
    'mailrelay_spool_sender_messages',
  ])('queries %s', (metric) => {
    expect(queriesOf(account).some((q) => q.expr.includes(`${metric}{`))).toBe(true);
  });
});

describe('the exporter health dashboard', () => {
  it.each([
    'mailrelay_log_lines_total',
    'mailrelay_log_lag_bytes',
    'mailrelay_log_unparsed_lines_total',
    'mailrelay_accounts_overflow_total',
    'mailrelay_collector_success',
    'mailrelay_collector_duration_seconds',
    'mailrelay_config_last_reload_successful',
  ])('queries %s', (metric) => {
    expect(queriesOf(byUid(UIDS.exporter)).some((q) => q.expr.includes(`${metric}{`))).toBe(true);
  });
});

/** Writes the queries as recording rules and lets the real promtool parse them. */
async function promtoolCheck(queries: DashboardQuery[]): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailrelay-dashboard-promql-'));
  try {
    const file = join(dir, 'dashboard-queries.yml');
    const rules = queries.map((q, i) => ({
      record: `dashboard:${q.dashboard.replace(/-/g, '_')}:query_${i}`,
      expr: substitute(q.expr, EXAMPLE_VALUES),
      labels: { where: q.where },
    }));
    await writeFile(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
    try {
      const { stdout, stderr } = await run(PROMTOOL, ['check', 'rules', file]);
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: unknown; stdout?: string; stderr?: string };
      if (e.code === 'ENOENT') throw new Error(`${PROMTOOL} not found: install the "prometheus" package (see .ci/run)`, { cause: err });
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('PromQL', () => {
  const all = Object.values(dashboards).flatMap(queriesOf);

  it('every panel, variable and annotation query parses (promtool check rules)', async () => {
    const { ok, output } = await promtoolCheck(all);
    expect(output).toContain(`SUCCESS: ${all.length} rules found`);
    expect(ok).toBe(true);
  });

  it('promtool rejects a broken query, naming it', async () => {
    const broken: DashboardQuery = { dashboard: 'x', where: 'broken', instant: true, expr: 'sum by (account (mailrelay_account_client_ips{job=~"$job"})' };
    const { ok, output } = await promtoolCheck([all[0]!, broken]);
    expect(ok).toBe(false);
    expect(output).toMatch(/parse error/);
  });

  it('substitutes template variables as Grafana does, and refuses unknown ones', () => {
    expect(substitute('rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval])', EXAMPLE_VALUES)).toBe(
      'rate(x{job=~"mailrelay", instance=~".*"}[1m])',
    );
    expect(() => substitute('x{a="$nope"}', EXAMPLE_VALUES)).toThrow(/\$nope/);
  });
});
