// Spool benchmark: the built exporter (dist/src/main.js) over generated queue
// trees, measured from outside as a user sees it: the first full scan of
// 100,000 files (its duration as reported in mailrelay_collector_duration_seconds,
// and the process RSS), the time from a new file to its count in /metrics,
// and /metrics scrape time with 200,000 files (also during the first scan).
// The page cache is warm (the files were just written): a cold disk is slower.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addSpam, writeQueue } from '../src/demo/queue.js';
import { fmt as f, verdict, type BenchGroup, type BenchRow } from './report.js';
import { benchSpoolMillion } from './spoolMillion.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

export interface SpoolBench {
  firstScanFiles: number;
  firstScanSeconds: number;
  firstScanRssMb: number;
  newFileToMetricP50Ms: number;
  newFileToMetricMaxMs: number;
  scrapeFiles: number;
  scrapeMedianMs: number;
  scrapeMaxMs: number;
  scrapeDuringScanMaxMs: number;
  rss200kMb: number;
  peakRss200kMb: number;
  /** measure, result, target, verdict: for BENCHMARKS.md. */
  rows: BenchRow[];
  /** How the figures are taken. */
  notes: string[];
}

const NOTES = `Spool: the built exporter as its own process over a queue written by \`src/demo/queue.ts\` (warm page cache: the files were
  just written). First scan: 96,000 outgoing \`.tmp\` files (half in \`retry/\`) and 4,000 incoming files; its duration is the
  exporter's own \`mailrelay_collector_duration_seconds{collector="spool"}\` (the first phase: listing and lstat, after which
  /-/ready answers); the senders are complete when \`mailrelay_spool_senders_complete\` is 1 (timed from the exporter's start);
  RSS read from /proc then.
  New file → metric: one \`.tmp\` written to \`_outgoing\`, then GETs of /metrics every 5 ms until its count moves (fs.watch
  events are gathered for 100 ms). Scrapes: 100,000 more files in \`retry/\`, a new exporter process; GETs of /metrics during
  its first scan, then 50 after it; peak RSS is the process's VmHWM.`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Exporter {
  proc: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** The built exporter over a mail directory, as its own process; `extraYaml` is added to its config. */
export async function startExporter(mailDir: string, workDir: string, extraYaml = ''): Promise<Exporter> {
  const config = join(workDir, 'bench.yml');
  writeFileSync(config, `icewarp:\n  mail_directory: ${JSON.stringify(mailDir)}\n${extraYaml}`);
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN, `--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    cwd: workDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await until(async () => (await fetch(`${url}/-/healthy`)).ok, 20_000, 'the exporter to listen');
  return {
    proc,
    url,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`spool bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export function rss(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

export function value(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function timedScrape(url: string): Promise<{ ms: number; body: string }> {
  const t0 = performance.now();
  const body = await (await fetch(`${url}/metrics`)).text();
  return { ms: performance.now() - t0, body };
}

const OUTGOING_SERIES = 'mailrelay_spool_messages{queue="outgoing",folder="_outgoing"}';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export async function benchSpool(): Promise<SpoolBench> {
  const work = mkdtempSync(join(tmpdir(), 'mailrelay-bench-spool-'));
  const mail = join(work, 'mail');
  try {
    // 96,000 outgoing .tmp + 1,500 + 400 pairs + 200 orphans = 100,000 files (plus 3 of clutter).
    writeQueue(mail, {
      seed: 100_000,
      legitimateMessages: 16_000,
      spamMessages: 80_000,
      spamSender: 'willm.b@orange.fr',
      retryFraction: 0.5,
      incomingPairs: 1_500,
      incomingBakPairs: 400,
      incomingBakOrphans: 200,
    });
    const firstFiles = 100_000;

    const started = performance.now();
    let exporter = await startExporter(mail, work);
    let sendersSeconds = NaN;
    let firstScanSeconds = NaN;
    let firstScanRss = { rssMb: NaN, peakMb: NaN };
    const latencies: number[] = [];
    try {
      await until(async () => (await fetch(`${exporter.url}/-/ready`)).ok, 120_000, 'the first scan');
      await until(async () => value((await timedScrape(exporter.url)).body, 'mailrelay_spool_senders_complete') === 1, 120_000, 'the senders', 20);
      sendersSeconds = (performance.now() - started) / 1000;
      const body = (await timedScrape(exporter.url)).body;
      firstScanSeconds = value(body, 'mailrelay_collector_duration_seconds{collector="spool"}') ?? NaN;
      firstScanRss = rss(exporter.proc.pid!);

      for (let i = 0; i < 20; i++) {
        const before = value((await timedScrape(exporter.url)).body, OUTGOING_SERIES) ?? NaN;
        const t0 = performance.now();
        addSpam(mail, 1, { sender: 'latency@bench.test', seed: i + 1 });
        await until(async () => (value((await timedScrape(exporter.url)).body, OUTGOING_SERIES) ?? NaN) > before, 10_000, 'the new file', 5);
        latencies.push(performance.now() - t0);
      }
    } finally {
      await exporter.stop();
    }

    // Grow to 200,000 files and measure scrapes during and after the first scan.
    addSpam(mail, 100_000, { sender: 'willm.b@orange.fr', folder: '_outgoing/retry', seed: 200_000 });
    const scrapeFiles = firstFiles + 20 + 100_000;
    exporter = await startExporter(mail, work);
    const during: number[] = [];
    const after: number[] = [];
    let rss200k = { rssMb: NaN, peakMb: NaN };
    try {
      for (;;) {
        during.push((await timedScrape(exporter.url)).ms);
        if ((await fetch(`${exporter.url}/-/ready`)).ok) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      for (let i = 0; i < 50; i++) after.push((await timedScrape(exporter.url)).ms);
      rss200k = rss(exporter.proc.pid!);
    } finally {
      await exporter.stop();
    }

    const result = {
      firstScanFiles: firstFiles,
      firstScanSeconds,
      firstScanRssMb: firstScanRss.rssMb,
      newFileToMetricP50Ms: percentile(latencies, 50),
      newFileToMetricMaxMs: Math.max(...latencies),
      scrapeFiles,
      scrapeMedianMs: percentile(after, 50),
      scrapeMaxMs: Math.max(...after),
      scrapeDuringScanMaxMs: Math.max(...during),
      rss200kMb: rss200k.rssMb,
      peakRss200kMb: rss200k.peakMb,
    };
    return {
      ...result,
      notes: [NOTES],
      rows: [
        [
          `spool: first full scan of ${f(firstFiles)} files`,
          `${f(result.firstScanSeconds, 2)} s to exact depth (first phase); senders complete ${f(sendersSeconds, 2)} s after the start; RSS ${f(result.firstScanRssMb)} MB`,
          '< 3 s',
          verdict(result.firstScanSeconds < 3),
        ],
        ['spool: new file → visible in /metrics', `p50 ${f(result.newFileToMetricP50Ms)} ms, max ${f(result.newFileToMetricMaxMs)} ms (20 samples)`, '< 5 s', verdict(result.newFileToMetricMaxMs < 5000)],
        [`spool: /metrics scrape with ${f(scrapeFiles)} files queued`, `median ${f(result.scrapeMedianMs, 1)} ms, max ${f(result.scrapeMaxMs, 1)} ms; during the first scan max ${f(result.scrapeDuringScanMaxMs, 1)} ms`, '< 50 ms', verdict(result.scrapeMaxMs < 50)],
        [`spool: RSS with ${f(scrapeFiles)} files`, `${f(result.rss200kMb)} MB (peak ${f(result.peakRss200kMb)} MB)`, '< 250 MB', verdict(result.peakRss200kMb < 250)],
      ],
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export const spoolGroup: BenchGroup = {
  name: 'spool',
  title: 'Mail queues (spool)',
  async run() {
    const small = await benchSpool();
    const million = await benchSpoolMillion();
    return { rows: [...million.rows, ...small.rows], notes: [...million.notes, ...small.notes] };
  },
};
