// Rules benchmark: how long a real Prometheus takes to evaluate the rule
// groups of alerts/mailrelay.rules.yml over 10,000 accounts with 8 days of
// history, the history put there as a user would: the logs replayed by
// `backfill`, `promtool tsdb create-blocks-from openmetrics`, then the
// recording rules' own history with `promtool tsdb create-blocks-from rules`,
// one dependency level after the other. Prometheus times each rule's query
// (stats=all) at the last complete hour, as an evaluation runs it.
//
// The raw series are written every 60 s for the last two hours and every 30
// minutes before: no rule reads more than an hour of raw samples (a test of
// alerts/rules.test.ts sees to it), so only the last hour's density weighs
// on an evaluation, and the history the baselines read is the rules' own
// hourly and daily samples. Nothing is written past the start of the run: a
// block in the future would make the TSDB refuse what rules record.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ACCOUNT_GROUPS, DEFAULT_THRESHOLDS, buildRules, renderRulesYaml } from '../alerts/rules.js';
import { writeRuleLevels } from '../src/backfill/ruleLevels.js';
import { backfill } from '../src/backfill/backfill.js';
import { loadConfig } from '../src/config/config.js';
import { writeScenario } from '../src/demo/scenario.js';
import { silentLogger } from '../src/logger.js';
import { fmt, median, verdict, type BenchGroup } from './report.js';
import { freePort } from './spool.js';

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
// MAILRELAY_BENCH_ACCOUNTS: a smaller run, to check the bench itself quickly (the recorded figure is at 10,000).
const ACCOUNTS = Number(process.env.MAILRELAY_BENCH_ACCOUNTS ?? 10_000);
const HISTORY_DAYS = 8;
const EVALUATIONS = 5;
// MAILRELAY_BENCH_KEEP=1: keep the generated history (its folder is printed); MAILRELAY_BENCH_REUSE=<that folder>:
// time the rules again on it without building it (half an hour), e.g. once the machine is quiet.
const KEEP = process.env.MAILRELAY_BENCH_KEEP === '1';
const REUSE = process.env.MAILRELAY_BENCH_REUSE;

/** What a kept history was built from, for a later run that reuses it. */
interface History {
  now: number;
  start: number;
  samples: number;
  accounts: number;
}
const run = promisify(execFile);

interface Prom {
  url: string;
  child: ChildProcess;
}

async function startPrometheus(dir: string, data: string, extraArgs: string[] = []): Promise<Prom> {
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, stringify({ global: { evaluation_interval: '1m' }, rule_files: [], scrape_configs: [] }));
  const port = await freePort();
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${config}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=30d', '--log.level=warn', ...extraArgs],
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

async function query(p: Prom, expr: string, at: number): Promise<number> {
  const res = (await (await fetch(`${p.url}/api/v1/query?query=${encodeURIComponent(expr)}&time=${at}`)).json()) as { data: { result: { value: [number, string] }[] } };
  return Number(res.data.result[0]?.value[1] ?? 0);
}

/** Prometheus' own time for one instant query (its evalTotalTime), as a rule evaluation runs it. */
async function evaluationSeconds(p: Prom, expr: string, at: number): Promise<number> {
  const body = new URLSearchParams({ query: expr, time: String(at), stats: 'all' });
  const res = (await (await fetch(`${p.url}/api/v1/query`, { method: 'POST', body })).json()) as {
    status: string;
    error?: string;
    data?: { stats?: { timings?: { evalTotalTime: number } } };
  };
  const seconds = res.data?.stats?.timings?.evalTotalTime;
  if (res.status !== 'success' || seconds === undefined) throw new Error(`rules bench: ${expr}: ${res.error ?? 'no timings in the answer'}`);
  return seconds;
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

/** Builds the history in `dir` (see the top of this file): logs, raw blocks, the recording rules' blocks level by level. */
async function buildHistory(dir: string): Promise<History> {
  const now = Math.floor(Date.now() / 60_000) * 60;
  const start = Math.floor((now - HISTORY_DAYS * 86400) / 3600) * 3600;
  // Nothing after `now`: a block reaching into the future makes Prometheus refuse every sample
  // its rules record before that time ("out of bounds"), as a first run of this bench found.
  const end = now;
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
  // As the README tells users: the shipped rule file split by `backfill --rule-levels`.
  const ruleFile = join(dir, 'mailrelay.rules.yml');
  writeFileSync(ruleFile, renderRulesYaml(DEFAULT_THRESHOLDS));
  const levels = writeRuleLevels(ruleFile, join(dir, 'levels'));
  for (const [i, level] of levels.entries()) {
    process.stderr.write(`bench rules: promtool tsdb create-blocks-from rules, level ${i + 1} of ${levels.length}…\n`);
    // The raw history is sampled every 30 minutes: an instant read (a gauge's) must look back that far.
    const prom = await startPrometheus(dir, data, ['--query.lookback-delta=31m']);
    try {
      await run(
        'promtool',
        ['tsdb', 'create-blocks-from', 'rules', `--url=${prom.url}`, `--start=${start + 3600}`, `--end=${now}`, '--eval-interval=1h', `--output-dir=${join(dir, `rules${i + 1}`)}`, level.file],
        { maxBuffer: 1 << 24 },
      );
    } finally {
      await stop(prom);
    }
    moveBlocks(join(dir, `rules${i + 1}`), data);
  }
  const history = { now, start, samples, accounts: Object.keys(truth.accounts).length };
  writeFileSync(join(dir, 'history.json'), JSON.stringify(history));
  return history;
}

export const rulesGroup: BenchGroup = {
  name: 'rules',
  title: 'Alert rules at 10,000 accounts',
  async run() {
    const dir = REUSE ?? mkdtempSync(join(tmpdir(), 'mailrelay-bench-rules-'));
    try {
      const history: History = REUSE !== undefined ? (JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')) as History) : await buildHistory(dir);
      const { now, samples } = history;
      const data = join(dir, 'data');

      // One evaluation of a rule group is each of its rules' query at one instant, in order. It is
      // timed here by Prometheus itself (the query's evalTotalTime, stats=all) at the last complete
      // hour, where the hourly and daily recordings backfilled above exist as a running Prometheus
      // would have recorded them, and the raw samples are at the scrape interval.
      const at = Math.floor((now - 60) / 3600) * 3600;
      process.stderr.write(`bench rules: the rules of alerts/mailrelay.rules.yml evaluated at ${new Date(at * 1000).toISOString()}, ${EVALUATIONS} times…\n`);
      // Each level was recorded at its own offset in the hour (see src/backfill/ruleLevels.ts): an
      // instant query at the hour finds each level's last sample within an hour, as the live
      // group, evaluating every rule at one instant, finds what it has just recorded.
      const prom = await startPrometheus(dir, data, ['--query.lookback-delta=1h']);
      const times = new Map<string, number[]>();
      const ruleTimes = new Map<string, number[]>();
      let accounts = 0;
      let withBaseline = 0;
      let load = NaN;
      try {
        const groups = buildRules(DEFAULT_THRESHOLDS).groups;
        for (let round = 0; round < EVALUATIONS; round++) {
          for (const g of groups) {
            let total = 0;
            for (const r of g.rules) {
              const name = 'record' in r ? r.record : r.alert;
              const seconds = await evaluationSeconds(prom, r.expr, at);
              total += seconds;
              (ruleTimes.get(name) ?? ruleTimes.set(name, []).get(name)!).push(seconds);
            }
            (times.get(g.name) ?? times.set(g.name, []).get(g.name)!).push(total);
          }
        }
        load = loadavg()[0]!;
        accounts = await query(prom, `count(sum by (account) (increase(mailrelay_account_logins_total[${HISTORY_DAYS}d])))`, at);
        withBaseline = await query(prom, 'count(account:mailrelay_external_recipients:increase1h_max1d_median7d)', at);
      } finally {
        await stop(prom);
      }
      const acc = times.get('mailrelay.accounts') ?? [];
      const baselines = times.get('mailrelay.accounts.baselines') ?? [];
      for (const [name, ts] of ruleTimes) process.stderr.write(`bench rules: ${name} ${fmt(median(ts) * 1000)} ms\n`);
      const groupOf = new Map(buildRules(DEFAULT_THRESHOLDS).groups.flatMap((g) => g.rules.map((r) => ['record' in r ? r.record : r.alert, g.name] as const)));
      const heaviest = (group: string) =>
        [...ruleTimes]
          .filter(([name]) => groupOf.get(name) === group)
          .map(([name, ts]) => [name, median(ts)] as const)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([name, t]) => `${name} ${fmt(t * 1000)} ms`)
          .join(', ');
      // What the every-evaluation group spends reading every account's raw series (the windows over the exporter's counters and gauges).
      // A rule reads raw series when its expression names an exporter metric itself (a recorded series has a colon before it).
      const exprOf = new Map(buildRules(DEFAULT_THRESHOLDS).groups.flatMap((g) => g.rules.map((r) => ['record' in r ? r.record : r.alert, r.expr] as const)));
      const rawReads = [...ruleTimes].filter(([name]) => groupOf.get(name) === ACCOUNT_GROUPS[0] && /(?<![:\w])mailrelay_[a-z_]+/.test(exprOf.get(name) ?? ''));
      const rawSeconds = rawReads.reduce((t, [, ts]) => t + median(ts), 0);
      return {
        rows: [
          [
            `mailrelay.accounts (every evaluation), ${fmt(accounts)} accounts (${fmt(withBaseline)} with a baseline), ${HISTORY_DAYS} days of history`,
            `median ${fmt(median(acc), 2)} s, max ${fmt(Math.max(...acc), 2)} s (${acc.length} evaluations)`,
            '< 2 s',
            verdict(acc.length > 0 && Math.max(...acc) < 2),
          ],
          [
            'mailrelay.accounts.baselines (once an hour: the hourly and daily samples, the baselines), same accounts and history',
            `median ${fmt(median(baselines), 2)} s, max ${fmt(Math.max(...baselines), 2)} s; ${fmt((median(baselines) / 60) * 1000)} ms a minute on average`,
            '',
            '',
          ],
          ...[...times]
            .filter(([name]) => name !== 'mailrelay.accounts' && name !== 'mailrelay.accounts.baselines')
            .map(([name, ts]) => [`${name}`, `median ${fmt(median(ts) * 1000, 1)} ms`, '', ''] as [string, string, string, string]),
          ['heaviest rules of mailrelay.accounts (median)', heaviest('mailrelay.accounts'), '', ''],
          ['heaviest rules of mailrelay.accounts.baselines (median)', heaviest('mailrelay.accounts.baselines'), '', ''],
        ],
        notes: [
          `${fmt(history.accounts)} accounts logged in over ${HISTORY_DAYS} days of a generated IceWarp log (\`src/demo/scenario.ts\`, each user a session every four hours,
  and a newsletter), replayed by \`backfill\` (${fmt(samples)} samples: every 30 minutes, and every minute for the last two hours, since no rule reads
  more than an hour of raw samples), \`promtool tsdb create-blocks-from openmetrics\`, then the recording rules' history with
  \`promtool tsdb create-blocks-from rules --eval-interval=1h\`, level by level (the files of \`backfill --rule-levels\`, as the README tells users).`,
          `What limits mailrelay.accounts: reading every account's series. Its ${rawReads.length} windows over the exporter's raw counters and gauges
  (10,001 series each) take ${fmt(rawSeconds, 2)} s of it; the page and sign rules read the few accounts above their lowest threshold
  (\`…_watched\`). The brute-force warning reads the login counter of every account three times (its increase, and whether it is
  new within the window): its group, mailrelay.accounts.logins, runs every 5 minutes. The baselines' group runs once an hour; its
  daily samples and medians are computed at every one of its evaluations although they change once a day.`,
          `The history ends at ${new Date(now * 1000).toISOString()}, when it was built${REUSE !== undefined ? ' (by an earlier run; this one only timed the rules on it)' : ''}.`,
          `Prometheus started on those blocks; a group's evaluation is each of its rules' query at one instant (the last complete hour,
  where the recordings of every level exist), timed by Prometheus itself (\`evalTotalTime\` of \`stats=all\`), summed over the group;
  the median and the largest of ${EVALUATIONS} rounds. Appending the results to the TSDB is not in it. The machine is shared: 1-minute
  load average ${fmt(load, 1)} at the end of the rounds.`,
        ],
      };
    } finally {
      if (KEEP) process.stderr.write(`bench rules: kept ${dir}\n`);
      else if (REUSE === undefined) rmSync(dir, { recursive: true, force: true });
    }
  },
};
