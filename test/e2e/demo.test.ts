// The README's first command: the demo shows the stolen account at the top.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, waitFor, type Child } from '../harness/processes.js';

let demo: Child | undefined;
const dir = mkdtempSync(join(tmpdir(), 'mailrelay-demo-'));

afterAll(async () => {
  await demo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('npm run demo', () => {
  it('serves a live attack with the stolen account on top, the spam in the queue, and keeps going', async () => {
    const port = await freePort();
    demo = spawnChild(process.execPath, [join(REPO_ROOT, 'dist/src/demo/main.js')], {
      env: { ...process.env, PORT: String(port), DEMO_DIR: join(dir, 'demo-data') },
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetchText(`${base}/-/ready`)) === 'Ready.\n', { what: `the demo on ${base}`, timeoutMs: 60_000 });
    expect(demo.output()).toContain(`http://localhost:${port}/`);

    const page = await fetchText(`${base}/`);
    const firstRow = /<th>account<\/th>.*?<\/tr>\s*<tr><td>([^<]+)<\/td>/s.exec(page);
    expect(firstRow?.[1]).toBe('info@domaine.com');

    const metrics = await fetchText(`${base}/metrics`);
    expect(sample(metrics, 'mailrelay_spool_sender_messages{sender="willm.b@orange.fr"}')).toBeGreaterThanOrEqual(1200);
    const before = sample(metrics, 'mailrelay_log_lines_total')!;
    // Lines keep arriving as the attack goes on.
    await waitFor(async () => sample(await fetchText(`${base}/metrics`), 'mailrelay_log_lines_total')! > before, {
      what: 'live log lines',
      timeoutMs: 30_000,
    });
  });
});
