// The journal that makes every command resumable. A run first writes its
// whole plan (one JSON line per file) under a temporary name, fsyncs it and
// renames it into place; only then does it move files. Progress markers are
// appended (and fsynced) where the state of the files alone could not tell a
// rerun what happened; a `.done` file closes the run. A rerun finds runs
// without `.done` and finishes them before planning anything new.
import { open, readFile, readdir, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import {
  appendSynced,
  copySynced,
  fsyncDir,
  lstatOrUndefined,
  MailDirError,
  partialPathFor,
  renameNoClobber,
  sha256File,
  UnsafePathError,
  writeSynced,
  type MailDirectory,
} from './durable.js';
import { decodeJournalPath, encodeJournalPath, shown } from './names.js';
import { QUARANTINE } from '../spool/layout.js';

const { dirname } = posix;

export class JournalError extends MailDirError {}

/**
 * One file of a run. Paths are relative to the mail directory, with `/`
 * separators, as byte strings (names.ts); on disk each is its UTF-8 text or
 * `{"base64": …}` for a name that is not UTF-8.
 */
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

  /** Folders (relative) changed by same-file-system renames, fsynced once before `.done`: a rename is atomic without it. */
  readonly dirtyFolders = new Set<string>();

  get runDir(): string {
    return dirname(this.path);
  }

  private get progressPath(): Buffer {
    return this.mail.abs(this.path.replace(/\.jsonl$/, '.progress'));
  }

  private get donePath(): string {
    return this.path.replace(/\.jsonl$/, '.done');
  }

  /** A new run folder `_quarantine/<UTC time>[-N]` (created), unique even within one second. */
  static async newRunDir(mail: MailDirectory, now: Date): Promise<string> {
    await mail.ensureFolder(QUARANTINE);
    const stamp = runStamp(now);
    for (let n = 1; ; n++) {
      const rel = `${QUARANTINE}/${n === 1 ? stamp : `${stamp}-${n}`}`;
      if (!(await mail.lstat(rel))) {
        await mail.ensureFolder(rel);
        return rel;
      }
    }
  }

  /** Writes the whole plan durably: temporary name, fsync, rename, fsync of the folder. */
  static async create(mail: MailDirectory, path: string, entries: JournalEntry[]): Promise<Journal> {
    const abs = mail.abs(path);
    const tmp = mail.abs(`${path}.partial`);
    await writeSynced(tmp, entries.map((e) => JSON.stringify(journalLine(e))).join('\n') + (entries.length ? '\n' : ''));
    await renameNoClobber(tmp, abs);
    await fsyncDir(mail.abs(dirname(path)));
    return new Journal(mail, path, entries, new Set());
  }

  static async load(mail: MailDirectory, path: string): Promise<Journal> {
    const abs = mail.shownAbs(path);
    let text: string;
    try {
      text = await readFile(mail.abs(path), 'utf8');
    } catch (err) {
      throw new JournalError(`${abs}: cannot read the journal: ${(err as Error).message}`, { cause: err });
    }
    const entries: JournalEntry[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(line) as Record<string, unknown>;
      } catch (err) {
        throw new JournalError(`${abs}:${i + 1}: not a JSON line`, { cause: err });
      }
      const from = decodeJournalPath(raw.from);
      const to = decodeJournalPath(raw.to);
      const keep = raw.keep === undefined ? undefined : decodeJournalPath(raw.keep);
      if (from === undefined || to === undefined || (raw.keep !== undefined && keep === undefined) || typeof raw.sha256 !== 'string' || typeof raw.size !== 'number') {
        throw new JournalError(`${abs}:${i + 1}: a journal line needs from, to, size and sha256`);
      }
      // A tampered journal must not lead outside the mail directory: abs() throws.
      for (const p of [from, to, keep]) {
        if (p === undefined) continue;
        try {
          mail.abs(p);
        } catch (err) {
          throw new UnsafePathError(`${abs}:${i + 1}: ${(err as Error).message}`, { cause: err });
        }
      }
      entries.push({ ...(raw as unknown as JournalEntry), from, to, ...(keep !== undefined ? { keep } : {}) });
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
    const runs = (await readdir(mail.abs(QUARANTINE), { withFileTypes: true, encoding: 'buffer' }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name.toString('latin1'))
      .sort();
    for (const run of runs) {
      const files = (await readdir(mail.abs(`${QUARANTINE}/${run}`), { encoding: 'buffer' })).map((b) => b.toString('latin1'));
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
    for (const dir of this.dirtyFolders) await fsyncDir(this.mail.abs(dir));
    this.dirtyFolders.clear();
  }

  async finish(summary: Record<string, unknown>): Promise<void> {
    await this.flushFolders();
    await writeSynced(this.mail.abs(this.donePath), JSON.stringify({ ...summary, finished: new Date().toISOString() }) + '\n');
    await fsyncDir(this.mail.abs(dirname(this.donePath)));
  }
}

export interface Move {
  /** Progress marker written once a cross-file-system copy is complete and verified. */
  marker: string;
  from: string;
  to: string;
  /**
   * The content the plan recorded: when set, the source must still hash to
   * it before it moves (into a live queue, a file must be the one planned).
   */
  sha256?: string;
}

type MoveResult = { outcome: Outcome; detail?: string };

/**
 * Moves files so that a kill at any point loses none and duplicates none,
 * back to back as one group (a `.tmp`/`.dat` pair). Same file system: one
 * rename each. Across file systems: copy to a hidden `.partial` name beside
 * the destination, fsync, verify by sha256, record a commit marker, rename,
 * and only then remove the source. A rerun reads the marker: with it, the
 * copy is known complete (the source goes even if IceWarp has already taken
 * the destination); without it, the copy starts over.
 *
 * Every path is checked just before its move, component by component
 * (MailDirectory.lstat): a symlink on the way, or a source whose content is
 * not what the plan recorded, is a conflict and the file stays where it is,
 * with the rest of its group (never half a pair).
 */
export async function moveGroup(
  journal: Journal,
  moves: Move[],
  step: () => Promise<void>,
  /** Whether two folders are on different file systems; injectable so tests can take the copy path on one disk. */
  crossDevice: (fromDir: Buffer, toDir: Buffer) => Promise<boolean> = differentDevices,
): Promise<MoveResult[]> {
  const { mail } = journal;
  type State = 'pending' | 'committed' | 'finished';
  const states: State[] = [];
  const results: MoveResult[] = [];

  const stageCopy = async (m: Move): Promise<void> => {
    const F = mail.abs(m.from);
    const P = partialPathFor(m.to);
    const copied = await copySynced(F, mail.abs(P), step);
    await step();
    const source = await sha256File(F);
    if (copied !== source) throw new JournalError(`${mail.shownAbs(P)}: the copy of ${mail.shownAbs(m.from)} does not match it (sha256); the source is kept`);
    await journal.mark(m.marker);
    await step();
  };

  const classify = async (m: Move): Promise<[State, MoveResult]> => {
    const committed = journal.has(m.marker);
    let fromSt, toSt;
    try {
      fromSt = await mail.lstat(m.from);
      toSt = await mail.lstat(m.to);
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      return ['finished', { outcome: 'conflict', detail: `${err.message}; ${shown(m.from)} left in place` }];
    }
    if (!fromSt) return ['finished', toSt || committed ? { outcome: 'already' } : { outcome: 'missing', detail: `${shown(m.from)}: gone before it was moved` }];
    if (!fromSt.isFile()) return ['finished', { outcome: 'conflict', detail: `${shown(m.from)}: not a regular file (a symlink is never followed)` }];
    const F = mail.abs(m.from);
    if (toSt) {
      // Killed after the rename of a cross-fs copy, before the source was removed.
      if (committed && toSt.isFile() && (await sha256File(mail.abs(m.to))) === (await sha256File(F))) {
        await unlink(F);
        await fsyncDir(mail.abs(dirname(m.from)));
        return ['finished', { outcome: 'moved' }];
      }
      return ['finished', { outcome: 'conflict', detail: `${shown(m.to)}: already exists with other content; ${shown(m.from)} left in place` }];
    }
    if (!committed && m.sha256 !== undefined && (await sha256File(F)) !== m.sha256) {
      return ['finished', { outcome: 'conflict', detail: `${shown(m.from)}: its content is not what the journal recorded (sha256); left in place` }];
    }
    return [committed ? 'committed' : 'pending', { outcome: 'moved' }];
  };

  for (const m of moves) {
    const [state, result] = await classify(m);
    states.push(state);
    results.push(result);
  }
  // One file of a group that cannot move holds back the others not yet committed.
  const blocked = results.findIndex((r) => r.outcome === 'conflict');
  if (blocked >= 0) {
    for (const [i, m] of moves.entries()) {
      if (states[i] !== 'pending') continue;
      states[i] = 'finished';
      results[i] = { outcome: 'conflict', detail: `${shown(m.from)}: left in place with its group, since ${shown(moves[blocked]!.from)} could not move` };
    }
  }

  // Stage every cross-fs copy of the group first, so the renames come back to back.
  for (const [i, m] of moves.entries()) {
    if (states[i] !== 'pending') continue;
    await mail.ensureFolder(dirname(m.to));
    if (await crossDevice(mail.abs(dirname(m.from)), mail.abs(dirname(m.to)))) {
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
          journal.dirtyFolders.add(dirname(m.to)).add(dirname(m.from));
        } else {
          await fsyncDir(mail.abs(dirname(m.to)));
          await fsyncDir(mail.abs(dirname(m.from)));
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
      const P = mail.abs(partialPathFor(m.to));
      if (await lstatOrUndefined(P)) {
        await renameNoClobber(P, T);
        await fsyncDir(mail.abs(dirname(m.to)));
        await step();
      }
      // else: renamed before a kill, and possibly already taken by IceWarp.
    }
  }

  for (const [i, m] of moves.entries()) {
    if (states[i] !== 'committed') continue;
    await unlink(mail.abs(m.from)); // the verified copy is in place: this ends the move, it deletes no mail
    await fsyncDir(mail.abs(dirname(m.from)));
    await step();
  }
  return results;
}

async function differentDevices(fromDir: Buffer, toDir: Buffer): Promise<boolean> {
  return (await lstatOrUndefined(fromDir))?.dev !== (await lstatOrUndefined(toDir))?.dev;
}

/** Whether a move puts a file into a live queue (anywhere but the quarantine), where its content must be the one planned. */
export function intoLiveQueue(to: string): boolean {
  return !to.startsWith(`${QUARANTINE}/`);
}

/**
 * Runs a journal of plain moves (quarantine, restore, repair), group by
 * group, and closes it. A file moving into a live queue must still have the
 * sha256 its journal recorded.
 */
export async function executeMoves(journal: Journal, step: () => Promise<void>): Promise<EntryResult[]> {
  const results: EntryResult[] = [];
  const { entries } = journal;
  let i = 0;
  while (i < entries.length) {
    const group = entries[i]!.group;
    let j = i + 1;
    if (group !== undefined) while (j < entries.length && entries[j]!.group === group) j++;
    const moves = entries.slice(i, j).map((e, k) => ({
      marker: `commit ${i + k}`,
      from: e.from,
      to: e.to,
      ...(intoLiveQueue(e.to) && e.sha256 !== '' ? { sha256: e.sha256 } : {}),
    }));
    const outcomes = await moveGroup(journal, moves, step);
    outcomes.forEach((r, k) => results.push({ index: i + k, ...r }));
    i = j;
  }
  await journal.finish(summarise(results));
  return results;
}

/** A journal line as written: paths in their lossless JSON form. */
function journalLine(e: JournalEntry): Record<string, unknown> {
  return { ...e, from: encodeJournalPath(e.from), to: encodeJournalPath(e.to), ...(e.keep !== undefined ? { keep: encodeJournalPath(e.keep) } : {}) };
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
  private constructor(private readonly path: Buffer) {}

  static async acquire(mail: MailDirectory): Promise<RunLock> {
    await mail.ensureFolder(QUARANTINE);
    const path = mail.abs(`${QUARANTINE}/.lock`);
    const shownPath = mail.shownAbs(`${QUARANTINE}/.lock`);
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
        throw new JournalError(`another run (pid ${pid}) is working on ${mail.root}; wait for it to end (or, if that process is gone, remove ${shownPath})`);
      }
      await unlink(path).catch(() => undefined); // stale: its process is gone
    }
    throw new JournalError(`${shownPath}: could not take the lock`);
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
