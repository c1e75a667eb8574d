// `mailrelay-exporter backfill` as the README tells a user to run it: the
// built command replays a log folder into OpenMetrics, promtool turns that
// into TSDB blocks, and a real Prometheus started on them answers queries
// about the past with the scenario's own numbers.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scenarioTruth, writeScenario, type ScenarioOptions } from '../../src/demo/scenario.js';
import { EXPORTER_MAIN } from '../harness/exporter.js';
import { startPrometheus, type RunningPrometheus } from '../harness/prometheus.js';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXPORTER_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
let prometheus: RunningPrometheus | undefined;
// A past afternoon, within Prometheus' default retention.
const START = Math.floor(Date.now() / 1000 / 3600) * 3600 - 30 * 3600;
const END = START + 3 * 3600;
const OPTS: ScenarioOptions = {
  seed: 9,
  start: new Date(START * 1000),
  durationSeconds: END - START,
  legitimateUsers: 10,
  inboundPerMinute: 2,
  outboundDeliveriesPerMinute: 1,
  incidents: [{ kind: 'sending', account: 'compta@domaine.com', startSecond: 3600, endSecond: 5400, messagesPerMinute: 5, recipientsPerMessage: 6, ips: 10, foreignSender: true }],
};
let history = '';
let stderr = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailrelay-backfill-e2e-'));
  await writeScenario(join(dir, 'smtp'), OPTS);
  await writeFile(join(dir, 'config.yml'), `icewarp:\n  log_directory: ${join(dir, 'smtp')}\nlocal_domains: [domaine.com]\n`);
  const run = await cli([
    'backfill',
    `--config.file=${join(dir, 'config.yml')}`,
    '--step=60s',
    '--label',
    'job=mailrelay',
    '--label',
    'instance=mx1:10025',
    '--output',
    join(dir, 'history.om'),
  ]);
  stderr = run.stderr;
  expect(run.code, run.stderr).toBe(0);
  history = await readFile(join(dir, 'history.om'), 'utf8');
  await promisify(execFile)('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'history.om'), join(dir, 'blocks')]);
  prometheus = await startPrometheus({ targets: [], blocks: join(dir, 'blocks') });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('backfill into a real Prometheus', () => {
  it('says what it replayed', () => {
    expect(stderr).toMatch(/^backfill: \d+ lines \(0 not in the log layout, skipped\), \d+ samples in \d+ steps of 60 s from \S+ to \S+\n$/);
    expect(history.endsWith('# EOF\n')).toBe(true);
  });

  it("answers for the past with the scenario's numbers, under the live scrape's job and instance", async () => {
    const truth = scenarioTruth(OPTS);
    const stolen = 'compta@domaine.com';
    const at = END + 600;
    const [sample] = await prometheus!.query(`mailrelay_account_recipients_total{job="mailrelay", instance="mx1:10025", account="${stolen}", destination="external"}`, at - 300);
    expect(Number(sample?.value[1])).toBe(truth.accounts[stolen]?.externalRecipients);
    const accounts = await prometheus!.query('count(mailrelay_account_logins_total{job="mailrelay"})', at - 300);
    expect(Number(accounts[0]?.value[1])).toBe(Object.keys(truth.accounts).length);
    // The attack's half hour, seen by a rule's window: 30 minutes at 5 messages of 6 recipients a minute.
    const [burst] = await prometheus!.query(`sum(increase(mailrelay_account_recipients_total{account="${stolen}", destination="external"}[30m]))`, START + 5400);
    expect(Number(burst?.value[1])).toBeGreaterThan(700);
    expect(Number(burst?.value[1])).toBeLessThan(1100);
    // And the log's own health: every line read, none skipped.
    const [unparsed] = await prometheus!.query('mailrelay_log_unparsed_lines_total{job="mailrelay"}', at - 300);
    expect(unparsed?.value[1]).toBe('0');
  });
});

describe('the baselines for the backfilled days, as the README tells', () => {
  it('writes the shipped rules by level; promtool checks each and records level 1 from the backfilled series', async () => {
    const run = await cli(['backfill', '--rule-levels', join(dir, 'levels')]);
    expect(run.code, run.stderr).toBe(0);
    const files = [...run.stdout.matchAll(/^wrote (\S+) \((\d+) recording rules\)$/gm)].map((m) => m[1]!);
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files[0]).toBe(join(dir, 'levels', '1.yml'));
    const exec = promisify(execFile);
    for (const f of files) expect((await exec('promtool', ['check', 'rules', f])).stdout).toContain('SUCCESS');
    await exec('promtool', [
      'tsdb', 'create-blocks-from', 'rules', '--url', prometheus!.url,
      '--start', new Date(START * 1000).toISOString(), '--end', new Date(END * 1000).toISOString(),
      '--eval-interval', '1h', '--output-dir', join(dir, 'rule-blocks'), files[0]!,
    ]);
    // A block of the raw windows' hourly samples, over the backfilled afternoon.
    const blocks = (await readdir(join(dir, 'rule-blocks'))).filter((b) => /^[0-9A-Z]{26}$/.test(b));
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    const meta = JSON.parse(await readFile(join(dir, 'rule-blocks', blocks[0]!, 'meta.json'), 'utf8')) as { stats: { numSamples: number } };
    expect(meta.stats.numSamples).toBeGreaterThan(0);
  });

  it('names a rule file that is not one (exit 1), and refuses --rules alone (exit 2)', async () => {
    const notRules = await cli(['backfill', '--rule-levels', join(dir, 'x'), '--rules', join(dir, 'config.yml')]);
    expect(notRules.code).toBe(1);
    expect(notRules.stderr).toContain(`${join(dir, 'config.yml')}: not a Prometheus rule file`);
    const alone = await cli(['backfill', `--config.file=${join(dir, 'config.yml')}`, '--rules', join(dir, 'config.yml')]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--rules goes with --rule-levels');
  });
});

describe('backfill usage', () => {
  it('refuses bad flags with the usage (exit 2), and names an unreadable config (exit 1)', async () => {
    const noConfig = await cli(['backfill']);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toContain('--config.file is required');
    expect(noConfig.stderr).toContain('promtool tsdb create-blocks-from openmetrics');
    const badStep = await cli(['backfill', `--config.file=${join(dir, 'config.yml')}`, '--step=soon']);
    expect(badStep.code).toBe(2);
    expect(badStep.stderr).toContain('--step soon');
    const badLabel = await cli(['backfill', `--config.file=${join(dir, 'config.yml')}`, '--label', 'account=x']);
    expect(badLabel.code).toBe(2);
    const badTime = await cli(['backfill', `--config.file=${join(dir, 'config.yml')}`, '--from', 'yesterday']);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('--from yesterday');
    const missing = await cli(['backfill', `--config.file=${join(dir, 'nope.yml')}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yml');
    const help = await cli(['backfill', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--label NAME=VALUE');
  });

  it('writes to standard output without --output, and only the asked steps', async () => {
    const from = START + 3600;
    const to = START + 3600 + 600;
    const run = await cli(['backfill', `--config.file=${join(dir, 'config.yml')}`, '--from', new Date(from * 1000).toISOString(), '--to', String(to)]);
    expect(run.code, run.stderr).toBe(0);
    const times = new Set(run.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1))));
    expect(Math.min(...times)).toBe(from);
    expect(Math.max(...times)).toBe(to);
    expect(times.size).toBe(11);
  });
});
