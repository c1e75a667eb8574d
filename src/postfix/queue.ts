// Postfix's mail queue as the spool gauges see it, read from `postqueue -j`
// (one JSON object a line, one line a message). postqueue needs no access to
// the queue directory: it asks Postfix's showq service, so the exporter can
// run as an unprivileged user.
//
// Postfix's queues and the exporter's labels:
//   maildrop, incoming → queue="incoming" (not yet in the queue manager's hands)
//   active, deferred   → queue="outgoing" (deferred: waiting for a retry)
//   hold               → queue="quarantine" (held, never delivered as it stands)
// The folder label is Postfix's queue name.
import { spawn } from 'node:child_process';
import type { CollectorStatus } from '../feature.js';
import type { Logger } from '../logger.js';
import { NULL_SENDER } from '../spool/scanner.js';
import { MAX_SENDER_LENGTH, type QueueName } from '../spool/layout.js';
import type { QueueOpenOptions, QueueSource } from '../spool/source.js';
import { topEntries, type FolderSummary, type SpoolQueue, type SpoolSnapshot } from '../spool/summary.js';

/** One message of a `postqueue -j` listing, as far as the queue gauges and commands need it. */
export interface QueuedMessage {
  /** Postfix's queue: maildrop, incoming, active, deferred, hold. */
  queueName: string;
  queueId: string;
  /** Unix seconds. */
  arrivalTime: number;
  /** Bytes. */
  size: number;
  /** The envelope sender as a label value: lowercased, bounded, `<>` for the null sender. */
  sender: string;
}

export const POSTFIX_QUEUES: Readonly<Record<string, { queue: SpoolQueue; deferred: boolean }>> = {
  maildrop: { queue: 'incoming', deferred: false },
  incoming: { queue: 'incoming', deferred: false },
  active: { queue: 'outgoing', deferred: false },
  deferred: { queue: 'outgoing', deferred: true },
  hold: { queue: 'quarantine', deferred: false },
};

/** A line's head kept at most: the fields come before the recipients list, which may be long. */
export const LINE_HEAD_CHARS = 64 * 1024;

/**
 * One line of `postqueue -j` (or its head): the fields before `recipients`,
 * which is the last and possibly huge field, are all that is read. A
 * `, "recipients": [` cannot stand inside a JSON string (its quotes would
 * be escaped), so cutting there is safe. undefined for a line that is not a
 * message.
 */
export function parsePostqueueLine(line: string): QueuedMessage | undefined {
  const cut = line.indexOf(', "recipients": [');
  let o: unknown;
  try {
    o = JSON.parse(cut < 0 ? line : `${line.slice(0, cut)}}`);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const m = o as Record<string, unknown>;
  const { queue_name: queueName, queue_id: queueId, arrival_time: arrivalTime, message_size: size, sender } = m;
  if (typeof queueName !== 'string' || typeof queueId !== 'string' || typeof arrivalTime !== 'number' || typeof size !== 'number' || typeof sender !== 'string') {
    return undefined;
  }
  return { queueName, queueId, arrivalTime, size, sender: queueSenderLabel(sender) };
}

/**
 * The sender as the spool gauges label it (the same as IceWarp's queue):
 * lowercased, control characters replaced, cut; `<>` for the null sender,
 * which showq prints as a bare `MAILER-DAEMON`.
 */
export function queueSenderLabel(sender: string): string {
  if (sender === '' || sender === 'MAILER-DAEMON') return NULL_SENDER;
  // eslint-disable-next-line no-control-regex
  return sender.toLowerCase().replace(/[\u0000-\u001f\u007f]/g, '\ufffd').slice(0, MAX_SENDER_LENGTH);
}

interface QueueFolder {
  folder: string;
  queue: SpoolQueue;
  deferred: boolean;
  messages: number;
  bytes: number;
  oldestArrival: number | undefined;
}

/** The aggregates of one listing; a snapshot of it costs O(queues + top senders). */
export class PostqueueListing {
  readonly folders = new Map<string, QueueFolder>();
  /** Outgoing messages by sender. */
  readonly senders = new Map<string, number>();
  private readonly sizes: Record<QueueName, Map<number, number>> = { outgoing: new Map(), incoming: new Map() };
  private readonly largest: Record<QueueName, number> = { outgoing: 0, incoming: 0 };
  /** Lines that were no message. */
  rejected = 0;

  constructor() {
    // Every queue is reported, empty or not, so its series never vanish.
    for (const [folder, q] of Object.entries(POSTFIX_QUEUES)) {
      this.folders.set(folder, { folder, ...q, messages: 0, bytes: 0, oldestArrival: undefined });
    }
  }

  add(m: QueuedMessage): void {
    const f = this.folders.get(m.queueName);
    if (f === undefined) {
      this.rejected++; // a queue this Postfix invented after us: not guessed at
      return;
    }
    f.messages++;
    f.bytes += m.size;
    if (f.oldestArrival === undefined || m.arrivalTime < f.oldestArrival) f.oldestArrival = m.arrivalTime;
    if (f.queue === 'quarantine') return;
    const sizes = this.sizes[f.queue];
    const n = (sizes.get(m.size) ?? 0) + 1;
    sizes.set(m.size, n);
    if (n > this.largest[f.queue]) this.largest[f.queue] = n;
    if (f.queue === 'outgoing') this.senders.set(m.sender, (this.senders.get(m.sender) ?? 0) + 1);
  }

  snapshot(nowMs: number, topSenders: number): SpoolSnapshot {
    const folders: FolderSummary[] = [...this.folders.values()]
      .sort((a, b) => (a.folder < b.folder ? -1 : 1))
      .map((f) => ({
        folder: f.folder,
        queue: f.queue,
        deferred: f.deferred,
        messages: f.messages,
        bytes: f.bytes,
        oldestAgeSeconds: f.oldestArrival === undefined ? 0 : Math.max(0, nowMs / 1000 - f.oldestArrival),
      }));
    return {
      folders,
      topSenders: topEntries(this.senders, topSenders),
      distinctSenders: this.senders.size,
      largestSameSize: { ...this.largest },
    };
  }
}

export interface PostqueueCommand {
  /** Path of `postqueue`. */
  postqueue: string;
  /** Postfix's configuration directory (`-c`), for a second instance; undefined: the default. */
  configDirectory?: string;
  /** Kills a listing that takes longer (ms). */
  timeoutMs: number;
}

export class PostqueueError extends Error {}

/**
 * Runs `postqueue [-c dir] -j` and hands each message to `onMessage` as its
 * line arrives: memory stays bounded by one line head whatever the queue
 * holds. Rejects with a PostqueueError naming the command and what it said
 * when it cannot run, fails or times out. Returns the lines that were no message.
 */
export function listPostfixQueue(cmd: PostqueueCommand, onMessage: (m: QueuedMessage) => void, signal?: AbortSignal): Promise<number> {
  const args = [...(cmd.configDirectory === undefined ? [] : ['-c', cmd.configDirectory]), '-j'];
  const what = `${cmd.postqueue} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.postqueue, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let rejected = 0;
    let carry = '';
    let cut = false; // the line being read is longer than its head: the rest is skipped
    let stderr = '';
    let settled = false;
    const settle = (err: PostqueueError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(rejected);
    };
    const timer = setTimeout(() => {
      // Not waiting for the pipes to close: a child of postqueue could hold them open.
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      settle(new PostqueueError(`${what}: no answer within ${cmd.timeoutMs / 1000} s; killed`));
    }, cmd.timeoutMs);
    const line = (text: string): void => {
      if (text === '') return;
      const m = parsePostqueueLine(text);
      if (m === undefined) rejected++;
      else onMessage(m);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf('\n', start);
        if (nl < 0) break;
        if (!cut) line(carry + chunk.slice(start, nl));
        carry = '';
        cut = false;
        start = nl + 1;
      }
      if (cut) return;
      carry += chunk.slice(start);
      if (carry.length > LINE_HEAD_CHARS) {
        // A message with thousands of recipients: its fields are in the head.
        line(carry.slice(0, LINE_HEAD_CHARS));
        carry = '';
        cut = true;
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.once('error', (err) => settle(new PostqueueError(`${what}: ${err.message}`, { cause: err })));
    child.once('close', (code, sig) => {
      if (settled) return;
      if (!cut) line(carry);
      const said = stderr.trim().split('\n').slice(-3).join('; ');
      settle(code === 0 ? undefined : new PostqueueError(`${what}: exit ${code ?? sig}${said ? `: ${said}` : ''}`));
    });
  });
}

/** The refresh is cheap while the listing is: a listing may take at most 1/REFRESH_FACTOR of the time. */
const REFRESH_FACTOR = 20;
const MIN_REFRESH_MS = 15_000;

export interface PostfixQueueOptions extends QueueOpenOptions {
  postqueue: string;
  configDirectory?: string;
  /** Unix ms now (tests). */
  now?: () => number;
  /** The shortest period between two listings (default 15 s). */
  minRefreshMs?: number;
}

/**
 * The queue source for Postfix: lists the queue with `postqueue -j` every
 * spool.rescan_interval at most, and sooner while listing is cheap: the
 * next listing starts after 20 times the last one's duration, 15 s at the
 * least. A queue listed in 50 ms is seen every 15 s; a flood of 200,000
 * messages that takes 8 s to list, every 160 s, so showq never takes more
 * than a twentieth of a core. A failed listing keeps the last good one.
 */
export class PostfixQueue implements QueueSource {
  readonly ready: Promise<void>;
  private listing = new PostqueueListing();
  private last: CollectorStatus | undefined;
  private errors = 0;
  private topSenders: number;
  private rescanIntervalMs: number;
  private readonly minRefreshMs: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private stopped = false;
  private failing = false;
  private cached: { snapshot: SpoolSnapshot; atMs: number } | undefined;

  constructor(private readonly opts: PostfixQueueOptions) {
    this.topSenders = opts.topSenders;
    this.rescanIntervalMs = opts.rescanIntervalMs;
    this.minRefreshMs = opts.minRefreshMs ?? MIN_REFRESH_MS;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.ready = this.listNow();
  }

  snapshot(): SpoolSnapshot {
    // Ages move with the clock; the rest only with a listing. One build a second at most.
    const nowMs = this.now();
    if (this.cached === undefined || nowMs - this.cached.atMs >= 1000) this.cached = { snapshot: this.listing.snapshot(nowMs, this.topSenders), atMs: nowMs };
    return this.cached.snapshot;
  }

  status(): CollectorStatus | undefined {
    return this.last;
  }

  scanErrors(): number {
    return this.errors;
  }

  setTopSenders(n: number): void {
    this.topSenders = n;
    this.cached = undefined;
  }

  setRescanInterval(ms: number): void {
    this.rescanIntervalMs = ms;
    if (this.timer !== undefined && this.running === undefined) this.schedule(this.last?.durationSeconds ?? 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }

  /** Lists the queue now (tests, and the first look). */
  listNow(): Promise<void> {
    this.running ??= this.list().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async list(): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    const next = new PostqueueListing();
    let ok = false;
    try {
      const rejected = await listPostfixQueue(
        { postqueue: this.opts.postqueue, configDirectory: this.opts.configDirectory, timeoutMs: Math.max(60_000, this.rescanIntervalMs) },
        (m) => next.add(m),
        this.abort.signal,
      );
      this.errors += rejected + next.rejected;
      this.listing = next;
      this.cached = undefined;
      ok = true;
      if (this.failing) this.log.info('the Postfix queue can be listed again', { postqueue: this.opts.postqueue });
      this.failing = false;
    } catch (err) {
      if (this.stopped) return;
      this.errors++;
      if (!this.failing) this.log.error('cannot list the Postfix queue; keeping the last listing', { err: err as Error });
      this.failing = true;
    }
    const seconds = (performance.now() - started) / 1000;
    this.last = { success: ok, durationSeconds: seconds };
    this.schedule(seconds);
  }

  private schedule(lastSeconds: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = Math.min(this.rescanIntervalMs, Math.max(this.minRefreshMs, REFRESH_FACTOR * lastSeconds * 1000));
    this.timer = setTimeout(() => void this.listNow(), delay);
    this.timer.unref();
  }
}
