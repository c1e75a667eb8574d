// Writes an IceWarp-like mail directory for the demo, the tests and the
// benchmark: legitimate mail and a spam run from one stolen account in
// `_outgoing` and its `retry` folder, received pairs in `_incoming`, and an
// `_incoming.bak` left after an overload, with orphans. Returns the ground
// truth, computed from what was written, so tests can compare the exporter
// against it.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from './random.js';

export interface QueueOptions {
  seed: number;
  legitimateMessages: number;
  spamMessages: number;
  /** The stolen account, e.g. willm.b@orange.fr. */
  spamSender: string;
  /** Every spam copy has exactly this many bytes (default 2817). */
  spamSize?: number;
  /** The share of outgoing messages that sit in `_outgoing/retry`. */
  retryFraction: number;
  incomingPairs: number;
  incomingBakPairs: number;
  /** Lone files in `_incoming.bak`, alternately `.tmp` and `.dat`; 0 writes no `_incoming.bak` unless it has pairs. */
  incomingBakOrphans: number;
  /** Legitimate outgoing messages stuck for 5 days, in `_outgoing/priority_2`. */
  oldMessages?: number;
  /** The time "now" for modification times (ms); default Date.now(). */
  nowMs?: number;
}

export interface FolderTruth {
  messages: number;
  bytes: number;
  /** Modification time of the oldest message (ms), undefined when empty. */
  oldestMtimeMs: number | undefined;
}

export interface QueueTruth {
  /** By folder relative to the mail directory, e.g. `_outgoing/retry`. */
  folders: Record<string, FolderTruth>;
  /** Outgoing messages by original sender. */
  senders: Record<string, number>;
  orphans: Record<string, { tmp: number; dat: number }>;
  /** Messages in the largest group of one byte size, per queue. */
  largestSameSize: { outgoing: number; incoming: number };
}

const LEGIT_SENDERS = [
  'info@domaine.com',
  'compta@domaine.com',
  'jean.dupont@domaine.com',
  'marie.martin@domaine.com',
  'support@shop.domaine.com',
  'newsletter@domaine.com',
  'direction@domaine.com',
  'rh@domaine.com',
];
const RECIPIENT_DOMAINES = ['gmail.com', 'yahoo.fr', 'hotmail.com', 'laposte.net', 'free.fr', 'wanadoo.fr', 'outlook.com'];
export const DEFAULT_SPAM_SIZE = 2817;


class QueueWriter {
  private counter = 0;
  readonly truth: QueueTruth = { folders: {}, senders: {}, orphans: {}, largestSameSize: { outgoing: 0, incoming: 0 } };
  private readonly sizes = { outgoing: new Map<number, number>(), incoming: new Map<number, number>() };

  constructor(
    private readonly mailDir: string,
    private readonly random: () => number,
    private readonly nowMs: number,
  ) {}

  folder(folder: string): string {
    const path = join(this.mailDir, folder);
    mkdirSync(path, { recursive: true });
    this.truth.folders[folder] ??= { messages: 0, bytes: 0, oldestMtimeMs: undefined };
    return path;
  }

  /** An IceWarp-style queue file name: unique, upper-case hex. */
  name(): string {
    this.counter++;
    const r = Math.floor(this.random() * 0xffffffff).toString(16).toUpperCase().padStart(8, '0');
    return `${r}${this.counter.toString(16).toUpperCase().padStart(6, '0')}`;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /** A message file: the Original Sender line, RFC 5322 headers, a body padded to `size` bytes when given. */
  message(sender: string, opts: { size?: number; subject: string; mtimeMs: number; maxBody?: number }): Buffer {
    const to = `${this.name().toLowerCase().slice(0, 8)}@${this.pick(RECIPIENT_DOMAINES)}`;
    const date = new Date(opts.mtimeMs).toUTCString().replace('GMT', '+0000');
    const head =
      `Original Sender: <${sender}>\r\n` +
      `Received: from [${10 + Math.floor(this.random() * 200)}.${Math.floor(this.random() * 255)}.0.${Math.floor(this.random() * 255)}] by mail.domaine.com (IceWarp 13.0.2) with ESMTP id ${this.name()}; ${date}\r\n` +
      `From: <${sender}>\r\n` +
      `To: <${to}>\r\n` +
      `Subject: ${opts.subject}\r\n` +
      `Date: ${date}\r\n` +
      `Message-ID: <${this.name()}@domaine.com>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
    const size = opts.size ?? head.length + 200 + Math.floor(this.random() * (opts.maxBody ?? 20_000));
    if (size < head.length + 2) throw new Error(`message size ${size} is smaller than its ${head.length}-byte header`);
    const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n';
    const body = line.repeat(Math.ceil((size - head.length) / line.length)).slice(0, size - head.length - 2) + '\r\n';
    return Buffer.from(head + body, 'latin1');
  }

  outgoing(folder: string, sender: string, opts: { size?: number; subject: string; mtimeMs: number; maxBody?: number }): string {
    const dir = this.folder(folder);
    const data = this.message(sender, opts);
    const file = `${this.name()}.tmp`;
    this.write(join(dir, file), data, opts.mtimeMs);
    this.count(folder, data.length, opts.mtimeMs);
    this.truth.senders[sender] = (this.truth.senders[sender] ?? 0) + 1;
    this.sized('outgoing', data.length);
    return file;
  }

  incomingPair(folder: string, mtimeMs: number): void {
    const dir = this.folder(folder);
    const stem = this.name();
    const sender = this.pick(RECIPIENT_DOMAINES.map((d) => `someone@${d}`));
    const data = this.message(sender, { subject: 'Re: devis', mtimeMs });
    const dat = Buffer.from(`MAIL FROM:<${sender}>\r\nRCPT TO:<${this.pick(LEGIT_SENDERS)}>\r\n`, 'latin1');
    this.write(join(dir, `${stem}.tmp`), data, mtimeMs);
    this.write(join(dir, `${stem}.dat`), dat, mtimeMs);
    this.count(folder, data.length + dat.length, mtimeMs);
    this.sized('incoming', data.length);
  }

  orphan(folder: string, kind: 'tmp' | 'dat', mtimeMs: number): void {
    const dir = this.folder(folder);
    const orphans = (this.truth.orphans[folder] ??= { tmp: 0, dat: 0 });
    const data =
      kind === 'tmp' ? this.message('someone@gmail.com', { subject: 'lost', mtimeMs }) : Buffer.from('MAIL FROM:<someone@gmail.com>\r\n');
    this.write(join(dir, `${this.name()}.${kind}`), data, mtimeMs);
    orphans[kind]++;
  }

  /** Files that are not messages, as a real queue has them. */
  clutter(folder: string): void {
    const dir = this.folder(folder);
    writeFileSync(join(dir, 'desktop.ini'), '[.ShellClassInfo]\r\n');
    writeFileSync(join(dir, `${this.name()}.tm$`), this.message('writer@domaine.com', { subject: 'being written', mtimeMs: this.nowMs }));
    writeFileSync(join(dir, 'queue.lock'), '');
  }

  finish(): QueueTruth {
    this.truth.largestSameSize = { outgoing: largest(this.sizes.outgoing), incoming: largest(this.sizes.incoming) };
    return this.truth;
  }

  private write(path: string, data: Buffer, mtimeMs: number): void {
    writeFileSync(path, data);
    utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
  }

  private count(folder: string, bytes: number, mtimeMs: number): void {
    const f = this.truth.folders[folder]!;
    f.messages++;
    f.bytes += bytes;
    f.oldestMtimeMs = f.oldestMtimeMs === undefined ? mtimeMs : Math.min(f.oldestMtimeMs, mtimeMs);
  }

  private sized(queue: 'outgoing' | 'incoming', size: number): void {
    this.sizes[queue].set(size, (this.sizes[queue].get(size) ?? 0) + 1);
  }
}

function largest(sizes: Map<number, number>): number {
  let max = 0;
  for (const n of sizes.values()) max = Math.max(max, n);
  return max;
}

/** Whole seconds, so the modification times read back exactly on every file system. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** Writes a queue tree under mailDir (created if needed) and returns what it holds. */
export function writeQueue(mailDir: string, opts: QueueOptions): QueueTruth {
  const random = seededRandom(opts.seed);
  const now = seconds(opts.nowMs ?? Date.now());
  const w = new QueueWriter(mailDir, random, now);
  w.folder('_outgoing');
  w.folder('_incoming');
  w.clutter('_outgoing');
  const where = (): string => (random() < opts.retryFraction ? '_outgoing/retry' : '_outgoing');
  if (opts.retryFraction > 0) w.folder('_outgoing/retry');
  for (let i = 0; i < opts.legitimateMessages; i++) {
    w.outgoing(where(), w.pick(LEGIT_SENDERS), { subject: 'Facture', mtimeMs: now - seconds(random() * 2 * 3600_000) });
  }
  const spamSize = opts.spamSize ?? DEFAULT_SPAM_SIZE;
  for (let i = 0; i < opts.spamMessages; i++) {
    w.outgoing(where(), opts.spamSender, { size: spamSize, subject: 'Your parcel is waiting', mtimeMs: now - seconds(random() * 1800_000) });
  }
  for (let i = 0; i < (opts.oldMessages ?? 0); i++) {
    w.outgoing('_outgoing/priority_2', w.pick(LEGIT_SENDERS), { subject: 'Stuck', mtimeMs: now - 5 * 86400_000 - seconds(random() * 3600_000) });
  }
  for (let i = 0; i < opts.incomingPairs; i++) w.incomingPair('_incoming', now - seconds(random() * 60_000));
  w.truth.orphans['_incoming'] = { tmp: 0, dat: 0 };
  if (opts.incomingBakPairs > 0 || opts.incomingBakOrphans > 0) {
    w.truth.orphans['_incoming.bak'] = { tmp: 0, dat: 0 };
    for (let i = 0; i < opts.incomingBakPairs; i++) w.incomingPair('_incoming.bak', now - 3 * 3600_000 - seconds(random() * 3600_000));
    for (let i = 0; i < opts.incomingBakOrphans; i++) w.orphan('_incoming.bak', i % 2 === 0 ? 'tmp' : 'dat', now - 3 * 3600_000);
  }
  return w.finish();
}

/**
 * Adds n more copies of a spam run to a queue folder (default `_outgoing`), as
 * a live attack does. Returns the file names written.
 */
export function addSpam(
  mailDir: string,
  n: number,
  opts: { sender: string; size?: number; folder?: string; seed?: number; nowMs?: number },
): string[] {
  const w = new QueueWriter(mailDir, seededRandom(opts.seed ?? Date.now()), seconds(opts.nowMs ?? Date.now()));
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    names.push(
      w.outgoing(opts.folder ?? '_outgoing', opts.sender, {
        size: opts.size ?? DEFAULT_SPAM_SIZE,
        subject: 'Your parcel is waiting',
        mtimeMs: seconds(opts.nowMs ?? Date.now()),
      }),
    );
  }
  return names;
}

/** Body bytes beyond the 200 every message has, at most, in writeLargeQueue: one page per file. */
const SMALL_BODY = 1500;

export interface LargeQueueOptions {
  seed: number;
  /** Outgoing `.tmp` files per folder, e.g. { _outgoing: 100_000, '_outgoing/retry': 700_000 }. */
  folders: Record<string, number>;
  /** The stolen account whose copies (all of one size) make most of an incident's queue. */
  spamSender: string;
  /** Shares of the messages: the spam run, bounces (`<>`), one-off senders (each a distinct address); the rest is legitimate mail. */
  spamShare: number;
  bounceShare: number;
  oneOffShare: number;
  nowMs?: number;
}

/**
 * Writes an outgoing queue the size of a relay incident (the benchmark's
 * million files) and returns its ground truth. Folders are filled in turn;
 * each message's sender is drawn from the shares, its time from the last two
 * hours. Every message fits in one 4 KiB page (the spam copies are 2,817
 * bytes, the others under 2.5 KB), so a million of them stay in the page
 * cache of a modest machine and a benchmark measures the scan, not the disk.
 */
export function writeLargeQueue(mailDir: string, opts: LargeQueueOptions): QueueTruth {
  const random = seededRandom(opts.seed);
  const now = seconds(opts.nowMs ?? Date.now());
  const w = new QueueWriter(mailDir, random, now);
  w.folder('_outgoing');
  w.folder('_incoming');
  let oneOff = 0;
  for (const [folder, count] of Object.entries(opts.folders)) {
    for (let i = 0; i < count; i++) {
      const r = random();
      const mtimeMs = now - seconds(random() * 2 * 3600_000);
      if (r < opts.spamShare) {
        w.outgoing(folder, opts.spamSender, { size: DEFAULT_SPAM_SIZE, subject: 'Your parcel is waiting', mtimeMs });
      } else if (r < opts.spamShare + opts.bounceShare) {
        w.outgoing(folder, '', { subject: 'Undelivered Mail Returned to Sender', mtimeMs, maxBody: SMALL_BODY });
      } else if (r < opts.spamShare + opts.bounceShare + opts.oneOffShare) {
        w.outgoing(folder, `customer${++oneOff}@${w.pick(RECIPIENT_DOMAINES)}`, { subject: 'Re: order', mtimeMs, maxBody: SMALL_BODY });
      } else {
        w.outgoing(folder, w.pick(LEGIT_SENDERS), { subject: 'Facture', mtimeMs, maxBody: SMALL_BODY });
      }
    }
  }
  w.truth.orphans['_incoming'] = { tmp: 0, dat: 0 };
  return w.finish();
}
