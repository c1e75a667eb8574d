import { execFileSync } from 'node:child_process';
import { Gauge } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ExporterRegistry, labelPair } from './registry.js';

describe('ExporterRegistry', () => {
  it('renders state metrics after prom-client\'s, in a format promtool accepts', async () => {
    const registry = new ExporterRegistry();
    new Gauge({ name: 'mailrelay_test_value', help: 'A prom-client gauge.', registers: [registry] }).set(3);
    registry.addStateMetrics([
      {
        name: 'mailrelay_test_total',
        help: 'A state counter with a back\\slash.',
        type: 'counter',
        collect(sample) {
          sample('', 1);
          sample(labelPair('account', 'evil"}\n{x="1\\'), 2);
          sample(`${labelPair('account', 'a@b.c')},destination="external"`, NaN);
        },
      },
    ]);
    const text = await registry.metrics();
    expect(text).toBe(
      [
        '# HELP mailrelay_test_value A prom-client gauge.',
        '# TYPE mailrelay_test_value gauge',
        'mailrelay_test_value 3',
        '',
        '# HELP mailrelay_test_total A state counter with a back\\\\slash.',
        '# TYPE mailrelay_test_total counter',
        'mailrelay_test_total 1',
        'mailrelay_test_total{account="evil\\"}\\n{x=\\"1\\\\"} 2',
        'mailrelay_test_total{account="a@b.c",destination="external"} NaN',
        '',
      ].join('\n'),
    );
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');
  });

  it('refuses a name registered twice, with prom-client or with itself', () => {
    const registry = new ExporterRegistry();
    new Gauge({ name: 'mailrelay_a', help: 'a', registers: [registry] });
    const def = { name: 'mailrelay_a', help: 'a', type: 'gauge' as const, collect() {} };
    expect(() => registry.addStateMetrics([def])).toThrow('mailrelay_a has already been registered');
    registry.addStateMetrics([{ ...def, name: 'mailrelay_b' }]);
    expect(() => registry.addStateMetrics([{ ...def, name: 'mailrelay_b' }])).toThrow('mailrelay_b has already been registered');
  });
});
