// The spool metrics as Prometheus reads them: a generated queue tree scanned
// for real and rendered through a real prom-client Registry, compared with a
// golden file that promtool checks.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { writeQueue } from '../demo/queue.js';
import { silentLogger } from '../logger.js';
import { MailQueues, queueFeature, queueSettings } from '../pipeline/mailQueues.js';
import { SpoolScanner } from '../spool/scanner.js';
import type { QueueLocation } from '../spool/source.js';
import { ExporterRegistry } from './registry.js';
import { registerSpoolMetrics, spoolCollector } from './spool.js';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const golden = fileURLToPath(new URL('./testdata/spool.metrics', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function goldenTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailrelay-spool-golden-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeQueue(dir, {
    seed: 2026,
    legitimateMessages: 25,
    spamMessages: 140,
    spamSender: 'willm.b@orange.fr',
    retryFraction: 0.5,
    incomingPairs: 3,
    incomingBakPairs: 6,
    incomingBakOrphans: 5,
    oldMessages: 2,
    nowMs: NOW,
  });
  // A sender name that needs escaping in the exposition format.
  writeFileSync(join(dir, '_outgoing', 'ODD.tmp'), 'Original Sender: <"we\\ird"@x.org>\r\n\r\nbody');
  return dir;
}

/** The queue feature over IceWarp's scanner, once its scan is complete, senders included. */
async function running(dir: string, topSenders = 20): Promise<MailQueues> {
  // IceWarp's queue at a fixed "now", so ages in the golden file do not move.
  let scanner: SpoolScanner | undefined;
  const queue: QueueLocation = {
    mta: 'icewarp',
    location: dir,
    kind: 'folder',
    key: 'icewarp.mail_directory',
    open: (o) => (scanner = new SpoolScanner({ ...o, mailDirectory: dir, now: () => NOW })),
  };
  const r = new MailQueues({ queue, topSenders, rescanIntervalSeconds: 300 }, silentLogger);
  cleanups.push(() => r.stop());
  await r.ready;
  await scanner!.idle();
  return r;
}

describe('spool collector', () => {
  it('renders the golden /metrics for a generated queue', async () => {
    const r = await running(goldenTree());
    const registry = new ExporterRegistry();
    spoolCollector.register(registry, () => r);
    const text = await registry.metrics();
    await expect(text).toMatchFileSnapshot(golden);
    // Spot checks that do not depend on the snapshot having been reviewed.
    expect(text).toContain('mailrelay_spool_sender_messages{sender="willm.b@orange.fr"} 140');
    expect(text).toContain('mailrelay_spool_sender_messages{sender="\\"we\\\\ird\\"@x.org"} 1');
    expect(text).toContain('mailrelay_spool_orphan_files{folder="_incoming.bak",kind="tmp"} 3');
    expect(text).toContain('mailrelay_spool_orphan_files{folder="_incoming.bak",kind="dat"} 2');
    expect(text).toContain('mailrelay_spool_messages{queue="outgoing",folder="_outgoing/priority_2"} 2');
    expect(text).toMatch(/^mailrelay_spool_largest_same_size_messages\{queue="outgoing"\} 14\d$/m);
    expect(text).toContain('mailrelay_spool_scan_errors_total 0');
    // The retry notion every MTA shares: IceWarp's retry and priority folders.
    const folderMessages = (folder: string) => Number(new RegExp(`^mailrelay_spool_messages\\{queue="outgoing",folder="${folder}"\\} (\\d+)$`, 'm').exec(text)![1]);
    expect(text).toContain(`\nmailrelay_spool_deferred_messages ${folderMessages('_outgoing/retry') + folderMessages('_outgoing/priority_2')}\n`);
    expect(text).toContain('mailrelay_spool_senders_complete 1');
  });

  it('says the sender gauges are incomplete while heads are still to read', async () => {
    const snap = (pendingSenders: number) => ({ folders: [], topSenders: [], distinctSenders: 0, largestSameSize: { outgoing: 0, incoming: 0 }, pendingSenders });
    let pending = 1200;
    const registry = new ExporterRegistry();
    registerSpoolMetrics(registry, () => snap(pending), () => 0);
    expect(await registry.metrics()).toContain('mailrelay_spool_senders_complete 0');
    pending = 0;
    expect(await registry.metrics()).toContain('mailrelay_spool_senders_complete 1');
  });

  it('passes promtool check metrics on the golden file', () => {
    // promtool prints lint findings and exits 1 on problems; the output must be empty.
    const out = execFileSync('promtool', ['check', 'metrics'], { input: readFileSync(golden), encoding: 'utf8' });
    expect(out).toBe('');
  });

  it('reports no queue series at all while the feature is off, not even the unlabelled ones', async () => {
    const registry = new ExporterRegistry();
    registerSpoolMetrics(registry, () => undefined, () => undefined);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE mailrelay_spool_senders gauge');
    expect(text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
  });

  it('reports its scan as the collector status, and fails on a missing mail directory', async () => {
    const ok = await running(goldenTree());
    expect(ok.status()).toMatchObject({ success: true });
    const missing = await running(join(tmpdir(), 'mailrelay-no-such-dir-' + process.pid));
    expect(missing.status()).toMatchObject({ success: false });
    const registry = new ExporterRegistry();
    spoolCollector.register(registry, () => missing);
    expect(await registry.metrics()).toContain('mailrelay_spool_scan_errors_total 1');
  });

  it('is enabled by icewarp.mail_directory and applies new limits in place', async () => {
    const dir = goldenTree();
    expect(queueSettings(loadConfig('icewarp: {log_directory: /x}\n'))).toBeUndefined();
    const settings = (yaml: string) => queueSettings(loadConfig(yaml))!;
    const first = settings(`icewarp: {mail_directory: "${dir}"}\nlimits: {spool_top_senders: 2}\nspool: {rescan_interval: 1m}\n`);
    expect(first).toMatchObject({ queue: { mta: 'icewarp', location: dir }, topSenders: 2, rescanIntervalSeconds: 60 });
    const r = queueFeature.start(first, silentLogger);
    cleanups.push(() => r.stop());
    await r.ready;
    // The senders are complete once the heads are read, after ready.
    await expect.poll(() => r.snapshot().pendingSenders).toBe(0);
    expect(r.snapshot().topSenders).toHaveLength(2);
    expect(r.apply(settings(`icewarp: {mail_directory: "${dir}"}\nlimits: {spool_top_senders: 4}\n`))).toBe(true);
    expect(r.snapshot().topSenders).toHaveLength(4);
    expect(r.apply(settings(`icewarp: {mail_directory: "${dir}/other"}\n`))).toBe(false);
    expect(r.snapshot().topSenders[0]).toEqual({ sender: 'willm.b@orange.fr', messages: 140 });
    expect(r.location).toMatchObject({ mta: 'icewarp', location: dir, kind: 'folder' });
  });

  it('reports _outgoing subfolders as they exist', async () => {
    const dir = goldenTree();
    mkdirSync(join(dir, '_outgoing', 'priority_5'));
    const r = await running(dir);
    const folders = r.snapshot().folders.map((f) => f.folder);
    expect(folders).toEqual(['_incoming', '_incoming.bak', '_outgoing', '_outgoing/priority_2', '_outgoing/priority_5', '_outgoing/retry']);
  });
});
