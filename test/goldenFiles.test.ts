// Golden files are checked, never silently written (issue 12 item 13): outside
// CI, vitest's default writes a missing `toMatchFileSnapshot` file and passes.
// Here the chart's golden PrometheusRule template is deleted in a copy of the
// repository and its real test is run as a developer would: it must fail and
// write nothing; only an explicit update (`--update=all`, as `npm run generate` runs it)
// writes it back, byte for byte. And `npm run generate` covers every test
// that compares against a golden file.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './harness/exporter.js';

const GOLDEN = 'helm/mailrelay-exporter/templates/prometheusrule.yaml';
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A copy of the sources the chart test needs, with the checkout's node_modules linked in. */
function repositoryCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailrelay-golden-'));
  temps.push(dir);
  for (const entry of ['package.json', 'tsconfig.json', 'vitest.config.ts', 'src', 'alerts', 'dashboards', 'helm']) {
    cpSync(join(REPO_ROOT, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Runs vitest in `dir` as a developer's shell would (not in CI). */
function vitest(dir: string, args: string[]): { status: number | null; output: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const v of ['FORCE_COLOR', 'CI', 'CONTINUOUS_INTEGRATION', 'GITHUB_ACTIONS', 'UPDATE_SNAPSHOT', 'VITEST', 'VITEST_MODE', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'TEST', 'NODE_ENV']) delete env[v];
  const r = spawnSync(process.execPath, [join(dir, 'node_modules/vitest/vitest.mjs'), 'run', ...args], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('golden files', () => {
  it('a missing golden fails the test outside CI and is not written; --update=all writes it back exactly', { timeout: 240_000 }, () => {
    const dir = repositoryCopy();
    const expected = readFileSync(join(REPO_ROOT, GOLDEN), 'utf8');
    unlinkSync(join(dir, GOLDEN));

    const plain = vitest(dir, ['helm/generate.test.ts']);
    expect(plain.status, plain.output).toBe(1);
    expect(plain.output).toMatch(/Snapshots\s+1 failed/);
    expect(existsSync(join(dir, GOLDEN))).toBe(false);

    const update = vitest(dir, ['--update=all', 'helm/generate.test.ts']);
    expect(update.status, update.output).toBe(0);
    expect(readFileSync(join(dir, GOLDEN), 'utf8')).toBe(expected);
  });

  it('`npm run generate` updates every test file that compares against a golden file', () => {
    const generate = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.generate ?? '';
    const withGoldens: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'dist' && !e.name.startsWith('.')) walk(p);
        else if (e.isFile() && e.name.endsWith('.test.ts') && p !== fileURLToPath(import.meta.url) && readFileSync(p, 'utf8').includes('.toMatchFileSnapshot(')) withGoldens.push(relative(REPO_ROOT, p));
      }
    };
    walk(REPO_ROOT);
    expect(withGoldens.length).toBeGreaterThanOrEqual(3);
    expect(withGoldens.filter((f) => !generate.split(/\s+/).includes(f))).toEqual([]);
    // The committed generators, in the order their outputs feed the chart copies.
    expect(generate).toMatch(/node dist\/alerts\/generate\.js && node dist\/dashboards\/generate\.js && vitest run --update=all /);
  });
});
