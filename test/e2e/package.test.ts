// The package as a mail admin gets it: a clean copy of the repository (no
// dist/, no node_modules/) runs `npm ci` (no EBADENGINE on this Node 20) and
// `npm pack` (prepack builds); the tarball installs with `npm install -g
// --prefix` into an empty folder, as the README says; the installed command
// answers --version and --config.check, serves /metrics, and the systemd unit
// verifies against it.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, untilExit, waitFor } from '../harness/processes.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
let dir: string;
let prefix: string;
let command: string;
const npmOutput: Record<string, string> = {};

function npm(args: string[], cwd: string, what: string): void {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  npmOutput[what] = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${npmOutput[what]}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-package-'));
  // The repository's own files, as a clone would have them (tracked and new, not ignored).
  const clone = join(dir, 'clone');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(REPO_ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(clone, f));
  }
  expect(existsSync(join(clone, 'dist'))).toBe(false);
  npm(['ci'], clone, 'ci');
  npm(['pack', '--pack-destination', dir], clone, 'pack');
  const tarball = join(dir, `${pkg.name}-${pkg.version}.tgz`);
  prefix = join(dir, 'prefix');
  mkdirSync(prefix);
  npm(['install', '-g', '--prefix', prefix, tarball], dir, 'install');
  command = join(prefix, 'bin', 'mailrelay-exporter');
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the packed tarball, installed into an empty prefix', () => {
  it('installs and builds without an EBADENGINE warning on this Node', () => {
    expect(process.versions.node).toMatch(/^20\./);
    for (const what of ['ci', 'install']) expect(npmOutput[what], what).not.toContain('EBADENGINE');
  });

  it('holds the built command, the example config and the service files, and no sources or maps', () => {
    const installed = join(prefix, 'lib', 'node_modules', pkg.name);
    expect(statSync(command).mode & 0o111).not.toBe(0);
    expect(readFileSync(join(installed, 'dist/src/main.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    for (const f of ['mailrelay-exporter.example.yml', 'deploy/systemd/mailrelay-exporter.service', 'deploy/windows/mailrelay-exporter-service.xml', 'alerts/mailrelay.rules.yml']) {
      expect(existsSync(join(installed, f)), f).toBe(true);
    }
    expect(existsSync(join(installed, 'src'))).toBe(false);
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
    expect(walk(join(installed, 'dist')).filter((n) => n.endsWith('.map') || n.endsWith('.test.js'))).toEqual([]);
  });

  it('answers --version', () => {
    const r = run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`mailrelay-exporter ${pkg.version} (node ${process.versions.node})\n`);
  });

  it("splits the shipped rule file by level for the backfill's baselines, as the README's commands run it", () => {
    const r = run(['backfill', '--rule-levels', join(dir, 'levels')]);
    expect(r.status, r.stderr).toBe(0);
    const counts = [...r.stdout.matchAll(/^wrote \S+\/(\d+)\.yml \((\d+) recording rules\)$/gm)].map((m) => Number(m[2]));
    const shipped = readFileSync(join(prefix, 'lib', 'node_modules', pkg.name, 'alerts/mailrelay.rules.yml'), 'utf8');
    expect(counts.length).toBeGreaterThanOrEqual(4);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(shipped.match(/^ {6}- record: /gm)?.length);
  });

  it('checks the shipped example: valid, and says which IceWarp folders are missing on this machine (exit 1)', () => {
    const example = join(prefix, 'lib', 'node_modules', pkg.name, 'mailrelay-exporter.example.yml');
    const r = run(['--config.check', `--config.file=${example}`]);
    expect(r.stdout).toContain(`config file ${example}: valid\nMTA: icewarp\n`);
    expect(r.stdout).toContain('error: icewarp.log_directory: /opt/icewarp/logs/smtp does not exist');
    expect(r.status).toBe(1);
  });

  it('checks a config whose folders exist (exit 0), then serves /metrics with it', async () => {
    mkdirSync(join(dir, 'smtp'));
    // One server session, in CRLF as IceWarp writes on Windows.
    writeFileSync(
      join(dir, 'smtp', 's20261128.log'),
      ['Connected', '>>> 220 mail.domaine.com ESMTP IceWarp 13.0.2', '<<< QUIT', '>>> 221 2.0.0 Bye', 'Disconnected'].map((l) => `192.0.2.10 [0A1B] 10:00:00 ${l}\r\n`).join(''),
    );
    const config = join(dir, 'config.yml');
    writeFileSync(config, `icewarp:\n  log_directory: ${join(dir, 'smtp')}\nstart_at: beginning\npositions_file: ${join(dir, 'state', 'positions.json')}\n`);
    const check = run(['--config.check', `--config.file=${config}`]);
    expect(check.stdout).toContain(`positions file: ${join(dir, 'state', 'positions.json')}`);
    expect(check.status).toBe(0);

    const port = await freePort();
    const child = spawnChild(command, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`]);
    try {
      await untilExit(child, waitFor(async () => (await fetchText(`http://127.0.0.1:${port}/-/healthy`)) !== undefined, { what: 'the installed exporter to listen', timeoutMs: 30_000 })).catch((err: Error) => {
        throw new Error(`${err.message}\n--- exporter output ---\n${child.output()}`);
      });
      const metrics = await untilExit(
        child,
        waitFor(
          async () => {
            const text = await fetchText(`http://127.0.0.1:${port}/metrics`);
            return /^mailrelay_smtp_sessions_total 1$/m.test(text) ? text : undefined;
          },
          { what: 'the installed exporter to count the session', timeoutMs: 20_000 },
        ),
      );
      expect(metrics).toContain(`mailrelay_build_info{version="${pkg.version}"`);
    } finally {
      await child.stop();
    }
    expect(child.output()).not.toContain('level=error');
  });

  it('verifies the systemd unit with systemd-analyze, with ExecStart at this installed command', () => {
    const unit = readFileSync(join(REPO_ROOT, 'deploy/systemd/mailrelay-exporter.service'), 'utf8');
    const installedPath = '/opt/mailrelay-exporter/bin/mailrelay-exporter';
    expect(unit).toContain(`ExecStart=${installedPath} `);
    const copy = join(dir, 'mailrelay-exporter.service');
    writeFileSync(copy, unit.replace(`ExecStart=${installedPath} `, `ExecStart=${command} `));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
    // And it does fail on a mistake, so the check above means something.
    writeFileSync(copy, unit.replace(`ExecStart=${installedPath} `, `ExecStart=${command} `).replace('ProtectSystem=strict', 'ProtectSystem=very'));
    const bad = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(`${bad.stdout}${bad.stderr}`).toContain('Failed to parse protect system value');
  });
});
