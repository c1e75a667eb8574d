// The admin commands as an admin runs them: the built CLI on real folders.
// Includes the kill test: --apply interrupted with SIGKILL at random points,
// then rerun; the multiset of message contents (sha256) must not change.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../dist/src/main.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; with killAfterMs, SIGKILLs it after that long (if still running). */
function cli(args: string[], opts: { killAfterMs?: number; stepDelayMs?: number; uid?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (opts.stepDelayMs) env.MAILRELAY_TEST_STEP_DELAY_MS = String(opts.stepDelayMs);
    else delete env.MAILRELAY_TEST_STEP_DELAY_MS;
    const child = spawn(process.execPath, [MAIN, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const JOURNAL_FILE = /\.(jsonl|progress|done|partial|abandoned)$/;

/** Relative path → sha256 of every regular file under dir (symlinks not followed). */
async function tree(dir: string, base = dir): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) for (const [k, v] of await tree(p, base)) out.set(k, v);
    else if (d.isFile()) out.set(p.slice(base.length + 1), sha(await readFile(p)));
    else if (d.isSymbolicLink()) out.set(p.slice(base.length + 1), 'symlink');
  }
  return out;
}

/**
 * After a kill, a cross-file-system move may leave a verified copy beside its
 * source until the rerun: every message must still be there, at least once.
 */
function expectNoneLost(current: string[], initial: string[]): void {
  const left = [...current];
  for (const h of initial) {
    const i = left.indexOf(h);
    expect(i, `message ${h} lost`).toBeGreaterThanOrEqual(0);
    left.splice(i, 1);
  }
}

/** Sorted sha256 of the message files (not journals, not partial copies) under the given folders. */
async function messageMultiset(...dirs: string[]): Promise<string[]> {
  const all: string[] = [];
  for (const dir of dirs) for (const [path, h] of await tree(dir)) if (!JOURNAL_FILE.test(path)) all.push(h);
  return all.sort();
}

async function put(path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

const spamMessage = (i: number): string => `Original Sender: <Spam@Evil.example>\r\nFrom: x@evil.example\r\n\r\nbuy now ${i % 3}\r\n`;
const goodMessage = (i: number): string => `Original Sender: <good@domaine.com>\r\nFrom: Good <good@domaine.com>\r\n\r\nhello ${i}, é\r\n`;

/** A flooded queue: spam (3 distinct bodies, so contents repeat), good mail, odd names. */
async function floodedQueue(mail: string, spam = 12, good = 4): Promise<void> {
  for (let i = 0; i < spam; i++) await put(join(mail, i % 2 ? '_outgoing/retry' : '_outgoing', `spam ${i} é€.tmp`), spamMessage(i));
  for (let i = 0; i < good; i++) await put(join(mail, '_outgoing/priority_3', `good-${i}.tmp`), goodMessage(i));
  await put(join(mail, '_outgoing/desktop.ini'), '[x]');
  await put(join(mail, '_outgoing/being written.tm$'), `${spamMessage(99)}still being written`);
}

function tryMountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mounts: string[] = [];
const temps: string[] = [];

async function mailDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mailrelay-cli-'));
  temps.push(d);
  return join(d, 'mail dir é');
}

/** Puts DIR/<folder> on its own tmpfs when the machine allows it (true), so moves cross file systems. */
async function onTmpfs(mail: string, folder: string): Promise<boolean> {
  await mkdir(join(mail, folder), { recursive: true });
  if (!tryMountTmpfs(join(mail, folder))) return false;
  mounts.push(join(mail, folder));
  return true;
}

const quarantineOnTmpfs = (mail: string): Promise<boolean> => onTmpfs(mail, '_quarantine');

async function unmountAll(): Promise<void> {
  while (mounts.length) {
    const m = mounts.pop()!;
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first (npm test does)`);
});

afterEach(async () => {
  await unmountAll();
  while (temps.length) await rm(temps.pop()!, { recursive: true, force: true });
});

describe('help and errors', { timeout: 120_000 }, () => {
  it('prints help for the group and each command', async () => {
    const group = await cli(['queue', '--help']);
    expect(group.code).toBe(0);
    for (const c of ['queue report', 'queue quarantine', 'queue restore', 'queue requeue', 'incoming repair']) expect(group.stdout).toContain(c);
    for (const c of [['queue', 'report'], ['queue', 'quarantine'], ['queue', 'restore'], ['queue', 'requeue'], ['incoming', 'repair']]) {
      const r = await cli([...c, '--help']);
      expect([r.code, r.stdout]).toEqual([0, expect.stringContaining(`usage: mailrelay-exporter ${c.join(' ')}`)]);
    }
  });

  it('exits 2 on usage errors, 1 on a missing folder, naming it', async () => {
    const mail = await mailDir();
    expect((await cli(['queue', 'frobnicate'])).code).toBe(2);
    expect((await cli(['queue', 'report'])).stderr).toContain('--mail-dir is required');
    const noSelector = await cli(['queue', 'quarantine', '--mail-dir', mail]);
    expect([noSelector.code, noSelector.stderr]).toEqual([2, expect.stringContaining('or --all')]);
    expect((await cli(['queue', 'quarantine', '--mail-dir', mail, '--size', '12kB'])).code).toBe(2);
    const missing = await cli(['queue', 'report', '--mail-dir', mail]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining(`${mail}: no such file or folder`)]);
    await mkdir(mail, { recursive: true });
    const noSource = await cli(['queue', 'requeue', '--mail-dir', mail, '--from', '_outgoing.old', '--apply']);
    expect([noSource.code, noSource.stderr]).toEqual([1, expect.stringContaining('_outgoing.old: no such folder')]);
    expect((await cli(['queue', 'requeue', '--mail-dir', mail, '--from', '_quarantine'])).code).toBe(2);
    // A folder outside the mail directory: a usage error that says where the good messages are, and how to bring others in.
    const escape = await cli(['queue', 'requeue', '--mail-dir', mail, '--from', '../..']);
    expect([escape.code, escape.stderr]).toEqual([2, expect.stringContaining(`--from ../..: not inside the mail directory ${mail}`)]);
    expect(escape.stderr).toContain('(--from _outgoing.old)');
    const elsewhere = await cli(['queue', 'requeue', '--mail-dir', mail, '--from', '/srv/backup/good messages']);
    expect([elsewhere.code, elsewhere.stderr]).toEqual([2, expect.stringContaining(`cp -a '/srv/backup/good messages' '${mail}/_requeue'`)]);
  });
});

describe('permissions', { timeout: 120_000 }, () => {
  const NOBODY = 65534;

  it('says "permission denied", loses nothing, and a rerun with the right rights finishes the run', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test drops to uid 65534 and needs to run as root (CI runs as root)');
    const mail = await mailDir();
    await floodedQueue(mail, 6, 2);
    await chmod(dirname(mail), 0o755);
    const before = await messageMultiset(mail);

    // Read-only work is fine for anyone who can read the queues.
    expect((await cli(['queue', 'report', '--mail-dir', mail], { uid: NOBODY })).code).toBe(0);
    // No right to create the quarantine: refused before anything moves.
    const denied = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply'], { uid: NOBODY });
    expect([denied.code, denied.stderr]).toEqual([1, expect.stringContaining('permission denied')]);
    expect(await messageMultiset(mail)).toEqual(before);

    // The quarantine is writable, _outgoing is not: the run stops at its first move, with its journal written.
    await mkdir(join(mail, '_quarantine'));
    await chown(join(mail, '_quarantine'), NOBODY, NOBODY);
    const midway = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply'], { uid: NOBODY });
    expect([midway.code, midway.stderr]).toEqual([1, expect.stringMatching(/permission denied.*rerun the same command with --apply/)]);
    expect(await messageMultiset(mail)).toEqual(before);
    const report = await cli(['queue', 'report', '--mail-dir', mail]);
    expect(report.stdout).toMatch(/unfinished run: _quarantine\/\d{8}T\d{6}Z\/manifest\.jsonl/);

    const rerun = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply']);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('moved 6');
    expect(await messageMultiset(mail)).toEqual(before);
    expect(await messageMultiset(join(mail, '_outgoing'))).toHaveLength(4);
  });
});

describe('one run at a time', { timeout: 120_000 }, () => {
  it('refuses a second --apply while one is running, and takes over the lock of a killed run', async () => {
    const mail = await mailDir();
    await floodedQueue(mail, 20, 0);
    const before = await messageMultiset(mail);
    const args = ['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply'];
    const first = cli(args, { stepDelayMs: 100 });
    // The first run holds the lock as soon as _quarantine/.lock exists.
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(mail, '_quarantine/.lock')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const second = await cli(args);
    expect([second.code, second.stderr]).toEqual([1, expect.stringMatching(/another run \(pid \d+\) is working on/)]);
    expect((await first).code).toBe(0);
    expect(existsSync(join(mail, '_quarantine/.lock'))).toBe(false);
    expect(await messageMultiset(mail)).toEqual(before);

    // A lock whose process is gone is stale.
    await writeFile(join(mail, '_quarantine/.lock'), '999999\n');
    const r = await cli(['queue', 'quarantine', '--mail-dir', mail, '--all', '--apply']);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('queue report', { timeout: 120_000 }, () => {
  it('gives the spool numbers, as text and JSON, and changes nothing', async () => {
    const mail = await mailDir();
    await floodedQueue(mail);
    await put(join(mail, '_incoming.bak/p.tmp'), 'body');
    await put(join(mail, '_incoming.bak/p.dat'), 'env');
    await put(join(mail, '_incoming.bak/lone.dat'), 'env');
    const before = await tree(mail);
    const text = await cli(['queue', 'report', '--mail-dir', mail]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/outgoing\s+_outgoing\s+6 /);
    expect(text.stdout).toMatch(/12\s+spam@evil\.example/);
    const json = JSON.parse((await cli(['queue', 'report', '--mail-dir', mail, '--json', '--top', '1'])).stdout) as {
      folders: { folder: string; messages: number; bytes: number }[];
      senders: { distinct: number; top: { sender: string; messages: number }[] };
      sameSize: { outgoing: { largest: number } };
      orphans: { folder: string; kind: string; files: number }[];
    };
    expect(json.folders.map((f) => [f.folder, f.messages])).toEqual([
      ['_incoming', 0],
      ['_incoming.bak', 1],
      ['_outgoing', 6],
      ['_outgoing/priority_3', 4],
      ['_outgoing/retry', 6],
    ]);
    expect(json.folders[1]!.bytes).toBe(7);
    expect(json.senders).toEqual({ distinct: 2, top: [{ sender: 'spam@evil.example', messages: 12 }] });
    expect(json.sameSize.outgoing.largest).toBe(12);
    expect(json.orphans).toContainEqual({ folder: '_incoming.bak', kind: 'dat', files: 1 });
    expect(await tree(mail)).toEqual(before);
  });
});

describe('queue quarantine and restore', { timeout: 120_000 }, () => {
  it('plans without acting, moves exactly the selection with a manifest, and does nothing more the second time', async () => {
    const mail = await mailDir();
    await floodedQueue(mail);
    const before = await tree(mail);
    const dry = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'SPAM@evil.example']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toContain('stop the IceWarp SMTP service');
    expect(dry.stdout).toContain('_outgoing/spam 0 é€.tmp -> _quarantine/<UTC time>/_outgoing/spam 0 é€.tmp');
    expect(dry.stdout).toContain('total: quarantine: 12 files');
    expect(dry.stdout).toContain('dry run');
    expect(await tree(mail)).toEqual(before);

    const applied = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply']);
    expect(applied.code).toBe(0);
    const after = await tree(mail);
    expect([...after.keys()].filter((p) => p.startsWith('_outgoing/')).sort()).toEqual([
      '_outgoing/being written.tm$',
      '_outgoing/desktop.ini',
      '_outgoing/priority_3/good-0.tmp',
      '_outgoing/priority_3/good-1.tmp',
      '_outgoing/priority_3/good-2.tmp',
      '_outgoing/priority_3/good-3.tmp',
    ]);
    const [run] = await readdir(join(mail, '_quarantine'));
    expect(run).toMatch(/^\d{8}T\d{6}Z$/);
    const manifest = (await readFile(join(mail, '_quarantine', run!, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(manifest).toHaveLength(12);
    expect(manifest).toContainEqual({
      from: '_outgoing/retry/spam 1 é€.tmp',
      to: `_quarantine/${run}/_outgoing/retry/spam 1 é€.tmp`,
      size: Buffer.byteLength(spamMessage(1)),
      sha256: sha(spamMessage(1)),
      sender: 'spam@evil.example',
    });
    expect(after.get(`_quarantine/${run}/_outgoing/retry/spam 1 é€.tmp`)).toBe(sha(spamMessage(1)));
    expect(await messageMultiset(mail)).toEqual(await messageMultisetOf(before));

    const again = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply']);
    expect([again.code, again.stdout]).toEqual([0, expect.stringContaining('nothing to do')]);
    expect(await tree(mail)).toEqual(after);
  });

  it('combines selectors: AND between kinds, OR within one', async () => {
    const mail = await mailDir();
    await floodedQueue(mail);
    const size0 = Buffer.byteLength(spamMessage(0));
    const good0 = Buffer.byteLength(goodMessage(0));
    const r = await cli(['queue', 'quarantine', '--mail-dir', mail, '--size', String(size0), '--size', String(good0), '--folder', '_outgoing/retry', '--json']);
    const plan = (JSON.parse(r.stdout) as { plan: { from: string }[] }).plan.map((p) => p.from);
    // retry holds the odd spam; every spam body has the same size; good mail is not in retry.
    expect(plan.sort()).toEqual([1, 3, 5, 7, 9, 11].map((i) => `_outgoing/retry/spam ${i} é€.tmp`).sort());
  });

  it('restores by sender into a folder as .tmp, never overwriting, and only once', async () => {
    const mail = await mailDir();
    await floodedQueue(mail, 4, 2);
    await put(join(mail, '_outgoing/priority_3/other.tmp'), goodMessage(7));
    expect((await cli(['queue', 'quarantine', '--mail-dir', mail, '--all', '--apply'])).code).toBe(0);
    const [run] = await readdir(join(mail, '_quarantine'));
    const manifest = join(mail, '_quarantine', run!, 'manifest.jsonl');
    await put(join(mail, '_outgoing/priority_2/good-0.tmp'), 'a message that arrived meanwhile');

    // A quarantine run that was killed (no .done yet) must be finished before anything is restored from it.
    await rename(join(mail, '_quarantine', run!, 'manifest.done'), join(mail, 'done.aside'));
    const early = await cli(['queue', 'restore', '--manifest', manifest, '--apply']);
    expect([early.code, early.stderr]).toEqual([1, expect.stringContaining('did not finish')]);
    await rename(join(mail, 'done.aside'), join(mail, '_quarantine', run!, 'manifest.done'));

    const dry = await cli(['queue', 'restore', '--manifest', manifest, '--sender', 'good@domaine.com', '--to-folder', '_outgoing/priority_2']);
    expect(dry.stdout).toContain('total: restore: 3 files');
    const done = await cli(['queue', 'restore', '--manifest', manifest, '--sender', 'good@domaine.com', '--to-folder', '_outgoing/priority_2', '--apply']);
    expect(done.code).toBe(0);
    const t = await tree(join(mail, '_outgoing/priority_2'));
    expect([...t.keys()].sort()).toEqual(['good-0.tmp', 'good-0_2.tmp', 'good-1.tmp', 'other.tmp']);
    expect(t.get('good-0.tmp')).toBe(sha('a message that arrived meanwhile'));
    expect(t.get('good-0_2.tmp')).toBe(sha(goodMessage(0)));

    const snapshot = await tree(mail);
    const [restoreJournal] = (await readdir(join(mail, '_quarantine', run!))).filter((n) => /^restore-.*\.jsonl$/.test(n));
    expect((await cli(['queue', 'restore', '--manifest', join(mail, '_quarantine', run!, restoreJournal!)])).code).toBe(2);
    const again = await cli(['queue', 'restore', '--manifest', manifest, '--sender', 'good@domaine.com', '--apply']);
    expect(again.stdout).toContain('nothing to do');
    expect(await tree(mail)).toEqual(snapshot);

    // The rest goes back where it came from.
    expect((await cli(['queue', 'restore', '--manifest', manifest, '--apply'])).code).toBe(0);
    expect((await tree(join(mail, '_outgoing/retry'))).get('spam 1 é€.tmp')).toBe(sha(spamMessage(1)));
  });

  it('moves across file systems (DIR/_quarantine on a tmpfs) and back', async () => {
    const mail = await mailDir();
    await floodedQueue(mail, 6, 1);
    const crossed = await quarantineOnTmpfs(mail);
    const before = await messageMultiset(mail);
    expect((await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply'])).code).toBe(0);
    expect(await messageMultiset(mail)).toEqual(before);
    expect(await messageMultiset(join(mail, '_quarantine'))).toHaveLength(6);
    const [run] = (await readdir(join(mail, '_quarantine'))).filter((n) => n !== 'lost+found');
    expect((await cli(['queue', 'restore', '--manifest', join(mail, '_quarantine', run!, 'manifest.jsonl'), '--apply'])).code).toBe(0);
    expect(await messageMultiset(join(mail, '_outgoing'))).toEqual(before);
    expect([...(await tree(mail)).keys()].filter((p) => p.endsWith('.partial'))).toEqual([]);
    // Without a tmpfs, the copy path is exercised directly in src/cli/journal.test.ts.
    expect(typeof crossed).toBe('boolean');
  });

  it('never follows a symlink out of the mail directory', async () => {
    const mail = await mailDir();
    const outside = await mkdtemp(join(tmpdir(), 'mailrelay-outside-'));
    temps.push(outside);
    await put(join(outside, 'victim.tmp'), spamMessage(1));
    await floodedQueue(mail, 2, 0);
    await symlink(join(outside, 'victim.tmp'), join(mail, '_outgoing/link.tmp'));
    const r = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('_outgoing/link.tmp: a symlink, not followed');
    expect((await lstat(join(mail, '_outgoing/link.tmp'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(outside, 'victim.tmp'), 'utf8')).toBe(spamMessage(1));
  });
});

describe('queue requeue', { timeout: 120_000 }, () => {
  it('puts files of any extension back as complete .tmp files with a From:, keeping the originals', async () => {
    const mail = await mailDir();
    const noFrom = 'Original Sender: <>\r\nSubject: bounce\r\n\r\nbody\r\n';
    const emptyFrom = 'Original Sender: <a@domaine.com>\r\nFrom:\r\n\r\nbody 2\r\n';
    await put(join(mail, '_outgoing.old/a 1.tmp'), noFrom);
    await put(join(mail, '_outgoing.old/b.tm$'), emptyFrom);
    await put(join(mail, '_outgoing.old/sub/c.tmp'), goodMessage(1));
    await put(join(mail, '_outgoing.old/x.dat'), 'envelope');
    const before = await messageMultiset(join(mail, '_outgoing.old'));
    const args = ['queue', 'requeue', '--mail-dir', mail, '--from', '_outgoing.old', '--from-header', 'From: admin@domaine.com'];
    const dry = await cli(args);
    expect(dry.stdout).toContain('total: requeue: 3 files');
    expect(dry.stdout).toContain('_outgoing.old/x.dat: a .dat file');
    expect(existsSync(join(mail, '_outgoing'))).toBe(false);

    expect((await cli([...args, '--apply'])).code).toBe(0);
    const placed = await tree(join(mail, '_outgoing/priority_2'));
    expect(Object.fromEntries(placed)).toEqual({
      'a 1.tmp': sha('Original Sender: <>\r\nSubject: bounce\r\nFrom: admin@domaine.com\r\n\r\nbody\r\n'),
      'b.tmp': sha('Original Sender: <a@domaine.com>\r\nFrom: admin@domaine.com\r\n\r\nbody 2\r\n'),
      'c.tmp': sha(goodMessage(1)),
    });
    // The originals are kept in the quarantine, byte for byte.
    const kept = await messageMultiset(join(mail, '_quarantine'));
    expect(kept).toEqual([...before.filter((h) => h !== sha('envelope'))].sort());
    expect([...(await tree(join(mail, '_outgoing.old'))).keys()]).toEqual(['x.dat']);

    const snapshot = await tree(mail);
    const again = await cli([...args, '--apply']);
    expect(again.stdout).toContain('nothing to do');
    expect(await tree(mail)).toEqual(snapshot);
  });
});

describe('incoming repair', { timeout: 120_000 }, () => {
  it('moves complete pairs back, sets orphans aside, leaves other files', async () => {
    const mail = await mailDir();
    const bak = join(mail, '_incoming.bak');
    await put(join(bak, 'p 1.tmp'), 'body1');
    await put(join(bak, 'p 1.dat'), 'env1');
    await put(join(bak, 'q.tm$'), 'body2');
    await put(join(bak, 'q.dat'), 'env2');
    await put(join(bak, 'lone.tmp'), 'lone body');
    await put(join(bak, 'lone2.dat'), 'lone env');
    await put(join(bak, 'desktop.ini'), 'x');
    const before = await messageMultiset(mail);
    const dry = await cli(['incoming', 'repair', '--dir', bak]);
    expect(dry.stdout).toContain('total: repair: 4 files, 18 B; set aside: 2 files');
    expect(await messageMultiset(mail)).toEqual(before);
    const r = await cli(['incoming', 'repair', '--dir', bak, '--apply']);
    expect(r.code).toBe(0);
    expect([...(await tree(join(mail, '_incoming'))).keys()].sort()).toEqual(['p 1.dat', 'p 1.tmp', 'q.dat', 'q.tm$']);
    expect([...(await tree(bak)).keys()]).toEqual(['desktop.ini']);
    const aside = [...(await tree(join(mail, '_quarantine'))).keys()].filter((p) => !JOURNAL_FILE.test(p));
    expect(aside.map((p) => p.replace(/^\d{8}T\d{6}Z\//, '')).sort()).toEqual(['_incoming.bak/lone.tmp', '_incoming.bak/lone2.dat']);
    expect(await messageMultiset(mail)).toEqual(before);
    // The journal moves each pair back to back, the message file first and the .dat last.
    const [run] = await readdir(join(mail, '_quarantine'));
    const lines = (await readFile(join(mail, '_quarantine', run!, 'repair.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { from: string; group?: number });
    expect(lines.filter((l) => l.group !== undefined).map((l) => [l.group, l.from])).toEqual([
      [1, '_incoming.bak/p 1.tmp'],
      [1, '_incoming.bak/p 1.dat'],
      [2, '_incoming.bak/q.tm$'],
      [2, '_incoming.bak/q.dat'],
    ]);
    const snapshot = await tree(mail);
    expect((await cli(['incoming', 'repair', '--dir', bak, '--apply'])).stdout).toContain('nothing to do');
    expect(await tree(mail)).toEqual(snapshot);
  });
});

async function messageMultisetOf(t: Map<string, string>): Promise<string[]> {
  return [...t].filter(([p]) => !JOURNAL_FILE.test(p)).map(([, h]) => h).sort();
}

/**
 * Runs `args --apply` killed with SIGKILL at random points (sometimes twice in
 * a row), then to completion, on a fresh fixture each round; `check` runs
 * after each kill and at the end. Bounded in rounds and in time.
 */
async function killTest(
  limits: { minRounds: number; maxRounds: number; budgetMs: number },
  setup: (mail: string) => Promise<void>,
  args: (mail: string) => string[],
  check: (mail: string, phase: 'killed' | 'final') => Promise<void>,
  /** Replaces a `<run>/manifest.jsonl` placeholder in the arguments, known only after setup. */
  manifestOf?: (mail: string) => Promise<string>,
): Promise<{ rounds: number; killedMidRun: number }> {
  const argsFor = async (mail: string): Promise<string[]> => {
    const a = args(mail);
    if (!manifestOf) return a;
    const m = await manifestOf(mail);
    return a.map((x) => (x.includes('<run>') ? m : x));
  };
  const STEP_MS = 3;
  // One uninterrupted run tells how long a run takes, so kills land inside it.
  const probe = await mailDir();
  await setup(probe);
  const t0 = Date.now();
  const full = await cli(await argsFor(probe), { stepDelayMs: STEP_MS });
  expect(full.code, full.stderr).toBe(0);
  const duration = Date.now() - t0;
  await check(probe, 'final');
  await unmountAll();

  const deadline = Date.now() + limits.budgetMs;
  let rounds = 0;
  let killedMidRun = 0;
  // At least minRounds however slow the machine; more while the time budget lasts.
  while (rounds < limits.minRounds || (rounds < limits.maxRounds && Date.now() < deadline)) {
    rounds++;
    const mail = await mailDir();
    await setup(mail);
    for (let k = 0; k < (Math.random() < 0.3 ? 2 : 1); k++) {
      const r = await cli(await argsFor(mail), { stepDelayMs: STEP_MS, killAfterMs: Math.floor(Math.random() * duration) });
      if (r.signal === 'SIGKILL') killedMidRun++;
      else expect(r.code, r.stderr).toBe(0);
      await check(mail, 'killed');
    }
    const last = await cli(await argsFor(mail));
    expect(last.code, last.stderr + last.stdout).toBe(0);
    await check(mail, 'final');
    await unmountAll();
    await rm(temps.pop()!, { recursive: true, force: true });
  }
  return { rounds, killedMidRun };
}

describe('kill test: --apply killed at random points, then rerun', () => {
  it('quarantine (every other round across file systems, where a tmpfs can be mounted) loses and duplicates nothing', { timeout: 300_000 }, async () => {
    let initial: string[] = [];
    let round = 0;
    const result = await killTest(
      { minRounds: 5, maxRounds: 20, budgetMs: 45_000 },
      async (mail) => {
        await floodedQueue(mail, 30, 5);
        // Large messages make the copies across file systems take many steps.
        for (let i = 0; i < 8; i++) await put(join(mail, '_outgoing', `big ${i}.tmp`), spamMessage(i) + `${i}`.repeat(640_000 + i));
        // The probe (round 0) and even rounds copy across file systems; odd rounds rename on one.
        if (round++ % 2 === 0) await quarantineOnTmpfs(mail);
        initial = await messageMultiset(mail);
      },
      (mail) => ['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply'],
      async (mail, phase) => {
        if (phase === 'final') expect(await messageMultiset(mail)).toEqual(initial);
        else expectNoneLost(await messageMultiset(mail), initial);
        if (phase === 'final') {
          const outgoing = await messageMultiset(join(mail, '_outgoing'));
          expect(outgoing).not.toContain(sha(spamMessage(0)));
          expect(outgoing).toHaveLength(5 + 2); // good mail, desktop.ini, the .tm$
          const t = await tree(mail);
          expect([...t.keys()].filter((p) => /(^|\/)\.[^/]*\.partial$/.test(p))).toEqual([]);
          for (const p of t.keys()) if (p.endsWith('manifest.jsonl')) expect(t.has(p.replace('.jsonl', '.done'))).toBe(true);
        }
      },
    );
    expect(result.killedMidRun).toBeGreaterThanOrEqual(Math.ceil(result.rounds / 3));
  });

  it('restore (from a quarantine on another file system) loses and duplicates nothing', { timeout: 300_000 }, async () => {
    let initial: string[] = [];
    const manifestOf = async (mail: string): Promise<string> => {
      const [run] = (await readdir(join(mail, '_quarantine'))).filter((n) => /^\d{8}T/.test(n));
      return join(mail, '_quarantine', run!, 'manifest.jsonl');
    };
    const result = await killTest(
      { minRounds: 3, maxRounds: 10, budgetMs: 25_000 },
      async (mail) => {
        await floodedQueue(mail, 16, 4);
        await quarantineOnTmpfs(mail);
        initial = await messageMultiset(mail);
        const q = await cli(['queue', 'quarantine', '--mail-dir', mail, '--all', '--apply']);
        expect(q.code, q.stderr).toBe(0);
      },
      (mail) => ['queue', 'restore', '--manifest', join(mail, '_quarantine', '<run>', 'manifest.jsonl'), '--apply'],
      async (mail, phase) => {
        if (phase === 'final') {
          expect(await messageMultiset(mail)).toEqual(initial);
          expect(await messageMultiset(join(mail, '_quarantine'))).toEqual([]);
        } else expectNoneLost(await messageMultiset(mail), initial);
      },
      manifestOf,
    );
    expect(result.killedMidRun).toBeGreaterThanOrEqual(1);
  });

  it('requeue never queues a message twice nor loses an original', { timeout: 300_000 }, async () => {
    let originals: string[] = [];
    const expected: string[] = [];
    const result = await killTest(
      { minRounds: 3, maxRounds: 10, budgetMs: 25_000 },
      async (mail) => {
        expected.length = 0;
        for (let i = 0; i < 15; i++) {
          const m = i % 2 ? `Original Sender: <>\r\nSubject: ${i}\r\n\r\nb\r\n` : goodMessage(i);
          await put(join(mail, '_outgoing.old', `m ${i}${i % 3 ? '.tmp' : '.tm$'}`), m);
          expected.push(sha(i % 2 ? `Original Sender: <>\r\nSubject: ${i}\r\nFrom: admin@domaine.com\r\n\r\nb\r\n` : m));
        }
        await quarantineOnTmpfs(mail);
        originals = await messageMultiset(join(mail, '_outgoing.old'));
      },
      (mail) => ['queue', 'requeue', '--mail-dir', mail, '--from', '_outgoing.old', '--from-header', 'admin@domaine.com', '--apply'],
      async (mail, phase) => {
        // Every original is in the source or kept in the quarantine, exactly once in the end.
        const now = await messageMultiset(join(mail, '_outgoing.old'), join(mail, '_quarantine'));
        if (phase === 'final') expect(now).toEqual(originals);
        else expectNoneLost(now, originals);
        const queued = [...(await tree(join(mail, '_outgoing/priority_2'))).entries()];
        // Only complete .tmp files ever appear in the target (partials are hidden names).
        for (const [name, h] of queued) if (name.endsWith('.tmp')) expect(expected).toContain(h);
        if (phase === 'final') {
          expect(queued.map(([, h]) => h).sort()).toEqual([...expected].sort());
          expect(await messageMultiset(join(mail, '_outgoing.old'))).toEqual([]);
        }
      },
    );
    expect(result.killedMidRun).toBeGreaterThanOrEqual(1);
  });

  it('incoming repair never shows a .dat without its message, and loses nothing', { timeout: 300_000 }, async () => {
    let initial: string[] = [];
    const result = await killTest(
      { minRounds: 3, maxRounds: 10, budgetMs: 25_000 },
      async (mail) => {
        for (let i = 0; i < 12; i++) {
          await put(join(mail, '_incoming.bak', `msg ${i}.tmp`), `body ${i}`);
          await put(join(mail, '_incoming.bak', `msg ${i}.dat`), `env ${i}`);
        }
        for (let i = 0; i < 4; i++) await put(join(mail, '_incoming.bak', `lone ${i}.${i % 2 ? 'dat' : 'tmp'}`), `lone ${i}`);
        // The pairs cross file systems: each is copied whole before either file appears.
        await onTmpfs(mail, '_incoming');
        initial = await messageMultiset(mail);
      },
      (mail) => ['incoming', 'repair', '--dir', join(mail, '_incoming.bak'), '--apply'],
      async (mail, phase) => {
        if (phase === 'final') expect(await messageMultiset(mail)).toEqual(initial);
        else expectNoneLost(await messageMultiset(mail), initial);
        const names = [...(await tree(join(mail, '_incoming'))).keys()];
        for (const n of names) if (n.endsWith('.dat')) expect(names).toContain(n.replace(/\.dat$/, '.tmp'));
        if (phase === 'final') {
          expect(names.filter((n) => !n.startsWith('.')).length).toBe(24);
          expect(names.some((n) => n.startsWith('lone'))).toBe(false);
        }
      },
    );
    expect(result.killedMidRun).toBeGreaterThanOrEqual(1);
  });
});

// --- hostile input (issue 12 items 5 and 6) ---------------------------------

/** The names (as raw bytes, latin1) of the regular files directly in dir. */
async function namesIn(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(Buffer.from(dir), { withFileTypes: true, encoding: 'buffer' });
  return entries.filter((d) => d.isFile()).map((d) => d.name.toString('latin1')).sort();
}

const bytesPath = (...parts: string[]): Buffer => Buffer.concat(parts.map((p, i) => Buffer.from(i ? `/${p}` : p, i ? 'latin1' : 'utf8')));

async function manifestOf(mail: string): Promise<{ run: string; path: string; lines: Record<string, unknown>[] }> {
  const [run] = (await readdir(join(mail, '_quarantine'))).filter((n) => /^\d{8}T/.test(n));
  const path = join(mail, '_quarantine', run!, 'manifest.jsonl');
  const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { run: run!, path, lines };
}

describe('a tampered journal never moves a file from outside the mail directory', { timeout: 120_000 }, () => {
  async function quarantined(mail: string): Promise<{ run: string; path: string; lines: Record<string, unknown>[] }> {
    await floodedQueue(mail, 4, 0);
    const q = await cli(['queue', 'quarantine', '--mail-dir', mail, '--all', '--apply']);
    expect(q.code, q.stderr).toBe(0);
    return manifestOf(mail);
  }

  async function outsideSecret(): Promise<{ dir: string; file: string; content: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'mailrelay-outside-'));
    temps.push(dir);
    const content = 'Original Sender: <root@example.org>\r\n\r\nsecret outside the mail directory\r\n';
    await writeFile(join(dir, 'secret.tmp'), content);
    return { dir, file: join(dir, 'secret.tmp'), content };
  }

  it('restore refuses a manifest whose file lies behind a symlinked folder (linkdir -> /outside), and moves nothing', async () => {
    const mail = await mailDir();
    const m = await quarantined(mail);
    const outside = await outsideSecret();
    await symlink(outside.dir, join(mail, '_quarantine', m.run, 'linkdir'));
    // What an attacker with write access to the quarantine appends: a line whose sha256 and size match the secret.
    const line = { from: '_outgoing/secret.tmp', to: `_quarantine/${m.run}/linkdir/secret.tmp`, size: Buffer.byteLength(outside.content), sha256: sha(outside.content), sender: 'root@example.org' };
    await writeFile(m.path, (await readFile(m.path, 'utf8')) + JSON.stringify(line) + '\n');
    const before = await tree(mail);

    const r = await cli(['queue', 'restore', '--manifest', m.path, '--apply']);
    expect([r.code, r.stderr]).toEqual([1, expect.stringContaining(`_quarantine/${m.run}/linkdir: a symlink on the way to _quarantine/${m.run}/linkdir/secret.tmp; symlinks are never followed`)]);
    expect(await readFile(outside.file, 'utf8')).toBe(outside.content);
    expect(existsSync(join(mail, '_outgoing/secret.tmp'))).toBe(false);
    // The whole manifest is refused: not even its genuine lines were restored.
    expect(await tree(mail)).toEqual(before);
  });

  it('restore refuses a manifest line that takes a file outside its run folder, or puts one outside the outgoing queue', async () => {
    const mail = await mailDir();
    const m = await quarantined(mail);
    await put(join(mail, '_incoming/live.tmp'), 'a message IceWarp is receiving');
    const original = await readFile(m.path, 'utf8');
    const steal = { from: '_outgoing/live.tmp', to: '_incoming/live.tmp', size: 30, sha256: sha('a message IceWarp is receiving'), sender: 'x@y.z' };
    await writeFile(m.path, original + JSON.stringify(steal) + '\n');
    const before = await tree(mail);
    const r1 = await cli(['queue', 'restore', '--manifest', m.path, '--apply']);
    expect([r1.code, r1.stderr]).toEqual([1, expect.stringContaining('_incoming/live.tmp is not in the run folder')]);

    const first = m.lines[0]!;
    const mailbox = { ...first, from: 'domaine.com/info/inbox/x.tmp' };
    expect(await tree(mail)).toEqual(before);
    await writeFile(m.path, original + JSON.stringify(mailbox) + '\n');
    const before2 = await tree(mail);
    const r2 = await cli(['queue', 'restore', '--manifest', m.path, '--apply']);
    expect([r2.code, r2.stderr]).toEqual([1, expect.stringContaining('domaine.com/info/inbox/x.tmp is not in an outgoing queue folder')]);
    expect(await tree(mail)).toEqual(before2);
  });

  it('restore puts back only files whose content is the one quarantined (sha256); the others stay, exit 1', async () => {
    const mail = await mailDir();
    const m = await quarantined(mail);
    const victim = m.lines[0]!;
    const victimPath = join(mail, victim.to as string);
    const forged = Buffer.alloc(Number(victim.size), 'x'); // same size, other bytes
    await writeFile(victimPath, forged);
    const r = await cli(['queue', 'restore', '--manifest', m.path, '--apply']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`conflict: ${victim.to as string}: its content is not what the journal recorded (sha256); left in place`);
    expect(r.stdout).toMatch(/moved 3, already done 0, gone before the move 0, conflicts 1/);
    expect(await readFile(victimPath)).toEqual(forged);
    expect(existsSync(join(mail, victim.from as string))).toBe(false);
  });

  it('an unfinished quarantine run whose manifest leads through a symlinked folder moves nothing from outside', async () => {
    const mail = await mailDir();
    await floodedQueue(mail, 2, 0);
    const outside = await outsideSecret();
    await symlink(outside.dir, join(mail, '_outgoing/linkdir'));
    // A killed run's manifest (no .done), rewritten to name the secret through the symlink.
    const run = '_quarantine/20261128T000000Z';
    await mkdir(join(mail, run), { recursive: true });
    const line = { from: '_outgoing/linkdir/secret.tmp', to: `${run}/_outgoing/linkdir/secret.tmp`, size: Buffer.byteLength(outside.content), sha256: sha(outside.content), sender: 'root@example.org' };
    await writeFile(join(mail, run, 'manifest.jsonl'), JSON.stringify(line) + '\n');
    const r = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('_outgoing/linkdir: a symlink on the way to _outgoing/linkdir/secret.tmp; symlinks are never followed');
    expect(await readFile(outside.file, 'utf8')).toBe(outside.content);
    expect(existsSync(join(mail, run, '_outgoing/linkdir/secret.tmp'))).toBe(false);
    // The genuine selection was still quarantined.
    expect(await namesIn(join(mail, '_outgoing'))).toEqual(['being written.tm$', 'desktop.ini']);
  });
});

describe('names that are not UTF-8', { timeout: 180_000 }, () => {
  it('report, quarantine and restore handle them as bytes, and agree with the exporter', async () => {
    const mail = await mailDir();
    await floodedQueue(mail, 2, 1);
    // A Latin-1 folder and a Latin-1 message name (from a Windows copy), both of the spam sender.
    const folder = bytesPath(mail, '_outgoing', '\xe9t\xe9');
    await mkdir(folder, { recursive: true });
    await writeFile(bytesPath(mail, '_outgoing', '\xe9t\xe9', 'm.tmp'), spamMessage(7));
    const latin1 = '\xff\xfe-latin1.tmp';
    await writeFile(bytesPath(mail, '_outgoing', latin1), spamMessage(8));
    const before = await namesIn(join(mail, '_outgoing'));
    expect(before).toContain(latin1);

    const { startExporter } = await import('../harness/exporter.js');
    const { waitFor, fetchText } = await import('../harness/processes.js');
    const exporter = await startExporter({ configYaml: `icewarp:\n  mail_directory: ${mail}\nspool:\n  rescan_interval: 1s\n` });
    try {
      const spamInExporter = async (): Promise<number | undefined> => {
        const line = (await fetchText(`${exporter.url}/metrics`)).split('\n').find((l) => l.startsWith('mailrelay_spool_sender_messages{sender="spam@evil.example"} '));
        return line === undefined ? 0 : Number(line.split(' ')[1]);
      };
      // The exporter counts _outgoing's spam, the retry spam and the Latin-1 name (not the Latin-1 folder: its name cannot be a label).
      await waitFor(async () => (await spamInExporter()) === 3, { what: 'the exporter to count 3 spam messages', timeoutMs: 20_000 });

      const report = await cli(['queue', 'report', '--mail-dir', mail, '--json']);
      expect(report.code, report.stderr).toBe(0);
      const json = JSON.parse(report.stdout) as { senders: { top: { sender: string; messages: number }[] }; folders: { folder: string }[]; warnings: string[] };
      expect(json.senders.top.find((s) => s.sender === 'spam@evil.example')?.messages).toBe(3);
      expect(json.folders.map((f) => f.folder)).not.toContain('_outgoing/\ufffdt\ufffd');
      expect(json.warnings).toContain('_outgoing/\\xe9t\\xe9: folder name not UTF-8; not counted, as in the spool metrics (queue quarantine still takes its messages)');
      const text = await cli(['queue', 'report', '--mail-dir', mail]);
      expect(text.code, text.stderr).toBe(0);

      const dry = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example']);
      expect(dry.stdout).toContain('_outgoing/\\xff\\xfe-latin1.tmp -> _quarantine/<UTC time>/_outgoing/\\xff\\xfe-latin1.tmp');
      expect(dry.stdout).toContain('total: quarantine: 4 files');
      const q = await cli(['queue', 'quarantine', '--mail-dir', mail, '--sender', 'spam@evil.example', '--apply']);
      expect(q.code, q.stderr).toBe(0);
      expect(q.stdout).toMatch(/moved 4, already done 0, gone before the move 0, conflicts 0/);
      // No spam is left in the queue: the exporter agrees.
      expect(await namesIn(join(mail, '_outgoing'))).toEqual(['being written.tm$', 'desktop.ini']);
      expect(await namesIn(join(mail, '_outgoing/retry'))).toEqual([]);
      expect(await readdir(folder)).toEqual([]);
      await waitFor(async () => (await spamInExporter()) === 0, { what: 'the exporter to count no spam', timeoutMs: 20_000 });

      // The manifest keeps the exact bytes of each name (base64 where not UTF-8) …
      const m = await manifestOf(mail);
      expect(m.lines).toContainEqual(
        expect.objectContaining({
          from: { base64: Buffer.from(`_outgoing/${latin1}`, 'latin1').toString('base64') },
          to: { base64: Buffer.from(`_quarantine/${m.run}/_outgoing/${latin1}`, 'latin1').toString('base64') },
          sha256: sha(spamMessage(8)),
        }),
      );
      expect(m.lines).toContainEqual(expect.objectContaining({ from: '_outgoing/spam 0 é€.tmp' }));
      // … so restore puts every message back under its own name.
      const r = await cli(['queue', 'restore', '--manifest', m.path, '--apply']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(await namesIn(join(mail, '_outgoing'))).toEqual(before);
      expect(await readFile(bytesPath(mail, '_outgoing', latin1), 'utf8')).toBe(spamMessage(8));
      expect(await readFile(bytesPath(mail, '_outgoing', '\xe9t\xe9', 'm.tmp'), 'utf8')).toBe(spamMessage(7));
      await waitFor(async () => (await spamInExporter()) === 3, { what: 'the exporter to count the restored spam', timeoutMs: 20_000 });
    } finally {
      await exporter.stop();
    }
  });
});
