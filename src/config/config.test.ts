import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from './config.js';
import { defaultPositionsFile } from './paths.js';
import { MAX_TIMER_MS, parseDuration, timerDelayMs } from './duration.js';

const testdata = new URL('./testdata/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, testdata), 'utf8');

function errorOf(name: string): string {
  try {
    loadConfig(read(name), name);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`${name} was accepted`);
}

describe('loadConfig: one row per invalid fixture, a stable fragment naming file, line and key', () => {
  const cases: [string, string][] = [
    ['invalid-unknown-key.yml', 'invalid-unknown-key.yml:3: icewarp.log_dirctory: unknown key'],
    ['invalid-wrong-type.yml', 'invalid-wrong-type.yml:2: limits.max_accounts: must be a positive integer, got string "many"'],
    ['invalid-duration.yml', 'invalid-duration.yml:2: detection.window: must be a duration'],
    ['invalid-enum.yml', 'invalid-enum.yml:1: start_at: must be one of end, beginning'],
    ['invalid-domain.yml', 'invalid-domain.yml:3: local_domains[1]: must be a domain'],
    ['invalid-yaml.yml', 'invalid-yaml.yml:3: invalid YAML'],
    ['invalid-section.yml', 'invalid-section.yml:1: icewarp: must be a mapping'],
    ['invalid-zero.yml', 'invalid-zero.yml:2: limits.max_accounts: must be a positive integer'],
    ['invalid-dnsbl-no-ips.yml', 'invalid-dnsbl-no-ips.yml:1: dnsbl.ips: is required'],
    ['invalid-ip.yml', 'invalid-ip.yml:2: dnsbl.ips[0]: must be an IPv4 or IPv6 address'],
    ['invalid-hostport.yml', 'invalid-hostport.yml:2: relay_probe.targets[0]: must be host:port'],
    ['invalid-mailbox.yml', 'invalid-mailbox.yml:3: relay_probe.mail_from: must be an email address'],
    ['invalid-time-zone.yml', 'invalid-time-zone.yml:3: icewarp.log_time_zone: must be UTC, Local, an offset such as +02:00, or an IANA zone'],
    ['invalid-duplicate-key.yml', 'invalid-duplicate-key.yml:2: invalid YAML: Map keys must be unique'],
    ['invalid-interval-beyond-timers.yml', 'invalid-interval-beyond-timers.yml:3: spool.rescan_interval: must be at most 24d: Node timers cannot wait longer'],
    ['invalid-interval-years.yml', 'invalid-interval-years.yml:3: dnsbl.interval: must be at most 24d: Node timers cannot wait longer'],
    ['invalid-interval-too-short.yml', 'invalid-interval-too-short.yml:3: spool.rescan_interval: must be at least 1s: a shorter period keeps a core busy, got "1ms"'],
    ['invalid-probe-interval-too-short.yml', 'invalid-probe-interval-too-short.yml:3: relay_probe.interval: must be at least 1s'],
    ['invalid-timeout-beyond-timers.yml', 'invalid-timeout-beyond-timers.yml:3: relay_probe.timeout: must be at most 24d: Node timers cannot wait longer'],
    ['invalid-window-too-short.yml', 'invalid-window-too-short.yml:2: detection.window: must be at least 1s: log times are counted in whole seconds'],
    ['invalid-alias-bomb.yml', 'invalid-alias-bomb.yml:2: refused: its aliases expand to more than 100 copies'],
    ['invalid-log-file-pattern.yml', 'invalid-log-file-pattern.yml:3: icewarp.log_file_pattern: "sub/s*.log" must be a file name without a folder'],
    ['invalid-postfix-log-file.yml', 'invalid-postfix-log-file.yml:3: postfix.log_file: "/var/log/*/mail.log": only the file name may hold * or ?, not the folder'],
    ['invalid-two-mtas.yml', 'invalid-two-mtas.yml:3: postfix: only one MTA section may be set (also found: icewarp)'],
  ];

  it('covers every invalid fixture', () => {
    const fixtures = readdirSync(testdata).filter((f) => f.startsWith('invalid-')).sort();
    expect(cases.map(([f]) => f).sort()).toEqual(fixtures);
  });

  it.each(cases)('%s', (file, fragment) => {
    expect(errorOf(file)).toContain(fragment);
  });
});

describe('loadConfig: valid files', () => {
  it('accepts every documented key', () => {
    const c = loadConfig(read('valid-full.yml'), 'valid-full.yml');
    expect(c.icewarp).toEqual({
      log_directory: '/opt/icewarp/logs/smtp',
      log_file_pattern: 's*.log',
      log_time_zone: 'Europe/Paris',
      mail_directory: '/opt/icewarp/mail',
    });
    expect(c.local_domains).toEqual(['domaine.com', '*.domaine.com']);
    expect(c.detection.window).toBe(3600);
    expect(c.limits.account_senders).toBe(3);
    expect(c.spool.rescan_interval).toBe(300);
    expect(c.dnsbl).toEqual({
      ips: ['203.0.113.7', '2001:db8::7'],
      zones: ['zen.spamhaus.org', 'bl.spamcop.net'],
      interval: 900,
      timeout: 5,
      resolver: { host: '127.0.0.1', port: 53 },
      concurrency: 8,
    });
    expect(c.relay_probe?.targets).toEqual([{ host: 'mail.domaine.com', port: 25 }]);
  });

  it('accepts every key of the postfix section, and defaults log times to the local zone', () => {
    const c = loadConfig(read('valid-postfix.yml'), 'valid-postfix.yml');
    expect(c.postfix).toEqual({ log_file: '/var/log/mail.log*', log_time_zone: 'Europe/Paris', postqueue: '/usr/sbin/postqueue', config_directory: '/etc/postfix-out' });
    expect(loadConfig('postfix:\n  log_file: /var/log/mail.log\n').postfix?.log_time_zone).toBe('Local');
  });

  it('fills defaults; an empty file is the default config with every collector off', () => {
    expect(loadConfig('', 'empty.yml')).toEqual(defaultConfig());
    const d = defaultConfig();
    expect([d.icewarp, d.dnsbl, d.relay_probe]).toEqual([undefined, undefined, undefined]);
    expect(d.limits).toEqual({ max_accounts: 10000, max_failed_usernames: 1000, spool_top_senders: 20, account_senders: 5 });
    expect([d.start_at, d.positions_file]).toEqual(['end', defaultPositionsFile()]);
    const i = loadConfig('icewarp: {}\n').icewarp;
    expect([i?.log_directory, i?.mail_directory, i?.log_file_pattern, i?.log_time_zone]).toEqual([undefined, undefined, 's*.log', 'UTC']);
  });

  it('gives an optional section its own defaults when present', () => {
    const c = loadConfig('dnsbl:\n  ips: ["2001:db8::7"]\n');
    expect(c.dnsbl?.zones).toContain('zen.spamhaus.org');
    expect(c.dnsbl?.interval).toBe(900);
  });

  it('reports every problem at once', () => {
    expect(() => loadConfig('start_at: x\nlimits:\n  max_accounts: -1\n', 'c.yml')).toThrow(
      /c\.yml:1: start_at: .*\nc\.yml:3: limits\.max_accounts: /,
    );
  });
});

describe('durations used as timers', () => {
  it('accepts the bounds themselves, and defaults inside them', () => {
    const c = loadConfig('spool: {rescan_interval: 1s}\ndnsbl: {ips: [192.0.2.1], interval: 24d, timeout: 24d}\ndetection: {window: 1s}\n');
    expect([c.spool.rescan_interval, c.dnsbl?.interval, c.dnsbl?.timeout, c.detection.window]).toEqual([1, 24 * 86400, 24 * 86400, 1]);
    expect(loadConfig('relay_probe: {targets: ["mx:25"], timeout: 1ms}\n').relay_probe?.timeout).toBe(0.001);
  });

  it('keeps every bound below what a Node timer can wait', () => {
    expect(() => loadConfig('spool: {rescan_interval: 24d1s}\n')).toThrow(/must be at most 24d/);
    expect(parseDuration('24d')! * 1000).toBeLessThanOrEqual(MAX_TIMER_MS);
    expect(timerDelayMs(parseDuration('100y')! * 1000)).toBe(MAX_TIMER_MS);
    expect(timerDelayMs(-5)).toBe(0);
  });
});

describe('durations', () => {
  it.each([
    ['30s', 30],
    ['15m', 900],
    ['1h30m', 5400],
    ['500ms', 0.5],
    ['7d', 604800],
    ['1x', undefined],
    ['h', undefined],
    ['-5m', undefined],
  ])('%s → %s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });
});
