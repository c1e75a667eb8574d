// The running form of an active check (DNSBL, open-relay probe): a round now
// and then every interval, its last results read by the metrics.
import { CheckSchedule } from '../probes/schedule.js';
import type { CollectorStatus, Running } from '../feature.js';

export interface Check {
  runRound(): Promise<unknown>;
  /** Aborts the I/O of a round in flight. */
  stop(): void;
}

export abstract class ScheduledCheck implements Running {
  // Active checks never hold readiness: a blocklist that times out or a
  // hanging SMTP peer says nothing about whether this exporter can serve.
  readonly ready = Promise.resolve();
  private readonly schedule: CheckSchedule;

  protected constructor(
    intervalSeconds: number,
    private readonly check: Check,
  ) {
    this.schedule = new CheckSchedule(intervalSeconds, () => check.runRound());
    this.schedule.start();
  }

  abstract status(): CollectorStatus | undefined;

  async stop(): Promise<void> {
    this.check.stop();
    await this.schedule.stop();
  }
}
