// The dnsbl and relay_probe config keys: defaults, and errors that name the key and the line.
import { describe, expect, it } from 'vitest';
import { dnsblFeature } from '../collectors/dnsbl.js';
import { relayProbeFeature } from '../collectors/relayProbe.js';
import { DEFAULT_DNSBL_ZONES, defaultConfig, loadConfig } from '../config/config.js';

describe('dnsbl and relay_probe config', () => {
  it('leaves both checks off without their sections', () => {
    const config = defaultConfig();
    expect(dnsblFeature.settings(config)).toBeUndefined();
    expect(relayProbeFeature.settings(config)).toBeUndefined();
  });

  it('fills in the defaults', () => {
    const config = loadConfig('dnsbl:\n  ips: [203.0.113.5, "2001:db8::25"]\nrelay_probe:\n  targets: ["mail.example.com:25"]\n');
    expect(dnsblFeature.settings(config)).toEqual({
      ips: ['203.0.113.5', '2001:db8::25'],
      zones: DEFAULT_DNSBL_ZONES,
      interval: 900,
      timeout: 5,
      concurrency: 8,
    });
    expect(relayProbeFeature.settings(config)).toEqual({
      targets: [{ host: 'mail.example.com', port: 25 }],
      interval: 3600,
      timeout: 10,
      mail_from: 'relay-probe@example.org',
      rcpt_to: 'relay-probe@example.net',
      starttls: false,
      helo: 'mailrelay-exporter.invalid',
    });
  });

  it('reads every key', () => {
    const config = loadConfig(`dnsbl:
  ips: [203.0.113.5]
  zones: [zen.spamhaus.org]
  interval: 30m
  timeout: 2s
  resolver: "[::1]:5353"
  concurrency: 2
relay_probe:
  targets: ["[2001:db8::25]:587", "127.0.0.1:25"]
  interval: 2h
  timeout: 500ms
  mail_from: probe@outside.example
  rcpt_to: victim@elsewhere.example
  starttls: true
  helo: probe.example.org
`);
    expect(config.dnsbl).toEqual({
      ips: ['203.0.113.5'],
      zones: ['zen.spamhaus.org'],
      interval: 1800,
      timeout: 2,
      resolver: { host: '::1', port: 5353 },
      concurrency: 2,
    });
    expect(config.relay_probe).toEqual({
      targets: [
        { host: '2001:db8::25', port: 587 },
        { host: '127.0.0.1', port: 25 },
      ],
      interval: 7200,
      timeout: 0.5,
      mail_from: 'probe@outside.example',
      rcpt_to: 'victim@elsewhere.example',
      starttls: true,
      helo: 'probe.example.org',
    });
  });

  it.each([
    ['dnsbl:\n  zones: [zen.spamhaus.org]\n', 'c.yml:1: dnsbl.ips: is required (a list of an IPv4 or IPv6 address)'],
    ['dnsbl:\n  ips: [mail.example.com]\n', 'c.yml:2: dnsbl.ips[0]: must be an IPv4 or IPv6 address, got string "mail.example.com"'],
    ['dnsbl:\n  ips: []\n', 'c.yml:2: dnsbl.ips: must not be empty'],
    ['dnsbl:\n  ips: [192.0.2.1]\n  resolver: 127.0.0.1\n', 'c.yml:3: dnsbl.resolver: must be host:port, got string "127.0.0.1"'],
    ['dnsbl:\n  ips: [192.0.2.1]\n  zones: ["bad zone"]\n', 'c.yml:3: dnsbl.zones[0]: must be a domain such as example.com or *.example.com, got string "bad zone"'],
    ['dnsbl:\n  ips: [192.0.2.1]\n  concurrency: 0\n', 'c.yml:3: dnsbl.concurrency: must be a positive integer, got number 0'],
    ['dnsbl:\n  ips: [192.0.2.1]\n  interval: 15\n', 'c.yml:3: dnsbl.interval: must be a duration such as 30s, 15m or 1h, got number 15'],
    ['dnsbl:\n  ips: [192.0.2.1]\n  zone: [x.org]\n', 'c.yml:3: dnsbl.zone: unknown key (known: ips, zones, interval, timeout, resolver, concurrency)'],
    ['relay_probe:\n  targets: []\n', 'c.yml:2: relay_probe.targets: must not be empty'],
    ['relay_probe:\n  targets: [mail.example.com]\n', 'c.yml:2: relay_probe.targets[0]: must be host:port, got string "mail.example.com"'],
    ['relay_probe:\n  targets: ["mx:25"]\n  mail_from: nobody\n', 'c.yml:3: relay_probe.mail_from: must be an email address, got string "nobody"'],
    ['relay_probe:\n  targets: ["mx:25"]\n  starttls: "yes"\n', 'c.yml:3: relay_probe.starttls: must be true or false, got string "yes"'],
    ['relay_probe:\n  targets: ["mx:25"]\n  timeout: 0s\n', 'c.yml:3: relay_probe.timeout: must be a duration such as 30s, 15m or 1h, got string "0s"'],
  ])('%j → %s', (yaml, message) => {
    expect(() => loadConfig(yaml, 'c.yml')).toThrow(message);
  });
});
