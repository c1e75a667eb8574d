import { afterEach, describe, expect, it } from 'vitest';
import { App, parseListenAddress } from './app.js';
import type { Feature, Running } from './collectors/collector.js';
import { silentLogger } from './logger.js';

// A feature whose first catch-up the test finishes by hand: the contract /-/ready depends on.
function catchUpFeature(): { feature: Feature; finish: () => void } {
  let finish!: () => void;
  const ready = new Promise<void>((resolve) => (finish = resolve));
  const running: Running = { ready, status: () => ({ success: true, durationSeconds: 0 }), stop: async () => {} };
  const feature: Feature = {
    name: 'slow',
    settings: () => 'on',
    start: () => running,
    registerMetrics() {},
  };
  return { feature, finish };
}

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

describe('App', () => {
  it('is healthy at once and ready only after the first catch-up', async () => {
    const { feature, finish } = catchUpFeature();
    app = new App({ listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', logger: silentLogger, version: '0.0.0-test' }, [feature]);
    const { port } = await app.start();
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${base}/-/ready`)).status).toBe(503);
    finish();
    expect((await fetch(`${base}/-/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('mailrelay_collector_success{collector="slow"} 1');
    expect(metrics).toContain('mailrelay_config_last_reload_successful 1');
  });

  it('serves metrics under --web.telemetry-path', async () => {
    app = new App({ listenAddress: '127.0.0.1:0', telemetryPath: '/custom', logger: silentLogger, version: '0.0.0-test' }, []);
    const { port } = await app.start();
    expect(await (await fetch(`http://127.0.0.1:${port}/custom`)).text()).toContain('mailrelay_build_info{version="0.0.0-test"');
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
  });
});

describe('parseListenAddress', () => {
  it.each([
    [':10025', { host: undefined, port: 10025 }],
    ['127.0.0.1:9000', { host: '127.0.0.1', port: 9000 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
  ])('%s', (text, parsed) => {
    expect(parseListenAddress(text)).toEqual(parsed);
  });

  it('refuses an address without a port', () => {
    expect(() => parseListenAddress('localhost')).toThrow('--web.listen-address: "localhost" is not [host]:port');
  });
});
