// Every dashboard query against a real Prometheus scraping the built exporter
// while a generated attack scenario (a stolen account relaying spam, its spam
// filling the queue) is written into the log directory, chunk by chunk, as a
// live server would: counters must grow between scrapes for rate() to see them.
// A real dnsmasq plays the DNS blacklist, so the DNSBL panels have data too;
// the relay probe aims at a closed port, so its panels show a failed probe.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboards, renderDashboard, UIDS } from '../../dashboards/build.js';
import { panelsOf, queriesOf, substitute, type DashboardJson, type DashboardQuery } from '../../dashboards/lint.js';
import { writeQueue, type QueueTruth } from '../../src/demo/queue.js';
import { scenarioLines, type ScenarioOptions } from '../../src/demo/scenario.js';
import { startExporter, type RunningExporter } from '../harness/exporter.js';
import { startDnsmasq } from '../harness/dnsmasq.js';
import { freePort, waitFor, type Child } from '../harness/processes.js';
import { startPrometheus, type RunningPrometheus, type Sample } from '../harness/prometheus.js';

const STOLEN = 'info@domaine.com';
const SPAM_SENDER = 'willm.b@orange.fr';
const JOB = 'mailrelay';
const CHUNKS = 10;
/** The server's IPs as the DNSBL check sees them: the first is listed on zen.test. */
const LISTED_IP = '192.0.2.1';
const CLEAN_IP = '192.0.2.2';

const dashboards = Object.values(buildDashboards()).map((d) => JSON.parse(renderDashboard(d)) as DashboardJson);
const byUid = (uid: string): DashboardJson => dashboards.find((d) => d.uid === uid)!;

let dir: string;
let exporter: RunningExporter | undefined;
let prometheus: RunningPrometheus | undefined;
let queue: QueueTruth;
let ingestStart: number;
let dnsmasq: Child | undefined;
/** Nothing listens there. */
let probeTarget: string;

/**
 * As Grafana would send them. $__rate_interval grows with the time range in
 * Grafana; 5m covers the whole ingestion here (it is the window of the instant queries).
 */
function values(overrides: Record<string, string> = {}): Record<string, string> {
  return { job: JOB, instance: '.*', __rate_interval: '5m', account: STOLEN, ...overrides };
}

function logFileOf(time: number): string {
  const d = new Date(time * 1000);
  return `s${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}.log`;
}

async function instant(q: DashboardQuery, vars = values()): Promise<Sample[]> {
  return prometheus!.query(substitute(q.expr, vars));
}

function panelQueries(uid: string, title: string): DashboardQuery[] {
  const d = byUid(uid);
  const panel = panelsOf(d).find((p) => p.title === title);
  if (!panel) throw new Error(`no panel "${title}" in ${uid}`);
  return queriesOf(d).filter((q) => q.panelId === panel.id);
}

const sortedDesc = (samples: Sample[]): Sample[] => [...samples].sort((a, b) => Number(b.value[1]) - Number(a.value[1]));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-dashboards-e2e-'));
  const logs = join(dir, 'smtp');
  const mail = join(dir, 'mail');
  mkdirSync(logs, { recursive: true });
  const now = Math.floor(Date.now() / 1000);
  const history = 3600;
  const options: ScenarioOptions = {
    seed: 7,
    start: new Date((now - history) * 1000),
    durationSeconds: history,
    localDomain: 'domaine.com',
    legitimateUsers: 12,
    inboundPerMinute: 4,
    outboundDeliveriesPerMinute: 2,
    spray: { perMinute: 2, usernames: 50 },
    attack: { account: STOLEN, startSecond: history - 20 * 60, messagesPerMinute: 20, recipientsPerMessage: 8, ips: 30, foreignSender: true },
    busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2 },
  };
  const lines = [...scenarioLines(options)].filter((l) => l.time <= now);
  queue = writeQueue(mail, {
    seed: 7,
    legitimateMessages: 60,
    spamMessages: 400,
    spamSender: SPAM_SENDER,
    retryFraction: 0.6,
    incomingPairs: 5,
    incomingBakPairs: 3,
    incomingBakOrphans: 2,
    oldMessages: 2,
  });

  // dnsmasq answering like a blocklist for zen.test: 192.0.2.1 listed (127.0.0.2), anything else NXDOMAIN.
  const dns = await startDnsmasq(dir, ['--local=/zen.test/', '--host-record=1.2.0.192.zen.test,127.0.0.2']);
  dnsmasq = dns.child;
  probeTarget = `127.0.0.1:${await freePort()}`;
  exporter = await startExporter({
    dir,
    configYaml: [
      'icewarp:',
      `  log_directory: ${logs}`,
      `  mail_directory: ${mail}`,
      'local_domains: [domaine.com, "*.domaine.com"]',
      'start_at: beginning',
      `positions_file: ${join(dir, 'positions.json')}`,
      'dnsbl:',
      `  ips: [${LISTED_IP}, ${CLEAN_IP}]`,
      '  zones: [zen.test]',
      `  resolver: 127.0.0.1:${dns.port}`,
      'relay_probe:',
      `  targets: ["${probeTarget}"]`,
      '  timeout: 5s',
      '',
    ].join('\n'),
  });
  prometheus = await startPrometheus({ targets: [`127.0.0.1:${exporter.port}`], jobName: JOB, scrapeInterval: '1s' });
  await prometheus.waitForTargetsUp();

  // The log grows chunk by chunk, in log-time order; each chunk is read by
  // the exporter and scraped by Prometheus before the next is written.
  ingestStart = Math.floor(Date.now() / 1000);
  let written = 0;
  for (let c = 0; c < CHUNKS; c++) {
    const chunk = lines.slice(Math.floor((c * lines.length) / CHUNKS), Math.floor(((c + 1) * lines.length) / CHUNKS));
    const byFile = new Map<string, string[]>();
    for (const l of chunk) {
      const file = logFileOf(l.time);
      byFile.set(file, [...(byFile.get(file) ?? []), l.line]);
    }
    for (const [file, batch] of byFile) appendFileSync(join(logs, file), `${batch.join('\r\n')}\r\n`);
    written += chunk.length;
    await waitFor(
      async () => {
        const [read] = await prometheus!.query(`mailrelay_log_lines_total{job="${JOB}"}`);
        return Number(read?.value[1]) === written;
      },
      { what: `Prometheus to scrape ${written} lines read (chunk ${c + 1} of ${CHUNKS})`, timeoutMs: 30_000, intervalMs: 200 },
    );
  }
  await waitFor(async () => (await prometheus!.query(`mailrelay_dnsbl_last_check_timestamp_seconds{job="${JOB}"}`)).length === 1, {
    what: 'Prometheus to scrape a finished DNSBL round',
  });
  await waitFor(async () => (await prometheus!.query(`mailrelay_open_relay_probe_success{job="${JOB}"}`)).length === 1, {
    what: 'Prometheus to scrape a finished relay probe',
  });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop();
  await dnsmasq?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dashboards against a real Prometheus scraping the exporter during an attack', () => {
  it('every panel, variable and annotation query runs without error', async () => {
    const end = Math.floor(Date.now() / 1000);
    const failures: string[] = [];
    for (const d of dashboards) {
      for (const q of queriesOf(d)) {
        try {
          await instant(q);
          if (!q.instant) await prometheus!.queryRange(substitute(q.expr, values()), ingestStart - 60, end, 2);
        } catch (err) {
          failures.push(`${q.dashboard} ${q.where}: ${(err as Error).message}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('the stolen account is first in the top-accounts table, with its IPs, domains and foreign-sender share', async () => {
    const [external, ips, domains, foreign] = panelQueries(UIDS.overview, 'Top accounts');
    const top = sortedDesc(await instant(external!));
    expect(top[0]?.metric.account).toBe(STOLEN);
    expect(Number(top[0]!.value[1])).toBeGreaterThan(200);
    for (const column of [ips!, domains!, foreign!]) {
      const rows = await instant(column);
      expect(rows.find((r) => r.metric.account === STOLEN), column.where).toBeDefined();
    }
    const share = (await instant(foreign!)).find((r) => r.metric.account === STOLEN)!;
    expect(Number(share.value[1])).toBeGreaterThan(0.5);
    const clientIps = (await instant(ips!)).find((r) => r.metric.account === STOLEN)!;
    expect(Number(clientIps.value[1])).toBeGreaterThan(5);
  });

  it('the stolen account leads the external-recipients series and trips the send-threshold stat', async () => {
    const [series] = panelQueries(UIDS.overview, 'External recipients per account (top 10)');
    const ranged = await prometheus!.queryRange(substitute(series!.expr, values()), ingestStart - 60, Math.floor(Date.now() / 1000), 2);
    expect(ranged.map((s) => s.metric.account)).toContain(STOLEN);
    const [above] = panelQueries(UIDS.overview, 'Accounts above send threshold');
    expect(Number((await instant(above!))[0]?.value[1])).toBeGreaterThanOrEqual(1);
  });

  it('the queue panels show the spam', async () => {
    const outgoing = Object.entries(queue.folders)
      .filter(([folder]) => folder.startsWith('_outgoing'))
      .reduce((n, [, f]) => n + f.messages, 0);
    const [depth] = panelQueries(UIDS.overview, 'Outgoing queue');
    expect(Number((await instant(depth!))[0]?.value[1])).toBe(outgoing);

    const [senders, share] = panelQueries(UIDS.overview, 'Top queued senders');
    const top = sortedDesc(await instant(senders!));
    expect(top[0]?.metric.sender).toBe(SPAM_SENDER);
    expect(Number(top[0]!.value[1])).toBe(queue.senders[SPAM_SENDER]);
    const spamShare = (await instant(share!)).find((r) => r.metric.sender === SPAM_SENDER)!;
    expect(Number(spamShare.value[1])).toBeGreaterThan(0.5);

    const [folders] = panelQueries(UIDS.overview, 'Queue depth per folder');
    const retry = (await instant(folders!)).find((r) => r.metric.folder === '_outgoing/retry');
    expect(Number(retry?.value[1])).toBe(queue.folders['_outgoing/retry']?.messages);

    const [sameSize] = panelQueries(UIDS.overview, 'Same-size messages queued');
    expect(Number((await instant(sameSize!))[0]?.value[1])).toBe(queue.largestSameSize.outgoing);
  });

  it('the drill-down, preset to the stolen account, shows its logins, IPs, recipients and auth data', async () => {
    for (const title of ['External recipients', 'Client IPs', 'Recipient domains', 'Foreign-sender share']) {
      const [q] = panelQueries(UIDS.account, title);
      const result = await instant(q!);
      expect(result, title).toHaveLength(1);
      expect(Number(result[0]!.value[1]), title).toBeGreaterThan(0);
    }
    const [destinations] = panelQueries(UIDS.account, 'Recipients: external vs local');
    expect((await instant(destinations!)).map((r) => r.metric.destination)).toContain('external');
    // The spam's envelope sender is foreign: the drill-down for it shows its queued messages.
    const [queued] = panelQueries(UIDS.account, 'Messages in the queue');
    const forSpamSender = await instant(queued!, values({ account: SPAM_SENDER }));
    expect(Number(forSpamSender[0]?.value[1])).toBe(queue.senders[SPAM_SENDER]);
  });

  it('the exporter health panels show the log pipeline at work', async () => {
    const [lines] = panelQueries(UIDS.exporter, 'Log lines read');
    expect(Number((await instant(lines!))[0]?.value[1])).toBeGreaterThan(0);
    const [success] = panelQueries(UIDS.exporter, 'Collector success');
    const collectors = Object.fromEntries((await instant(success!)).map((c) => [c.metric.collector, c.value[1]]));
    // The relay probe of a closed port fails, and the panel says so.
    expect(collectors).toMatchObject({ log: '1', spool: '1', dnsbl: '1', relay_probe: '0' });
    const [failing] = panelQueries(UIDS.exporter, 'Failing collectors');
    expect((await instant(failing!))[0]?.value[1]).toBe('1');
    const [up] = panelQueries(UIDS.exporter, 'Exporter up');
    expect((await instant(up!))[0]?.value[1]).toBe('1');
  });

  it('the DNSBL panels show the listed IP', async () => {
    const [listings] = panelQueries(UIDS.overview, 'DNSBL listings');
    expect(Number((await instant(listings!))[0]?.value[1])).toBe(1);
    const [status] = panelQueries(UIDS.overview, 'DNSBL status');
    const rows = await instant(status!);
    // Prometheus drops empty labels: a clean IP has no answer label.
    expect(rows.map((r) => [r.metric.ip, r.metric.zone, r.metric.answer ?? '', r.value[1]]).sort()).toEqual([
      [LISTED_IP, 'zen.test', '127.0.0.2', '1'],
      [CLEAN_IP, 'zen.test', '', '0'],
    ].sort());
    const [since] = panelQueries(UIDS.overview, 'Since last DNSBL check');
    const age = Number((await instant(since!))[0]?.value[1]);
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(600);
  });

  it('the relay-probe panels show the failed probe of a closed port', async () => {
    const [accepted, worked, duration] = panelQueries(UIDS.overview, 'Open-relay probe per target');
    const row = async (q: DashboardQuery): Promise<string[]> => (await instant(q)).map((r) => `${r.metric.target}=${r.value[1]}`);
    expect(await row(accepted!)).toEqual([`${probeTarget}=0`]);
    expect(await row(worked!)).toEqual([`${probeTarget}=0`]);
    const took = await instant(duration!);
    expect(took.map((r) => r.metric.target)).toEqual([probeTarget]);
    expect(Number(took[0]!.value[1])).toBeGreaterThanOrEqual(0);
    const [stat] = panelQueries(UIDS.overview, 'Open-relay probe');
    expect((await instant(stat!))[0]?.value[1]).toBe('0');
  });

  it('queries only metrics the exporter declares', async () => {
    const text = await exporter!.metrics();
    const declared = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const used = new Set(dashboards.flatMap((d) => queriesOf(d).flatMap((q) => [...q.expr.matchAll(/(?<![:\w])mailrelay_[a-z0-9_]+/g)].map((m) => m[0]))));
    expect(used.size).toBeGreaterThan(30);
    expect([...used].filter((name) => !declared.has(name))).toEqual([]);
  });

  it('every panel query is scoped by the job variable: another job shows nothing', async () => {
    const leaks: string[] = [];
    for (const d of dashboards) {
      for (const q of queriesOf(d).filter((x) => x.panelId !== undefined)) {
        const result = await instant(q, values({ job: 'no-such-job' }));
        // `or vector(0)` in the count stats answers a bare 0, which is right.
        const data = result.filter((s) => Object.keys(s.metric).length > 0 || s.value[1] !== '0');
        if (data.length > 0) leaks.push(`${q.dashboard} ${q.where}: ${JSON.stringify(data[0])}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
