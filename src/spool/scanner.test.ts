// The scanner over real queue trees in a temp folder: exact numbers after a
// full scan, live changes through real file events, and the faults a real
// queue has. Faults a root user cannot cause (an unreadable folder) are
// injected through the SpoolFs layer around the real calls.
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addSpam, writeQueue, type QueueOptions, type QueueTruth } from '../demo/queue.js';
import { UNKNOWN_SENDER } from './layout.js';
import { nodeSpoolFs, NULL_SENDER, SpoolScanner, type SpoolFs } from './scanner.js';
import type { SpoolSnapshot } from './summary.js';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const OPTS: QueueOptions = {
  seed: 1,
  legitimateMessages: 60,
  spamMessages: 300,
  spamSender: 'willm.b@orange.fr',
  retryFraction: 0.4,
  incomingPairs: 9,
  incomingBakPairs: 5,
  incomingBakOrphans: 7,
  oldMessages: 2,
  nowMs: NOW,
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mailrelay-spool-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function scanner(mailDirectory: string, opts: { fs?: SpoolFs; topSenders?: number; now?: () => number; workers?: number } = {}): SpoolScanner {
  const s = new SpoolScanner({
    mailDirectory,
    topSenders: opts.topSenders ?? 20,
    rescanIntervalMs: 0,
    eventDelayMs: 20,
    now: opts.now ?? (() => NOW),
    fs: opts.fs,
    workers: opts.workers,
  });
  cleanups.push(() => s.stop());
  return s;
}

/** What the snapshot must say, from the ground truth of the written tree. */
function expected(truth: QueueTruth, topSenders = 20): SpoolSnapshot {
  const folders = Object.entries(truth.folders)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([folder, f]) => {
      const queue = folder.startsWith('_outgoing') ? ('outgoing' as const) : ('incoming' as const);
      return {
        folder,
        queue,
        deferred: folder === '_outgoing/retry' || folder.startsWith('_outgoing/priority_'),
        messages: f.messages,
        bytes: f.bytes,
        oldestAgeSeconds: f.oldestMtimeMs === undefined ? 0 : (NOW - f.oldestMtimeMs) / 1000,
        ...(queue === 'incoming' ? { orphans: truth.orphans[folder] ?? { tmp: 0, dat: 0 } } : {}),
      };
    });
  const senders = Object.entries(truth.senders).map(([sender, messages]) => ({ sender, messages }));
  senders.sort((a, b) => b.messages - a.messages || (a.sender < b.sender ? -1 : 1));
  return {
    folders,
    topSenders: senders.slice(0, topSenders),
    distinctSenders: senders.length,
    largestSameSize: truth.largestSameSize,
    pendingSenders: 0,
  };
}

/** Polls until the snapshot satisfies check (file events arrive asynchronously). */
async function until(s: SpoolScanner, check: (snap: SpoolSnapshot) => boolean, what: string): Promise<SpoolSnapshot> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const snap = s.snapshot();
    if (check(snap)) return snap;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(snap.folders)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const folder = (snap: SpoolSnapshot, name: string) => snap.folders.find((f) => f.folder === name);

/** A full scan, both phases: the listing and lstat, then the heads it left to read. */
async function fullScan(s: SpoolScanner): Promise<void> {
  await s.fullScan();
  await s.whenSendersComplete();
}

describe('SpoolScanner full scan', () => {
  it('reports exactly what the tree holds', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    const s = scanner(dir);
    await s.idle();
    expect(s.snapshot()).toEqual(expected(truth));
    expect(s.status()).toMatchObject({ success: true });
    expect(s.scanErrors()).toBe(0);
  });

  it('keeps only the largest senders', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    const s = scanner(dir, { topSenders: 3 });
    await s.idle();
    expect(s.snapshot()).toEqual(expected(truth, 3));
    s.setTopSenders(1);
    expect(s.snapshot().topSenders).toEqual([{ sender: 'willm.b@orange.fr', messages: 300 }]);
  });

  it('reports an empty _outgoing and _incoming when they are missing, and no _incoming.bak', async () => {
    const dir = tempDir();
    const s = scanner(dir);
    await s.idle();
    expect(s.snapshot().folders).toEqual([
      { folder: '_incoming', queue: 'incoming', deferred: false, messages: 0, bytes: 0, oldestAgeSeconds: 0, orphans: { tmp: 0, dat: 0 } },
      { folder: '_outgoing', queue: 'outgoing', deferred: false, messages: 0, bytes: 0, oldestAgeSeconds: 0 },
    ]);
    expect(s.status()).toMatchObject({ success: true });
  });

  it('fails, reporting nothing, when the mail directory does not exist', async () => {
    const dir = join(tempDir(), 'nope');
    const s = scanner(dir);
    await s.idle();
    expect(s.snapshot().folders).toEqual([]);
    expect(s.status()).toMatchObject({ success: false });
    expect(s.scanErrors()).toBe(1);
  });

  it('counts senders from the head only, in any accepted spelling, and __unknown__ without one', async () => {
    const dir = tempDir();
    const out = join(dir, '_outgoing');
    mkdirSync(out);
    writeFileSync(join(out, 'a.tmp'), 'original-sender willm.b@orange.fr\r\nSubject: x\r\n\r\nbody');
    writeFileSync(join(out, 'b.tmp'), 'ORIGINAL SENDER:<WILLM.B@Orange.FR>\nSubject: x\n\nbody');
    writeFileSync(join(out, 'c.tmp'), 'Subject: no sender line\r\n\r\nbody');
    writeFileSync(join(out, 'd.tmp'), 'Original Sender: <>\r\n\r\nbounce');
    // The sender line beyond the first 4 KiB is not read.
    writeFileSync(join(out, 'e.tmp'), `X-Pad: ${'p'.repeat(5000)}\r\nOriginal Sender: <late@x.org>\r\n`);
    writeFileSync(join(out, 'f.tmp'), '');
    const s = scanner(dir);
    await s.idle();
    expect(s.snapshot().topSenders).toEqual([
      { sender: UNKNOWN_SENDER, messages: 3 },
      { sender: 'willm.b@orange.fr', messages: 2 },
      { sender: NULL_SENDER, messages: 1 },
    ]);
  });

  it('skips non-message files and symlinks, and counts names with spaces and non-ASCII characters', async () => {
    const dir = tempDir();
    const outside = tempDir();
    const out = join(dir, '_outgoing');
    mkdirSync(out);
    mkdirSync(join(dir, '_incoming'));
    const msg = 'Original Sender: <a@b.c>\r\n\r\nhello';
    writeFileSync(join(out, 'with space.tmp'), msg);
    writeFileSync(join(out, 'café ünïcode 日本.tmp'), msg);
    writeFileSync(join(out, 'desktop.ini'), '[x]');
    writeFileSync(join(out, 'x.tm$'), msg);
    writeFileSync(join(out, 'lock'), '');
    // Symlinks to files and folders outside the mail directory: never followed.
    writeFileSync(join(outside, 'big.tmp'), msg.repeat(100));
    mkdirSync(join(outside, 'elsewhere'));
    writeFileSync(join(outside, 'elsewhere', 'm.tmp'), msg);
    writeFileSync(join(outside, 'elsewhere', 'm.dat'), 'x');
    symlinkSync(join(outside, 'big.tmp'), join(out, 'link.tmp'));
    symlinkSync(join(outside, 'elsewhere'), join(out, 'priority_9'));
    symlinkSync(join(outside, 'elsewhere'), join(dir, '_incoming.bak'));
    const s = scanner(dir);
    await s.idle();
    const snap = s.snapshot();
    expect(snap.folders.map((f) => f.folder)).toEqual(['_incoming', '_outgoing']);
    expect(folder(snap, '_outgoing')).toMatchObject({ messages: 2, bytes: 2 * Buffer.byteLength(msg) });
    expect(snap.topSenders).toEqual([{ sender: 'a@b.c', messages: 2 }]);
  });

  it('counts files whose names are not valid UTF-8 (Latin-1 from a Windows copy), live too', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, '_outgoing'));
    mkdirSync(join(dir, '_incoming'));
    const latin1 = (name: string) => Buffer.from(name, 'latin1');
    const bytes = (p: string, name: string) => Buffer.concat([Buffer.from(p + '/'), latin1(name)]);
    writeFileSync(bytes(join(dir, '_outgoing'), 'caf\u00e9.tmp'), 'Original Sender: <a@b.c>\r\n');
    writeFileSync(bytes(join(dir, '_incoming'), 'r\u00e9ponse.tmp'), 'x');
    writeFileSync(bytes(join(dir, '_incoming'), 'r\u00e9ponse.dat'), 'yy');
    mkdirSync(bytes(join(dir, '_outgoing'), 'priorit\u00e9'));
    const s = scanner(dir);
    await s.idle();
    expect(s.snapshot().folders).toEqual([
      { folder: '_incoming', queue: 'incoming', deferred: false, messages: 1, bytes: 3, oldestAgeSeconds: 0, orphans: { tmp: 0, dat: 0 } },
      expect.objectContaining({ folder: '_outgoing', messages: 1 }),
    ]);
    writeFileSync(bytes(join(dir, '_outgoing'), 'd\u00e9j\u00e0.tmp'), 'Original Sender: <a@b.c>\r\n');
    await until(s, (x) => folder(x, '_outgoing')!.messages === 2, 'the Latin-1 named file');
    unlinkSync(bytes(join(dir, '_outgoing'), 'caf\u00e9.tmp'));
    await until(s, (x) => folder(x, '_outgoing')!.messages === 1, 'its removal');
  });

  it('works where directory entries carry no type (some network file systems)', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    const outside = tempDir();
    writeFileSync(join(outside, 'x.tmp'), 'Original Sender: <a@b.c>\r\n');
    symlinkSync(join(outside, 'x.tmp'), join(dir, '_outgoing', 'link.tmp'));
    symlinkSync(outside, join(dir, '_outgoing', 'priority_9'));
    const untyped: SpoolFs = {
      ...nodeSpoolFs,
      opendir(p) {
        const real = nodeSpoolFs.opendir(p);
        return {
          readSync() {
            const d = real.readSync();
            return d && { name: d.name, isFile: () => false, isDirectory: () => false, isSymbolicLink: () => false };
          },
          closeSync: () => real.closeSync(),
        };
      },
    };
    const s = scanner(dir, { fs: untyped });
    await s.idle();
    expect(s.snapshot()).toEqual(expected(truth));
  });

  it('reads each head once: a rescan of an unchanged queue reads no file', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    let reads = 0;
    const counting: SpoolFs = { ...nodeSpoolFs, readHead: (p, b) => (reads++, nodeSpoolFs.readHead(p, b)) };
    const s = scanner(dir, { fs: counting });
    await s.idle();
    const outgoing = Object.values(truth.senders).reduce((a, b) => a + b, 0);
    expect(reads).toBe(outgoing);
    await fullScan(s);
    expect(reads).toBe(outgoing);
    // A changed file is read again.
    const [name] = addSpam(dir, 1, { sender: 'new@x.org', seed: 5, nowMs: NOW });
    await fullScan(s);
    expect(reads).toBe(outgoing + 1);
    expect(s.snapshot().topSenders).toContainEqual({ sender: 'new@x.org', messages: 1 });
    expect(name).toMatch(/\.tmp$/);
  });
});

describe('SpoolScanner faults', () => {
  it('reports the rest when one folder cannot be read, and recovers when it can', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    let denied = true;
    const faulty: SpoolFs = {
      ...nodeSpoolFs,
      opendir: (p) => {
        if (denied && p.endsWith(join('_outgoing', 'retry'))) {
          throw Object.assign(new Error(`EACCES: permission denied, opendir '${p}'`), { code: 'EACCES' });
        }
        return nodeSpoolFs.opendir(p);
      },
    };
    const s = scanner(dir, { fs: faulty });
    await s.idle();
    const full = expected(truth);
    const snap = s.snapshot();
    expect(s.status()).toMatchObject({ success: false });
    expect(s.scanErrors()).toBe(1);
    expect(snap.folders).toEqual(full.folders.filter((f) => f.folder !== '_outgoing/retry'));
    expect(spamIn(dir, '_outgoing/retry')).toBeGreaterThan(0);
    expect(snap.topSenders.find((t) => t.sender === 'willm.b@orange.fr')!.messages).toBe(300 - spamIn(dir, '_outgoing/retry'));
    denied = false;
    await fullScan(s);
    expect(s.status()).toMatchObject({ success: true });
    expect(s.snapshot()).toEqual(full);
    expect(s.scanErrors()).toBe(1);
  });

  it('does not count files that vanish during a scan, nor call them errors', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    const victims = new Set<string>();
    const vanish = (p: string | Buffer): void => {
      if (!existsSync(p)) return; // (the file events of a vanished file make the scanner look at it again)
      unlinkSync(p);
      victims.add(String(p));
    };
    let stats = 0;
    let reads = 0;
    const vanishing: SpoolFs = {
      ...nodeSpoolFs,
      // Every 10th message disappears between the listing and its stat; every 10th+5 between the stat and the head read.
      lstat: (p) => {
        if (String(p).endsWith('.tmp') && stats++ % 10 === 0 && String(p).includes(`_outgoing${'/'}`)) vanish(p);
        return nodeSpoolFs.lstat(p);
      },
      readHead: (p, b) => {
        if (reads++ % 10 === 5) vanish(p);
        return nodeSpoolFs.readHead(p, b);
      },
    };
    const s = scanner(dir, { fs: vanishing });
    await s.idle();
    expect(victims.size).toBeGreaterThan(10);
    const outgoing = s.snapshot().folders.filter((f) => f.queue === 'outgoing').reduce((n, f) => n + f.messages, 0);
    const written = Object.values(truth.senders).reduce((a, b) => a + b, 0);
    expect(outgoing).toBe(written - victims.size);
    expect(s.scanErrors()).toBe(0);
    expect(s.status()).toMatchObject({ success: true });
  });

  it('a full rescan heals changes whose events were missed', async () => {
    const dir = tempDir();
    writeQueue(dir, OPTS);
    const deaf: SpoolFs = { ...nodeSpoolFs, watch: (p) => nodeSpoolFs.watch(p, () => undefined) };
    const s = scanner(dir, { fs: deaf });
    await s.idle();
    rmSync(join(dir, '_outgoing', 'retry'), { recursive: true });
    addSpam(dir, 4, { sender: 'late@x.org', seed: 9, nowMs: NOW });
    const truth = writeQueue(tempDir(), OPTS); // the same seed: the same tree, to recompute the expectation
    await fullScan(s);
    const snap = s.snapshot();
    expect(folder(snap, '_outgoing/retry')).toBeUndefined();
    expect(folder(snap, '_outgoing')!.messages).toBe(truth.folders['_outgoing']!.messages + 4);
    expect(snap.topSenders).toContainEqual({ sender: 'late@x.org', messages: 4 });
  });
});

describe('SpoolScanner rescan of folders whose directory did not change', () => {
  /** Every queue folder under dir (the mail directory's own are not scanned). */
  function queueFolders(dir: string): string[] {
    const out = ['_outgoing', '_incoming', '_incoming.bak'].filter((f) => existsSync(join(dir, f)));
    for (const d of readdirSync(join(dir, '_outgoing'), { withFileTypes: true })) if (d.isDirectory()) out.push(`_outgoing/${d.name}`);
    return out;
  }

  /** Sets a folder's mtime `ageMs` before the real clock (a queue last changed that long ago). */
  function stamp(dir: string, folder: string, ageMs: number): void {
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(join(dir, folder), t, t);
  }

  /** The real calls, counting listings, with file events ignored: only the rescan can see a change. */
  function countingDeaf(): { fs: SpoolFs; listed: string[] } {
    const listed: string[] = [];
    const fs: SpoolFs = {
      ...nodeSpoolFs,
      opendir: (p) => (listed.push(p), nodeSpoolFs.opendir(p)),
      watch: (p) => nodeSpoolFs.watch(p, () => undefined),
    };
    return { fs, listed };
  }

  const outgoingOn = (dir: string, f: string) => readdirSync(join(dir, f)).filter((n) => n.endsWith('.tmp')).length;

  it('does not list a folder unchanged since its last listing, and reports the same', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    const folders = queueFolders(dir);
    for (const f of folders) stamp(dir, f, 60_000);
    const { fs, listed } = countingDeaf();
    const s = scanner(dir, { fs });
    await s.idle();
    expect(listed.length).toBe(folders.length);
    expect(s.folderPasses()).toEqual({ listed: folders.length, unchanged: 0 });
    await fullScan(s);
    await fullScan(s);
    expect(listed.length).toBe(folders.length);
    expect(s.folderPasses()).toEqual({ listed: folders.length, unchanged: 2 * folders.length });
    expect(s.snapshot()).toEqual(expected(truth));
    expect(s.scanErrors()).toBe(0);
  });

  it('lists again a folder where a file was added or removed, and finds the change', async () => {
    const dir = tempDir();
    writeQueue(dir, OPTS);
    for (const f of queueFolders(dir)) stamp(dir, f, 60_000);
    const retry = join(dir, '_outgoing', 'retry');
    const longAgo = Math.floor(Date.now() / 1000) - 60;
    utimesSync(retry, longAgo, longAgo);
    const { fs, listed } = countingDeaf();
    const s = scanner(dir, { fs });
    await s.idle();
    const before = s.snapshot();
    listed.length = 0;
    addSpam(dir, 3, { sender: 'late@x.org', seed: 11, nowMs: NOW });
    const gone = readdirSync(retry).find((n) => n.endsWith('.tmp'))!;
    unlinkSync(join(retry, gone));
    // Changes made well before the rescan (out of the racy margin): _outgoing's mtime moved; retry's was set back
    // as it was (a restore tool), and only its ctime tells.
    stamp(dir, '_outgoing', 30_000);
    utimesSync(retry, longAgo, longAgo);
    await fullScan(s);
    expect(listed.sort()).toEqual([join(dir, '_outgoing'), retry]);
    const snap = s.snapshot();
    expect(folder(snap, '_outgoing')!.messages).toBe(folder(before, '_outgoing')!.messages + 3);
    expect(folder(snap, '_outgoing')!.messages).toBe(outgoingOn(dir, '_outgoing'));
    expect(folder(snap, '_outgoing/retry')!.messages).toBe(folder(before, '_outgoing/retry')!.messages - 1);
    expect(folder(snap, '_outgoing/retry')!.messages).toBe(outgoingOn(dir, '_outgoing/retry'));
    expect(snap.topSenders).toContainEqual({ sender: 'late@x.org', messages: 3 });
  });

  it('lists again a folder whose mtime is within the racy margin of its last listing', async () => {
    const dir = tempDir();
    writeQueue(dir, OPTS);
    for (const f of queueFolders(dir)) stamp(dir, f, 60_000);
    // Stamped a second before the listing: an entry made right after it could leave a coarse stamp as it is.
    stamp(dir, '_outgoing/retry', 1000);
    const { fs, listed } = countingDeaf();
    const s = scanner(dir, { fs });
    await s.idle();
    listed.length = 0;
    await fullScan(s);
    expect(listed).toEqual([join(dir, '_outgoing', 'retry')]);
    // Once the stamp is older than the margin before a listing, that listing stands.
    stamp(dir, '_outgoing/retry', 10_000);
    await fullScan(s);
    listed.length = 0;
    await fullScan(s);
    expect(listed).toEqual([]);
  });

  it('finds a file added within the racy margin on a file system whose stamp did not move', async () => {
    const dir = tempDir();
    writeQueue(dir, OPTS);
    for (const f of queueFolders(dir)) stamp(dir, f, 60_000);
    // A coarse file system: _outgoing's stamp stays at one value, a second before the first listing, whatever is made in it.
    const outgoing = join(dir, '_outgoing');
    const frozen = Date.now() - 1000;
    const { fs: counting, listed } = countingDeaf();
    const coarse: SpoolFs = {
      ...counting,
      lstat: (p) => {
        const st = nodeSpoolFs.lstat(p);
        if (st && p === outgoing) st.mtimeMs = st.ctimeMs = frozen;
        return st;
      },
    };
    const s = scanner(dir, { fs: coarse });
    await s.idle();
    const messages = folder(s.snapshot(), '_outgoing')!.messages;
    addSpam(dir, 2, { sender: 'racy@x.org', seed: 12, nowMs: NOW });
    listed.length = 0;
    await fullScan(s);
    expect(listed).toEqual([outgoing]);
    expect(folder(s.snapshot(), '_outgoing')!.messages).toBe(messages + 2);
    expect(s.snapshot().topSenders).toContainEqual({ sender: 'racy@x.org', messages: 2 });
  });

  it('re-reads a file rewritten in place with a new size, without listing its folder', async () => {
    const dir = tempDir();
    writeQueue(dir, OPTS);
    for (const f of queueFolders(dir)) stamp(dir, f, 60_000);
    const { fs, listed } = countingDeaf();
    const s = scanner(dir, { fs });
    await s.idle();
    const before = s.snapshot();
    // The new content: a message of another sender and size, written over a spam copy (the same inode, no entry made).
    const scratch = tempDir();
    const [made] = addSpam(scratch, 1, { sender: 'rewritten@x.org', size: 5000, seed: 13, nowMs: NOW });
    const content = readFileSync(join(scratch, '_outgoing', made!));
    const victim = readdirSync(join(dir, '_outgoing')).find(
      (n) => n.endsWith('.tmp') && readFileSync(join(dir, '_outgoing', n), 'latin1').startsWith('Original Sender: <willm.b@orange.fr>'),
    )!;
    const oldSize = readFileSync(join(dir, '_outgoing', victim)).length;
    stamp(dir, '_outgoing', 60_000); // (the scratch write does not touch it; this keeps the test about the file alone)
    await fullScan(s);
    listed.length = 0;
    writeFileSync(join(dir, '_outgoing', victim), content);
    await fullScan(s);
    expect(listed).toEqual([]);
    const snap = s.snapshot();
    expect(folder(snap, '_outgoing')!.messages).toBe(folder(before, '_outgoing')!.messages);
    expect(folder(snap, '_outgoing')!.bytes).toBe(folder(before, '_outgoing')!.bytes - oldSize + content.length);
    expect(snap.topSenders).toContainEqual({ sender: 'rewritten@x.org', messages: 1 });
    const spam = (x: SpoolSnapshot) => x.topSenders.find((t) => t.sender === 'willm.b@orange.fr')!.messages;
    expect(spam(snap)).toBe(spam(before) - 1);
  });
});

describe('SpoolScanner two phases', () => {
  /** A queue large enough that its heads are read by the worker threads, with the senders a queue has. */
  function largeQueue(dir: string): QueueTruth {
    // 8,600 messages, about 5,000 in `_outgoing`: more than a worker batch (4,096) in one folder,
    // so the first scan's lstats go to the workers as well as to the main thread.
    const truth = writeQueue(dir, { ...OPTS, legitimateMessages: 600, spamMessages: 8000 });
    const out = join(dir, '_outgoing');
    const add = (name: string | Buffer, text: string, sender: string) => {
      writeFileSync(Buffer.isBuffer(name) ? Buffer.concat([Buffer.from(out + '/'), name]) : join(out, name), text);
      truth.folders['_outgoing']!.messages++;
      truth.folders['_outgoing']!.bytes += Buffer.byteLength(text);
      truth.senders[sender] = (truth.senders[sender] ?? 0) + 1;
    };
    add('bounce.tmp', 'Original Sender: <>\r\n\r\nbounce', NULL_SENDER);
    add('none.tmp', 'Subject: no sender line\r\n\r\nbody', UNKNOWN_SENDER);
    add(Buffer.from('caf\u00e9-latin1.tmp', 'latin1'), 'Original Sender: <Jean.Dupont@Domaine.com>\r\n\r\nbody', 'jean.dupont@domaine.com');
    return truth;
  }

  it('is ready with exact depth, bytes and ages before the senders are read, which then fill in without ever overshooting', async () => {
    const dir = tempDir();
    const truth = largeQueue(dir);
    const s = scanner(dir, { topSenders: 100 });
    await s.ready;
    const full = expected(truth, 100);
    const outgoing = full.folders.filter((f) => f.queue === 'outgoing').reduce((n, f) => n + f.messages, 0);
    let partial = 0;
    for (;;) {
      const snap = s.snapshot();
      const pending = snap.pendingSenders!;
      expect(snap.folders).toEqual(full.folders);
      expect(snap.largestSameSize).toEqual(full.largestSameSize);
      // Every message is either pending or counted under its one sender, and no sender has more than it should.
      expect(pending + snap.topSenders.reduce((n, t) => n + t.messages, 0)).toBe(outgoing);
      for (const t of snap.topSenders) expect(t.messages).toBeLessThanOrEqual(truth.senders[t.sender === NULL_SENDER ? '' : t.sender] ?? truth.senders[t.sender]!);
      if (pending === 0) break;
      partial++;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(partial).toBeGreaterThan(0);
    expect(s.sendersComplete()).toBe(true);
    expect(s.snapshot()).toEqual(full);
    expect(s.scanErrors()).toBe(0);
  });

  it('reads heads on worker threads as exactly as on the main thread', async () => {
    const dir = tempDir();
    const truth = largeQueue(dir);
    const [threads, inline] = [scanner(dir, { topSenders: 100 }), scanner(dir, { topSenders: 100, workers: 0 })];
    await Promise.all([threads.idle(), inline.idle()]);
    expect(threads.snapshot()).toEqual(expected(truth, 100));
    expect(inline.snapshot()).toEqual(threads.snapshot());
  });

  it('between the phases, takes a file that vanished, became a FIFO or was rewritten for what it is now', async () => {
    const dir = tempDir();
    const truth = largeQueue(dir);
    const out = join(dir, '_outgoing');
    const names = readdirSync(out).filter((n) => n.endsWith('.tmp') && n.length > 12).slice(0, 3);
    const [gone, fifo, rewritten] = names.map((n) => join(out, n)) as [string, string, string];
    const senderOf = (p: string) => /Original Sender: <([^>]*)>/.exec(readFileSync(p, 'latin1'))![1]!;
    const done = new Set<string>();
    let afterStat: string | undefined;
    const changing: SpoolFs = {
      ...nodeSpoolFs,
      lstat(p) {
        // Each change is made at the next lstat after the victim's own, so the victim was stat'ed as it was.
        if (afterStat && !done.has(afterStat)) {
          const victim = afterStat;
          done.add(victim);
          const sender = senderOf(victim);
          truth.senders[sender]!--;
          if (victim === gone) unlinkSync(victim);
          if (victim === fifo) (unlinkSync(victim), execFileSync('mkfifo', [victim]));
          if (victim === rewritten) {
            writeFileSync(victim, 'Original Sender: <rewritten@x.org>\r\n\r\nlonger body than before, and another sender');
            truth.senders['rewritten@x.org'] = 1;
          }
        }
        afterStat = [gone, fifo, rewritten].includes(String(p)) ? String(p) : undefined;
        return nodeSpoolFs.lstat(p);
      },
    };
    const s = scanner(dir, { fs: changing, topSenders: 100 });
    await s.idle();
    expect(done.size).toBe(3);
    // Their file events bring depth and bytes in line too.
    await until(s, (x) => folder(x, '_outgoing')!.messages === truth.folders['_outgoing']!.messages - 2, 'the vanished and FIFO files to go');
    await s.idle();
    const snap = s.snapshot();
    const senders = Object.entries(truth.senders).filter(([, n]) => n > 0).map(([sender, messages]) => ({ sender: sender || NULL_SENDER, messages }));
    senders.sort((a, b) => b.messages - a.messages || (a.sender < b.sender ? -1 : 1));
    expect(snap.topSenders).toEqual(senders);
    expect(snap.pendingSenders).toBe(0);
    expect(s.scanErrors()).toBe(0);
  });
});

describe('SpoolScanner and files swapped for something else', () => {
  it('never blocks on a FIFO swapped in for a message between its lstat and its open', async () => {
    const dir = tempDir();
    const out = join(dir, '_outgoing');
    mkdirSync(out);
    writeFileSync(join(out, 'a.tmp'), 'Original Sender: <a@b.c>\r\n\r\nbody');
    writeFileSync(join(out, 'swapped.tmp'), 'Original Sender: <evil@x.org>\r\n\r\nbody');
    const swapped = join(out, 'swapped.tmp');
    let swaps = 0;
    const swapping: SpoolFs = {
      ...nodeSpoolFs,
      lstat(p) {
        const st = nodeSpoolFs.lstat(p);
        if (String(p) === swapped && st?.isFile()) {
          // The lstat saw a message; by the open, a FIFO stands in its place.
          unlinkSync(swapped);
          execFileSync('mkfifo', [swapped]);
          swaps++;
        }
        return st;
      },
    };
    // A writer that opens the FIFO 2 s later: a blocking open would wait for it, and stall the event loop that long.
    const writer = spawn('sh', ['-c', `sleep 2; exec 3> '${swapped}'`], { stdio: 'ignore' });
    cleanups.push(() => void writer.kill('SIGKILL'));
    let longestStallMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      longestStallMs = Math.max(longestStallMs, performance.now() - last);
      last = performance.now();
    }, 10);
    cleanups.push(() => clearInterval(ticker));
    const s = scanner(dir, { fs: swapping });
    await s.idle();
    await new Promise((r) => setTimeout(r, 50));
    expect(swaps).toBe(1);
    expect(longestStallMs).toBeLessThan(1000);
    // The FIFO is no message; the scan goes on with the rest, and it is not a read error.
    expect(folder(s.snapshot(), '_outgoing')).toMatchObject({ messages: 1 });
    expect(s.snapshot().topSenders).toEqual([{ sender: 'a@b.c', messages: 1 }]);
    expect(s.scanErrors()).toBe(0);
  });
});

/** Messages of the spam sender in one folder, recounted from the files. */
function spamIn(dir: string, f: string): number {
  return readdirSync(join(dir, f)).filter(
    (n) => n.endsWith('.tmp') && readFileSync(join(dir, f, n), 'latin1').startsWith('Original Sender: <willm.b@orange.fr>'),
  ).length;
}

describe('SpoolScanner live', () => {
  it('follows new, removed and moved messages through file events', async () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    const s = scanner(dir);
    await s.idle();
    const before = folder(s.snapshot(), '_outgoing')!.messages;
    const names = addSpam(dir, 25, { sender: 'live@evil.test', size: 5000, seed: 11, nowMs: NOW });
    let snap = await until(s, (x) => folder(x, '_outgoing')!.messages === before + 25, '25 new messages');
    expect(snap.topSenders).toContainEqual({ sender: 'live@evil.test', messages: 25 });
    expect(snap.largestSameSize.outgoing).toBe(truth.largestSameSize.outgoing);

    // Move 10 to retry (the sender is known without reading the head again), delete 5.
    const retryBefore = folder(snap, '_outgoing/retry')!.messages;
    for (const n of names.slice(0, 10)) renameSync(join(dir, '_outgoing', n), join(dir, '_outgoing', 'retry', n));
    for (const n of names.slice(10, 15)) unlinkSync(join(dir, '_outgoing', n));
    snap = await until(
      s,
      (x) => folder(x, '_outgoing/retry')!.messages === retryBefore + 10 && folder(x, '_outgoing')!.messages === before + 10,
      'the moves and deletions',
    );
    expect(snap.topSenders).toContainEqual({ sender: 'live@evil.test', messages: 20 });
  });

  it('notices queue folders that appear, vanish and are replaced', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, '_outgoing'));
    const s = scanner(dir);
    await s.idle();
    expect(folder(s.snapshot(), '_incoming.bak')).toBeUndefined();

    // An admin renames _incoming after an overload; IceWarp makes a new one.
    writeQueue(dir, { ...OPTS, legitimateMessages: 0, spamMessages: 0, retryFraction: 0, oldMessages: 0, incomingBakPairs: 0, incomingBakOrphans: 0 });
    await until(s, (x) => folder(x, '_incoming')!.messages === 9, '_incoming pairs');
    renameSync(join(dir, '_incoming'), join(dir, '_incoming.bak'));
    mkdirSync(join(dir, '_incoming'));
    let snap = await until(
      s,
      (x) => folder(x, '_incoming.bak')?.messages === 9 && folder(x, '_incoming')!.messages === 0,
      '_incoming.bak to appear',
    );
    writeFileSync(join(dir, '_incoming.bak', 'lonely.dat'), 'MAIL FROM:<a@b.c>\r\n');
    snap = await until(s, (x) => folder(x, '_incoming.bak')?.orphans?.dat === 1, 'the orphan .dat');

    // A priority folder made by the re-queue procedure.
    mkdirSync(join(dir, '_outgoing', 'priority_3'));
    addSpam(dir, 3, { sender: 'p@x.org', folder: '_outgoing/priority_3', seed: 2, nowMs: NOW });
    snap = await until(s, (x) => folder(x, '_outgoing/priority_3')?.messages === 3, 'priority_3');
    expect(snap.topSenders).toContainEqual({ sender: 'p@x.org', messages: 3 });

    rmSync(join(dir, '_incoming.bak'), { recursive: true });
    rmSync(join(dir, '_outgoing', 'priority_3'), { recursive: true });
    snap = await until(s, (x) => !folder(x, '_incoming.bak') && !folder(x, '_outgoing/priority_3'), 'the folders to go');
    expect(snap.topSenders.find((t) => t.sender === 'p@x.org')).toBeUndefined();

    // _outgoing renamed away (stop sending): the queue reads empty until IceWarp recreates it.
    addSpam(dir, 2, { sender: 'q@x.org', seed: 3, nowMs: NOW });
    await until(s, (x) => folder(x, '_outgoing')!.messages === 2, 'two in _outgoing');
    renameSync(join(dir, '_outgoing'), join(dir, '_outgoing.old'));
    snap = await until(s, (x) => folder(x, '_outgoing')!.messages === 0, '_outgoing to empty');
    expect(snap.distinctSenders).toBe(0);
    mkdirSync(join(dir, '_outgoing'));
    addSpam(dir, 1, { sender: 'r@x.org', seed: 4, nowMs: NOW });
    snap = await until(s, (x) => folder(x, '_outgoing')!.messages === 1, 'the new _outgoing');
    expect(snap.topSenders).toEqual([{ sender: 'r@x.org', messages: 1 }]);
  });

  it('updates the oldest age when the oldest message leaves', async () => {
    const dir = tempDir();
    let now = NOW;
    const s = scanner(dir, { now: () => now });
    const out = join(dir, '_outgoing');
    mkdirSync(out);
    for (const [name, ageS] of [['a.tmp', 500], ['b.tmp', 300]] as const) {
      writeFileSync(join(out, name), 'Original Sender: <a@b.c>\r\n');
      utimesSync(join(out, name), (NOW - ageS * 1000) / 1000, (NOW - ageS * 1000) / 1000);
    }
    await s.idle();
    await until(s, (x) => folder(x, '_outgoing')!.messages === 2, 'two messages');
    expect(folder(s.snapshot(), '_outgoing')!.oldestAgeSeconds).toBe(500);
    now += 100_000;
    expect(folder(s.snapshot(), '_outgoing')!.oldestAgeSeconds).toBe(600);
    unlinkSync(join(out, 'a.tmp'));
    await until(s, (x) => folder(x, '_outgoing')!.oldestAgeSeconds === 400, 'the next oldest');
  });
});

describe('SpoolScanner mail directory', () => {
  it('counts a missing mail directory at every scan, and reports the queues once it appears', async () => {
    const dir = join(tempDir(), 'mail');
    const s = scanner(dir);
    await s.idle();
    await fullScan(s);
    expect(s.scanErrors()).toBe(2);
    writeQueue(dir, OPTS);
    await fullScan(s);
    expect(s.status()).toMatchObject({ success: true });
    expect(s.snapshot()).toEqual(expected(writeQueue(tempDir(), OPTS)));
  });

  it('follows the mail directory itself when it is a symlink', async () => {
    const real = tempDir();
    const truth = writeQueue(real, OPTS);
    const link = join(tempDir(), 'mail');
    symlinkSync(real, link);
    const s = scanner(link);
    await s.idle();
    expect(s.snapshot()).toEqual(expected(truth));
  });
});
