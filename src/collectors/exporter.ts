// The exporter's own health: build info and each collector's last run.
import { Gauge, type Registry } from 'prom-client';
import type { CollectorStatus } from '../feature.js';

export function registerExporterMetrics(
  registry: Registry,
  version: string,
  collectors: () => { name: string; status: CollectorStatus | undefined }[],
): void {
  new Gauge({
    name: 'mailrelay_build_info',
    help: 'A metric with a constant 1 value labelled by the version of the exporter and of Node.js.',
    labelNames: ['version', 'nodejs_version'],
    registers: [registry],
  }).set({ version, nodejs_version: process.versions.node }, 1);

  const success = new Gauge({
    name: 'mailrelay_collector_success',
    help: 'Whether the collector\'s last run succeeded (1) or failed (0).',
    labelNames: ['collector'],
    registers: [registry],
    collect() {
      success.reset();
      for (const c of collectors()) if (c.status) success.set({ collector: c.name }, c.status.success ? 1 : 0);
    },
  });
  const duration = new Gauge({
    name: 'mailrelay_collector_duration_seconds',
    help: 'Duration of the collector\'s last run in seconds.',
    labelNames: ['collector'],
    registers: [registry],
    collect() {
      duration.reset();
      for (const c of collectors()) if (c.status) duration.set({ collector: c.name }, c.status.durationSeconds);
    },
  });
}
