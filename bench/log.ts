// Log pipeline benchmarks: catch-up throughput through the real tailer,
// parser and account book; tail latency from an appended line to /metrics;
// /metrics render time and peak RSS of the exporter process at 10,000
// accounts; and mtail's rate on the same lines where mtail is installed.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import type { Readable } from 'node:stream';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { App } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { scenarioLines } from '../src/demo/scenario.js';
import { silentLogger } from '../src/logger.js';
import { LogPipeline, accountLimits, logSettings } from '../src/pipeline/logPipeline.js';
import { bareLoop, bareLoopOwnProcess } from './bareLoop.js';
import { listeningPort } from './listeningPort.js';
import { benchParserThreadWork, HOSTING_LOCAL_DOMAINS, hostileDomainCost, parseInMemory } from './parser.js';
import { fmt, median, verdict, type BenchGroup } from './report.js';

const EXPORTER_MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const LOOP_DELAY = new URL('./loopDelay.js', import.meta.url).href;
const FRESH_PARSER = fileURLToPath(new URL('./freshParser.js', import.meta.url));
/** Runs of each catch-up measure (their median is reported): this machine is shared, and one run can be a third off the next. */
const ROUNDS = 5;
/** How often each client of the scrapes-during-catch-up measure scrapes. */
const SCRAPE_INTERVAL_MS = 1000;
/** The issue's catch-up: 2.6 M IceWarp lines. */
const LOG_LINES = 2_600_000;
/**
 * The scrapes are judged over a log this many times longer: on a quiet machine the 2.6 M lines
 * catch up in under a second, each client scrapes once or twice, and the first hundred
 * connections are then most of what is measured.
 */
const SCRAPE_LOG_TIMES = 4;

export interface LogBenchResult {
  lines: number;
  bytes: number;
  catchUpSeconds: number;
  catchUpLinesPerSecond: number;
  /** CPU time (user + system, every thread of the process) of the median catch-up run. */
  catchUpCpuSeconds: number;
  /** The bare read + split + regex loop over the same files, runs interleaved with the catch-up's. */
  bareSeconds: number;
  bareLinesPerSecond: number;
  /** Its CPU time (user + system), median. */
  bareCpuSeconds: number;
  /** Each round's bare loop time / catch-up time: how far the same code lands from run to run here. */
  roundRatios: number[];
  /** The same files in memory, in the same rounds (three of each a round): the parser alone (facts dropped), then with the account book; medians. */
  parserSeconds: number;
  parserBookSeconds: number;
  /** The parser and the book with a hosting provider's local_domains (HOSTING_LOCAL_DOMAINS), same rounds: median. */
  parserBookLocalsSeconds: number;
  /** A sender's worst RCPT domain judged against those local_domains, and its domainKey (the reference): ns a call. */
  hostileDomain: { judgeNs: number; keyNs: number };
  /** The catch-up with the parser in its own thread (MAILRELAY_PARSER_THREAD=1), same runs: wall and CPU time, medians. */
  threadSeconds: number;
  threadCpuSeconds: number;
  /** The parser and the book over the same lines in memory in a fresh process (bench/freshParser.ts): its first run and its second, medians of three processes. */
  freshFirstSeconds: number;
  freshSecondSeconds: number;
  /** The parser thread's work alone on one core, over the first 500,000 lines of the same files (median of three). */
  threadWorkLinesPerSecond: number;
  /**
   * The built exporter as its own process over the same files, alone (paired
   * with the bare loop as its own process) and under the scrapes: the issue's
   * catch-up measure. Then with the parser in a thread of its own.
   */
  ownProcess: ScrapesDuringCatchUp;
  ownProcessThread: ScrapesDuringCatchUp;
  /**
   * The scrapes' measures over a catch-up of SCRAPE_LOG_TIMES as many lines:
   * long enough for each client to scrape several times, as in the issue's
   * (its catch-up took 4.5 s alone).
   */
  scrapes: ScrapesDuringCatchUp;
  /** The same with the parser in a thread of its own (MAILRELAY_PARSER_THREAD=1). */
  scrapesThread: ScrapesDuringCatchUp;
  /** The same with clients that ask for gzip and decompress, as Prometheus does. */
  scrapesGzip: ScrapesDuringCatchUp;
  mtailSeconds: number | undefined;
  mtailLinesPerSecond: number | undefined;
  tailLatencyP50Ms: number;
  tailLatencyP99Ms: number;
  tailLatencySamples: number;
  accounts: number;
  /** A GET of /metrics at the client (raw HTTP, the body read as bytes): median and max of 20. */
  metricsRenderMedianMs: number;
  metricsRenderMaxMs: number;
  /** The same GETs, the exporter's side (request read → last byte handed to the kernel): median. */
  metricsServerMedianMs: number;
  metricsBytes: number;
  /** The same GETs asking for gzip (as Prometheus does), decompressed by the client: median at the client and the exporter's side, bytes sent. */
  metricsGzipMedianMs: number;
  metricsGzipServerMedianMs: number;
  metricsGzipBytes: number;
  peakRssMb: number;
}

const T0 = Date.UTC(2026, 10, 27, 0, 0, 0);

/** Writes at least `minLines` lines of a realistic attack day (several days if needed), in daily files. */
export function writeBenchLogs(dir: string, minLines: number): { lines: number; bytes: number } {
  mkdirSync(dir, { recursive: true });
  let lines = 0;
  let bytes = 0;
  const gen = scenarioLines({
    seed: 7,
    start: new Date(T0),
    durationSeconds: 40 * 86400,
    legitimateUsers: 300,
    inboundPerMinute: 60,
    outboundDeliveriesPerMinute: 30,
    spray: { perMinute: 20, usernames: 5000 },
    attack: { account: 'info@domaine.com', startSecond: 3600, messagesPerMinute: 60, recipientsPerMessage: 10, ips: 200, foreignSender: true },
  });
  let file = '';
  let buf: string[] = [];
  const flush = () => {
    if (buf.length === 0) return;
    const text = buf.join('\n') + '\n';
    appendFileSync(join(dir, file), text);
    bytes += Buffer.byteLength(text);
    buf = [];
  };
  for (const { time, line } of gen) {
    const name = `s${new Date(time * 1000).toISOString().slice(0, 10).replaceAll('-', '')}.log`;
    if (name !== file) {
      flush();
      file = name;
    }
    buf.push(line);
    if (buf.length >= 50_000) flush();
    if (++lines >= minLines) break;
  }
  flush();
  return { lines, bytes };
}

export async function catchUp(dir: string, opts: { parserThread?: boolean } = {}): Promise<{ seconds: number; lines: number; cpuSeconds: number }> {
  const config = loadConfig(`icewarp:\n  log_directory: ${join(dir, 'smtp')}\nstart_at: beginning\npositions_file: ${join(dir, 'pos.json')}\n`);
  rmSync(join(dir, 'pos.json'), { force: true });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false, ...opts });
  await pipeline.ready;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const lines = pipeline.tailer.stats.lines;
  await pipeline.stop();
  return { seconds, lines, cpuSeconds: (used.user + used.system) / 1e6 };
}

/**
 * A scrape's time at the client cut where the exporter saw it (wall clocks
 * of the two processes, ms): sent → request read (the request waited for
 * the exporter's event loop, or the connection to be accepted), read → last
 * byte handed to the kernel (the exporter's side), → the client's last byte
 * (the kernel, and the client's own turn on the cores).
 */
export interface ScrapeParts {
  total: number;
  beforeRead: number;
  inExporter: number;
  afterExporter: number;
}

export interface ScrapesDuringCatchUp {
  clients: number;
  scrapes: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The exporter's side of each scrape: request headers read → last byte handed to the kernel. */
  serverP50Ms: number;
  serverP99Ms: number;
  /**
   * Where the slowest scrapes' time went (those at or above the p99 of the
   * scrapes both sides timed): medians of each part, in ms.
   */
  slowest: ScrapeParts & { scrapes: number };
  /** The longest the exporter's main thread held its event loop during a catch-up under the scrapes (median of the runs' worst). */
  loopDelayMaxMs: number;
  /** The same, catching up alone. */
  loopDelayAloneMaxMs: number;
  /** The exporter's own catch-up time (its log), alone and under the scrapes: medians. */
  aloneSeconds: number;
  scrapedSeconds: number;
  /** Each pair's catch-up under the scrapes / alone, minus one. */
  slowdowns: number[];
  /**
   * Each run alone next to a run of the bare loop as a program of its own
   * (like the exporter: a fresh process), then one in the benchmark's process
   * (warm): bare loop time / the exporter's catch-up time.
   */
  aloneRatios: number[];
  aloneWarmRatios: number[];
  lines: number;
}

/** Calls `line` with each whole line a child process writes to `stream`. */
function eachLine(stream: Readable, line: (text: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) line(l);
  });
}

/**
 * The built exporter as its own process catching up `smtp` from the first
 * byte; with `clients` > 0, that many clients each scrape /metrics once a
 * second from the moment it listens until it is caught up. The catch-up time is the exporter's own ("caught up
 * with the log files", from the start of the log pipeline).
 */
async function exporterCatchUp(
  dir: string,
  clients: number,
  parserThread: boolean,
  gzip: boolean,
): Promise<{ seconds: number; lines: number; latencies: number[]; failed: number; loopDelayMaxMs: number; serverSide: number[]; parts: ScrapeParts[] }> {
  const configFile = join(dir, 'scrapes.yml');
  rmSync(join(dir, 'scrapes-pos.json'), { force: true });
  writeFileSync(configFile, `icewarp:\n  log_directory: ${join(dir, 'smtp')}\nstart_at: beginning\npositions_file: ${join(dir, 'scrapes-pos.json')}\n`);
  // --web.max-requests=0: every client is served (the default 40 would answer the rest 503 at once).
  const child = spawn(process.execPath, ['--import', LOOP_DELAY, EXPORTER_MAIN, `--config.file=${configFile}`, '--web.listen-address=127.0.0.1:0', '--web.max-requests=0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MAILRELAY_PARSER_THREAD: parserThread ? '1' : '0' },
  });
  let stderr = '';
  let caughtUp: { seconds: number; lines: number } | undefined;
  let loopDelayMaxMs = 0;
  let listening = -Infinity;
  const serverSide: number[] = [];
  // Each scrape's moments on the wall clock, by its x-bench-scrape id: the client's, and the exporter's (bench/loopDelay.ts).
  const inExporter = new Map<string, { arrived: number; finished: number }>();
  const atClient = new Map<string, { sent: number; done: number }>();
  const wall = (): number => performance.timeOrigin + performance.now();
  eachLine(child.stderr, (line) => {
    const delay = /^bench-loop-delay max=([\d.]+)$/.exec(line);
    if (delay) {
      // From the second report after it listens: the first covers loading the program.
      if (listening++ > 0 && !caughtUp) loopDelayMaxMs = Math.max(loopDelayMaxMs, Number(delay[1]));
      return;
    }
    const served = /^bench-scrape-ms (.*)$/.exec(line);
    if (served) {
      if (!caughtUp) serverSide.push(...served[1]!.split(' ').map(Number));
      return;
    }
    const at = /^bench-scrape-at (.*)$/.exec(line);
    if (at) {
      for (const scrape of at[1]!.split(' ')) {
        const [id, arrived, finished] = scrape.split(',');
        inExporter.set(id!, { arrived: Number(arrived), finished: Number(finished) });
      }
      return;
    }
    if (line.includes('msg=listening')) listening = 0;
    stderr += line + '\n';
    const m = /msg="caught up with the log files" lines=(\d+) bytes=\d+ seconds=([\d.]+)/.exec(line);
    if (m && !caughtUp) caughtUp = { lines: Number(m[1]), seconds: Number(m[2]) };
  });
  const exited = new Promise((r) => child.once('exit', r));
  const port = listeningPort(child);
  const latencies: number[] = [];
  let failed = 0;
  try {
    const base = `http://127.0.0.1:${await port}`;
    const deadline = performance.now() + 120_000;
    while (!(await fetch(`${base}/-/healthy`).then((r) => r.ok, () => false))) {
      if (caughtUp) break;
      if (performance.now() > deadline) throw new Error(`exporter not listening after 120 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    // Raw HTTP, the body counted and dropped: the clients share the machine's two cores with the exporter.
    // With `gzip`, they ask for it and decompress what they get, as Prometheus does.
    const agent = new Agent({ keepAlive: true, maxSockets: clients });
    let scrapes = 0;
    const scrape = (): Promise<boolean> =>
      new Promise((resolve) => {
        const id = String(scrapes++);
        const sent = wall();
        const headers = { 'X-Bench-Scrape': id, ...(gzip ? { 'Accept-Encoding': 'gzip' } : {}) };
        get(`${base}/metrics`, { agent, headers }, (res) => {
          let bytes = 0;
          const body = gzip && res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
          body.on('data', (c: Buffer) => (bytes += c.length));
          body.on('end', () => {
            if (!caughtUp) atClient.set(id, { sent, done: wall() });
            resolve(res.statusCode === 200 && bytes > 1000 && (!gzip || body !== res));
          });
          body.on('error', () => resolve(false));
        }).on('error', () => resolve(false));
      });
    // Each client scrapes once a second (at once again when a scrape took longer), all starting together:
    // 100 scrapes a second, 100 at a time, whatever the exporter's speed.
    const client = async (): Promise<void> => {
      while (!caughtUp) {
        const started = performance.now();
        const ok = await scrape();
        if (!ok) failed++;
        if (!caughtUp) latencies.push(performance.now() - started);
        const rest = started + SCRAPE_INTERVAL_MS - performance.now();
        if (rest > 0 && !caughtUp) await new Promise((r) => setTimeout(r, rest));
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    agent.destroy();
    while (!caughtUp) {
      if (performance.now() > deadline) throw new Error(`exporter not caught up after 120 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // The exporter reports every 250 ms: the last scrapes' moments are in after that.
    await new Promise((r) => setTimeout(r, 300));
    const parts: ScrapeParts[] = [];
    for (const [id, { sent, done }] of atClient) {
      const e = inExporter.get(id);
      if (e) parts.push({ total: done - sent, beforeRead: e.arrived - sent, inExporter: e.finished - e.arrived, afterExporter: done - e.finished });
    }
    return { ...caughtUp, latencies, failed, loopDelayMaxMs, serverSide, parts };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * Alone, then with `clients` scraping, alternately, ROUNDS times each, each run
 * alone followed by runs of the bare loop (unless `bareLoopPairs` is false):
 * medians, and every latency under scrapes.
 */
export async function scrapesDuringCatchUp(
  dir: string,
  clients: number,
  { parserThread = false, gzip = false, bareLoopPairs = true }: { parserThread?: boolean; gzip?: boolean; bareLoopPairs?: boolean } = {},
): Promise<ScrapesDuringCatchUp> {
  const alone: number[] = [];
  const scraped: number[] = [];
  const latencies: number[] = [];
  let failed = 0;
  let lines = 0;
  const delays: number[] = [];
  const delaysAlone: number[] = [];
  const serverSide: number[] = [];
  const aloneRatios: number[] = [];
  const aloneWarmRatios: number[] = [];
  const parts: ScrapeParts[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await exporterCatchUp(dir, 0, parserThread, gzip);
    alone.push(a.seconds);
    if (bareLoopPairs) {
      // Its pairs, at once: the machine's speed drifts between the groups of this benchmark.
      const own = bareLoopOwnProcess(join(dir, 'smtp'));
      if (own.lines !== a.lines || own.matched !== a.lines) throw new Error(`bare loop as its own process: ${own.lines} lines, ${own.matched} matched, of ${a.lines}`);
      aloneRatios.push(own.seconds / a.seconds);
      aloneWarmRatios.push(bareLoop(join(dir, 'smtp')).seconds / a.seconds);
    }
    delaysAlone.push(a.loopDelayMaxMs);
    const s = await exporterCatchUp(dir, clients, parserThread, gzip);
    scraped.push(s.seconds);
    delays.push(s.loopDelayMaxMs);
    latencies.push(...s.latencies);
    serverSide.push(...s.serverSide);
    parts.push(...s.parts);
    failed += s.failed;
    lines = s.lines;
  }
  latencies.sort((a, b) => a - b);
  serverSide.sort((a, b) => a - b);
  const p99 = percentile(parts.map((p) => p.total).sort((a, b) => a - b), 99);
  const slow = parts.filter((p) => p.total >= p99);
  const medianOf = (part: keyof ScrapeParts): number => median(slow.map((p) => p[part]));
  return {
    slowest: { scrapes: slow.length, total: medianOf('total'), beforeRead: medianOf('beforeRead'), inExporter: medianOf('inExporter'), afterExporter: medianOf('afterExporter') },
    serverP50Ms: percentile(serverSide, 50),
    serverP99Ms: percentile(serverSide, 99),
    clients,
    scrapes: latencies.length,
    failed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    loopDelayMaxMs: median(delays),
    loopDelayAloneMaxMs: median(delaysAlone),
    aloneSeconds: median(alone),
    scrapedSeconds: median(scraped),
    slowdowns: scraped.map((t, i) => t / alone[i]! - 1),
    aloneRatios,
    aloneWarmRatios,
    lines,
  };
}

function mtailRate(dir: string): number | undefined {
  if (!existsSync('/usr/bin/mtail')) return undefined;
  const progs = join(dir, 'progs');
  mkdirSync(progs, { recursive: true });
  writeFileSync(join(progs, 'lines.mtail'), 'counter lines_total\n\n/$/ {\n  lines_total++\n}\n');
  const logs = readdirSync(join(dir, 'smtp')).map((f) => join(dir, 'smtp', f));
  const started = performance.now();
  execFileSync('mtail', ['--progs', progs, ...logs.flatMap((l) => ['--logs', l]), '--one_shot', '--one_shot_format', 'prometheus', '--logtostderr'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  return (performance.now() - started) / 1000;
}

/** A LOGIN session of `account` sending one message, as IceWarp logs it. */
/**
 * An IceWarp log directory (one daily file) in which `accounts` accounts
 * (user0@domaine.com …) each logged in once and sent one message outside:
 * the per-account series of a big server.
 */
export function writeAccountsLog(dir: string, accounts: number): void {
  mkdirSync(dir, { recursive: true });
  const parts: string[] = [];
  for (let i = 0; i < accounts; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    parts.push(session(`user${i}@domaine.com`, ip, (i & 0xffff).toString(16).padStart(4, '0').toUpperCase(), '11:00:00'));
  }
  writeFileSync(join(dir, 's20261128.log'), parts.join('\n') + '\n');
}

function session(account: string, peer: string, thread: string, time: string): string {
  const user = Buffer.from(account).toString('base64');
  return [
    `${peer} [${thread}] ${time} Connected`,
    `${peer} [${thread}] ${time} >>> 220 mail.domaine.com ESMTP IceWarp 13.0.2`,
    `${peer} [${thread}] ${time} <<< EHLO client`,
    `${peer} [${thread}] ${time} >>> 250 mail.domaine.com Hello client [${peer}], pleased to meet you.`,
    `${peer} [${thread}] ${time} <<< AUTH LOGIN`,
    `${peer} [${thread}] ${time} >>> 334 VXNlcm5hbWU6`,
    `${peer} [${thread}] ${time} <<< ${user}`,
    `${peer} [${thread}] ${time} >>> 334 UGFzc3dvcmQ6`,
    `${peer} [${thread}] ${time} <<< cGFzc3dvcmQ=`,
    `${peer} [${thread}] ${time} >>> 235 2.0.0 Authentication successful`,
    `${peer} [${thread}] ${time} <<< MAIL FROM:<${account}>`,
    `${peer} [${thread}] ${time} >>> 250 2.1.0 <${account}>... Sender ok`,
    `${peer} [${thread}] ${time} <<< RCPT TO:<someone@example.net>`,
    `${peer} [${thread}] ${time} >>> 250 2.1.5 <someone@example.net>... Recipient ok; will forward`,
    `${peer} [${thread}] ${time} <<< DATA`,
    `${peer} [${thread}] ${time} >>> 354 Enter mail, end with "." on a line by itself`,
    `${peer} [${thread}] ${time} >>> 250 2.6.0 900 bytes received; Message accepted for delivery`,
    `${peer} [${thread}] ${time} <<< QUIT`,
    `${peer} [${thread}] ${time} Disconnected`,
  ].join('\n');
}

async function tailLatency(dir: string, samples: number): Promise<number[]> {
  const smtp = join(dir, 'latency');
  mkdirSync(smtp, { recursive: true });
  const file = join(smtp, 's20261128.log');
  writeFileSync(file, '');
  const configFile = join(dir, 'latency.yml');
  writeFileSync(configFile, `icewarp:\n  log_directory: ${smtp}\nstart_at: beginning\npositions_file: ${join(dir, 'latency-pos.json')}\n`);
  const app = new App({ configFile, listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', logger: silentLogger, version: 'bench' });
  const { port } = await app.start();
  const url = `http://127.0.0.1:${port}/metrics`;
  const latencies: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const account = `latency${i}@domaine.com`;
      const started = performance.now();
      appendFileSync(file, session(account, '192.0.2.7', '0A01', '10:00:00') + '\n');
      for (;;) {
        const text = await (await fetch(url)).text();
        if (text.includes(`mailrelay_account_messages_total{account="${account}"} 1`)) break;
        if (performance.now() - started > 10_000) throw new Error(`line for ${account} not visible after 10 s`);
      }
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await app.stop();
  }
  return latencies;
}

/** Starts the built exporter on a log of `accounts` accounts, times /metrics, reads its peak RSS. */
async function manyAccounts(
  dir: string,
  accounts: number,
): Promise<{ renders: number[]; serverSide: number[]; bytes: number; gzipRenders: number[]; gzipServerSide: number[]; gzipBytes: number; peakRssMb: number }> {
  const smtp = join(dir, 'accounts');
  writeAccountsLog(smtp, accounts);
  const configFile = join(dir, 'accounts.yml');
  writeFileSync(
    configFile,
    `icewarp:\n  log_directory: ${smtp}\nstart_at: beginning\npositions_file: ${join(dir, 'accounts-pos.json')}\nlimits:\n  max_accounts: ${accounts}\n`,
  );
  const child = spawn(process.execPath, ['--import', LOOP_DELAY, EXPORTER_MAIN, `--config.file=${configFile}`, '--web.listen-address=127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = listeningPort(child);
  // The exporter's side of each scrape (bench/loopDelay.ts): request read → last byte handed to the kernel.
  const serverSide: number[] = [];
  eachLine(child.stderr, (line) => {
    const served = /^bench-scrape-ms (.*)$/.exec(line);
    if (served) serverSide.push(...served[1]!.split(' ').map(Number));
  });
  try {
    const base = `http://127.0.0.1:${await port}`;
    const deadline = performance.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      if (performance.now() > deadline) throw new Error('exporter with many accounts not ready after 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    let bytes = 0;
    const last = Buffer.from(`mailrelay_account_messages_total{account="user${accounts - 1}@domaine.com"} 1\n`);
    // Raw HTTP, the body kept as bytes: decoding 6.7 MiB into a string (fetch's text()) is the client's work, not the exporter's.
    const agent = new Agent({ keepAlive: true });
    // With `gzip`, as Prometheus scrapes: asked for, and decompressed (the time to the last byte includes it).
    const scrape = (gzip: boolean): Promise<{ body: Buffer; sent: number }> =>
      new Promise((resolve, reject) => {
        get(`${base}/metrics`, { agent, headers: gzip ? { 'Accept-Encoding': 'gzip' } : {} }, (res) => {
          const chunks: Buffer[] = [];
          let sent = 0;
          res.on('data', (c: Buffer) => {
            sent += c.length;
            if (!gzip) chunks.push(c);
          });
          const body = gzip ? res.pipe(createGunzip()) : res;
          if (gzip) body.on('data', (c: Buffer) => chunks.push(c));
          body.on('end', () => resolve({ body: Buffer.concat(chunks), sent }));
          body.on('error', reject);
        }).on('error', reject);
      });
    const run = async (gzip: boolean): Promise<{ times: number[]; server: number[]; sent: number }> => {
      const times: number[] = [];
      let sent = 0;
      serverSide.length = 0;
      for (let i = 0; i < 21; i++) {
        const started = performance.now();
        const answer = await scrape(gzip);
        times.push(performance.now() - started);
        sent = answer.sent;
        if (!gzip) bytes = answer.body.length;
        if (!answer.body.includes(last)) throw new Error('the last account is missing from /metrics');
        // A scrape a second: back to back, each would wait four times the last rendering (scrapeRounds.ts).
        await new Promise((r) => setTimeout(r, 1000));
      }
      // The reports come every 250 ms: the last scrape's is in by now (a second after it).
      return { times: times.slice(1), server: serverSide.slice(1).sort((a, b) => a - b), sent };
    };
    const plain = await run(false);
    const gzipped = await run(true);
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    agent.destroy();
    return {
      renders: plain.times,
      serverSide: plain.server,
      bytes,
      gzipRenders: gzipped.times,
      gzipServerSide: gzipped.server,
      gzipBytes: gzipped.sent,
      peakRssMb: hwm ? Number(hwm[1]) / 1024 : NaN,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function benchLog(opts: { lines?: number; latencySamples?: number; accounts?: number; scrapeClients?: number } = {}): Promise<LogBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailrelay-bench-'));
  try {
    const written = writeBenchLogs(join(dir, 'smtp'), opts.lines ?? LOG_LINES);
    const longDir = join(dir, 'long');
    const long = writeBenchLogs(join(longDir, 'smtp'), written.lines * SCRAPE_LOG_TIMES);
    // A warm-up run (page cache and JIT warm, as for a long-running exporter), then the median of ROUNDS,
    // each catch-up run next to a run of the bare loop and one with the parser in the main thread,
    // so that the other work on the machine weighs on all three alike.
    await catchUp(dir);
    bareLoop(join(dir, 'smtp'));
    const runs: { seconds: number; lines: number; cpuSeconds: number }[] = [];
    const bares: number[] = [];
    const bareCpu: number[] = [];
    const threaded: { seconds: number; cpuSeconds: number }[] = [];
    // The catch-up's stages without the tailer, on the same lines: what each adds.
    const inMemory = readdirSync(join(dir, 'smtp')).sort().map((name) => ({ name, bytes: readFileSync(join(dir, 'smtp', name)) }));
    const limits = accountLimits(loadConfig(`icewarp:\n  log_directory: ${join(dir, 'smtp')}\n`));
    parseInMemory(inMemory, limits);
    const parserAlone: number[] = [];
    const parserBook: number[] = [];
    const parserBookLocals: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const b = bareLoop(join(dir, 'smtp'));
      if (b.lines !== written.lines || b.matched !== written.lines) throw new Error(`bare loop: ${b.lines} lines, ${b.matched} matched, of ${written.lines}`);
      bares.push(b.seconds);
      bareCpu.push(b.cpuSeconds);
      runs.push(await catchUp(dir));
      threaded.push(await catchUp(dir, { parserThread: true }));
      // Three of each a round, alternated: a second's run swings by a fifth here, and the book's share is about that.
      for (let j = 0; j < 3; j++) {
        parserAlone.push(parseInMemory(inMemory));
        parserBook.push(parseInMemory(inMemory, limits));
        parserBookLocals.push(parseInMemory(inMemory, limits, HOSTING_LOCAL_DOMAINS));
      }
    }
    const hostileDomain = hostileDomainCost();
    const roundRatios = runs.map((r, i) => bares[i]! / r.seconds);
    const run = runs.sort((a, b) => a.seconds - b.seconds)[ROUNDS >> 1]!;
    if (run.lines !== written.lines) throw new Error(`caught up ${run.lines} lines of ${written.lines}`);
    const bareSeconds = median(bares);
    const first = readFileSync(join(dir, 'smtp', readdirSync(join(dir, 'smtp')).sort()[0]!), 'utf8').split('\n').slice(0, 500_000);
    const fresh = [0, 1, 2].map(() => JSON.parse(execFileSync(process.execPath, [FRESH_PARSER, join(dir, 'smtp')], { encoding: 'utf8' })) as { first: number; second: number });
    const threadWork: number[] = [];
    for (let i = 0; i < 3; i++) threadWork.push((await benchParserThreadWork(first)).linesPerSecond);
    const clients = opts.scrapeClients ?? 100;
    const ownProcess = await scrapesDuringCatchUp(dir, clients);
    const ownProcessThread = await scrapesDuringCatchUp(dir, clients, { parserThread: true });
    // The long log's rows give no ratio to the bare loop: no pairs.
    const scrapes = await scrapesDuringCatchUp(longDir, clients, { bareLoopPairs: false });
    const scrapesThread = await scrapesDuringCatchUp(longDir, clients, { parserThread: true, bareLoopPairs: false });
    const scrapesGzip = await scrapesDuringCatchUp(longDir, clients, { gzip: true, bareLoopPairs: false });
    if (ownProcess.lines !== written.lines) throw new Error(`the exporter caught up ${ownProcess.lines} lines of ${written.lines}`);
    if (scrapes.lines !== long.lines) throw new Error(`the exporter caught up ${scrapes.lines} lines of ${long.lines}`);
    const mtailSeconds = mtailRate(dir);
    const latencies = (await tailLatency(dir, opts.latencySamples ?? 200)).sort((a, b) => a - b);
    const accounts = opts.accounts ?? 10_000;
    const many = await manyAccounts(dir, accounts);
    const renders = many.renders.sort((a, b) => a - b);
    return {
      lines: written.lines,
      bytes: written.bytes,
      catchUpSeconds: run.seconds,
      catchUpLinesPerSecond: run.lines / run.seconds,
      bareSeconds,
      bareLinesPerSecond: written.lines / bareSeconds,
      bareCpuSeconds: median(bareCpu),
      roundRatios,
      parserSeconds: median(parserAlone),
      parserBookSeconds: median(parserBook),
      parserBookLocalsSeconds: median(parserBookLocals),
      hostileDomain,
      catchUpCpuSeconds: run.cpuSeconds,
      threadSeconds: median(threaded.map((t) => t.seconds)),
      threadCpuSeconds: median(threaded.map((t) => t.cpuSeconds)),
      threadWorkLinesPerSecond: median(threadWork),
      freshFirstSeconds: median(fresh.map((f) => f.first)),
      freshSecondSeconds: median(fresh.map((f) => f.second)),
      ownProcess,
      ownProcessThread,
      scrapes,
      scrapesThread,
      scrapesGzip,
      mtailSeconds,
      mtailLinesPerSecond: mtailSeconds === undefined ? undefined : written.lines / mtailSeconds,
      tailLatencyP50Ms: percentile(latencies, 50),
      tailLatencyP99Ms: percentile(latencies, 99),
      tailLatencySamples: latencies.length,
      accounts,
      metricsRenderMedianMs: percentile(renders, 50),
      metricsRenderMaxMs: renders[renders.length - 1]!,
      metricsServerMedianMs: percentile(many.serverSide, 50),
      metricsBytes: many.bytes,
      metricsGzipMedianMs: percentile([...many.gzipRenders].sort((a, b) => a - b), 50),
      metricsGzipServerMedianMs: percentile(many.gzipServerSide, 50),
      metricsGzipBytes: many.gzipBytes,
      peakRssMb: many.peakRssMb,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `the parser thread 0.63× (missed), p99 237 ms (met), slowed +23% (missed)`: the catch-up and scrape targets of one way of parsing. */
function threeTargets(way: string, ratio: number, s: ScrapesDuringCatchUp): string {
  const slowed = s.scrapedSeconds / s.aloneSeconds - 1;
  const mark = (ok: boolean): string => (ok ? 'met' : 'missed');
  return `${way} ${fmt(ratio, 2)}× (${mark(ratio >= 0.65)}), p99 ${fmt(s.p99Ms)} ms (${mark(s.p99Ms <= 250)}), slowed ${percent(slowed)} (${mark(slowed <= 0.2)})`;
}

/** The slowest scrapes' parts, each a median (they need not add up to the total's): `12 + 30 + 140 ms of 190 ms (11 scrapes)`. */
function slowestParts({ slowest: s }: ScrapesDuringCatchUp): string {
  return `${fmt(s.beforeRead, 0)} + ${fmt(s.inExporter, 0)} + ${fmt(s.afterExporter, 0)} ms of ${fmt(s.total, 0)} ms (${s.scrapes} scrapes)`;
}

/** `+12%`, `-6%`. */
function percent(x: number): string {
  return `${x >= 0 ? '+' : ''}${fmt(x * 100)}%`;
}

/** The least and the most of a measure's runs: how far the same code lands from run to run on this machine. */
function spread(values: number[], show: (x: number) => string): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${show(sorted[0]!)} to ${show(sorted[sorted.length - 1]!)}`;
}

/** The log group: the pipeline figures above. */
export const logGroup: BenchGroup = {
  name: 'log',
  title: 'Log pipeline',
  async run() {
    process.stderr.write('bench: log pipeline (catch-up, bare loop, scrapes during catch-up, mtail, tail latency, 10,000 accounts)…\n');
    const loadBefore = loadavg();
    const log = await benchLog();
    const loadAfter = loadavg();
    const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(', ');
    const mtailRatio = log.mtailLinesPerSecond ? log.catchUpLinesPerSecond / log.mtailLinesPerSecond : undefined;
    const bareRatio = log.catchUpLinesPerSecond / log.bareLinesPerSecond;
    const parserRatio = log.bareSeconds / log.parserSeconds;
    const parserBookRatio = log.bareSeconds / log.parserBookSeconds;
    const localsRatio = log.parserBookLocalsSeconds / log.parserBookSeconds;
    const hostileRatio = log.hostileDomain.judgeNs / log.hostileDomain.keyNs;
    // The issue's catch-up, the exporter as its own process: with the parser in the main thread, and in a thread.
    const op = log.ownProcess;
    const ot = log.ownProcessThread;
    // The scrapes over the longer log.
    const sc = log.scrapes;
    const st = log.scrapesThread;
    const sg = log.scrapesGzip;
    const slowdown = sc.scrapedSeconds / sc.aloneSeconds - 1;
    const ownRatio = median(op.aloneRatios);
    const share = (seconds: number): string => `${fmt((100 * seconds) / log.catchUpSeconds)}%`;
    return {
      rows: [
        ['catch-up throughput (tailer + parser + accounts, all in the main thread)', `${fmt(log.catchUpLinesPerSecond)} lines/s (${fmt(log.lines)} lines, ${fmt(log.bytes / 2 ** 20, 1)} MiB in ${fmt(log.catchUpSeconds, 2)} s; CPU ${fmt(log.catchUpCpuSeconds, 2)} s)`, '≥ 1,000,000 lines/s', verdict(log.catchUpLinesPerSecond >= 1_000_000)],
        ['bare Node loop, same files, same run (read + split + one regex a line)', `${fmt(log.bareLinesPerSecond)} lines/s (${fmt(log.bareSeconds, 2)} s)`, '', ''],
        ['catch-up / bare loop, in the benchmark\'s process (the JIT warm, as in a long-running exporter; the issue\'s measure is the exporter as its own process, below)', `${fmt(bareRatio, 2)}× (each round's pair: ${spread(log.roundRatios, (r) => `${fmt(r, 2)}×`)})`, '', ''],
        ['the same in CPU time (bare loop CPU / catch-up CPU: what the machine\'s other work does not stretch)', `${fmt(log.bareCpuSeconds / log.catchUpCpuSeconds, 2)}× (bare loop ${fmt(log.bareCpuSeconds, 2)} s, catch-up ${fmt(log.catchUpCpuSeconds, 2)} s of CPU)`, '', ''],
        ['the parser alone: the same lines in memory, the same rounds (line layout and session state machine; facts dropped)', `${fmt(log.lines / log.parserSeconds)} lines/s (${fmt(log.parserSeconds, 2)} s, ${fmt(parserRatio, 2)}× the bare loop)`, '', ''],
        ['the parser and the account book: the same lines in memory, the same rounds (no tailer, no slices)', `${fmt(log.lines / log.parserBookSeconds)} lines/s (${fmt(log.parserBookSeconds, 2)} s, ${fmt(parserBookRatio, 2)}× the bare loop)`, '', ''],
        [
          'the same with a hosting provider\'s local_domains (500 names and 20 `*.` wildcards; each RCPT is judged local or external against them), alternated with the row above',
          `${fmt(log.parserBookLocalsSeconds, 2)} s, ${fmt(localsRatio, 2)}× the time with none`,
          '≤ 1.2×',
          verdict(localsRatio <= 1.2),
        ],
        [
          'a sender\'s worst RCPT domain (1,280 bytes, 640 dots) judged against those local_domains, against its domainKey (the pass over its bytes every RCPT makes)',
          `${fmt(log.hostileDomain.judgeNs / 1000, 1)} µs a recipient, ${fmt(hostileRatio, 2)}× its domainKey (${fmt(log.hostileDomain.keyNs / 1000, 1)} µs)`,
          '≤ 2×',
          verdict(hostileRatio <= 2),
        ],
        [
          'the same catch-up by the built exporter as its own process, as the issue measures it (start → caught up; the runs without clients of the scrapes measure below), against the bare loop as a program of its own run right after each (both start cold)',
          `${fmt(op.lines / op.aloneSeconds)} lines/s (${fmt(op.aloneSeconds, 2)} s), ${fmt(ownRatio, 2)}× the bare loop (each pair: ${spread(op.aloneRatios, (r) => `${fmt(r, 2)}×`)}); against the warm loop in the benchmark's process, run next: ${fmt(median(op.aloneWarmRatios), 2)}× (${spread(op.aloneWarmRatios, (r) => `${fmt(r, 2)}×`)})`,
          '≥ 0.65×',
          verdict(ownRatio >= 0.65),
        ],
        [
          'the same with the parser in a thread of its own (MAILRELAY_PARSER_THREAD=1)',
          `${fmt(ot.lines / ot.aloneSeconds)} lines/s (${fmt(ot.aloneSeconds, 2)} s), ${fmt(median(ot.aloneRatios), 2)}× the bare loop as its own process (each pair: ${spread(ot.aloneRatios, (r) => `${fmt(r, 2)}×`)}); ${fmt(median(ot.aloneWarmRatios), 2)}× the warm one`,
          '',
          '',
        ],
        [
          'the parser and the account book in a fresh process, the same lines in memory: its first run against its second (the JIT compiling the code, the heap growing: what the exporter as its own process pays and the rows in the benchmark\'s process do not)',
          `${fmt(log.freshFirstSeconds, 2)} s against ${fmt(log.freshSecondSeconds, 2)} s (+${fmt((log.freshFirstSeconds - log.freshSecondSeconds) * 1000)} ms)`,
          '',
          '',
        ],
        ['the parser thread\'s work alone on one core (lines scanned by the main thread → feedScanned → fact batch; the first 500,000 lines of the same files)', `${fmt(log.threadWorkLinesPerSecond)} lines/s (${fmt(log.threadWorkLinesPerSecond / log.bareLinesPerSecond, 2)}× the bare loop): the parser thread's ceiling`, '', ''],
        ['catch-up with the parser in a thread of its own (MAILRELAY_PARSER_THREAD=1), same run', `${fmt(log.lines / log.threadSeconds)} lines/s (${fmt(log.threadSeconds, 2)} s, ${fmt(log.lines / log.threadSeconds / log.bareLinesPerSecond, 2)}× the bare loop; CPU ${fmt(log.threadCpuSeconds, 2)} s, ${fmt(log.threadCpuSeconds / log.catchUpCpuSeconds, 2)}× the main thread's)`, '', ''],
        [`${sc.clients} clients scraping /metrics once a second each during the exporter's catch-up of ${fmt(sc.lines)} lines (${SCRAPE_LOG_TIMES}× the files above; ${fmt(sc.aloneSeconds, 1)} s alone)`, `p50 ${fmt(sc.p50Ms, 1)} ms, p99 ${fmt(sc.p99Ms, 1)} ms, max ${fmt(sc.maxMs, 1)} ms (${fmt(sc.scrapes)} scrapes, ${sc.failed} failed)`, 'p99 ≤ 250 ms', verdict(sc.p99Ms <= 250 && sc.failed === 0)],
        ['the same scrapes, the exporter\'s side (request read → last byte handed to the kernel)', `p50 ${fmt(sc.serverP50Ms, 1)} ms, p99 ${fmt(sc.serverP99Ms, 1)} ms`, '', ''],
        ['where the slowest of them (at or above the p99) spent their time, medians: sent → read by the exporter, → last byte handed to the kernel, → the client\'s last byte', slowestParts(sc), '', ''],
        ['longest the exporter\'s main thread held its event loop during the catch-up', `${fmt(sc.loopDelayMaxMs, 0)} ms under the scrapes, ${fmt(sc.loopDelayAloneMaxMs, 0)} ms alone (median of the runs' worst)`, '', ''],
        ["the exporter's catch-up under those scrapes vs alone", `${fmt(sc.scrapedSeconds, 2)} s vs ${fmt(sc.aloneSeconds, 2)} s (${percent(slowdown)}; each pair: ${spread(sc.slowdowns, percent)})`, 'slowed ≤ 20%', verdict(slowdown <= 0.2)],
        [
          'the same three measures with the parser in a thread of its own (MAILRELAY_PARSER_THREAD=1), same run',
          `client p50 ${fmt(st.p50Ms, 1)} ms, p99 ${fmt(st.p99Ms, 1)} ms; the exporter's side p50 ${fmt(st.serverP50Ms, 1)} ms, p99 ${fmt(st.serverP99Ms, 1)} ms; catch-up ${fmt(st.scrapedSeconds, 2)} s under the scrapes vs ${fmt(st.aloneSeconds, 2)} s alone (${percent(st.scrapedSeconds / st.aloneSeconds - 1)}); the slowest scrapes: ${slowestParts(st)}`,
          '',
          '',
        ],
        [
          `the same ${op.clients} clients over the catch-up of the ${fmt(op.lines)} lines (${fmt(op.aloneSeconds, 2)} s alone: each client scrapes once or twice, and the first hundred connections weigh most), same run`,
          `the parser in the main thread: client p50 ${fmt(op.p50Ms, 1)} ms, p99 ${fmt(op.p99Ms, 1)} ms (${fmt(op.scrapes)} scrapes, ${op.failed} failed), catch-up ${percent(op.scrapedSeconds / op.aloneSeconds - 1)} (each pair: ${spread(op.slowdowns, percent)}); in a thread: p99 ${fmt(ot.p99Ms, 1)} ms, catch-up ${percent(ot.scrapedSeconds / ot.aloneSeconds - 1)} (each pair: ${spread(ot.slowdowns, percent)})`,
          '',
          '',
        ],
        [
          `the same ${sg.clients} clients asking for gzip and decompressing each answer, as Prometheus does (the parser in the main thread), same run`,
          `client p50 ${fmt(sg.p50Ms, 1)} ms, p99 ${fmt(sg.p99Ms, 1)} ms (${fmt(sg.scrapes)} scrapes, ${sg.failed} failed); the exporter's side p50 ${fmt(sg.serverP50Ms, 1)} ms, p99 ${fmt(sg.serverP99Ms, 1)} ms; catch-up ${fmt(sg.scrapedSeconds, 2)} s under the scrapes vs ${fmt(sg.aloneSeconds, 2)} s alone (${percent(sg.scrapedSeconds / sg.aloneSeconds - 1)}; each pair: ${spread(sg.slowdowns, percent)})`,
          '',
          '',
        ],
        ['mtail, line-counting program, same lines', log.mtailLinesPerSecond === undefined ? 'mtail not installed' : `${fmt(log.mtailLinesPerSecond)} lines/s (${fmt(log.mtailSeconds, 2)} s)`, '', ''],
        ['ratio to mtail', mtailRatio === undefined ? 'n/a' : `${fmt(mtailRatio, 1)}×`, '≥ 4×', verdict(mtailRatio === undefined ? undefined : mtailRatio >= 4)],
        ['tail latency, line appended → visible in /metrics', `p50 ${fmt(log.tailLatencyP50Ms, 1)} ms, p99 ${fmt(log.tailLatencyP99Ms, 1)} ms (${log.tailLatencySamples} samples)`, 'p99 < 1 s', verdict(log.tailLatencyP99Ms < 1000)],
        [`/metrics render at ${fmt(log.accounts)} accounts`, `median ${fmt(log.metricsRenderMedianMs, 1)} ms, max ${fmt(log.metricsRenderMaxMs, 1)} ms at the client (${fmt(log.metricsBytes / 2 ** 20, 1)} MiB); the exporter's side median ${fmt(log.metricsServerMedianMs, 1)} ms`, '< 100 ms', verdict(log.metricsRenderMedianMs < 100)],
        [
          `the same GETs asking for gzip and decompressing the answer, as Prometheus does`,
          `median ${fmt(log.metricsGzipMedianMs, 1)} ms at the client (${fmt(log.metricsGzipBytes / 2 ** 10)} KiB sent); the exporter's side median ${fmt(log.metricsGzipServerMedianMs, 1)} ms`,
          '',
          '',
        ],
        [`peak RSS of the exporter at ${fmt(log.accounts)} accounts`, `${fmt(log.peakRssMb)} MB`, '< 200 MB', verdict(log.peakRssMb < 200)],
      ],
      notes: [
        `In short, for the catch-up (the notes below have the measurements): as its own process the exporter reaches
  ${fmt(ownRatio, 2)}× the bare loop as its own process, against the 0.65× asked (${fmt(median(op.aloneWarmRatios), 2)}× the same loop warm in the benchmark's process).
  On one core the parser's own work bounds it: warm and in memory, the parser alone does ${fmt(parserRatio, 2)}× the loop's rate and
  ${fmt(parserBookRatio, 2)}× with the account book, and no stage of its profile takes more than about a sixth of it. A fresh process's
  first pass over the lines in memory took ${fmt(log.freshFirstSeconds, 2)} s against ${fmt(log.freshSecondSeconds, 2)} s for its second (the JIT's warm-up). The parser
  in a thread of its own puts the second core to work: ${fmt(median(ot.aloneRatios), 2)}× the bare loop as its own process, at
  ${fmt(log.threadCpuSeconds / log.catchUpCpuSeconds, 2)}× the CPU. Against the three targets, in this run (the ratio over the issue's ${fmt(log.lines)} lines, the scrapes over
  ${fmt(sc.lines)}): ${threeTargets('the main thread', ownRatio, sc)}; ${threeTargets('the parser thread', median(ot.aloneRatios), st)}.
  The main thread, which costs less CPU, stays the default.`,
        `The machine: runs before 2026-11-30 22:00 were on an earlier machine of the same kind, whose cores other sessions kept
  busy (load average 1.0-1.6 at the start of the group). There the same bare loop took 0.82-1.00 s over 2,000,000 of these
  lines (0.44 s on this machine, 22:12), the exporter as its own process reached 0.51-0.61× of it with the parser in the main
  thread and 0.55-0.75× with the thread, and each way missed one target or two; the notes dated before that hour were
  measured there, and what they say limits a figure held there. The exporter gains more than the bare loop from a second core
  left free: the bare loop is one thread, while the exporter's file reads (libuv's threads), the JIT's compiling and the
  collector's helpers run beside its main thread (\`/proc/<pid>/task/*/schedstat\` over three catch-ups of 2,000,000 lines on
  this machine, 2026-11-30 22:20: the main thread ran 0.85-0.93 s with the program's loading, the other threads 0.24 s, and they
  waited 0.29-0.31 s more for a core).`,
        `Load average of the machine (1, 5, 15 min) at the start of the group: ${load(loadBefore)}; at its end: ${load(loadAfter)}.
  The catch-up runs on one core (the main thread; its file reads on libuv's threads), as the bare loop does.`,
        `Catch-up: ${fmt(log.lines)} lines of a generated attack scenario (\`src/demo/scenario.ts\`) in daily files, read from the
  first byte until the log pipeline is ready, through the real tailer, IceWarp parser (in the main thread, in slices of about
  1 ms between turns of the event loop, the default) and account book (warm page cache and JIT, as for a long-running
  exporter): the median of ${ROUNDS} runs after a warm-up. Each run is next to a run of the bare loop and one of the catch-up with
  the parser in a thread of its own (\`parserThread: true\`, as \`MAILRELAY_PARSER_THREAD=1\` gives). CPU time: user +
  system of the whole process (every thread), from \`process.cpuUsage\`.`,
        `Bare loop (\`bareLoop\` in \`bench/bareLoop.ts\`): the same files oldest first, \`readSync\` in 1 MiB pieces, UTF-8 decoding,
  \`split('\\n')\` and one regex of the line layout (\`peer [thread] HH:MM:SS rest\`) on every line; nothing kept. It runs in the
  benchmark's process (warm: its JIT has compiled it and its heap has grown in the runs before) and, next to the exporter as its own
  process, as a program of its own (\`bench/freshBareLoop.ts\`: a fresh \`node\`, timed from its first read like the exporter from its
  pipeline's start, program loading left out of both). The exporter's own-process catch-up is judged against the second, which starts as
  cold as it does; in the runs before 2026-11-30 17:56 it was judged against the warm loop, which ran 0.89 s where the same loop as its own process ran
  1.00 s (medians of 16 runs alternated, 17:57), so those ratios read about a tenth lower for the same speed. Both are in the row.`,
        `Scrapes during catch-up: the built exporter as its own process (\`--web.max-requests=0\`) catching up from the first
  byte, over two logs: the files above (the issue's ${fmt(log.lines)} lines: the ratio rows, and the row of the scrapes over
  them), and ${SCRAPE_LOG_TIMES} times as many lines of the same scenario, over which the scrapes are judged. The issue's measure
  had a catch-up of 4.5 s; on this machine the ${fmt(log.lines)} lines take ${fmt(op.aloneSeconds, 1)} s, each client then scrapes once or
  twice, and the first hundred connections, each accepted on a turn of the event loop, are most of what is measured.
  ${sc.clients} clients (raw HTTP, keep-alive, in the benchmark's process) each GET /metrics once a second, all together, from
  the moment it listens until it is caught up (a scrape that takes longer than a second is followed by the next at once).
  The client's latency is measured in the benchmark's process, which shares the two cores: the exporter's side of each
  scrape and the longest hold of its event loop come from \`bench/loopDelay.ts\`, preloaded into it (\`node --import\`; loop
  delay from the second 250 ms report after it listens, the first covering the program's loading). The catch-up time is
  the exporter's own (its log line \`caught up with the log files … seconds=\`), median of ${ROUNDS} runs with the clients
  against ${ROUNDS} without, alternated. Over the issue's lines, each run without clients is followed at once by a run of the
  bare loop as its own process, then one in the benchmark's process (the ratio of the exporter as its own process is the
  median of the first pairs: the machine's speed drifts between the parts of this benchmark), with the parser in the main
  thread, then with \`MAILRELAY_PARSER_THREAD=1\`. Over the longer log, without the bare loop's runs: the parser in the main
  thread, in a thread, and clients that ask for gzip (\`Accept-Encoding: gzip\`, as Prometheus sends it) and decompress each
  answer. The verdict is on the clients that do not ask for it: the exporter's work per scrape is then the most.`,
        `What limits the catch-up here: CPU, on one core, and the parser's own work first. \`node --cpu-prof\` over four main-thread
  catch-ups of these files (2026-11-30 07:27, quiet machine, load average 0.9; shares of the busy samples): the IceWarp session
  state machine (\`scanned\`, \`clientLine\`, \`serverLine\`, \`recipient\`, \`connect\`, the session table) 32%, the line scanner
  \`LineScanner.scan\` (peer and thread hashed, time read) 14%, strings for peers, addresses and usernames (\`toString\` →
  \`utf8Slice\`, base64: 150-250 ns a call here, most of it the call) 11%, finding each line's end (\`Buffer.indexOf\`, the
  fastest of the ways tried: 40-65 ns a line against about 100 for \`Uint8Array.prototype.indexOf\` and 140 for a byte loop) 6%;
  the account book 16% (half of it the stolen account's flood of new recipient domains: one \`Map.set\` of a fresh string per
  external recipient, about 400 ns at 5,000 keys here; domains are numbers since, see below); builtins the profile does not name (Map and Array) 7%; garbage
  collection 5%; the tailer's reads and the slicing 4%. The bare loop does less per line (one regex, nothing kept): over the
  same lines in the same rounds, the parser alone reaches ${fmt(parserRatio, 2)}× its rate, with the account book ${fmt(parserBookRatio, 2)}×, and
  the whole catch-up ${fmt(bareRatio, 2)}× (the rows above): of the catch-up's time, the parser takes ${share(log.parserSeconds)}, the account
  book ${share(log.parserBookSeconds - log.parserSeconds)}, the tailer, the slices and the rest ${share(log.catchUpSeconds - log.parserBookSeconds)}. 0.65× would leave counting, reading and the rest
  ${fmt((parserRatio / 0.65 - 1) * 100)}% of the parser's time, where they take ${fmt((parserRatio / bareRatio - 1) * 100)}% of it.
  Since the run of 2026-11-30 06:22 (0.34× on a quiet machine): a full SlidingSet drops a whole generation instead of shedding
  its least recently seen tenth (a selection over 10,000 keys every thousand new ones, then deleting them: 3.5 times a
  \`Map.set\` a sighting), and the parser runs in 1 ms slices.
  Tried on 2026-11-30 09:20 and dropped, no gain measured: one string for the same bytes (domains, senders and peers
  remembered by a hash of their bytes), to spare decoding them and the book's hashing of a fresh string. A fresh string's
  hash costs the book 30-60 ms a catch-up of these files (its first pass over the same facts against later ones), about what
  hashing the bytes in JavaScript costs instead. How far the same code lands from run to run here: the same build run against
  itself in one process, ten rounds alternated, gave medians 0.93 to 1.14 times each other; each round's pair is in the rows.
  Since 2026-11-30 10:40, a recipient's domain is a number made from its bytes as the RCPT line is read (\`domainKey\`, 53
  bits: two of 10,000 domains share one about once in 10^8), not a string: every reader of domains only counts them (the
  book's windowed sets, \`logs report\`). Each accepted RCPT had its domain decoded and lowercased (about 300 ns) and then a
  \`Map.set\` of that fresh string in the account's windowed set (about 300 ns, half of the book's samples). Measured in one
  process, the parser with the book over these files, alternated with the build before, ten rounds each way: 0.83 and 0.92
  of its time.`,
        `What the exporter as its own process adds (the issue's measure, the row above): a fresh process's first pass over the
  lines is slower than the next. The parser and the book over these lines in memory took ${fmt(log.freshFirstSeconds, 2)} s on a
  fresh process's first run and ${fmt(log.freshSecondSeconds, 2)} s on its second (the row; medians of three processes): the JIT
  compiles the parser while it runs, and the heap grows. Per chunk (an instrumented build, 2026-11-30 12:15, seven catch-ups):
  the first of the 142 chunks took 47-68 ms, the steady rate was 7.6-12 ms a chunk, and the first 30 took 100-250 ms more than
  at that rate. V8 flags that compile sooner (\`--always-sparkplug\`, \`--interrupt-budget=16384\`,
  \`--max-inlined-bytecode-size=920\`, \`--no-lazy-feedback-allocation\`), alternated with none: no difference above the
  machine's noise. On the earlier machine (the second note) that put 0.65× out of reach on one core: as its own process it
  needed the parser and the book, warm and in memory, near 0.8× the bare loop, where they were at 0.61× (the reads, the
  slices and the fresh process took the rest); in this run they are at ${fmt(parserBookRatio, 2)}× (the row above). On two cores (the
  thread rows), both threads are cold in a fresh process, and that machine's second core was not free for long: the same
  build with the thread, as its own process, gave 0.75× the bare loop at 12:12 on 2026-11-30 and 0.55× half an hour later
  (medians of three and five pairs, alternated with the parser in the main thread: 0.64× and 0.60×).`,
        `The parser thread (\`MAILRELAY_PARSER_THREAD=1\`, the row above) splits the work between two cores: the main thread reads
  each chunk, scans its lines (line ends, each line's peer, thread and time: IceWarp's \`scanLines\`, a quarter of the parsing)
  into typed arrays that cross with the chunk's bytes, and counts the facts that come back; the thread runs the session state
  machine over those numbers (\`feedScanned\`) and writes the facts into a batch. It costs more CPU in all (the row's ratio):
  each chunk is copied to cross, its facts written into a batch, their strings cloned by \`postMessage\` (a recipient's domain
  crosses as its length within the address, not as a string) and made objects again in the main thread, where the book hashes
  them afresh. Tried and measured, and slower: numbering each string once on the thread's side (a Map of the strings sent:
  its lookups took 20% of the thread's samples), and the strings' UTF-8 bytes in one moved buffer instead of an array of strings
  (Buffer.write and toString cost 150-250 ns a string here, more than the clone). Profiled on a quiet machine (2026-11-30 09:26,
  three catch-ups): the thread was busy 98% of the catch-up and the main thread 68% (the rest waiting for facts), so the thread
  sets the pace. Its samples: the session state machine about 45%, reading back the scanned lines' fields (\`feedScanned\`) 15%,
  strings 10%, writing facts into the batch 6%, garbage collection 5%. It took 1.65 s of the thread a catch-up, a third or
  more above what the thread's ceiling row gives on one core alone: two busy cores here each run slower (two bare loops at
  once in two processes: 5-10% each), and they are shared with libuv's reads and V8's collector threads. The two
  threads together do more work than the main thread alone (the row's CPU ratio): on the earlier machine, whose second core
  other work held, it was barely faster and its scrapes waited longer; on this one it is faster (the rows), and it still
  costs more CPU, which on a mail host is the MTA's: the main thread is the default. The part of the thread's work that could
  move to the main thread, making the strings of addresses and peers, needs bytes of lines that are chunks behind by the time
  a message is accepted (its MAIL FROM line), which the main thread no longer holds.
  Since 2026-11-30 12:30 the thread runs at Linux's lowest priority (nice 19, that thread alone): it takes only CPU nothing
  else wants, the main thread's scrapes and, on a mail host, the MTA. Where its scrapes' time had gone (client-side timings of
  600 scrapes a mode, 2026-11-30 12:25): to the first byte of the answer, p50 220 ms against 115 ms with the parser in the
  main thread, while the exporter's side (request read → last byte) was p50 56-100 ms against 30-50: the requests waited to
  be read. The first scrape of each client, on a new connection, waited longest (p50 400 ms against 105): the main thread
  scanned each 1 MiB chunk in one go (3-5 ms, 10-30 ms for the first chunks, before the JIT compiles \`scanLines\`) between
  the connections it accepts one a turn. A profile of the main thread then shows it running only about 40% of the wall time
  of its longest busy stretches: on two cores it took turns with the parser thread, libuv's and V8's threads and the clients.
  Tried, alternated, two runs each: scanning moved to the thread, or cut to about 1 ms of each chunk, brought the first
  scrapes' p50 down to 145-195 ms (105-150 with the parser in the main thread) but left the rest at about 200 ms. Since
  2026-11-30 20:30 the main thread scans each chunk a slice at a time (\`src/pipeline/slices.ts\`, about 1 ms, stepping aside
  while clients connect, as the parser in the main thread does): the row that cuts each scrape where the exporter saw it
  showed the slowest scrapes with the parser thread waiting 400-540 ms for their request to be read (three runs), and
  25-35 ms after (three runs, alternated). Their time is now in the exporter (waiting for the next round) and after it
  (the clients' own turn on the cores). Nice 19
  took the p99 from 615-700 ms to 320-490 ms (six runs each way alternated, 12:20-13:00; nice 10: 420-520 ms in two); the
  catch-up's slowdown under the scrapes was -1% to +28% at nice 19 against +8% to +32% at 0, and the catch-up alone is no
  slower while the second core is free. Not alternated, this benchmark's own runs move more than that: its thread row gave
  397, 626 and 577 ms at nice 19 (2026-11-30 12:34, 12:42, 12:50), and 474-611 ms in the runs of that morning at 0.
  On 2026-11-30 15:05-15:30 (session 7), measured and dropped: a split the other way round, the scanning (\`scanLines\`)
  in a thread over chunks in shared memory and the session state machine and the book in the main thread in 1 ms slices,
  the thread's lag taken up by the main thread scanning a chunk itself. In memory the main thread's share is then 0.67 of the
  whole parser's (0.72 s against 1.07 s over these lines), but the exporter as its own process gained nothing: 0.55-0.57×
  the bare loop against 0.58-0.60× in the main thread (eight pairs alternated, twice), its main thread's CPU 1.26-1.41 s
  against 1.42-1.46 s, and 1.1-1.2 s of CPU on the other threads against 0.33-0.36 s. Where a fresh process's time goes
  on the second core (\`/proc/<pid>/task/*/schedstat\` over one catch-up): V8's four platform threads ran 300-500 ms, most
  of it TurboFan compiling the parser and the book as they warm up (\`--trace-opt\`: 88 functions, about 0.5-0.7 s of
  compile time, 53 ms for the book's \`apply\` alone), and the parser thread at nice 19 waited 340-490 ms for a core it
  could otherwise have had. Alternated with nice 0 for the parser thread (own process, five and six pairs): 0.59× against
  0.67×, then 0.65× against 0.63×: the priority's cost to the catch-up alone is below this machine's noise.`,
        `What limits the scrapes during the catch-up: CPU on two cores shared by the exporter, the benchmark's 100 clients (30 MB/s of
  responses read in the benchmark's process) and the other work on the machine (the load average above); on the earlier
  machine (the profile and the runs of 2026-11-30 below), that work made the slowdown land either side of the 20% allowed.
  In the exporter, the main thread both catches up and answers: scrapes that arrive together share one rendering (a round starts once no scrape
  has asked for 10 ms, at most 50 ms after the first asked, to gather the others, and no sooner after the last than four
  times its rendering took), each response
  gets the round's exposition as one buffer (no copy), written in shares of about 4 ms of a turn of the event loop, and the
  catch-up parses in slices of about 1 ms between those turns. Node accepts one new connection a turn of its event loop
  (\`strace\` of the exporter: one \`accept4\` a turn, never a second, while the clients' \`connect\`s had all been made), so
  with 4 ms slices the 100 clients' first scrapes waited for 100 turns, the last over a second (they were the p99); the
  parser now also steps aside for up to 8 turns in a row for 2 ms after a client connects (\`src/turns.ts\`). A profile of
  the exporter's main thread under the scrapes (2026-11-30 07:28, quiet machine, one run of 300 scrapes): the catch-up 2.0 s,
  HTTP (Express, headers, the request read) and socket writes 0.32 s (about 1 ms a scrape), rendering 0.08 s, garbage
  collection 0.16 s, idle 0.6 s (waiting for file reads, whose thread shares the cores with the clients): the scrapes'
  own work is about a fifth of the catch-up's, at the 20% allowed, so that figure goes either side of it with the machine's
  other work; the clients' reading (30 MB/s) takes CPU from the same two cores. With the parser in its own thread (the row
  above) the main thread has less to do but the process more (facts crossing): on the earlier machine the catch-up was
  slowed less and the clients waited longer; on this one the two ways are alike (the rows). Before the rounds, each scrape rendered its own copy: the catch-up
  under the same clients took 200 s instead of 4.6 s.
  Where each scrape's time goes (the row on the slowest): the client stamps its request with an id (\`x-bench-scrape\`)
  and the time it sent it, \`bench/loopDelay.ts\` in the exporter reports when the request was read and when the last byte
  went to the kernel, on the wall clock both processes share (\`performance.timeOrigin + performance.now()\`), and the client
  notes when it had the last byte; the slowest are those at or above the p99 of the scrapes both sides timed (about one in a
  hundred, so a dozen over the five runs), and the row gives the median of each part among them. What was seen with it on
  2026-11-30 (20:00-20:50, runs of the five rounds alternated): the 100 clients' requests of one second were read over
  30-60 ms (the clients send them from one process, on the same cores), and rounds that began 10 ms after the first asked
  cut them in two or three, the last waiting two spacings (the first rendering with the catch-up's accounts took about
  30 ms, their label text made once, then 5-10 ms): the gathering now goes on while scrapes keep asking, for at most
  50 ms. p99 with the parser thread, four runs each way: 236-343 ms (median 288) against 252-348 ms (317) before, and
  226-277 ms in four runs later; in the main thread 200-226 ms against 175-336 ms, and the p50 10-20 ms higher (every scrape
  of a round waits for its quiet 10 ms); with clients that ask for gzip, the p50 20-40 ms higher and the p99 about the same
  (274-382 ms against 280-375, four runs each way alternated: the clients decompress the answers of one round at once).
  Tried and dropped: spacing the rounds by the lesser of the last two renderings, so that one slow first rendering does
  not hold the next round four times as long (parser thread p99 241-290 ms against 226-277 alternated, four runs).`,
        'mtail: `mtail --one_shot` with a program that counts every line, over the same files.',
        `Tail latency: a session is appended to a followed file; the time until its message shows in an HTTP GET of /metrics
  (in-process exporter, chokidar events, no polling interval).`,
        `/metrics and RSS: the built exporter as its own process over a log with ${fmt(log.accounts)} accounts that logged in and sent
  mail (${fmt(log.metricsBytes / 2 ** 20, 1)} MiB of exposition); 20 GETs a second apart after one warm-up, raw HTTP with the body
  kept as bytes (a client decoding it into a string, as \`fetch\`'s \`text()\` does, adds about 40 ms here); then 20 more asking for
  gzip, each decompressed by the client before it counts as done; the exporter's side from \`bench/loopDelay.ts\`, as for the
  scrapes above; peak RSS is the process's VmHWM after both. Rendering joins samples as text and
  writes it into 64 KiB chunks 8 KiB at a time: a Buffer.write per sample (120,000 of them) was most of it before 2026-11-30,
  with a WeakMap lookup per sample for the account's label text (now kept with its stats). The figure sits at its target and
  lands either side of it: 92 ms in the run of 2026-11-30 07:32, then 84, 107, 103 and 112 ms in four runs between 09:30 and
  09:45 of the same code; the same build's median alternated with itself in three exporters each moved from 95 to 125 ms.
  In one process the rendering alone takes 35-50 ms (the rest is the socket and the client, which share the two cores);
  its profile: encoding the text into the chunks 20%, garbage collection 10%, the windowed counts (distinct IPs and domains
  within the window, counted at each scrape) 8%, the samples' own closures and text the rest. Tried on 2026-11-30 and
  dropped, measured slower or no faster: keeping each account's sample lines from one scrape to the next, made again
  only when the value changed (49-77 ms against 35-50 in one process: 90,000 kept strings and their slots cost more to
  reach than the lines cost to make), and letting a scrape render the next family while up to 1 MiB of the last waits for
  the kernel (no change at the client).`,
      ],
    };
  },
};
