// Rules benchmark: how long a real Prometheus takes to evaluate the rule
// groups of alerts/mailrelay.rules.yml over 10,000 accounts with 8 days of
// history, the history put there as a user would: the logs replayed by
// `backfill`, `promtool tsdb create-blocks-from openmetrics`, then the
// recording rules' own history with `promtool tsdb create-blocks-from rules`,
// one dependency level after the other. Prometheus reports each group's and
// each rule's evaluation time in /api/v1/rules.
//
// The raw series are written every 60 s for the last two hours and every 30
// minutes before: no rule reads more than an hour of raw samples (a test of
// alerts/rules.test.ts sees to it), so only the last hour's density weighs
// on an evaluation, and the history the baselines read is the rules' own
// hourly and daily samples. The log goes on 20 minutes past the start of the
// measurement, so the windows stay full while Prometheus evaluates.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { DEFAULT_THRESHOLDS, buildRules, recordingLevels, renderRulesYaml } from '../alerts/rules.js';
import { backfill } from '../src/backfill/backfill.js';
import { loadConfig } from '../src/config/config.js';
import { writeScenario } from '../src/demo/scenario.js';
import { silentLogger } from '../src/logger.js';
import { fmt, verdict, type BenchGroup } from './report.js';
import { freePort } from './spool.js';

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const ACCOUNTS = 10_000;
const HISTORY_DAYS = 8;
const EVALUATIONS = 5;
const run = promisify(execFile);

interface Prom {
  url: string;
  child: ChildProcess;
}

async function startPrometheus(dir: string, data: string, ruleFile?: string): Promise<Prom> {
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, stringify({ global: { evaluation_interval: '1m' }, rule_files: ruleFile ? [ruleFile] : [], scrape_configs: [] }));
  const port = await freePort();
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${config}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=30d', '--log.level=warn'],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) return { url, child };
    if (Date.now() > deadline) throw new Error('prometheus not ready after 5 minutes');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function stop(p: Prom): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await exited;
}

async function query(p: Prom, expr: string): Promise<number> {
  const res = (await (await fetch(`${p.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: { value: [number, string] }[] } };
  return Number(res.data.result[0]?.value[1] ?? 0);
}

/** Moves the blocks of `from` into Prometheus' data folder. */
function moveBlocks(from: string, data: string): number {
  let n = 0;
  for (const b of readdirSync(from)) {
    if (!/^[0-9A-Z]{26}$/.test(b)) continue;
    renameSync(join(from, b), join(data, b));
    n++;
  }
  return n;
}

interface RulesApi {
  data: { groups: { name: string; evaluationTime: number; lastEvaluation: string; rules: { name: string; evaluationTime: number }[] }[] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export const rulesGroup: BenchGroup = {
  name: 'rules',
  title: 'Alert rules at 10,000 accounts',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-bench-rules-'));
    try {
      const now = Math.floor(Date.now() / 60_000) * 60;
      const start = Math.floor((now - HISTORY_DAYS * 86400) / 3600) * 3600;
      const end = now + 20 * 60;
      const logs = join(dir, 'smtp');
      process.stderr.write(`bench rules: ${fmt(ACCOUNTS)} accounts, ${HISTORY_DAYS} days of log…\n`);
      const truth = await writeScenario(logs, {
        seed: 10_000,
        start: new Date(start * 1000),
        durationSeconds: end - start,
        legitimateUsers: ACCOUNTS,
        userSessionsPerHour: 0.25,
        inboundPerMinute: 1,
        outboundDeliveriesPerMinute: 0,
        busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2, recipientDomains: 105 },
      });
      const config = loadConfig(`icewarp:\n  log_directory: ${JSON.stringify(logs)}\nlocal_domains: [domaine.com]\nlimits:\n  max_accounts: ${2 * ACCOUNTS}\n`);
      const data = join(dir, 'data');
      mkdirSync(data);
      let samples = 0;
      // Coarse history, then the last two hours at the scrape interval.
      for (const [name, step, from, to] of [
        ['coarse', 1800, start, now - 7200 - 1800],
        ['fine', 60, now - 7200, end],
      ] as const) {
        process.stderr.write(`bench rules: backfill ${name} (every ${step} s)…\n`);
        const file = join(dir, `${name}.om`);
        const fd = openSync(file, 'w');
        const summary = await backfill({
          config,
          stepSeconds: step,
          from,
          to,
          labels: { job: 'mailrelay', instance: 'mx1:10025' },
          logger: silentLogger,
          write: (text) => {
            const buf = Buffer.from(text);
            for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at);
          },
        });
        closeSync(fd);
        samples += summary.samples;
        process.stderr.write(`bench rules: promtool tsdb create-blocks-from openmetrics (${fmt(summary.samples)} samples)…\n`);
        await run('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=48h', file, join(dir, `blocks-${name}`)], { maxBuffer: 1 << 24 });
        rmSync(file);
        moveBlocks(join(dir, `blocks-${name}`), data);
      }

      // The recording rules' history, a dependency level at a time (each level reads the one before).
      const levels = recordingLevels(buildRules(DEFAULT_THRESHOLDS).groups);
      for (const [i, rules] of levels.entries()) {
        process.stderr.write(`bench rules: promtool tsdb create-blocks-from rules, level ${i + 1} of ${levels.length}…\n`);
        const prom = await startPrometheus(dir, data);
        try {
          const file = join(dir, `level${i + 1}.yml`);
          writeFileSync(file, stringify({ groups: [{ name: `level${i + 1}`, rules }] }, { lineWidth: 0 }));
          await run(
            'promtool',
            ['tsdb', 'create-blocks-from', 'rules', `--url=${prom.url}`, `--start=${start + 3600}`, `--end=${now}`, '--eval-interval=1h', `--output-dir=${join(dir, `rules${i + 1}`)}`, file],
            { maxBuffer: 1 << 24 },
          );
        } finally {
          await stop(prom);
        }
        moveBlocks(join(dir, `rules${i + 1}`), data);
      }

      process.stderr.write(`bench rules: Prometheus evaluating alerts/mailrelay.rules.yml, ${EVALUATIONS} evaluations…\n`);
      const ruleFile = join(dir, 'mailrelay.rules.yml');
      writeFileSync(ruleFile, renderRulesYaml(DEFAULT_THRESHOLDS));
      const prom = await startPrometheus(dir, data, ruleFile);
      const times = new Map<string, number[]>();
      const ruleTimes = new Map<string, number[]>();
      let accounts = 0;
      let withBaseline = 0;
      try {
        let last = '';
        let seen = 0;
        const deadline = Date.now() + (EVALUATIONS + 3) * 60_000;
        while (seen < EVALUATIONS && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 5000));
          const api = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as RulesApi;
          const accountsGroup = api.data.groups.find((g) => g.name === 'mailrelay.accounts');
          if (!accountsGroup || accountsGroup.lastEvaluation === last || accountsGroup.lastEvaluation.startsWith('0001')) continue;
          last = accountsGroup.lastEvaluation;
          seen++;
          for (const g of api.data.groups) {
            (times.get(g.name) ?? times.set(g.name, []).get(g.name)!).push(g.evaluationTime);
            for (const r of g.rules) (ruleTimes.get(r.name) ?? ruleTimes.set(r.name, []).get(r.name)!).push(r.evaluationTime);
          }
        }
        accounts = await query(prom, 'count(account:mailrelay_external_recipients:increase1h)');
        withBaseline = await query(prom, 'count(account:mailrelay_external_recipients:increase1h_max1d_median7d)');
      } finally {
        await stop(prom);
      }
      const acc = times.get('mailrelay.accounts') ?? [];
      const heaviest = [...ruleTimes]
        .map(([name, ts]) => [name, median(ts)] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([name, t]) => `${name} ${fmt(t * 1000)} ms`)
        .join(', ');
      return {
        rows: [
          [
            `mailrelay.accounts, ${fmt(accounts)} accounts (${fmt(withBaseline)} with a baseline), ${HISTORY_DAYS} days of history`,
            `median ${fmt(median(acc), 2)} s, max ${fmt(Math.max(...acc), 2)} s (${acc.length} evaluations)`,
            '< 2 s',
            verdict(acc.length > 0 && Math.max(...acc) < 2),
          ],
          ...[...times]
            .filter(([name]) => name !== 'mailrelay.accounts')
            .map(([name, ts]) => [`${name}`, `median ${fmt(median(ts) * 1000, 1)} ms`, '', ''] as [string, string, string, string]),
          ['heaviest rules (median)', heaviest, '', ''],
        ],
        notes: [
          `${fmt(Object.keys(truth.accounts).length)} accounts logged in over ${HISTORY_DAYS} days of a generated IceWarp log (\`src/demo/scenario.ts\`, each user a session every four hours,
  and a newsletter), replayed by \`backfill\` (${fmt(samples)} samples: every 30 minutes, and every minute for the last two hours, since no rule reads
  more than an hour of raw samples), \`promtool tsdb create-blocks-from openmetrics\`, then the recording rules' history with
  \`promtool tsdb create-blocks-from rules --eval-interval=1h\`, level by level (\`recordingLevels()\`, as the README tells users).`,
          `Prometheus started on those blocks with alerts/mailrelay.rules.yml at the default 1-minute evaluation, no scrape target
  (the log goes on 20 minutes past the measurement's start, so the windows are full): each group's \`evaluationTime\` from /api/v1/rules,
  over ${EVALUATIONS} evaluations. The machine is shared: compare with the other groups of the same run.`,
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
