// One scenario, written in each MTA's log format, must give the same account
// metrics through that MTA's real parser, the log pipeline and the
// collector (as hono runs one case file against every router). An MTA joins
// by adding its writer to WRITERS and its config section. Each runs with the
// parser in this thread and in the parser thread, as the built exporter runs
// it (the built worker: `npm test` builds first).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backfill } from '../../src/backfill/backfill.js';
import { readOpenMetricsSamples } from '../../src/backfill/openMetrics.js';
import { logCollector } from '../../src/collectors/log.js';
import { ExporterRegistry } from '../../src/collectors/registry.js';
import { loadConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/logger.js';
import { LogPipeline, logSettings } from '../../src/pipeline/logPipeline.js';
import { icewarpLog } from './icewarp.js';
import { postfixLog } from './postfix.js';
import { expectedAccountSeries, LOCAL_DOMAINS, sharedScenario, type SessionScript } from './scenario.js';

interface Writer {
  /** The MTA's config section for a log folder. */
  section(dir: string): string;
  write(sessions: readonly SessionScript[]): { name: string; text: string }[];
}

const WRITERS: Record<string, Writer> = {
  icewarp: { section: (dir) => `icewarp:\n  log_directory: ${dir}\n`, write: icewarpLog },
  postfix: { section: (dir) => `postfix:\n  log_file: ${dir}/mail.log*\n`, write: postfixLog },
};

/** Where the parser runs: this thread, or the built parser thread. */
const PLACES: Record<string, false | URL> = {
  'main thread': false,
  'parser thread': new URL('../../dist/src/pipeline/parseWorker.js', import.meta.url),
};

/** The series the counting rules fix: the account metrics and the relay counters. */
const ACCOUNT_SERIES =
  /^mailrelay_(?:account_(?:logins|messages|recipients|foreign_sender_messages|sender_recipients)_total|account_client_ips|account_recipient_domains|unauthenticated_relay_recipients_total|relay_denied_total)(?:\{[^}]*\})?$/;

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function accountSeries(mta: string, writer: Writer, sessions: readonly SessionScript[], parserThread: false | URL): Promise<Map<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), `mailrelay-case-${mta}-`));
  dirs.push(dir);
  for (const f of writer.write(sessions)) await writeFile(join(dir, f.name), f.text);
  const config = loadConfig(
    `${writer.section(dir)}local_domains: [${LOCAL_DOMAINS.join(', ')}]\nstart_at: beginning\npositions_file: ${join(dir, '.positions.json')}\ndetection: {window: 1d}\n`,
  );
  const pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false, parserThread });
  try {
    await pipeline.ready;
    // Not parsed in this thread after a failed start of the worker.
    expect(pipeline.status().success).toBe(true);
    const registry = new ExporterRegistry();
    logCollector.register(registry, () => pipeline);
    const text = await registry.metrics();
    const series = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^(\S+) (\S+)$/.exec(line);
      if (m && ACCOUNT_SERIES.test(m[1]!)) series.set(m[1]!, Number(m[2]));
    }
    expect(text).toMatch(/^mailrelay_log_unparsed_lines_total 0$/m);
    return series;
  } finally {
    await pipeline.stop();
  }
}

describe.each(Object.entries(WRITERS))('the shared scenario written by %s', (mta, writer) => {
  it.each(Object.entries(PLACES))('gives exactly the account metrics of the counting rules, parsed in the %s', async (_place, parserThread) => {
    const sessions = sharedScenario();
    const expected = expectedAccountSeries(sessions);
    const got = await accountSeries(mta, writer, sessions, parserThread);
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
    // The scenario exercises what it claims to: a stolen account on three IPs, a refused and an open relay.
    expect(expected.get('mailrelay_account_client_ips{account="info@domaine.com"}')).toBe(3);
    expect(expected.get('mailrelay_relay_denied_total')).toBe(1);
    expect(expected.get('mailrelay_unauthenticated_relay_recipients_total')).toBe(1);
  });

  it('backfills, through the same parser, the same account metrics by the last step', async () => {
    const sessions = sharedScenario();
    const dir = await mkdtemp(join(tmpdir(), `mailrelay-case-${mta}-`));
    dirs.push(dir);
    for (const f of writer.write(sessions)) await writeFile(join(dir, f.name), f.text);
    const config = loadConfig(`${writer.section(dir)}local_domains: [${LOCAL_DOMAINS.join(', ')}]\ndetection: {window: 1d}\n`);
    let text = '';
    const summary = await backfill({ config, stepSeconds: 60, logger: silentLogger, write: (t) => (text += t) });
    expect(summary.unparsedLines).toBe(0);
    const last = new Map<string, number>();
    for (const s of readOpenMetricsSamples(text)) if (s.time === summary.lastStep && ACCOUNT_SERIES.test(s.series)) last.set(s.series, s.value);
    const expected = expectedAccountSeries(sessions);
    expect(Object.fromEntries([...last].sort())).toEqual(Object.fromEntries([...expected].sort()));
    // Each session counts from the first step after it: the first login is in no step before the first session.
    const firstLogin = [...readOpenMetricsSamples(text)].find((s) => s.series.startsWith('mailrelay_account_logins_total{'));
    expect(firstLogin!.time).toBeGreaterThanOrEqual(sessions[0]!.at);
    expect(firstLogin!.time).toBeLessThan(sessions[0]!.at + 120);
  });

  it('never lets a password into the metrics', async () => {
    const dir = await mkdtemp(join(tmpdir(), `mailrelay-case-${mta}-`));
    dirs.push(dir);
    for (const f of writer.write(sharedScenario())) await writeFile(join(dir, f.name), f.text);
    const config = loadConfig(`${writer.section(dir)}start_at: beginning\npositions_file: ${join(dir, '.positions.json')}\n`);
    const pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false });
    await pipeline.ready;
    const registry = new ExporterRegistry();
    logCollector.register(registry, () => pipeline);
    const text = await registry.metrics();
    await pipeline.stop();
    expect(text).not.toContain('S3cret');
    expect(text).not.toContain(Buffer.from('S3cret-password!').toString('base64'));
  });
});
