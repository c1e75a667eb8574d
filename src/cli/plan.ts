// What the commands print: the plan (dry run) and the outcome (--apply), as
// a table for a person under pressure or as JSON for a script.
import { summarise, type EntryResult, type JournalEntry } from './journal.js';
import { shown } from './names.js';

export interface AdminIo {
  out(text: string): void;
  err(text: string): void;
  now(): Date;
  /** Test-only slow-down between steps (MAILRELAY_TEST_STEP_DELAY_MS). */
  step(): Promise<void>;
  /** Runs fn when the command ends, however it ends (short of a kill): releases the run lock. */
  defer(fn: () => Promise<void>): void;
}

export const SMTP_WARNING =
  'WARNING: stop the IceWarp SMTP service while messages move (IceWarp\'s own procedure), and start it again afterwards.\n';

/** Lines of the plan shown without --verbose; the totals always follow. */
export const PLAN_LINES_SHOWN = 50;

/** Paths are byte strings (names.ts), shown readably in the text and JSON output. */
export interface PlannedMove {
  action: 'quarantine' | 'restore' | 'requeue' | 'repair' | 'set aside';
  from: string;
  to: string;
  size: number;
  sender?: string;
  /** requeue: where the source is kept. */
  keep?: string;
  /** requeue: a From: line is added. */
  addsFrom?: boolean;
}

export interface Skipped {
  path: string;
  reason: string;
}

export interface UnfinishedRun {
  journal: string;
  files: number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export function senderLabel(sender: string | undefined): string {
  if (sender === undefined) return '';
  return sender === '' ? '<>' : sender;
}

export function printPlanText(io: AdminIo, unfinished: UnfinishedRun[], moves: PlannedMove[], skipped: Skipped[], verbose: boolean, unit = 'files'): void {
  for (const u of unfinished) io.out(`unfinished run ${shown(u.journal)}: ${u.files} ${unit}, finished first\n`);
  const listed = verbose ? moves : moves.slice(0, PLAN_LINES_SHOWN);
  for (const m of listed) {
    const extra = [formatBytes(m.size), senderLabel(m.sender), m.addsFrom ? 'adds From:' : '', m.keep ? `source kept in ${shown(m.keep)}` : '']
      .filter((s) => s !== '')
      .join(', ');
    io.out(`${m.action.padEnd(10)} ${shown(m.from)} -> ${shown(m.to)}  (${extra})\n`);
  }
  if (listed.length < moves.length) io.out(`… and ${moves.length - listed.length} more (--verbose lists them all, --json too)\n`);
  for (const s of skipped.slice(0, verbose ? skipped.length : PLAN_LINES_SHOWN)) io.out(`skip       ${shown(s.path)}: ${s.reason}\n`);
  if (!verbose && skipped.length > PLAN_LINES_SHOWN) io.out(`… and ${skipped.length - PLAN_LINES_SHOWN} more skipped\n`);
}

export function planTotals(moves: PlannedMove[]): Record<string, { files: number; bytes: number }> {
  const totals: Record<string, { files: number; bytes: number }> = {};
  for (const m of moves) {
    const t = (totals[m.action] ??= { files: 0, bytes: 0 });
    t.files++;
    t.bytes += m.size;
  }
  return totals;
}

export function printTotalsText(io: AdminIo, moves: PlannedMove[], unfinished: UnfinishedRun[], skipped: Skipped[], unit = 'files'): void {
  const totals = planTotals(moves);
  const parts = Object.entries(totals).map(([action, t]) => `${action}: ${t.files} ${unit}, ${formatBytes(t.bytes)}`);
  if (parts.length === 0 && unfinished.length === 0) parts.push('nothing to do');
  if (unfinished.length) parts.push(`unfinished runs to finish: ${unfinished.length}`);
  if (skipped.length) parts.push(`skipped: ${skipped.length}`);
  io.out(`total: ${parts.join('; ')}\n`);
}

export function printOutcomeText(io: AdminIo, journal: string, results: EntryResult[]): void {
  const c = summarise(results);
  io.out(`${shown(journal)}: moved ${c.moved}, already done ${c.already}, gone before the move ${c.missing}, conflicts ${c.conflict}\n`);
  for (const r of results) if (r.outcome === 'conflict' || r.outcome === 'missing') io.out(`  ${r.outcome}: ${r.detail ?? ''}\n`);
}

export function plannedFromEntries(action: PlannedMove['action'], entries: JournalEntry[]): PlannedMove[] {
  return entries.map((e) => ({
    action,
    from: e.from,
    to: e.to,
    size: e.size,
    ...(e.sender !== undefined ? { sender: e.sender } : {}),
    ...(e.keep !== undefined ? { keep: e.keep } : {}),
  }));
}

export interface RunResults {
  journal: string;
  results: EntryResult[];
}

export interface RunReport {
  /** e.g. "queue quarantine". */
  command: string;
  apply: boolean;
  mailDir: string;
  unfinished: UnfinishedRun[];
  planned: PlannedMove[];
  /** Reported by the commands that skip files. */
  skipped?: Skipped[];
  results: RunResults[];
  /** Reported by the commands that scan folders. */
  warnings?: string[];
  /** The verb of the dry-run hint: "move" or "requeue". */
  verb: string;
  /** What the plan moves, in the text: "files" (default) or "messages" (Postfix's queue IDs). */
  unit?: string;
}

/** Prints a command's plan (dry run) or outcome, as JSON or text; returns the exit code: 1 when a move met a conflict. */
export function reportRun(io: AdminIo, r: RunReport, opts: { json: boolean; verbose: boolean }): number {
  if (opts.json) {
    io.out(
      JSON.stringify({
        command: r.command,
        dryRun: !r.apply,
        mailDir: r.mailDir,
        unfinished: r.unfinished,
        plan: r.planned.map((m) => ({ ...m, from: shown(m.from), to: shown(m.to), ...(m.keep !== undefined ? { keep: shown(m.keep) } : {}) })),
        ...(r.skipped ? { skipped: r.skipped.map((s) => ({ ...s, path: shown(s.path) })) } : {}),
        totals: planTotals(r.planned),
        results: r.results,
        ...(r.warnings ? { warnings: r.warnings } : {}),
      }) + '\n',
    );
  } else {
    // After --apply the unfinished runs were finished first: their outcomes are among the results.
    const unfinished = r.apply ? [] : r.unfinished;
    const skipped = r.skipped ?? [];
    printPlanText(io, unfinished, r.planned, skipped, opts.verbose, r.unit);
    printTotalsText(io, r.planned, unfinished, skipped, r.unit);
    for (const x of r.results) printOutcomeText(io, x.journal, x.results);
    for (const w of r.warnings ?? []) io.err(`warning: ${w}\n`);
    if (!r.apply && (r.planned.length || r.unfinished.length)) io.out(`dry run: nothing was moved; add --apply to ${r.verb} these ${r.unit ?? 'files'}\n`);
  }
  return r.results.some((x) => x.results.some((e) => e.outcome === 'conflict')) ? 1 : 0;
}
