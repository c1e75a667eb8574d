// The open-relay probe feature: on an interval, asks each configured SMTP
// target to relay for an outsider (never sending DATA); the metrics read the
// last result per target.
import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { CollectorStatus, Feature } from '../feature.js';
import type { Logger } from '../logger.js';
import { OpenRelayProbe, type RelayProbeSettings } from '../probes/smtpProbe.js';
import type { Collector } from './registry.js';
import { ScheduledCheck } from './scheduledCheck.js';

export class RelayProbeRunning extends ScheduledCheck {
  readonly probe: OpenRelayProbe;

  constructor(settings: RelayProbeSettings & { interval: number }, log: Logger) {
    const probe = new OpenRelayProbe(settings, log);
    super(settings.interval, probe);
    this.probe = probe;
  }

  status(): CollectorStatus | undefined {
    const round = this.probe.lastRound();
    return round && { success: round.failures === 0, durationSeconds: round.durationSeconds };
  }
}

type RelayProbeFeatureSettings = NonNullable<Config['relay_probe']>;

export const relayProbeFeature: Feature<RelayProbeFeatureSettings, RelayProbeRunning> = {
  name: 'relay_probe',
  settings: (config) => config.relay_probe,
  start: (settings, log) => new RelayProbeRunning(settings, log),
};

export const relayProbeCollector: Collector<RelayProbeRunning> = {
  feature: relayProbeFeature,
  register(registry: Registry, current: () => RelayProbeRunning | undefined): void {
    const perTarget = (name: string, help: string, value: (r: ReturnType<OpenRelayProbe['lastResults']>[number]) => number) => {
      const gauge: Gauge = new Gauge({
        name,
        help,
        labelNames: ['target'],
        registers: [registry],
        collect() {
          gauge.reset();
          for (const r of current()?.probe.lastResults() ?? []) gauge.set({ target: r.target }, value(r));
        },
      });
    };
    perTarget(
      'mailrelay_open_relay_probe_accepted',
      'Whether the target accepted RCPT TO an external domain from an external sender without AUTH (1: an open relay) in the last probe.',
      (r) => (r.accepted ? 1 : 0),
    );
    perTarget(
      'mailrelay_open_relay_probe_success',
      'Whether the last open-relay probe of the target got an answer to its RCPT (1) or failed before (0).',
      (r) => (r.success ? 1 : 0),
    );
    perTarget('mailrelay_open_relay_probe_duration_seconds', 'Duration of the last open-relay probe of the target in seconds.', (r) => r.durationSeconds);
  },
};
