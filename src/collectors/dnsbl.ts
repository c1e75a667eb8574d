// The DNSBL feature: checks the configured public IPs against blocklists on
// an interval; the metrics read the last results, so a scrape never waits for DNS.
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../config/config.js';
import type { CollectorStatus, Feature } from '../feature.js';
import type { Logger } from '../logger.js';
import { DnsblChecker, type DnsblSettings } from '../probes/dnsbl.js';
import type { Collector, ExporterRegistry } from './registry.js';
import { ScheduledCheck } from './scheduledCheck.js';

export class DnsblRunning extends ScheduledCheck {
  readonly checker: DnsblChecker;

  constructor(settings: DnsblSettings & { interval: number }, log: Logger) {
    const checker = new DnsblChecker(settings, log);
    super(settings.interval, checker);
    this.checker = checker;
  }

  status(): CollectorStatus | undefined {
    const round = this.checker.lastRound();
    return round && { success: round.errors === 0, durationSeconds: round.durationSeconds };
  }
}

type DnsblFeatureSettings = NonNullable<Config['dnsbl']>;

export const dnsblFeature: Feature<DnsblFeatureSettings, DnsblRunning> = {
  name: 'dnsbl',
  settings: (config) => config.dnsbl,
  start: (settings, log) => new DnsblRunning(settings, log),
};

export const dnsblCollector: Collector<DnsblRunning> = {
  feature: dnsblFeature,
  register(registry: ExporterRegistry, current: () => DnsblRunning | undefined): void {
    const listed = new Gauge({
      name: 'mailrelay_dnsbl_listed',
      help: 'Whether the IP is listed in the DNSBL zone (1) or not (0), as of the last answer; answer holds the listing codes (127.0.0.x, comma-separated), "" when not listed.',
      labelNames: ['ip', 'zone', 'answer'],
      registers: [registry],
      collect() {
        listed.reset();
        for (const l of current()?.checker.listings() ?? []) listed.set({ ip: l.ip, zone: l.zone, answer: l.answer }, l.listed ? 1 : 0);
      },
    });
    const errors = new Counter({
      name: 'mailrelay_dnsbl_query_errors_total',
      help: 'DNSBL lookups that got no usable answer: timeouts, resolver errors, and answers a zone uses to refuse the query (such as 127.255.255.x).',
      labelNames: ['zone'],
      registers: [registry],
      collect() {
        errors.reset();
        for (const [zone, n] of current()?.checker.queryErrors() ?? []) errors.inc({ zone }, n);
      },
    });
    // A state metric: nothing while the feature is off or before its first round,
    // where a prom-client gauge would say 0 (1970, "56 years since the last check").
    registry.addStateMetrics([
      {
        name: 'mailrelay_dnsbl_last_check_timestamp_seconds',
        help: 'When the last round of DNSBL lookups ended, in unix seconds.',
        type: 'gauge',
        collect(sample) {
          const round = current()?.checker.lastRound();
          if (round) sample('', round.finishedAt);
        },
      },
    ]);
  },
};
