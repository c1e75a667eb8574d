// queue report: what is in the queues right now, with the spool metrics'
// definitions, plus any run of these commands that was interrupted.
import { parseCommandFlags, requireString, UsageError } from './args.js';
import { MailDirectory } from './durable.js';
import { Journal } from './journal.js';
import { shown } from './names.js';
import { formatBytes, senderLabel, type AdminIo } from './plan.js';
import { POSTFIX_FLAGS, runPostfixReport, wantsPostfix } from './postfix.js';
import { reportQueues } from './scan.js';

export const DEFAULT_TOP = 20;

export const REPORT_HELP = `usage: mailrelay-exporter queue report --mail-dir DIR [--top N] [--json]
       mailrelay-exporter queue report --postfix [--config-directory DIR] [--postqueue PATH] [--top N] [--json]

Per queue folder: messages, bytes and the oldest message; the top original
senders of the outgoing queue; the largest groups of messages of one exact
size; orphan files of the incoming folders. The same definitions as the
spool metrics (mailrelay_spool_*). Reads only; never changes anything.

  --mail-dir DIR   the IceWarp mail directory (e.g. /opt/icewarp/mail)
  --top N          senders and same-size groups to list (default ${DEFAULT_TOP})
  --json           print JSON
  --postfix        Postfix's queue, from postqueue -j (folders are Postfix's queues; hold is the quarantine)
`;

export async function runReport(argv: string[], io: AdminIo): Promise<number> {
  const flags = parseCommandFlags(argv, { 'mail-dir': 'string', top: 'string', json: 'boolean', ...POSTFIX_FLAGS });
  if (flags.boolean('help')) {
    io.out(REPORT_HELP);
    return 0;
  }
  const topArg = flags.string('top') ?? String(DEFAULT_TOP);
  if (!/^\d+$/.test(topArg) || Number(topArg) < 1) throw new UsageError(`--top ${topArg}: must be a positive whole number`);
  if (wantsPostfix(flags, ['mail-dir'])) return runPostfixReport(flags, io, Number(topArg));
  const mail = await MailDirectory.open(requireString(flags, 'mail-dir'));
  const report = await reportQueues(mail, Number(topArg), io.now());
  const unfinished = (await Journal.findUnfinished(mail, /\.jsonl$/)).map(shown);
  if (flags.boolean('json')) {
    io.out(JSON.stringify({ ...report, unfinishedRuns: unfinished }, null, 2) + '\n');
    return 0;
  }
  io.out(`mail directory ${report.mailDir}\n\n`);
  io.out(`${'queue'.padEnd(9)} ${'folder'.padEnd(28)} ${'messages'.padStart(9)} ${'bytes'.padStart(11)}  oldest\n`);
  for (const f of report.folders) {
    const oldest = f.oldest ? `${f.oldest} (${formatAge(f.oldestAgeSeconds ?? 0)} ago)` : '-';
    io.out(`${f.queue.padEnd(9)} ${f.folder.padEnd(28)} ${String(f.messages).padStart(9)} ${formatBytes(f.bytes).padStart(11)}  ${oldest}\n`);
  }
  if (report.folders.length === 0) io.out('(no queue folder found)\n');
  io.out(`\noriginal senders (outgoing): ${report.senders.distinct} distinct\n`);
  for (const s of report.senders.top) io.out(`  ${String(s.messages).padStart(9)}  ${senderLabel(s.sender)}\n`);
  for (const q of ['outgoing', 'incoming'] as const) {
    const g = report.sameSize[q];
    io.out(`\nlargest same-size group (${q}): ${g.largest} messages\n`);
    for (const x of g.groups) io.out(`  ${String(x.messages).padStart(9)} × ${x.size} bytes\n`);
  }
  const orphans = report.orphans.filter((o) => o.files > 0);
  io.out(`\norphans: ${orphans.length ? orphans.map((o) => `${o.folder} ${o.kind} ${o.files}`).join(', ') : 'none'}\n`);
  for (const u of unfinished) io.out(`unfinished run: ${u} (rerun its command with --apply to finish it)\n`);
  for (const w of report.warnings) io.err(`warning: ${w}\n`);
  return 0;
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}
