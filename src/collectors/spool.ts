// The mail-queue gauges. The MTA's queue source keeps a summary up to date;
// collect() only reads its snapshot, so a scrape never waits for a scan.
import { Gauge } from 'prom-client';
import { queueFeature, type MailQueues } from '../pipeline/mailQueues.js';
import type { SpoolSnapshot } from '../spool/summary.js';
import type { Collector, ExporterRegistry } from './registry.js';

export const spoolCollector: Collector<MailQueues> = {
  feature: queueFeature,
  register(registry, current) {
    registerSpoolMetrics(registry, () => current()?.snapshot(), () => current()?.source.scanErrors());
  },
};

/** The spool gauges over any source of snapshots (the running feature, or a test's fixed one). */
export function registerSpoolMetrics(
  registry: ExporterRegistry,
  snapshot: () => SpoolSnapshot | undefined,
  scanErrors: () => number | undefined,
): void {
  const messages = new Gauge({
    name: 'mailrelay_spool_messages',
    help: 'Messages in the queue folder (IceWarp: .tmp files in outgoing folders, complete .tmp/.dat pairs in incoming folders; Postfix: the messages postqueue -j lists in that queue).',
    labelNames: ['queue', 'folder'],
    registers: [registry],
    collect() {
      messages.reset();
      for (const f of snapshot()?.folders ?? []) messages.set({ queue: f.queue, folder: f.folder }, f.messages);
    },
  });
  const bytes = new Gauge({
    name: 'mailrelay_spool_bytes',
    help: 'Total size in bytes of the messages in the queue folder (both files of an incoming pair).',
    labelNames: ['queue', 'folder'],
    registers: [registry],
    collect() {
      bytes.reset();
      for (const f of snapshot()?.folders ?? []) bytes.set({ queue: f.queue, folder: f.folder }, f.bytes);
    },
  });
  const oldest = new Gauge({
    name: 'mailrelay_spool_oldest_message_age_seconds',
    help: 'Seconds since the oldest message in the queue folder was queued (IceWarp: its file modification time; Postfix: its arrival time); 0 when it holds none.',
    labelNames: ['queue', 'folder'],
    registers: [registry],
    collect() {
      oldest.reset();
      for (const f of snapshot()?.folders ?? []) oldest.set({ queue: f.queue, folder: f.folder }, f.oldestAgeSeconds);
    },
  });
  const senderMessages = new Gauge({
    name: 'mailrelay_spool_sender_messages',
    help: 'Outgoing messages (all outgoing folders) by original sender, for the largest senders only (limits.spool_top_senders); __unknown__ when the file names none.',
    labelNames: ['sender'],
    registers: [registry],
    collect() {
      senderMessages.reset();
      for (const t of snapshot()?.topSenders ?? []) senderMessages.set({ sender: t.sender }, t.messages);
    },
  });
  const sameSize = new Gauge({
    name: 'mailrelay_spool_largest_same_size_messages',
    help: 'Messages in the largest group of one exact byte size in the queue (a spam run is many copies of one size).',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      sameSize.reset();
      const s = snapshot();
      if (!s) return;
      sameSize.set({ queue: 'outgoing' }, s.largestSameSize.outgoing);
      sameSize.set({ queue: 'incoming' }, s.largestSameSize.incoming);
    },
  });
  const orphans = new Gauge({
    name: 'mailrelay_spool_orphan_files',
    help: 'Files without their pair in an incoming folder: a .tmp without its .dat (kind tmp) or a .dat without its .tmp/.tm$ (kind dat).',
    labelNames: ['folder', 'kind'],
    registers: [registry],
    collect() {
      orphans.reset();
      for (const f of snapshot()?.folders ?? []) {
        if (!f.orphans) continue;
        orphans.set({ folder: f.folder, kind: 'tmp' }, f.orphans.tmp);
        orphans.set({ folder: f.folder, kind: 'dat' }, f.orphans.dat);
      }
    },
  });
  // Without labels, prom-client would print 0 for these while the feature is
  // off; as state metrics they print nothing then, like every labelled series.
  registry.addStateMetrics([
    {
      name: 'mailrelay_spool_senders',
      help: 'Distinct original senders of the messages in the outgoing queue.',
      type: 'gauge',
      collect(sample) {
        const s = snapshot();
        if (s) sample('', s.distinctSenders);
      },
    },
    {
      name: 'mailrelay_spool_senders_complete',
      help: "1 when every outgoing message's original sender has been read, so the sender gauges are complete; 0 while a scan is still reading heads (the sender gauges then count only the messages read so far).",
      type: 'gauge',
      collect(sample) {
        const s = snapshot();
        if (s) sample('', (s.pendingSenders ?? 0) === 0 ? 1 : 0);
      },
    },
    {
      name: 'mailrelay_spool_deferred_messages',
      help: 'Outgoing messages waiting for a retry after a failed delivery (IceWarp: _outgoing/retry and _outgoing/priority_*; Postfix: the deferred queue).',
      type: 'gauge',
      collect(sample) {
        const s = snapshot();
        if (s) sample('', s.folders.reduce((n, f) => (f.deferred ? n + f.messages : n), 0));
      },
    },
    {
      name: 'mailrelay_spool_scan_errors_total',
      help: 'Queue folders that could not be read at a scan, and queue files whose stat or head read failed (files that vanish are not errors).',
      type: 'counter',
      collect(sample) {
        const n = scanErrors();
        if (n !== undefined) sample('', n);
      },
    },
  ]);
}
