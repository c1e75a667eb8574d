// What the spool collector needs from an MTA's mail queue. IceWarp's is a
// tree of folders scanned and watched (scanner.ts); another MTA's may be a
// command that lists its queue. Either way the collector only reads
// snapshots, so the queue gauges, alerts and dashboards are the same.
import type { CollectorStatus } from '../feature.js';
import type { Logger } from '../logger.js';
import type { SpoolSnapshot } from './summary.js';

/** A queue being followed. */
export interface QueueSource {
  /** Resolves once the first look at the queue is done: /-/ready waits for it. */
  readonly ready: Promise<void>;
  /** The queues as last seen: cheap, never waits for the disk or a command. */
  snapshot(): SpoolSnapshot;
  /** How the last full look went; undefined before the first. */
  status(): CollectorStatus | undefined;
  /** Queue folders or listings that could not be read, files whose stat or head read failed: a counter. */
  scanErrors(): number;
  setTopSenders(n: number): void;
  /** How often the whole queue is looked at again (ms). */
  setRescanInterval(ms: number): void;
  stop(): Promise<void>;
}

export interface QueueOpenOptions {
  topSenders: number;
  rescanIntervalMs: number;
  log: Logger;
}

/** An MTA's queue, as its config section describes it. Plain data but for `open`. */
export interface QueueLocation {
  /** The MTA's name, its config section. */
  readonly mta: string;
  /** Where the queue is read from: a folder, or a command. */
  readonly location: string;
  readonly kind: 'folder' | 'command';
  /** What else names the queue besides its location (Postfix's `-c` configuration directory): a change needs a new source. */
  readonly instance?: string;
  /** The config key that names it, for messages (`icewarp.mail_directory`). */
  readonly key: string;
  open(opts: QueueOpenOptions): QueueSource;
}
