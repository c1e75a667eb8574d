// `logs report` on a day of logs: the same lines as the log group's catch-up,
// read by the report's synchronous reader into its account book and minute
// by minute judgement, and, as the admin runs it, by the built command as its
// own process (--json). The reference, measured in the same run on the same
// files, is the exporter's own catch-up through the tailer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportLogs } from '../src/cli/logs.js';
import { loadConfig } from '../src/config/config.js';
import { configuredLogSource } from '../src/mtas.js';
import { catchUp, writeBenchLogs } from './log.js';
import { fmt, median, verdict, type BenchGroup } from './report.js';

const EXPORTER_MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const LINES = 2_000_000;

export const reportGroup: BenchGroup = {
  name: 'report',
  title: '`logs report`',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-bench-report-'));
    try {
      process.stderr.write('bench: writing a day of logs…\n');
      const written = writeBenchLogs(join(dir, 'smtp'), LINES);
      const config = loadConfig(`icewarp:\n  log_directory: ${join(dir, 'smtp')}\nlocal_domains: [domaine.com]\n`);
      const source = configuredLogSource(config)!;
      const from = Date.UTC(2026, 10, 26) / 1000;
      const to = Date.UTC(2026, 11, 31) / 1000;
      // Warm page cache and JIT, then the median of three, for the report and for the reference.
      reportLogs(source, config, from, to);
      const runs: number[] = [];
      const cpu: number[] = [];
      let accounts = 0;
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        const r = reportLogs(source, config, from, to);
        const used = process.cpuUsage(cpuStarted);
        runs.push((performance.now() - started) / 1000);
        cpu.push((used.user + used.system) / 1e6);
        if (r.lines !== written.lines) throw new Error(`the report read ${r.lines} lines of ${written.lines}`);
        accounts = r.accounts.length;
      }
      const seconds = median(runs);
      const cpuSeconds = median(cpu);
      const load = loadavg()[0]!;
      await catchUp(dir);
      const catchUps: number[] = [];
      for (let i = 0; i < 3; i++) catchUps.push((await catchUp(dir)).seconds);
      const reference = median(catchUps);
      const started = performance.now();
      const json = execFileSync(process.execPath, [EXPORTER_MAIN, 'logs', 'report', '--log-dir', join(dir, 'smtp'), '--local-domain', 'domaine.com', '--from', '2026-11-26T00:00:00Z', '--to', '2026-12-31T00:00:00Z', '--json'], {
        maxBuffer: 256 << 20,
        encoding: 'utf8',
      });
      const commandSeconds = (performance.now() - started) / 1000;
      const verdicts = (JSON.parse(json) as { accounts: { verdict: string }[] }).accounts.filter((a) => a.verdict === 'suspicious').length;
      const rate = written.lines / seconds;
      return {
        rows: [
          ['report throughput (reader + parser + account book + judgement)', `${fmt(rate)} lines/s (${fmt(written.lines)} lines, ${fmt(written.bytes / 2 ** 20, 1)} MiB in ${fmt(seconds, 2)} s)`, '', ''],
          ['CPU time of the report for the day', `${fmt(cpuSeconds, 2)} s (${fmt(written.lines / cpuSeconds)} lines per CPU second)`, 'a day of logs within seconds (< 10 s)', verdict(cpuSeconds < 10)],
          ['the built command, as its own process (--json)', `${fmt(commandSeconds, 2)} s wall clock, ${fmt(accounts)} accounts, ${verdicts} suspicious`, '', ''],
          ["reference: the exporter's catch-up on the same files", `${fmt(written.lines / reference)} lines/s (${fmt(reference, 2)} s)`, '', ''],
          ['ratio of the report to the catch-up', `${fmt(reference / seconds, 2)}×`, '≥ 0.5×', verdict(reference / seconds >= 0.5)],
        ],
        notes: [
          `A day of logs: ${fmt(written.lines)} lines of the log group's generated attack scenario (\`src/demo/scenario.ts\`: 300 users, inbound
  mail, a password spray, a stolen account), in daily files. Throughput: \`reportLogs\` in process, the median of three runs after a warm-up
  (warm page cache). Command: \`mailrelay-exporter logs report --json\` as its own process, start to exit, once.`,
          'Reference: the log pipeline reading the same files from the first byte (tailer, parser, account book), median of three, in the same run.',
          `CPU time: user + system of the in-process report (median of three), which the machine's load does not stretch as it does the wall clock (1-minute load average ${fmt(load, 1)} during this run).`,
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
