// A metric whose samples are read from a feature's own state at scrape time.
// prom-client's Counter/Gauge keep a hash of label sets and would need a
// reset() and 10,000 inc() calls per scrape to mirror the account book;
// the registry only needs get(), so we hand it the samples directly.
import type { Metric, Registry } from 'prom-client';

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
}

export interface StateMetricDefinition {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  /** Called at each scrape; yields nothing while the feature is off. */
  read(): Iterable<Sample>;
}

export function registerStateMetrics(registry: Registry, definitions: StateMetricDefinition[]): void {
  for (const { name, help, type, read } of definitions) {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: Array.from(read()) }),
      reset() {},
    };
    registry.registerMetric(metric as unknown as Metric);
  }
}
