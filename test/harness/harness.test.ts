import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { startExporter } from './exporter.js';
import { freePort, spawnChild, waitFor } from './processes.js';
import { startPrometheus } from './prometheus.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('processes', () => {
  it('freePort returns a port that can be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => resolve());
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('waitFor names what it waited for and the last error on timeout', async () => {
    await expect(
      waitFor(
        async () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 200, intervalMs: 20, what: 'the moon' },
      ),
    ).rejects.toThrow(/the moon.*connection refused/);
    let n = 0;
    await expect(waitFor(async () => (++n >= 3 ? n : undefined), { intervalMs: 1 })).resolves.toBe(3);
  });

  it('stop() kills a child that ignores SIGTERM', async () => {
    const child = spawnChild(process.execPath, ['-e', 'process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000)']);
    await waitFor(async () => child.output().includes('up'), { what: 'the child to print' });
    await child.stop();
    expect(child.output()).toContain('ignored');
    expect(child.output()).toContain('signal=SIGKILL');
  }, 20_000);
});

describe('Prometheus and exporter', () => {
  it('starts a Prometheus scraping itself and queries up', async () => {
    const port = await freePort();
    // Prometheus can only scrape itself once it knows its own port: start it
    // on a free port and give itself as the only target.
    const prom = await startPrometheus({ targets: [`127.0.0.1:${port}`], jobName: 'self', port });
    cleanups.push(() => prom.stop());
    await prom.waitForTargetsUp();
    const up = await prom.query('up');
    expect(up).toHaveLength(1);
    expect(up[0]?.metric.job).toBe('self');
    await expect(prom.query('up{')).rejects.toThrow(/bad_data/);
  }, 60_000);

  it('starts the exporter with an empty config and reads /metrics', async () => {
    const exporter = await startExporter({ configYaml: '' });
    cleanups.push(() => exporter.stop());
    const metrics = await exporter.metrics();
    expect(metrics).toMatch(/^mailrelay_build_info\{.*version=/m);
    expect(metrics).toMatch(/^mailrelay_config_last_reload_successful 1$/m);
    await exporter.stop();
    expect(exporter.child.output()).toContain('exited');
  }, 60_000);

  it('fails fast, with the exporter\'s own error, when the exporter cannot start', async () => {
    // It exits at once on a bad config: the harness reports the exit, not a timeout.
    await expect(startExporter({ configYaml: 'no_such_key: 1\n' })).rejects.toThrow(/exited before it was ready[\s\S]*no_such_key/);
  }, 60_000);
});
