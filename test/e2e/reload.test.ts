// Reloads of the built exporter are all or nothing (issue 12 item 7): a config
// that passes YAML but that a feature cannot run with (a log_file_pattern with
// a folder in it) or a YAML alias bomb (item 12) is refused by SIGHUP and by
// POST /-/reload alike, the old pipeline keeps reading, the reload gauge says
// 0, and a later valid reload is taken. A bomb at start or in the web config
// stops the start with an error naming the file.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORTER_MAIN, startExporter, type RunningExporter } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, waitFor } from '../harness/processes.js';

const FIXTURES = new URL('../../src/collectors/testdata/smtp/', import.meta.url);
const ALIAS_BOMB = readFileSync(new URL('../../src/config/testdata/invalid-alias-bomb.yml', import.meta.url), 'utf8');
// The fixture day holds 164 lines, 7 server sessions.
const FIXTURE_LINES = 164;

let dir: string;
let exporter: RunningExporter;

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const config = (icewarpExtra = '', extra = '') =>
  `icewarp:\n  log_directory: ${join(dir, 'smtp')}\n${icewarpExtra}start_at: beginning\npositions_file: ${join(dir, 'positions.json')}\n${extra}`;

/** One complete server session (no AUTH): 4 lines. */
const session = (peer: string, thread: string) =>
  [`${peer} [${thread}] 10:00:00 Connected`, `${peer} [${thread}] 10:00:00 <<< EHLO x`, `${peer} [${thread}] 10:00:00 >>> 250 ok`, `${peer} [${thread}] 10:00:00 Disconnected`].join('\n') + '\n';

async function metric(series: string): Promise<number | undefined> {
  return sample(await exporter.metrics(), series);
}

/** Appends a session to the day file and waits until the running pipeline has read it. */
async function stillReading(peer: string, thread: string): Promise<void> {
  const before = (await metric('mailrelay_log_lines_total'))!;
  appendFileSync(join(dir, 'smtp', 's20261128.log'), session(peer, thread));
  await waitFor(async () => (await metric('mailrelay_log_lines_total')) === before + 4, { what: 'the appended lines to be read', timeoutMs: 10_000 });
}

const reload = async (): Promise<number> => (await fetch(`${exporter.url}/-/reload`, { method: 'POST' })).status;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-reload-e2e-'));
  cpSync(FIXTURES, join(dir, 'smtp'), { recursive: true });
  exporter = await startExporter({ configYaml: config(), dir });
  await waitFor(async () => (await fetchText(`${exporter.url}/-/ready`)) === 'Ready.\n', { what: 'readiness', timeoutMs: 20_000 });
});

afterAll(async () => {
  await exporter?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('reload of the built exporter', () => {
  it('refuses a log_file_pattern with a folder (SIGHUP and POST), keeps reading with the old pipeline, then takes a valid file', async () => {
    expect(await metric('mailrelay_log_lines_total')).toBe(FIXTURE_LINES);
    writeFileSync(exporter.configFile, config('  log_file_pattern: "sub/s*.log"\n'));

    process.kill(exporter.child.pid, 'SIGHUP');
    await waitFor(async () => (await metric('mailrelay_config_last_reload_successful')) === 0, { what: 'the SIGHUP reload to fail', timeoutMs: 10_000 });
    expect(exporter.child.output()).toMatch(
      /level=error msg="config reload failed, keeping the old config" err=".*mailrelay-exporter\.yml:3: icewarp\.log_file_pattern: \\"sub\/s\*\.log\\" must be a file name without a folder/,
    );
    expect(await reload()).toBe(500);
    // A second failure does not block the chain, and the old pipeline still reads and says it is well.
    expect(await reload()).toBe(500);
    await stillReading('192.0.2.30', 'A001');
    expect(await metric('mailrelay_collector_success{collector="log"}')).toBe(1);
    expect(await metric('mailrelay_config_last_reload_successful')).toBe(0);

    writeFileSync(exporter.configFile, config('', 'local_domains: [domaine.com]\n'));
    expect(await reload()).toBe(200);
    expect(await metric('mailrelay_config_last_reload_successful')).toBe(1);
    // Same log directory: the counters kept their history, and reading goes on.
    expect(await metric('mailrelay_log_lines_total')).toBe(FIXTURE_LINES + 4);
    await stillReading('192.0.2.31', 'A002');
    expect(await metric('mailrelay_smtp_sessions_total')).toBe(7 + 2);
  });

  it('refuses a YAML alias bomb naming the file, and keeps running', async () => {
    writeFileSync(exporter.configFile, ALIAS_BOMB);
    expect(await reload()).toBe(500);
    expect(await metric('mailrelay_config_last_reload_successful')).toBe(0);
    expect(exporter.child.output()).toMatch(/config reload failed.*mailrelay-exporter\.yml:2: refused: its aliases expand to more than 100 copies/);
    await stillReading('192.0.2.32', 'A003');

    writeFileSync(exporter.configFile, config());
    expect(await reload()).toBe(200);
    expect(await metric('mailrelay_config_last_reload_successful')).toBe(1);
  });
});

describe('a YAML alias bomb at start', () => {
  async function run(args: string[]): Promise<{ output: string }> {
    const child = spawnChild(process.execPath, [EXPORTER_MAIN, ...args], { cwd: dir });
    const exited = await Promise.race([child.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20_000))]);
    if (!exited) await child.stop();
    expect(exited, child.output()).toBe(true);
    return { output: child.output() };
  }

  it('in the config file or the web config file: the exporter exits 1 naming the file; --config.check says so', async () => {
    const bomb = join(dir, 'bomb.yml');
    writeFileSync(bomb, ALIAS_BOMB);
    const good = join(dir, 'good.yml');
    writeFileSync(good, config());
    const port = await freePort();

    const asConfig = await run([`--config.file=${bomb}`, `--web.listen-address=127.0.0.1:${port}`]);
    expect(asConfig.output).toContain(`${bomb}:2: refused: its aliases expand to more than 100 copies`);
    expect(asConfig.output).toContain('exited: code=1');

    const asWebConfig = await run([`--config.file=${good}`, `--web.config.file=${bomb}`, `--web.listen-address=127.0.0.1:${port}`]);
    expect(asWebConfig.output).toContain(`${bomb}:2: refused: its aliases expand to more than 100 copies`);
    expect(asWebConfig.output).toContain('exited: code=1');

    const check = await run([`--config.file=${bomb}`, '--config.check']);
    expect(check.output).toContain(`${bomb}:2: refused`);
    expect(check.output).toContain('config check: FAILED');
  });
});
