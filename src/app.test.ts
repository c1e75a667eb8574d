import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { App, parseListenAddress } from './app.js';
import type { Collector } from './collectors/registry.js';
import { SettingsError, type Running } from './feature.js';
import { COLLECTORS } from './features.js';
import { createLogger, silentLogger } from './logger.js';

// A feature whose first catch-up the test finishes by hand: the contract /-/ready depends on.
function catchUpFeature(): { feature: Collector; finish: () => void } {
  let finish!: () => void;
  const ready = new Promise<void>((resolve) => (finish = resolve));
  const running: Running = { ready, status: () => ({ success: true, durationSeconds: 0 }), stop: async () => {} };
  const feature: Collector = {
    feature: { name: 'slow', settings: () => 'on', start: () => running },
    register() {},
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

describe('App: honest health with the real collectors', () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function start(configYaml: string): Promise<{ base: string; log: string[] }> {
    dir = await mkdtemp(join(tmpdir(), 'mailrelay-app-'));
    const configFile = join(dir, 'config.yml');
    await writeFile(configFile, configYaml.replaceAll('$DIR', dir));
    const log: string[] = [];
    app = new App({ configFile, listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', logger: createLogger('info', (l) => void log.push(l)), version: 't' }, COLLECTORS);
    const { port } = await app.start();
    return { base: `http://127.0.0.1:${port}`, log };
  }

  it('with nothing configured: warns at start, exports no collector series (no 0 for an off DNSBL or queue), and the page says so', async () => {
    const { base, log } = await start('local_domains: [domaine.com]\n');
    expect(log.join('')).toMatch(/level=warn msg="no collector is configured: only the exporter's own metrics are exported/);
    const samples = (await (await fetch(`${base}/metrics`)).text()).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples.map((l) => l.replace(/[{ ].*$/, ''))).toEqual(['mailrelay_build_info', 'mailrelay_config_last_reload_successful']);
    expect(await (await fetch(`${base}/`)).text()).toContain('<li>no collector is configured');
  });

  it('says on /-/ready (503) and the incident console which configured folder is missing, until it appears', async () => {
    const { base, log } = await start('icewarp:\n  log_directory: $DIR/smtp\n  mail_directory: $DIR/mail\npositions_file: $DIR/positions.json\n');
    expect(log.join('')).not.toContain('no collector is configured');
    const ready = await fetch(`${base}/-/ready`);
    const text = await ready.text();
    expect(ready.status).toBe(503);
    expect(text).toContain(`icewarp.log_directory: ${dir}/smtp does not exist\n`);
    expect(text).toContain(`icewarp.mail_directory: ${dir}/mail does not exist\n`);
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toContain('The exporter cannot see everything:');
    expect(page).toContain(`<li>icewarp.log_directory: ${dir}/smtp does not exist</li>`);
    await mkdir(join(dir, 'smtp'));
    await writeFile(join(dir, 'mail'), 'a file, not a folder');
    const still = await (await fetch(`${base}/-/ready`)).text();
    expect(still).not.toContain('icewarp.log_directory');
    expect(still).toContain(`icewarp.mail_directory: ${dir}/mail is not a directory`);
    await rm(join(dir, 'mail'));
    await mkdir(join(dir, 'mail'));
    expect(await (await fetch(`${base}/-/ready`)).text()).toBe('Ready.\n');
    expect(await (await fetch(`${base}/`)).text()).not.toContain('cannot see everything');
  });
});

describe('App.reload', () => {
  // Two features: one that takes any config, one that cannot run with max_accounts 13.
  function features() {
    const events: string[] = [];
    const make = (name: string, check: (n: number) => void): Collector => ({
      feature: {
        name,
        settings(config) {
          check(config.limits.max_accounts);
          return config.limits.max_accounts;
        },
        start(settings) {
          events.push(`${name} start ${String(settings)}`);
          return { ready: Promise.resolve(), status: () => undefined, stop: async () => void events.push(`${name} stop`) };
        },
      },
      register() {},
    });
    const picky = make('picky', (n) => {
      if (n === 13) throw new SettingsError('limits.max_accounts', '13 is not allowed here');
    });
    return { events, collectors: [make('easy', () => undefined), picky] };
  }

  it('changes nothing when one feature rejects the new config, and a later good reload still works', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailrelay-app-'));
    try {
      const configFile = join(dir, 'config.yml');
      await writeFile(configFile, 'limits: {max_accounts: 1}\n');
      const { events, collectors } = features();
      app = new App({ configFile, listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', logger: silentLogger, version: 't' }, collectors);
      const { port } = await app.start();
      const gauge = async () => (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).match(/^mailrelay_config_last_reload_successful (\d)$/m)?.[1];
      expect(events).toEqual(['easy start 1', 'picky start 1']);

      await writeFile(configFile, 'limits: {max_accounts: 13}\n');
      expect(await app.reload()).toBe(false);
      // 'easy' could have taken 13, but it was not touched: nothing stops before every feature accepted the config.
      expect(events).toEqual(['easy start 1', 'picky start 1']);
      expect(await gauge()).toBe('0');

      await writeFile(configFile, 'limits: {max_accounts: 2}\n');
      expect(await app.reload()).toBe(true);
      expect(events.slice(2)).toEqual(['easy stop', 'easy start 2', 'picky stop', 'picky start 2']);
      expect(await gauge()).toBe('1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('App.reload when a feature cannot start', () => {
  // 'fragile' accepts max_accounts 7 as a setting but throws when it starts with it (what a
  // check cannot foresee: the file system, a resource limit); 'first' is switched before it.
  function features() {
    const events: string[] = [];
    const make = (name: string, startFails: (n: number) => boolean): Collector => ({
      feature: {
        name,
        settings: (config) => config.limits.max_accounts,
        start(settings) {
          const n = settings as number;
          if (startFails(n)) {
            events.push(`${name} start ${n} threw`);
            throw new Error(`${name} cannot start with ${n}`);
          }
          events.push(`${name} start ${n}`);
          return { ready: Promise.resolve(), status: () => ({ success: true, durationSeconds: 0 }), stop: async () => void events.push(`${name} stop ${n}`) };
        },
      },
      register() {},
    });
    return { events, collectors: [make('first', () => false), make('fragile', (n) => n === 7)] };
  }

  it('puts every feature back on the old settings, reports the failure, and a later reload still works', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailrelay-app-'));
    try {
      const configFile = join(dir, 'config.yml');
      await writeFile(configFile, 'limits: {max_accounts: 1}\n');
      const { events, collectors } = features();
      app = new App({ configFile, listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', logger: silentLogger, version: 't' }, collectors);
      const { port } = await app.start();
      const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

      await writeFile(configFile, 'limits: {max_accounts: 7}\n');
      expect(await app.reload()).toBe(false);
      expect(events.slice(2)).toEqual([
        'first stop 1',
        'first start 7',
        'fragile stop 1',
        'fragile start 7 threw',
        // Back to the old config, the last switched first.
        'fragile start 1',
        'first stop 7',
        'first start 1',
      ]);
      const text = await metrics();
      expect(text).toContain('mailrelay_config_last_reload_successful 0');
      expect(text).toContain('mailrelay_collector_success{collector="first"} 1');
      expect(text).toContain('mailrelay_collector_success{collector="fragile"} 1');

      await writeFile(configFile, 'limits: {max_accounts: 2}\n');
      expect(await app.reload()).toBe(true);
      expect(events.slice(9)).toEqual(['first stop 1', 'first start 2', 'fragile stop 1', 'fragile start 2']);
      expect(await metrics()).toContain('mailrelay_config_last_reload_successful 1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
