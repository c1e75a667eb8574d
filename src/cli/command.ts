// The one skeleton of the journaled queue commands (quarantine, restore,
// requeue, repair; IceWarp's folders or Postfix's postsuper): lock, finish
// the runs a kill left unfinished, plan, journal, apply, report. Each command
// supplies only its selection and its move; the queue it works on supplies
// where its runs are journaled.
import type { MailDirectory } from './durable.js';
import { Journal, RunLock, runStamp, type EntryResult, type JournalEntry } from './journal.js';
import { plannedFromEntries, reportRun, SMTP_WARNING, type AdminIo, type PlannedMove, type RunResults, type Skipped } from './plan.js';

/** An MTA's queue as the commands see it. */
export interface CommandQueue {
  /** What the report names as the queue (JSON `mailDir`): IceWarp's mail directory, Postfix's configuration. */
  readonly location: string;
  /** Printed on stderr before anything else: what to stop while messages move. */
  readonly warning: string;
  /**
   * The folder that holds the runs' journals (in its `_quarantine/`) and the
   * run lock. `create` for a real run; without it, undefined when there is
   * none yet (a dry run writes nothing).
   */
  journals(create: boolean): Promise<MailDirectory | undefined>;
}

/** What a run plans: the journal's entries, and what the report shows of them. */
export interface Selection {
  entries: JournalEntry[];
  /** Default: each entry as a move of the command's `action`. */
  planned?: PlannedMove[];
  /** Where the journal goes, relative to the journals folder (used only when applied). */
  journalPath: string;
  skipped?: Skipped[];
  warnings?: string[];
  /** A line printed after a real run's report (text only), e.g. where its manifest is. */
  after?: string;
}

export interface QueueCommand {
  /** The report's name for it: "queue quarantine". */
  name: string;
  action: PlannedMove['action'];
  /** The dry-run hint's verb: "move", "requeue", "hold". */
  verb: string;
  /** What an entry is, in the text: "files" (default) or "messages". */
  unit?: string;
  queue: CommandQueue;
  /** Journals of this command's runs that have no `.done` yet, oldest first: a rerun finishes them before planning anything new. */
  unfinished(journals: MailDirectory | undefined): Promise<Journal[]>;
  /**
   * The selection: what to do now, leaving alone what the unfinished runs
   * hold (`inFlight`: their entries' `from`). A real run may prepare (a run
   * folder in `journals`).
   */
  select(inFlight: Set<string>, journals: MailDirectory | undefined, apply: boolean): Promise<Selection>;
  /** The move: carries out every entry of one journal, then closes it (`.done`). Safe to call again on a journal a kill interrupted. */
  move(journal: Journal, step: () => Promise<void>): Promise<EntryResult[]>;
}

/** Runs a command: a dry run prints the plan; --apply takes the lock, finishes unfinished runs, journals the plan, moves, reports. Returns the exit code. */
export async function runQueueCommand(cmd: QueueCommand, io: AdminIo, opts: { apply: boolean; json: boolean; verbose: boolean }): Promise<number> {
  const { apply } = opts;
  io.err(cmd.queue.warning);
  const journals = await cmd.queue.journals(apply);
  if (apply) {
    const lock = await RunLock.acquire(journals!);
    io.defer(() => lock.release());
  }
  const pending = await cmd.unfinished(journals);
  const results: RunResults[] = [];
  if (apply) for (const j of pending) results.push({ journal: j.path, results: await cmd.move(j, io.step) });
  const inFlight = new Set(pending.flatMap((j) => j.entries.map((e) => e.from)));

  const selection = await cmd.select(inFlight, journals, apply);
  const { entries } = selection;
  if (apply && entries.length) {
    const journal = await Journal.create(journals!, selection.journalPath, entries);
    await io.step();
    results.push({ journal: journal.path, results: await cmd.move(journal, io.step) });
  }

  const planned = selection.planned ?? plannedFromEntries(cmd.action, entries);
  const code = reportRun(
    io,
    {
      command: cmd.name,
      apply,
      mailDir: cmd.queue.location,
      // After --apply the unfinished runs were finished first: their outcomes are among the results.
      unfinished: apply ? [] : pending.map((j) => ({ journal: j.path, files: j.entries.length })),
      planned,
      ...(selection.skipped ? { skipped: selection.skipped } : {}),
      results,
      ...(selection.warnings ? { warnings: selection.warnings } : {}),
      verb: cmd.verb,
      ...(cmd.unit ? { unit: cmd.unit } : {}),
    },
    opts,
  );
  if (!opts.json && apply && entries.length && selection.after) io.out(selection.after);
  return code;
}

/** An IceWarp mail directory: its runs are journaled in its own `_quarantine/`. */
export function mailDirectoryQueue(mail: MailDirectory): CommandQueue {
  return { location: mail.root, warning: SMTP_WARNING, journals: async () => mail };
}

/** Loads the unfinished journals named by `name` (a regular expression on the file name), oldest first. */
export async function unfinishedJournals(journals: MailDirectory | undefined, name: RegExp, keep: (path: string) => boolean = () => true): Promise<Journal[]> {
  if (journals === undefined) return [];
  const out: Journal[] = [];
  for (const path of await Journal.findUnfinished(journals, name)) if (keep(path)) out.push(await Journal.load(journals, path));
  return out;
}

/** `<runDir>/restore-<UTC time>[-N].jsonl`, a name no restore of that run has taken (a restore's journal sits beside the manifest it restores from). */
export async function freeRestoreJournal(journals: MailDirectory, runDir: string, now: Date): Promise<string> {
  const stamp = runStamp(now);
  for (let n = 1; ; n++) {
    const path = `${runDir}/restore-${n === 1 ? stamp : `${stamp}-${n}`}.jsonl`;
    if (!(await journals.lstat(path)) && !(await journals.lstat(`${path}.partial`))) return path;
  }
}
