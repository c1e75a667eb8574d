// The contract between a feature (log pipeline, spool, DNSBL, relay probe)
// and the exporter: a feature runs on its own; its collector reads it at
// scrape time. Collectors are the only modules that touch prom-client.
import type { Config } from '../config/config.js';
import type { Logger } from '../logger.js';
import type { ExporterRegistry } from './registry.js';

/** How a feature's last run went, for mailrelay_collector_success / _duration_seconds. */
export interface CollectorStatus {
  success: boolean;
  durationSeconds: number;
}

/** A started feature. */
export interface Running {
  /** How its last run (read, scan, check round) went; undefined before the first. */
  status(): CollectorStatus | undefined;
  /** Resolves once the first catch-up (read, scan) is done: /-/ready waits for it. */
  readonly ready: Promise<void>;
  /** Applies a changed config in place where it can; false asks for a restart instead. */
  reconfigure?(config: Config): boolean;
  stop(): Promise<void>;
  /** A short table for the landing page, e.g. the accounts with the most external recipients. */
  landingTable?(): LandingTable;
}

export interface LandingTable {
  title: string;
  columns: string[];
  rows: string[][];
}

/**
 * One feature of the exporter. `registerMetrics` is called once per registry;
 * its metrics read `current()`, which is the running instance or undefined
 * while the feature is off, so a reload can swap instances under them.
 */
export interface Feature<R extends Running = Running> {
  /** The `collector` label value. */
  readonly name: string;
  /** The part of the config the feature depends on, or undefined when the feature is off. */
  settings(config: Config): unknown;
  /** Starts it; errors after start are reported through status(), never thrown. */
  start(config: Config, log: Logger): R;
  registerMetrics(registry: ExporterRegistry, current: () => R | undefined): void;
}
