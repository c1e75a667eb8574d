import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExporterRegistry } from '../collectors/registry.js';
import { registerSpoolMetrics } from '../collectors/spool.js';
import { silentLogger } from '../logger.js';
import { listPostfixQueue, parsePostqueueLine, PostfixQueue, PostqueueError, PostqueueListing, type QueuedMessage } from './queue.js';

// `postqueue -j` of a real Postfix 3.7.11 here: the stolen account's spam
// deferred (no route out), a message put on hold with postsuper -h, a bounce.
const LISTING = `{"queue_name": "deferred", "queue_id": "BE240A361F3", "arrival_time": 1795989061, "message_size": 431, "forced_expire": false, "sender": "copier@domaine.com", "recipients": [{"address": "someone@gmail.com", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}]}
{"queue_name": "deferred", "queue_id": "A98D2A3620A", "arrival_time": 1795989066, "message_size": 451, "forced_expire": false, "sender": "info@domaine.com", "recipients": [{"address": "y@lmtp.example", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:12998: Connection refused"}]}
{"queue_name": "deferred", "queue_id": "A9ADAA361FE", "arrival_time": 1795989063, "message_size": 427, "forced_expire": false, "sender": "promo@orange.fr", "recipients": [{"address": "kevin.k@gmail.com", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}]}
{"queue_name": "deferred", "queue_id": "C962EA36205", "arrival_time": 1795989064, "message_size": 590, "forced_expire": false, "sender": "contact@domaine.com", "recipients": [{"address": "supplier@fournisseur-bois.fr", "delay_reason": "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}]}
{"queue_name": "deferred", "queue_id": "1739FA360B9", "arrival_time": 1795989061, "message_size": 454, "forced_expire": false, "sender": "willm.b@orange.fr", "recipients": [{"address": "linda77@hotmail.com", "delay_reason": "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}, {"address": "bmyerd@yahoo.com", "delay_reason": "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}]}
{"queue_name": "hold", "queue_id": "B7DE6A361EA", "arrival_time": 1795989054, "message_size": 439, "forced_expire": false, "sender": "marie.martin@domaine.com", "recipients": [{"address": "client@gmail.com", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}]}
{"queue_name": "deferred", "queue_id": "E1289A3605E", "arrival_time": 1795990043, "message_size": 249, "forced_expire": false, "sender": "MAILER-DAEMON", "recipients": [{"address": "someone@gmail.com", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}]}
`;
const NOW = 1795990100_000;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A stand-in for postqueue that prints what a real one printed: the queue source's process handling is what is tested here (the real postqueue runs in test/e2e/postfix.test.ts). */
function fakePostqueue(stdout: string, opts: { exit?: number; stderr?: string; /** hangs this long without a word */ sleep?: number } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailrelay-postqueue-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'listing'), stdout);
  const script = join(dir, 'postqueue');
  writeFileSync(
    script,
    `#!/bin/sh\n[ "$1" = -c ] && { echo "$2" > "${dir}/config"; shift 2; }\n[ "$1" = -j ] || exit 64\n${opts.sleep ? `exec sleep ${opts.sleep}\n` : ''}cat "${dir}/listing"\n${opts.stderr ? `echo '${opts.stderr}' >&2\n` : ''}exit ${opts.exit ?? 0}\n`,
  );
  chmodSync(script, 0o755);
  return script;
}

describe('parsePostqueueLine', () => {
  it('reads a real line', () => {
    expect(parsePostqueueLine(LISTING.split('\n')[4]!)).toEqual({
      queueName: 'deferred',
      queueId: '1739FA360B9',
      arrivalTime: 1795989061,
      size: 454,
      sender: 'willm.b@orange.fr',
    } satisfies QueuedMessage);
  });

  it('labels the null sender (MAILER-DAEMON in showq) as <>, and cleans senders as labels', () => {
    expect(parsePostqueueLine(LISTING.split('\n')[6]!)?.sender).toBe('<>');
    expect(parsePostqueueLine('{"queue_name": "active", "queue_id": "ABCDEF123", "arrival_time": 1, "message_size": 2, "forced_expire": false, "sender": "Ev\\u0000il\\"@X.org"}')?.sender).toBe('ev\ufffdil"@x.org');
  });

  it('needs only the head of a line: the fields before a huge recipients list', () => {
    const recipients = Array.from({ length: 5000 }, (_, i) => `{"address": "r${i}@example.net", "delay_reason": "x"}`).join(', ');
    const line = `{"queue_name": "deferred", "queue_id": "ABCDEF123", "arrival_time": 5, "message_size": 7, "forced_expire": false, "sender": "a@b.c", "recipients": [${recipients}]}`;
    expect(parsePostqueueLine(line.slice(0, 200))).toMatchObject({ queueId: 'ABCDEF123', sender: 'a@b.c' });
  });

  it.each(['', 'postqueue: fatal: Queue report unavailable - mail system is down', '{"queue_name": "deferred"}', '[1,2]', 'null'])('no message in %j', (line) => {
    expect(parsePostqueueLine(line)).toBeUndefined();
  });
});

describe('PostqueueListing', () => {
  it('maps Postfix queues to the spool labels: deferred waits for a retry, hold is the quarantine and no outgoing mail', () => {
    const listing = new PostqueueListing();
    for (const line of LISTING.trim().split('\n')) listing.add(parsePostqueueLine(line)!);
    const snap = listing.snapshot(NOW, 3);
    expect(snap.folders).toEqual([
      { folder: 'active', queue: 'outgoing', deferred: false, messages: 0, bytes: 0, oldestAgeSeconds: 0 },
      { folder: 'deferred', queue: 'outgoing', deferred: true, messages: 6, bytes: 431 + 451 + 427 + 590 + 454 + 249, oldestAgeSeconds: 1795990100 - 1795989061 },
      { folder: 'hold', queue: 'quarantine', deferred: false, messages: 1, bytes: 439, oldestAgeSeconds: 1795990100 - 1795989054 },
      { folder: 'incoming', queue: 'incoming', deferred: false, messages: 0, bytes: 0, oldestAgeSeconds: 0 },
      { folder: 'maildrop', queue: 'incoming', deferred: false, messages: 0, bytes: 0, oldestAgeSeconds: 0 },
    ]);
    expect(snap.distinctSenders).toBe(6);
    expect(snap.topSenders).toEqual([
      { sender: '<>', messages: 1 },
      { sender: 'contact@domaine.com', messages: 1 },
      { sender: 'copier@domaine.com', messages: 1 },
    ]);
    expect(snap.largestSameSize).toEqual({ outgoing: 1, incoming: 0 });
  });

  it('finds the spam run: one sender, one size', () => {
    const listing = new PostqueueListing();
    for (let i = 0; i < 300; i++) listing.add({ queueName: i % 3 ? 'deferred' : 'active', queueId: `A${i}`, arrivalTime: 100 + i, size: 4242, sender: 'willm.b@orange.fr' });
    listing.add({ queueName: 'incoming', queueId: 'B1', arrivalTime: 50, size: 4242, sender: 'x@y.z' });
    const snap = listing.snapshot(1000_000, 20);
    expect(snap.topSenders).toEqual([{ sender: 'willm.b@orange.fr', messages: 300 }]);
    expect(snap.largestSameSize).toEqual({ outgoing: 300, incoming: 1 });
  });
});

describe('listPostfixQueue', () => {
  it('passes the configuration directory and streams each message', async () => {
    const script = fakePostqueue(LISTING);
    const seen: string[] = [];
    const rejected = await listPostfixQueue({ postqueue: script, configDirectory: '/etc/postfix-out', timeoutMs: 10_000 }, (m) => seen.push(m.queueId));
    expect(seen).toHaveLength(7);
    expect(rejected).toBe(0);
    expect(execFileSync('cat', [join(script, '..', 'config')], { encoding: 'utf8' }).trim()).toBe('/etc/postfix-out');
  });

  it('reads a line of any length by its head', async () => {
    const recipients = Array.from({ length: 20_000 }, (_, i) => `{"address": "r${i}@example.net", "delay_reason": "connect to mx.example.net[192.0.2.1]:25: Connection timed out"}`).join(', ');
    const long = `{"queue_name": "deferred", "queue_id": "ABCDEF123", "arrival_time": 5, "message_size": 7, "forced_expire": false, "sender": "a@b.c", "recipients": [${recipients}]}`;
    expect(long.length).toBeGreaterThan(1_000_000);
    const seen: QueuedMessage[] = [];
    await listPostfixQueue({ postqueue: fakePostqueue(`${long}\n${LISTING}`), timeoutMs: 10_000 }, (m) => seen.push(m));
    expect(seen.map((m) => m.queueId)).toEqual(['ABCDEF123', ...LISTING.trim().split('\n').map((l) => JSON.parse(l).queue_id)]);
  });

  it('says what postqueue said when it fails', async () => {
    const script = fakePostqueue('', { exit: 69, stderr: 'postqueue: fatal: Queue report unavailable - mail system is down' });
    await expect(listPostfixQueue({ postqueue: script, timeoutMs: 10_000 }, () => undefined)).rejects.toThrow(
      new PostqueueError(`${script} -j: exit 69: postqueue: fatal: Queue report unavailable - mail system is down`),
    );
    await expect(listPostfixQueue({ postqueue: '/nonexistent/postqueue', timeoutMs: 10_000 }, () => undefined)).rejects.toThrow(/\/nonexistent\/postqueue -j: spawn .*ENOENT/);
  });

  it('kills a listing that does not finish in time', async () => {
    await expect(listPostfixQueue({ postqueue: fakePostqueue(LISTING, { sleep: 30 }), timeoutMs: 300 }, () => undefined)).rejects.toThrow(/no answer within 0.3 s; killed/);
  });
});

describe('PostfixQueue', () => {
  it('exports the spool gauges from a listing, and keeps the last listing when one fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-postqueue-'));
    dirs.push(dir);
    const script = fakePostqueue(LISTING);
    const q = new PostfixQueue({ postqueue: script, topSenders: 20, rescanIntervalMs: 300_000, log: silentLogger, now: () => NOW });
    try {
      await q.ready;
      const registry = new ExporterRegistry();
      registerSpoolMetrics(registry, () => q.snapshot(), () => q.scanErrors());
      const text = await registry.metrics();
      for (const series of [
        'mailrelay_spool_messages{queue="outgoing",folder="deferred"} 6',
        'mailrelay_spool_messages{queue="quarantine",folder="hold"} 1',
        'mailrelay_spool_messages{queue="incoming",folder="maildrop"} 0',
        'mailrelay_spool_deferred_messages 6',
        'mailrelay_spool_sender_messages{sender="willm.b@orange.fr"} 1',
        'mailrelay_spool_senders 6',
        'mailrelay_spool_oldest_message_age_seconds{queue="quarantine",folder="hold"} 1046',
        'mailrelay_spool_scan_errors_total 0',
      ]) {
        expect(text).toContain(`\n${series}\n`);
      }
      expect(text).not.toContain('marie.martin');
      expect(q.status()).toMatchObject({ success: true });
      expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');

      // Postfix stops: the listing fails, the gauges keep the last one and say so.
      writeFileSync(script, '#!/bin/sh\necho "postqueue: fatal: Queue report unavailable - mail system is down" >&2\nexit 69\n');
      await q.listNow();
      expect(q.status()).toMatchObject({ success: false });
      expect(q.scanErrors()).toBe(1);
      expect(q.snapshot().folders.find((f) => f.folder === 'deferred')?.messages).toBe(6);
    } finally {
      await q.stop();
    }
  });
});
