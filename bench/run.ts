// `npm run bench`: runs every benchmark and rewrites BENCHMARKS.md with the
// figures, the machine and the date. Targets are checked and reported, never
// asserted in tests (timings on shared machines are not test material).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { scenarioLines } from '../src/demo/scenario.js';
import { benchLog } from './log.js';
import { benchParser } from './parser.js';
import { benchSpool } from './spool.js';

const OUT = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return 'n/a';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a' : ok ? 'met' : '**missed**';
}

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${kernel}, Node.js ${process.versions.node}`;
}

async function main(): Promise<void> {
  const started = new Date();
  process.stderr.write('bench: parser alone…\n');
  const parserLines = Array.from(scenarioLines({ seed: 11, start: new Date(Date.UTC(2026, 10, 28)), durationSeconds: 86400 }), (l) => l.line).slice(0, 500_000);
  const parserRuns: number[] = [];
  for (let i = 0; i < 3; i++) parserRuns.push((await benchParser(parserLines)).linesPerSecond);
  const parser = { linesPerSecond: parserRuns.sort((a, b) => a - b)[1]! };
  process.stderr.write('bench: log pipeline (catch-up, mtail, tail latency, 10,000 accounts)…\n');
  const log = await benchLog();
  process.stderr.write('bench: spool…\n');
  const spool = await benchSpool();

  const mtailRatio = log.mtailLinesPerSecond ? log.catchUpLinesPerSecond / log.mtailLinesPerSecond : undefined;
  const rows: [string, string, string, string][] = [
    ['catch-up throughput (tailer + parser + accounts)', `${fmt(log.catchUpLinesPerSecond)} lines/s (${fmt(log.lines)} lines, ${fmt(log.bytes / 2 ** 20, 1)} MiB in ${fmt(log.catchUpSeconds, 2)} s)`, '≥ 1,000,000 lines/s', verdict(log.catchUpLinesPerSecond >= 1_000_000)],
    ['mtail, line-counting program, same lines', log.mtailLinesPerSecond === undefined ? 'mtail not installed' : `${fmt(log.mtailLinesPerSecond)} lines/s (${fmt(log.mtailSeconds, 2)} s)`, '', ''],
    ['ratio to mtail', mtailRatio === undefined ? 'n/a' : `${fmt(mtailRatio, 1)}×`, '≥ 4×', verdict(mtailRatio === undefined ? undefined : mtailRatio >= 4)],
    ['parser + sessions alone (500,000 lines in memory, median of three)', `${fmt(parser.linesPerSecond)} lines/s`, '', ''],
    ['tail latency, line appended → visible in /metrics', `p50 ${fmt(log.tailLatencyP50Ms, 1)} ms, p99 ${fmt(log.tailLatencyP99Ms, 1)} ms (${log.tailLatencySamples} samples)`, 'p99 < 1 s', verdict(log.tailLatencyP99Ms < 1000)],
    [`/metrics render at ${fmt(log.accounts)} accounts`, `median ${fmt(log.metricsRenderMedianMs, 1)} ms, max ${fmt(log.metricsRenderMaxMs, 1)} ms (${fmt(log.metricsBytes / 2 ** 20, 1)} MiB)`, '< 100 ms', verdict(log.metricsRenderMedianMs < 100)],
    [`peak RSS of the exporter at ${fmt(log.accounts)} accounts`, `${fmt(log.peakRssMb)} MB`, '< 200 MB', verdict(log.peakRssMb < 200)],
    ...spool.rows,
  ];

  const table = ['| measure | result | target | |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const md = `# Benchmarks

Measured by \`npm run bench\` (\`bench/run.ts\`), which rewrites this file.
Timing is never asserted in tests; this is where speed and memory are judged.

- Date: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC
- Machine: ${machine()}

${table}

How each figure is taken:
- Catch-up: ${fmt(log.lines)} lines of a generated attack scenario (\`src/demo/scenario.ts\`) in daily files, read from the
  first byte until the log pipeline is ready, through the real tailer, IceWarp parser and account book
  (warm page cache and JIT, as for a long-running exporter): the median of three runs after a warm-up.
- mtail: \`mtail --one_shot\` with a program that counts every line, over the same files.
- Tail latency: a session is appended to a followed file; the time until its message shows in an HTTP GET of /metrics
  (in-process exporter, chokidar events, no polling interval).
- /metrics and RSS: the built exporter as its own process over a log with ${fmt(log.accounts)} accounts that logged in and sent
  mail (${fmt(log.metricsBytes / 2 ** 20, 1)} MiB of exposition); 20 GETs after one warm-up; peak RSS is the process's VmHWM.
${spool.notes}
`;
  writeFileSync(OUT, md);
  process.stdout.write(md);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
