// What README's "Following the logs" promises, from the built exporter: its
// own process, real files; positions files that cannot be written.
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXPORTER_MAIN, sample, startExporter, type RunningExporter } from '../harness/exporter.js';
import { freePort, spawnChild, waitFor } from '../harness/processes.js';

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
    expect(JSON.parse(readFileSync(join(root, 'positions.json'), 'utf8')).directory).toBe(smtp);
  }, 60_000);
});
