// The backfill writes, at each step of log time, what the live exporter's
// /metrics says once it has read the log up to that time: the same parser,
// counting and rendering. Checked against a live pipeline reading a cut copy
// of the log, against the scenario's ground truth, and by promtool.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { logCollector } from '../collectors/log.js';
import { ExporterRegistry } from '../collectors/registry.js';
import { loadConfig } from '../config/config.js';
import { scenarioLines, scenarioTruth, writeScenario, type ScenarioOptions } from '../demo/scenario.js';
import { silentLogger } from '../logger.js';
import { LogPipeline, logSettings } from '../pipeline/logPipeline.js';
import { backfill, BackfillError, type BackfillOptions } from './backfill.js';
import { readOpenMetricsSamples } from './openMetrics.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-backfill-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const START = Date.UTC(2026, 10, 2, 22, 0, 0) / 1000;
const OPTS: ScenarioOptions = {
  seed: 5,
  start: new Date(START * 1000),
  durationSeconds: 3 * 3600, // crosses midnight: two daily files
  legitimateUsers: 12,
  inboundPerMinute: 3,
  outboundDeliveriesPerMinute: 1,
  busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2, recipientDomains: 60 },
  incidents: [
    { kind: 'sending', account: 'compta@domaine.com', startSecond: 3600, endSecond: 4800, messagesPerMinute: 6, recipientsPerMessage: 5, ips: 8, foreignSender: true },
    { kind: 'spray', startSecond: 5400, endSecond: 6000, perMinute: 20, usernames: 50 },
    { kind: 'open_relay', startSecond: 7200, endSecond: 7500, recipientsPerMinute: 1 },
  ],
};
const config = (logs: string, extra = '') =>
  loadConfig(`icewarp:\n  log_directory: ${JSON.stringify(logs)}\nlocal_domains: [domaine.com]\nstart_at: beginning\npositions_file: ${JSON.stringify(join(logs, '..', 'positions.json'))}\n${extra}`);

/** Runs the backfill into a string. */
async function run(opts: Partial<BackfillOptions> & Pick<BackfillOptions, 'config'>): Promise<{ text: string; summary: Awaited<ReturnType<typeof backfill>> }> {
  let text = '';
  const summary = await backfill({ stepSeconds: 60, logger: silentLogger, write: (t) => (text += t), ...opts });
  return { text, summary };
}

/** `name{labels}` with its labels sorted, and the target's job and instance left out. */
function norm(series: string): string {
  const open = series.indexOf('{');
  if (open < 0) return series;
  const labels = [...series.slice(open + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
    .filter((m) => m[1] !== 'job' && m[1] !== 'instance')
    .map((m) => `${m[1]}="${m[2]}"`)
    .sort();
  return labels.length === 0 ? series.slice(0, open) : `${series.slice(0, open)}{${labels.join(',')}}`;
}

/** The samples at one time, by normalised series. */
function at(text: string, time: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of readOpenMetricsSamples(text)) if (s.time === time) out.set(norm(s.series), s.value);
  return out;
}

/** What a live exporter's /metrics says after reading `logs` to their end. */
async function live(logs: string): Promise<Map<string, number>> {
  const pipeline = new LogPipeline(logSettings(config(logs))!, silentLogger, { watch: false });
  try {
    await pipeline.ready;
    const registry = new ExporterRegistry();
    logCollector.register(registry, () => pipeline);
    const out = new Map<string, number>();
    for (const line of (await registry.metrics()).split('\n')) {
      const m = /^(mailrelay_\S+) (\S+)$/.exec(line);
      if (m) out.set(norm(m[1]!), Number(m[2]));
    }
    return out;
  } finally {
    await pipeline.stop();
  }
}

/** The log's lines up to `until` (unix seconds), in daily files, as a live exporter would have found them then. */
function writeUntil(target: string, until: number): void {
  mkdirSync(target, { recursive: true });
  const files = new Map<string, string[]>();
  for (const { time, line } of scenarioLines(OPTS)) {
    if (time > until) continue;
    const name = `s${new Date(time * 1000).toISOString().slice(0, 10).replaceAll('-', '')}.log`;
    (files.get(name) ?? files.set(name, []).get(name))!.push(line);
  }
  for (const [name, lines] of files) writeFileSync(join(target, name), lines.join('\n') + '\n');
}

// The replay's own reading (lines, bytes, files, lag) describes the replay, not the server then.
const REPLAY_HEALTH = /^mailrelay_log_(lines|bytes|files_opened|lag|last_line)/;

describe('backfill', async () => {
  const logs = join(dir, 'smtp');
  const truth = await writeScenario(logs, OPTS);
  const { text, summary } = await run({ config: config(logs), labels: { job: 'mailrelay', instance: 'mx1:10025' } });

  it('writes OpenMetrics that promtool turns into blocks, every sample of it', async () => {
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text).toMatch(/^# TYPE mailrelay_account_recipients counter$/m);
    expect(text).toMatch(/^# TYPE mailrelay_account_client_ips gauge$/m);
    const file = join(dir, 'history.om');
    writeFileSync(file, text);
    const { stdout } = await promisify(execFile)('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, join(dir, 'blocks')]);
    // promtool prints each block with its sample count.
    const blocks = stdout.split('\n').filter((l) => /^[0-9A-Z]{26}\s/.test(l));
    expect(blocks.length).toBeGreaterThan(0);
    // ULID, min time, max time, duration, samples, chunks, series, size.
    const samples = blocks.reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[4]), 0);
    expect(samples).toBe(summary.samples);
  });

  it('writes one sample of every series at each step, on whole steps, with the given labels', () => {
    expect(summary.lines).toBe(truth.lines);
    expect(summary.unparsedLines).toBe(0);
    const times = new Set<number>();
    const perSeries = new Map<string, number>();
    for (const s of readOpenMetricsSamples(text)) {
      times.add(s.time);
      perSeries.set(s.series, (perSeries.get(s.series) ?? 0) + 1);
      expect(s.series).toMatch(/[{,]instance="mx1:10025"[,}]/);
      expect(s.series).toMatch(/[{,]job="mailrelay"[,}]/);
    }
    expect([...times].every((t) => t % 60 === 0)).toBe(true);
    expect(summary.steps).toBe(times.size);
    expect(summary.firstStep).toBe(Math.min(...times));
    // 3 hours and the sessions finishing after.
    expect(summary.steps).toBeGreaterThanOrEqual(180);
    const counts = new Set(perSeries.values());
    // A series appears at the first step after its account's first login and is written at every step from then on.
    const sessions = `mailrelay_smtp_sessions_total{job="mailrelay",instance="mx1:10025"}`;
    expect(perSeries.get(sessions)).toBe(summary.steps);
    expect(Math.max(...counts)).toBe(summary.steps);
  });

  it('counts by the end exactly what the scenario holds', () => {
    const last = at(text, summary.lastStep!);
    const value = (name: string, labels: string) => last.get(`${name}{${labels}}`);
    for (const [account, a] of Object.entries(truth.accounts)) {
      expect(value('mailrelay_account_recipients_total', `account="${account}",destination="external"`), account).toBe(a.externalRecipients);
      expect(value('mailrelay_account_messages_total', `account="${account}"`), account).toBe(a.messages);
      expect(value('mailrelay_account_foreign_sender_messages_total', `account="${account}"`), account).toBe(a.foreignSenderMessages);
      expect(value('mailrelay_account_logins_total', `account="${account}"`), account).toBe(a.logins);
    }
    expect(last.get('mailrelay_unauthenticated_relay_recipients_total')).toBe(truth.unauthenticatedRelayRecipients);
  });

  it.each([
    ['before the attack', START + 50 * 60],
    ['in the middle of the attack', START + 70 * 60],
    ['during the spray, past midnight', START + 95 * 60],
  ])('the step %s is what a live exporter shows once it has read the log up to then', async (_, time) => {
    const cut = join(dir, `cut-${time}`, 'smtp');
    writeUntil(cut, time);
    const expected = await live(cut);
    const got = at(text, time);
    const keys = (m: Map<string, number>) => [...m.keys()].filter((k) => !REPLAY_HEALTH.test(k)).sort();
    expect(keys(got)).toEqual(keys(expected));
    for (const k of keys(expected)) expect(got.get(k), k).toBe(expected.get(k));
    expect(keys(expected).length).toBeGreaterThan(50);
  });

  it('writes only the steps from --from to --to, still counting from the first line', async () => {
    const from = START + 60 * 60;
    const to = START + 90 * 60;
    const part = await run({ config: config(logs), from, to });
    const times = [...new Set([...readOpenMetricsSamples(part.text)].map((s) => s.time))];
    expect(Math.min(...times)).toBe(from);
    expect(Math.max(...times)).toBe(to);
    expect(times).toHaveLength(31);
    // Unlabelled here, and equal to the full run's samples at the same time.
    const full = at(text, to);
    for (const [k, v] of at(part.text, to)) if (!REPLAY_HEALTH.test(k)) expect(v, k).toBe(full.get(k));
  });

  it('counts an unreadable line and goes on', async () => {
    const odd = join(dir, 'odd', 'smtp');
    writeUntil(odd, START + 20 * 60);
    const file = join(odd, 's20261102.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.splice(10, 0, 'garbage that is no log line', '\u0000\u0001binary');
    writeFileSync(file, lines.join('\n'));
    const { text: t, summary: s } = await run({ config: config(odd) });
    expect(s.unparsedLines).toBe(2);
    expect(at(t, s.lastStep!).get('mailrelay_log_unparsed_lines_total')).toBe(2);
  });

  it('fails, naming what is wrong, without logs to read or with a bad step', async () => {
    await expect(run({ config: loadConfig('local_domains: [domaine.com]\n') })).rejects.toThrow(BackfillError);
    await expect(run({ config: loadConfig('local_domains: [domaine.com]\n') })).rejects.toThrow(/names no SMTP logs/);
    await expect(run({ config: config(join(dir, 'nowhere')) })).rejects.toThrow(/nowhere.*icewarp\.log_directory/);
    await expect(run({ config: config(logs), stepSeconds: 0 })).rejects.toThrow(/step must be positive/);
  });
});

describe('a replay of attacks into series', () => {
  it('gives each step the account windows of that time: the attack account rises within its window only', async () => {
    const logs = join(dir, 'smtp');
    const { text } = await run({ config: config(logs) });
    const ext = (time: number) => at(text, time).get('mailrelay_account_recipients_total{account="compta@domaine.com",destination="external"}') ?? 0;
    const before = ext(START + 59 * 60);
    const after = ext(START + 81 * 60);
    // 20 minutes at 6 messages of 5 recipients a minute.
    expect(after - before).toBeGreaterThan(450);
    expect(after - before).toBeLessThan(750);
    expect(ext(START + 180 * 60)).toBe(scenarioTruth(OPTS).accounts['compta@domaine.com']?.externalRecipients);
  });
});
