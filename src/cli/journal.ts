// The journal that makes every command resumable. A run first writes its
// whole plan (one JSON line per file) under a temporary name, fsyncs it and
// renames it into place; only then does it move files. Progress markers are
// appended (and fsynced) where the state of the files alone could not tell a
// rerun what happened; a `.done` file closes the run. A rerun finds runs
// without `.done` and finishes them before planning anything new.
import { open, readFile, readdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  appendSynced,
  copySynced,
  fsyncDir,
  lstatOrUndefined,
  MailDirError,
  partialPathFor,
  renameNoClobber,
  sha256File,
  writeSynced,
  type MailDirectory,
} from './durable.js';
import { QUARANTINE } from '../spool/layout.js';

export class JournalError extends MailDirError {}

/** One file of a run. Paths are relative to the mail directory, with `/` separators. */
export interface JournalEntry {
  from: string;
  to: string;
  size: number;
  sha256: string;
  sender?: string;
  /** requeue: where the source is kept (in the quarantine) before its copy is placed at `to`. */
  keep?: string;
  /** requeue: the placed message after the From: header fix. */
  outSha256?: string;
  outSize?: number;
  fromHeader?: string;
  /** repair: the files of one `.tmp`/`.dat` pair share a group and move back to back. */
  group?: number;
}

/** What happened to one entry. */
export type Outcome = 'moved' | 'already' | 'missing' | 'conflict';

export interface EntryResult {
  index: number;
  outcome: Outcome;
  detail?: string;
}

/** Test-only: MAILRELAY_TEST_STEP_DELAY_MS slows every step so a test can kill a run at many points. */
export function stepDelayFromEnv(env: NodeJS.ProcessEnv = process.env): () => Promise<void> {
  const ms = Number(env.MAILRELAY_TEST_STEP_DELAY_MS ?? 0);
  if (!Number.isFinite(ms) || ms <= 0) return async () => undefined;
  return () => new Promise((r) => setTimeout(r, ms));
}

/** `20261128T023000Z`: sortable, no colons (Windows shares). */
export function runStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export class Journal {
  private constructor(
    readonly mail: MailDirectory,
    /** Relative path of the `.jsonl` file. */
    readonly path: string,
    readonly entries: JournalEntry[],
    private readonly markers: Set<string>,
  ) {}

  /** Folders changed by same-file-system renames, fsynced once before `.done`: a rename is atomic without it. */
  readonly dirtyFolders = new Set<string>();

  get runDir(): string {
    return dirname(this.path);
  }

  private get progressPath(): string {
    return this.mail.abs(this.path.replace(/\.jsonl$/, '.progress'));
  }

  private get donePath(): string {
    return this.mail.abs(this.path.replace(/\.jsonl$/, '.done'));
  }

  /** A new run folder `_quarantine/<UTC time>[-N]` (created), unique even within one second. */
  static async newRunDir(mail: MailDirectory, now: Date): Promise<string> {
    await mail.ensureFolder(QUARANTINE);
    const stamp = runStamp(now);
    for (let n = 1; ; n++) {
      const rel = `${QUARANTINE}/${n === 1 ? stamp : `${stamp}-${n}`}`;
      if (!(await lstatOrUndefined(mail.abs(rel)))) {
        await mail.ensureFolder(rel);
        return rel;
      }
    }
  }

  /** Writes the whole plan durably: temporary name, fsync, rename, fsync of the folder. */
  static async create(mail: MailDirectory, path: string, entries: JournalEntry[]): Promise<Journal> {
    const abs = mail.abs(path);
    const tmp = `${abs}.partial`;
    await writeSynced(tmp, entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : ''));
    await renameNoClobber(tmp, abs);
    await fsyncDir(dirname(abs));
    return new Journal(mail, path, entries, new Set());
  }

  static async load(mail: MailDirectory, path: string): Promise<Journal> {
    const abs = mail.abs(path);
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (err) {
      throw new JournalError(`${abs}: cannot read the journal: ${(err as Error).message}`, { cause: err });
    }
    const entries: JournalEntry[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let e: JournalEntry;
      try {
        e = JSON.parse(line) as JournalEntry;
      } catch (err) {
        throw new JournalError(`${abs}:${i + 1}: not a JSON line`, { cause: err });
      }
      if (typeof e.from !== 'string' || typeof e.to !== 'string' || typeof e.sha256 !== 'string' || typeof e.size !== 'number') {
        throw new JournalError(`${abs}:${i + 1}: a journal line needs from, to, size and sha256`);
      }
      // A tampered journal must not lead outside the mail directory: abs() throws.
      for (const p of [e.from, e.to, e.keep]) if (p !== undefined) mail.abs(p);
      entries.push(e);
    });
    const markers = new Set<string>();
    const journal = new Journal(mail, path, entries, markers);
    try {
      for (const m of (await readFile(journal.progressPath, 'utf8')).split('\n')) if (m) markers.add(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return journal;
  }

  /** Journals (relative paths) named by `name` in the quarantine's run folders that have no `.done` yet, oldest first. */
  static async findUnfinished(mail: MailDirectory, name: RegExp): Promise<string[]> {
    if ((await mail.checkFolder(QUARANTINE)) === 'missing') return [];
    const found: string[] = [];
    const runs = (await readdir(mail.abs(QUARANTINE), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    for (const run of runs) {
      const files = await readdir(mail.abs(`${QUARANTINE}/${run}`));
      for (const f of files.sort()) {
        if (name.test(f) && f.endsWith('.jsonl') && !files.includes(f.replace(/\.jsonl$/, '.done'))) {
          found.push(`${QUARANTINE}/${run}/${f}`);
        }
      }
    }
    return found;
  }

  has(marker: string): boolean {
    return this.markers.has(marker);
  }

  async mark(marker: string): Promise<void> {
    await appendSynced(this.progressPath, marker);
    this.markers.add(marker);
  }

  async flushFolders(): Promise<void> {
    for (const dir of this.dirtyFolders) await fsyncDir(dir);
    this.dirtyFolders.clear();
  }

  async finish(summary: Record<string, unknown>): Promise<void> {
    await this.flushFolders();
    await writeSynced(this.donePath, JSON.stringify({ ...summary, finished: new Date().toISOString() }) + '\n');
    await fsyncDir(dirname(this.donePath));
  }
}

export interface Move {
  /** Progress marker written once a cross-file-system copy is complete and verified. */
  marker: string;
  from: string;
  to: string;
}

/**
 * Moves files so that a kill at any point loses none and duplicates none,
 * back to back as one group (a `.tmp`/`.dat` pair). Same file system: one
 * rename each. Across file systems: copy to a hidden `.partial` name beside
 * the destination, fsync, verify by sha256, record a commit marker, rename,
 * and only then remove the source. A rerun reads the marker: with it, the
 * copy is known complete (the source goes even if IceWarp has already taken
 * the destination); without it, the copy starts over.
 */
export async function moveGroup(
  journal: Journal,
  moves: Move[],
  step: () => Promise<void>,
  /** Whether two folders are on different file systems; injectable so tests can take the copy path on one disk. */
  crossDevice: (fromDir: string, toDir: string) => Promise<boolean> = differentDevices,
): Promise<{ outcome: Outcome; detail?: string }[]> {
  const { mail } = journal;
  type State = 'pending' | 'committed' | 'finished';
  const states: State[] = [];
  const results: { outcome: Outcome; detail?: string }[] = [];

  const stageCopy = async (m: Move): Promise<void> => {
    const F = mail.abs(m.from);
    const P = partialPathFor(mail.abs(m.to));
    const copied = await copySynced(F, P, step);
    await step();
    const source = await sha256File(F);
    if (copied !== source) throw new JournalError(`${P}: the copy of ${F} does not match it (sha256); the source is kept`);
    await journal.mark(m.marker);
    await step();
  };

  for (const m of moves) {
    const F = mail.abs(m.from);
    const T = mail.abs(m.to);
    const committed = journal.has(m.marker);
    const fromSt = await lstatOrUndefined(F);
    const toSt = await lstatOrUndefined(T);
    if (!fromSt) {
      states.push('finished');
      results.push(toSt || committed ? { outcome: 'already' } : { outcome: 'missing', detail: `${m.from}: gone before it was moved` });
      continue;
    }
    if (!fromSt.isFile()) {
      states.push('finished');
      results.push({ outcome: 'conflict', detail: `${m.from}: not a regular file (a symlink is never followed)` });
      continue;
    }
    if (toSt) {
      // Killed after the rename of a cross-fs copy, before the source was removed.
      if (committed && toSt.isFile() && (await sha256File(T)) === (await sha256File(F))) {
        await unlink(F);
        await fsyncDir(dirname(F));
        states.push('finished');
        results.push({ outcome: 'moved' });
      } else {
        states.push('finished');
        results.push({ outcome: 'conflict', detail: `${m.to}: already exists with other content; ${m.from} left in place` });
      }
      continue;
    }
    states.push(committed ? 'committed' : 'pending');
    results.push({ outcome: 'moved' });
  }

  // Stage every cross-fs copy of the group first, so the renames come back to back.
  for (const [i, m] of moves.entries()) {
    if (states[i] !== 'pending') continue;
    await mail.ensureFolder(dirname(m.to));
    if (await crossDevice(dirname(mail.abs(m.from)), dirname(mail.abs(m.to)))) {
      await stageCopy(m);
      states[i] = 'committed';
    }
  }

  for (const [i, m] of moves.entries()) {
    const F = mail.abs(m.from);
    const T = mail.abs(m.to);
    if (states[i] === 'pending') {
      try {
        await renameNoClobber(F, T);
        if (m.to.startsWith(`${QUARANTINE}/`)) {
          // IceWarp never takes from the quarantine: the folders are fsynced once, at the end of the run.
          journal.dirtyFolders.add(dirname(T)).add(dirname(F));
        } else {
          await fsyncDir(dirname(T));
          await fsyncDir(dirname(F));
        }
        await step();
        continue;
      } catch (err) {
        // Same device number but another mount (a bind mount): rename refuses, copy instead.
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await stageCopy(m);
        states[i] = 'committed';
      }
    }
    if (states[i] === 'committed') {
      const P = partialPathFor(T);
      if (await lstatOrUndefined(P)) {
        await renameNoClobber(P, T);
        await fsyncDir(dirname(T));
        await step();
      }
      // else: renamed before a kill, and possibly already taken by IceWarp.
    }
  }

  for (const [i, m] of moves.entries()) {
    if (states[i] !== 'committed') continue;
    const F = mail.abs(m.from);
    await unlink(F); // the verified copy is in place: this ends the move, it deletes no mail
    await fsyncDir(dirname(F));
    await step();
  }
  return results;
}

async function differentDevices(fromDir: string, toDir: string): Promise<boolean> {
  return (await lstatOrUndefined(fromDir))?.dev !== (await lstatOrUndefined(toDir))?.dev;
}

/** Runs a journal of plain moves (quarantine, restore, repair), group by group, and closes it. */
export async function executeMoves(journal: Journal, step: () => Promise<void>): Promise<EntryResult[]> {
  const results: EntryResult[] = [];
  const { entries } = journal;
  let i = 0;
  while (i < entries.length) {
    const group = entries[i]!.group;
    let j = i + 1;
    if (group !== undefined) while (j < entries.length && entries[j]!.group === group) j++;
    const moves = entries.slice(i, j).map((e, k) => ({ marker: `commit ${i + k}`, from: e.from, to: e.to }));
    const outcomes = await moveGroup(journal, moves, step);
    outcomes.forEach((r, k) => results.push({ index: i + k, ...r }));
    i = j;
  }
  await journal.finish(summarise(results));
  return results;
}

export function summarise(results: EntryResult[]): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { moved: 0, already: 0, missing: 0, conflict: 0 };
  for (const r of results) counts[r.outcome]++;
  return counts;
}

/**
 * One `--apply` run at a time per mail directory: two admins in two
 * terminals would otherwise finish the same journal at once. The lock names
 * its process; a lock left by a killed run is taken over.
 */
export class RunLock {
  private constructor(private readonly path: string) {}

  static async acquire(mail: MailDirectory): Promise<RunLock> {
    await mail.ensureFolder(QUARANTINE);
    const path = mail.abs(`${QUARANTINE}/.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return new RunLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (await isAdminRun(pid)) {
        throw new JournalError(`another run (pid ${pid}) is working on ${mail.root}; wait for it to end (or, if that process is gone, remove ${path})`);
      }
      await unlink(path).catch(() => undefined); // stale: its process is gone
    }
    throw new JournalError(`${path}: could not take the lock`);
  }

  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}

/** Whether pid is a live admin command (on Linux, checked by its command line, so a reused pid does not count). */
async function isAdminRun(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.includes('queue') || cmdline.includes('incoming');
  } catch {
    return true; // no /proc: trust the live pid
  }
}
