// What README's "Following the logs" promises, from the built exporter: its
// own process, real files renamed, unreadable, missing; kills and stops in the
// middle of a catch-up; positions files that cannot be written.
import { appendFileSync, chmodSync, chownSync, closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExporterRegistry } from '../../src/collectors/registry.js';
import { logCollector } from '../../src/collectors/log.js';
import { loadConfig } from '../../src/config/config.js';
import { writeScenario } from '../../src/demo/scenario.js';
import { silentLogger } from '../../src/logger.js';
import { LogPipeline, logSettings } from '../../src/pipeline/logPipeline.js';
import { EXPORTER_MAIN, sample, startExporter, type RunningExporter } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, waitFor } from '../harness/processes.js';

const NOBODY = { uid: 65534, gid: 65534 };

let roots: string[] = [];
let running: RunningExporter[] = [];

afterEach(async () => {
  for (const r of running) await r.stop();
  running = [];
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

/** A temporary folder that the nobody user can read. */
function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'mailrelay-following-'));
  chmodSync(root, 0o755);
  roots.push(root);
  return root;
}

async function start(opts: Parameters<typeof startExporter>[0]): Promise<RunningExporter> {
  const e = await startExporter(opts);
  running.push(e);
  return e;
}

const lines = (tag: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `192.0.2.${(from + i) % 250} [${(from + i).toString(16).padStart(4, '0')}] 10:00:00 <<< NOOP ${tag} ${from + i}\n`).join('');

const metric = async (e: RunningExporter, series: string) => sample(await e.metrics(), series);

describe('rotation by rename', () => {
  it("IceWarp's size rotation (mv s20261128.log s120261128-01.log, a new s20261128.log) goes on from the offset: 1600 lines, not 2600", async () => {
    const root = tempRoot();
    const smtp = join(root, 'smtp');
    mkdirSync(smtp);
    writeFileSync(join(smtp, 's20261128.log'), lines('old', 0, 1000));
    const e = await start({ dir: root, configYaml: `icewarp:\n  log_directory: ${smtp}\nstart_at: beginning\npositions_file: ${join(root, 'positions.json')}\n` });
    await waitFor(async () => (await metric(e, 'mailrelay_log_lines_total')) === 1000, { what: '1000 lines' });

    renameSync(join(smtp, 's20261128.log'), join(smtp, 's120261128-01.log'));
    writeFileSync(join(smtp, 's20261128.log'), lines('new', 0, 600));
    await waitFor(async () => ((await metric(e, 'mailrelay_log_lines_total')) ?? 0) >= 1600, { what: 'the 600 lines of the new file' });
    // The next day's file makes the exporter list the folder again, renamed file included.
    writeFileSync(join(smtp, 's20261129.log'), lines('next', 0, 1));
    await waitFor(async () => (await metric(e, 'mailrelay_log_files_opened_total')) === 3, { what: 'the next day' });
    const text = await e.metrics();
    expect([sample(text, 'mailrelay_log_lines_total'), sample(text, 'mailrelay_log_files_opened_total'), sample(text, 'mailrelay_log_truncations_total')]).toEqual([1601, 3, 0]);
    expect(e.child.output()).toMatch(/msg="log file renamed: following it under its new name" from=s20261128\.log to=s120261128-01\.log/);
  }, 60_000);

  it("logrotate's mail.log → mail.log.1 and a new mail.log (the postfix section): lines written before the rename are read, none twice", async () => {
    const root = tempRoot();
    const logs = join(root, 'log');
    mkdirSync(logs);
    writeFileSync(join(logs, 'mail.log'), lines('before', 0, 500));
    const e = await start({ dir: root, configYaml: `postfix:\n  log_file: ${join(logs, 'mail.log')}\nstart_at: beginning\npositions_file: ${join(root, 'positions.json')}\n` });
    await waitFor(async () => (await metric(e, 'mailrelay_log_lines_total')) === 500, { what: '500 lines' });

    // What logrotate does (create mode), with the syslog daemon writing until it reopens.
    appendFileSync(join(logs, 'mail.log'), lines('before', 500, 20));
    renameSync(join(logs, 'mail.log'), join(logs, 'mail.log.1'));
    appendFileSync(join(logs, 'mail.log.1'), lines('before', 520, 5));
    writeFileSync(join(logs, 'mail.log'), lines('after', 0, 300));
    await waitFor(async () => ((await metric(e, 'mailrelay_log_lines_total')) ?? 0) >= 825, { what: 'every line of both files' });
    appendFileSync(join(logs, 'mail.log'), lines('after', 300, 1));
    await waitFor(async () => ((await metric(e, 'mailrelay_log_lines_total')) ?? 0) >= 826, { what: 'one more line' });
    const text = await e.metrics();
    expect([sample(text, 'mailrelay_log_lines_total'), sample(text, 'mailrelay_log_files_opened_total')]).toEqual([826, 2]);
  }, 60_000);
});

describe('read errors', () => {
  it('exports mailrelay_log_read_errors_total and reports collector_success 0 while a followed file cannot be read (run as nobody)', async () => {
    const root = tempRoot();
    const smtp = join(root, 'smtp');
    mkdirSync(smtp);
    mkdirSync(join(root, 'state'));
    chownSync(join(root, 'state'), NOBODY.uid, NOBODY.gid);
    const day = join(smtp, 's20261128.log');
    writeFileSync(day, lines('a', 0, 10));
    const e = await start({
      dir: root,
      user: NOBODY,
      configYaml: `icewarp:\n  log_directory: ${smtp}\nstart_at: beginning\npositions_file: ${join(root, 'state', 'positions.json')}\n`,
    });
    await waitFor(async () => (await metric(e, 'mailrelay_log_lines_total')) === 10, { what: 'the first lines' });
    let text = await e.metrics();
    expect([sample(text, 'mailrelay_collector_success{collector="log"}'), sample(text, 'mailrelay_log_read_errors_total')]).toEqual([1, 0]);

    chmodSync(day, 0o000);
    appendFileSync(day, lines('b', 10, 5));
    await waitFor(async () => (await metric(e, 'mailrelay_collector_success{collector="log"}')) === 0, { what: 'success 0' });
    text = await e.metrics();
    expect(sample(text, 'mailrelay_log_read_errors_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'mailrelay_log_lines_total')).toBe(10);
    expect(e.child.output()).toMatch(new RegExp(`level=error msg="cannot read log file" file=${day}.*EACCES`));

    chmodSync(day, 0o644);
    appendFileSync(day, lines('c', 15, 1));
    await waitFor(async () => (await metric(e, 'mailrelay_log_lines_total')) === 16, { what: 'the lines written while unreadable' });
    expect(await metric(e, 'mailrelay_collector_success{collector="log"}')).toBe(1);
  }, 60_000);
});

describe('start_at end with the log folder missing at start', () => {
  it('reads the first file made after the folder appears from its beginning (100 of 100 lines)', async () => {
    const root = tempRoot();
    const smtp = join(root, 'smtp');
    const e = await start({ dir: root, configYaml: `icewarp:\n  log_directory: ${smtp}\nstart_at: end\npositions_file: ${join(root, 'positions.json')}\n` });
    // The first look at the folder found nothing: /-/ready says so.
    await waitFor(async () => (await fetch(`${e.url}/-/ready`).then((r) => r.text())).includes('does not exist'), { what: 'the missing folder noticed' });
    await waitFor(async () => (await metric(e, 'mailrelay_collector_success{collector="log"}')) === 0, { what: 'success 0' });
    mkdirSync(smtp);
    writeFileSync(join(smtp, 's20261128.log'), lines('x', 0, 100));
    await waitFor(async () => (await metric(e, 'mailrelay_log_lines_total')) === 100, { what: '100 lines', timeoutMs: 20_000 });
    expect(await metric(e, 'mailrelay_collector_success{collector="log"}')).toBe(1);
  }, 60_000);
});

describe('a positions file that cannot be written', () => {
  /** Runs the exporter until it exits by itself; fails if it is still running after `ms`. */
  async function runToExit(root: string, configYaml: string, opts: { user?: typeof NOBODY; ms?: number } = {}): Promise<string> {
    const configFile = join(root, 'mailrelay-exporter.yml');
    writeFileSync(configFile, configYaml);
    const child = spawnChild(process.execPath, [EXPORTER_MAIN, `--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${await freePort()}`], {
      cwd: root,
      user: opts.user,
    });
    const ended = await Promise.race([child.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), opts.ms ?? 10_000))]);
    if (!ended) await child.stop();
    expect(ended, `still running:\n${child.output()}`).toBe(true);
    return child.output();
  }

  it('/proc/nope/positions.json: a clear error at start, naming the path and the reason, and the process ends', async () => {
    const root = tempRoot();
    mkdirSync(join(root, 'smtp'));
    const out = await runToExit(root, `icewarp:\n  log_directory: ${join(root, 'smtp')}\npositions_file: /proc/nope/positions.json\n`);
    expect(out).toContain("mailrelay-exporter: error: positions_file: /proc/nope/positions.json cannot be written: ENOENT: no such file or directory, mkdir '/proc/nope'");
    expect(out).toMatch(/exited: code=1 /);
  });

  it("as nobody, with the README's ./data/positions.json in a folder it cannot write: the same, with the absolute path", async () => {
    const root = tempRoot();
    mkdirSync(join(root, 'smtp'));
    const out = await runToExit(root, `icewarp:\n  log_directory: ${join(root, 'smtp')}\npositions_file: ./data/positions.json\n`, { user: NOBODY });
    expect(out).toContain(
      `mailrelay-exporter: error: positions_file: ./data/positions.json (${join(root, 'data', 'positions.json')}) cannot be written: EACCES: permission denied, mkdir`,
    );
    expect(out).toMatch(/exited: code=1 /);
  });

  it('at reload: refused with the reason, the running pipeline keeps counting, and SIGTERM ends the process', async () => {
    const root = tempRoot();
    const smtp = join(root, 'smtp');
    mkdirSync(smtp);
    writeFileSync(join(smtp, 's20261128.log'), lines('a', 0, 3));
    const good = `icewarp:\n  log_directory: ${smtp}\nstart_at: beginning\npositions_file: ${join(root, 'positions.json')}\n`;
    const e = await start({ dir: root, configYaml: good });
    await waitFor(async () => (await metric(e, 'mailrelay_log_lines_total')) === 3, { what: '3 lines' });

    writeFileSync(e.configFile, good.replace(join(root, 'positions.json'), '/proc/nope/positions.json'));
    const reload = await fetch(`${e.url}/-/reload`, { method: 'POST' });
    expect(reload.status).toBe(500);
    expect(await metric(e, 'mailrelay_config_last_reload_successful')).toBe(0);
    expect(e.child.output()).toMatch(/config reload failed, keeping the old config" err="positions_file: \/proc\/nope\/positions\.json cannot be written: ENOENT/);

    appendFileSync(join(smtp, 's20261128.log'), lines('b', 3, 2));
    await waitFor(async () => (await metric(e, 'mailrelay_log_lines_total')) === 5, { what: 'lines after the refused reload' });
    expect(await metric(e, 'mailrelay_collector_success{collector="log"}')).toBe(1);

    const stopped = Date.now();
    await e.stop();
    running = [];
    expect(e.child.output()).toMatch(/exited: code=0 signal=null/);
    expect(Date.now() - stopped).toBeLessThan(10_000);
    expect(JSON.parse(readFileSync(join(root, 'positions.json'), 'utf8')).version).toBe(2);
  }, 60_000);
});

// ---- kills and stops in the middle of a catch-up ----------------------------

/**
 * Starves a process of CPU (SIGSTOP / SIGCONT), so that its catch-up lasts
 * seconds whatever the machine: an exporter on a mail server under attack
 * gets little CPU, and that is when it is killed.
 */
function starve(pid: number, runMs: number, stopMs: number): { end(): void } {
  let ended = false;
  let timer: NodeJS.Timeout;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      ended = true; // gone
    }
  };
  const pause = () => {
    if (ended) return;
    signal('SIGSTOP');
    timer = setTimeout(() => {
      if (ended) return;
      signal('SIGCONT');
      timer = setTimeout(pause, runMs);
    }, stopMs);
  };
  timer = setTimeout(pause, runMs);
  return {
    end() {
      ended = true;
      clearTimeout(timer);
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    },
  };
}

interface Backlog {
  root: string;
  smtp: string;
  files: string[];
  lines: number;
  config: string;
}

/** Five daily files of a generated scenario (the same 2.5 hours each day), about 1 M lines. */
async function backlog(): Promise<Backlog> {
  const root = tempRoot();
  const smtp = join(root, 'smtp');
  const truth = await writeScenario(smtp, {
    seed: 12,
    start: new Date(Date.UTC(2026, 10, 24, 1, 0, 0)),
    durationSeconds: 2.5 * 3600,
    legitimateUsers: 40,
    spray: { perMinute: 10, usernames: 300 },
    attack: { account: 'info@domaine.com', startSecond: 600, messagesPerMinute: 30, recipientsPerMessage: 5, ips: 20, foreignSender: true },
  });
  const files = ['s20261124.log', 's20261125.log', 's20261126.log', 's20261127.log', 's20261128.log'];
  for (const f of files.slice(1)) copyFileSync(join(smtp, files[0]!), join(smtp, f));
  // On the disk before the exporter starts: its positions writes wait for their fsync, which would otherwise flush these 80 MB too.
  for (const f of files) {
    const fd = openSync(join(smtp, f), 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  const config = `icewarp:\n  log_directory: ${smtp}\nlocal_domains: [domaine.com]\nstart_at: beginning\npositions_file: ${join(root, 'positions.json')}\ndetection:\n  window: 30d\n`;
  return { root, smtp, files, lines: truth.lines * files.length, config };
}

/** The saved offset of each file, checked to be at a line boundary, and the lines before them. */
function savedPositions(b: Backlog): { offsets: Map<string, number>; linesBefore: number } {
  const saved = JSON.parse(readFileSync(join(b.root, 'positions.json'), 'utf8')) as { version: number; files: Record<string, { name: string; offset: number }> };
  expect(saved.version).toBe(2);
  const offsets = new Map(Object.values(saved.files).map((f) => [f.name, f.offset]));
  let linesBefore = 0;
  for (const name of b.files) {
    const offset = offsets.get(name) ?? 0;
    const bytes = readFileSync(join(b.smtp, name));
    if (offset > 0) expect(bytes[offset - 1], `${name} offset ${offset} is at a line boundary`).toBe(0x0a);
    for (let i = bytes.indexOf(0x0a); i >= 0 && i < offset; i = bytes.indexOf(0x0a, i + 1)) linesBefore++;
  }
  return { offsets, linesBefore };
}

/**
 * The log series a correct exporter serves when it starts at `offsets`: the
 * rest of each file, copied out and read by the same parser and account book
 * in this process. A session cut by the saved offset is joined midway, as the
 * restarted exporter joins it.
 */
async function seriesFrom(b: Backlog, offsets: Map<string, number>): Promise<Map<string, number>> {
  const rest = join(b.root, 'rest');
  mkdirSync(rest);
  for (const name of b.files) writeFileSync(join(rest, name), readFileSync(join(b.smtp, name)).subarray(offsets.get(name) ?? 0));
  const config = loadConfig(b.config.replace(b.smtp, rest).replace(join(b.root, 'positions.json'), join(b.root, 'rest-positions.json')));
  const pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false });
  try {
    await pipeline.ready;
    const registry = new ExporterRegistry();
    logCollector.register(registry, () => pipeline);
    return countingSeries(await registry.metrics());
  } finally {
    await pipeline.stop();
  }
}

/** The series that count what the logs say (not the tailer's own: bytes, files opened, lag). */
function countingSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(mailrelay_(?:smtp|account|unauthenticated|relay|log_lines|log_unparsed|accounts_tracked)\S*) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('a catch-up interrupted', () => {
  it('by SIGKILL at half of a 1 M-line backlog: the positions saved during it re-read only the last moments; the restart counts exactly the rest', async () => {
    const b = await backlog();
    const first = await start({ dir: b.root, configYaml: b.config });
    const starving = starve(first.child.pid, 10, 90);
    const scrapes: { at: number; lines: number }[] = [];
    // Positions are flushed every second: what was counted MARGIN ms before the
    // kill must be saved (a flush itself takes a while on a starved process).
    const MARGIN = 3000;
    const countedBefore = (t: number) => scrapes.filter((s) => s.at <= t - MARGIN).at(-1);
    try {
      await waitFor(
        async () => {
          const lines = (await metric(first, 'mailrelay_log_lines_total')) ?? 0;
          scrapes.push({ at: Date.now(), lines });
          return lines >= b.lines / 2 && (countedBefore(Date.now())?.lines ?? 0) > 0;
        },
        { what: 'half of the backlog, counted for a while', timeoutMs: 180_000, intervalMs: 100 },
      );
      process.kill(first.child.pid, 'SIGKILL');
    } finally {
      starving.end();
    }
    const killedAt = Date.now();
    await first.child.exited;
    running = [];
    const last = scrapes.at(-1)!;
    expect(last.lines, 'killed during the catch-up').toBeLessThan(b.lines);

    const { offsets, linesBefore } = savedPositions(b);
    const before = countedBefore(killedAt)!;
    expect(linesBefore, JSON.stringify({ before, last, killedAt })).toBeGreaterThanOrEqual(before.lines);
    expect(linesBefore).toBeLessThan(b.lines);

    const second = await start({ dir: b.root, configYaml: b.config });
    await waitFor(async () => (await fetchText(`${second.url}/-/ready`)) === 'Ready.\n', { what: 'the rest of the catch-up', timeoutMs: 120_000 });
    const served = countingSeries(await second.metrics());
    expect(served.get('mailrelay_log_lines_total')).toBe(b.lines - linesBefore);
    const expected = await seriesFrom(b, offsets);
    expect(expected.size).toBeGreaterThan(50);
    expect(Object.fromEntries(served)).toEqual(Object.fromEntries(expected));
  }, 300_000);

  it('by SIGTERM: the process ends within the bound, and the restart reads exactly the lines not counted before', async () => {
    const b = await backlog();
    const first = await start({ dir: b.root, configYaml: b.config });
    const starving = starve(first.child.pid, 15, 85);
    try {
      await waitFor(async () => ((await metric(first, 'mailrelay_log_lines_total')) ?? 0) >= b.lines / 3, {
        what: 'a third of the backlog',
        timeoutMs: 180_000,
        intervalMs: 100,
      });
    } finally {
      starving.end();
    }
    const stopping = Date.now();
    await first.stop();
    running = [];
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(first.child.output()).toMatch(/exited: code=0 signal=null/);

    const { offsets, linesBefore } = savedPositions(b);
    expect(linesBefore).toBeGreaterThanOrEqual(b.lines / 3);
    // Saved at the stop: exactly what the first run counted, nothing more, nothing less.
    expect(first.child.output()).toMatch(new RegExp(`msg="log positions saved" file=\\S+ lines_counted=${linesBefore}\\b`));
    const second = await start({ dir: b.root, configYaml: b.config });
    await waitFor(async () => (await fetchText(`${second.url}/-/ready`)) === 'Ready.\n', { what: 'the rest of the catch-up', timeoutMs: 120_000 });
    const served = countingSeries(await second.metrics());
    expect(served.get('mailrelay_log_lines_total')).toBe(b.lines - linesBefore);
    expect(Object.fromEntries(served)).toEqual(Object.fromEntries(await seriesFrom(b, offsets)));
  }, 300_000);
});
