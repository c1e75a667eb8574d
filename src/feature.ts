// The contract between the exporter and each of its features (log pipeline,
// mail queue, DNSBL, relay probe): settings → check → start → apply → stop.
// It sits below collectors/ and pipeline/, so neither imports the other's
// side of it. A feature runs on its own; its collector reads it at scrape time.
import type { Config } from './config/config.js';
import type { Logger } from './logger.js';

/** How a feature's last run went, for mailrelay_collector_success / _duration_seconds. */
export interface CollectorStatus {
  success: boolean;
  durationSeconds: number;
}

/** A started feature. */
export interface Running<S = unknown> {
  /** Resolves once the first catch-up (read, scan) is done: /-/ready waits for it. */
  readonly ready: Promise<void>;
  /** How its last run (read, scan, check round) went; undefined before the first. */
  status(): CollectorStatus | undefined;
  /** Takes changed settings in place where it can (counters keep their history); false asks for a restart instead. */
  apply?(settings: S): boolean;
  stop(): Promise<void>;
  /**
   * What keeps it from seeing anything now, each naming its config key (a
   * configured folder missing or unreadable); empty when nothing does.
   * /-/ready answers 503 with these, and the landing page shows them.
   */
  problems?(): Promise<string[]>;
}

/** A setting a feature cannot run with, named by its config key. */
export class SettingsError extends Error {
  constructor(
    readonly key: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${key}: ${message}`, options);
    this.name = 'SettingsError';
  }
}

/**
 * One feature of the exporter. `settings` is everything it needs from the
 * config, fully checked: a reload computes the settings of every feature
 * before it stops any, so a setting that cannot work (a bad pattern) rejects
 * the whole new config and the old one keeps running. Settings are plain
 * data; a change in their JSON form is what makes the exporter apply them.
 */
export interface Feature<S = unknown, R extends Running<S> = Running<S>> {
  /** The `collector` label value. */
  readonly name: string;
  /** undefined when the feature is off. Throws SettingsError. */
  settings(config: Config): S | undefined;
  /**
   * What settings() cannot see without I/O (a positions file that cannot be
   * written). Awaited for every feature whose settings changed, before any
   * feature is stopped or changed. Throws SettingsError.
   */
  check?(settings: S): Promise<void>;
  /** Starts it; errors after start are reported through status(), never thrown. */
  start(settings: S, log: Logger): R;
}
