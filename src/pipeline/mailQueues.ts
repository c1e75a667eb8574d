// The mail-queue feature, for any MTA: the MTA's QueueSource keeps a summary
// of its queues; the collector reads snapshots of it, so a scrape costs the
// same on an empty queue and on 200,000 messages.
import type { Config } from '../config/config.js';
import type { CollectorStatus, Feature, Running } from '../feature.js';
import { folderProblem } from '../folders.js';
import type { Logger } from '../logger.js';
import { configuredQueue } from '../mtas.js';
import type { QueueLocation, QueueSource } from '../spool/source.js';
import type { SpoolSnapshot } from '../spool/summary.js';

export interface QueueSettings {
  queue: QueueLocation;
  topSenders: number;
  rescanIntervalSeconds: number;
}

export function queueSettings(config: Config): QueueSettings | undefined {
  const queue = configuredQueue(config);
  if (!queue) return undefined;
  return { queue, topSenders: config.limits.spool_top_senders, rescanIntervalSeconds: config.spool.rescan_interval };
}

export class MailQueues implements Running<QueueSettings> {
  readonly source: QueueSource;
  readonly ready: Promise<void>;

  constructor(
    private settings: QueueSettings,
    log: Logger,
  ) {
    this.source = settings.queue.open({ topSenders: settings.topSenders, rescanIntervalMs: settings.rescanIntervalSeconds * 1000, log });
    this.ready = this.source.ready;
    log.info('following the mail queue', { mta: settings.queue.mta, location: settings.queue.location, instance: settings.queue.instance });
  }

  status(): CollectorStatus | undefined {
    return this.source.status();
  }

  snapshot(): SpoolSnapshot {
    return this.source.snapshot();
  }

  /** Where the queue is read from, for the console's commands. */
  get location(): QueueLocation {
    return this.settings.queue;
  }

  /** Another queue needs a new source; the limits and the rescan interval change in place. */
  apply(next: QueueSettings): boolean {
    const [a, b] = [next.queue, this.settings.queue];
    if (a.mta !== b.mta || a.location !== b.location || a.instance !== b.instance) return false;
    if (next.topSenders !== this.settings.topSenders) this.source.setTopSenders(next.topSenders);
    if (next.rescanIntervalSeconds !== this.settings.rescanIntervalSeconds) this.source.setRescanInterval(next.rescanIntervalSeconds * 1000);
    this.settings = next;
    return true;
  }

  stop(): Promise<void> {
    return this.source.stop();
  }

  /** A queue read from a folder needs that folder (a command's failures show in status()). */
  async problems(): Promise<string[]> {
    const { kind, location, key } = this.settings.queue;
    const why = kind === 'folder' ? await folderProblem(location, key) : undefined;
    return why === undefined ? [] : [why];
  }
}

export const queueFeature: Feature<QueueSettings, MailQueues> = {
  name: 'spool',
  settings: queueSettings,
  start: (settings, log) => new MailQueues(settings, log),
};
