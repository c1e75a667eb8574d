// Entry point of the admin subcommands (queue report, quarantine, restore,
// requeue; incoming repair). Returns the process exit code: 0 ok, 1 an
// error (a file-system problem, a conflict), 2 a usage error.
import { UsageError } from './args.js';
import { describeFsError, MailDirError, pathText } from './durable.js';
import { stepDelayFromEnv } from './journal.js';
import { FromHeaderError } from './message.js';
import type { AdminIo } from './plan.js';
import { QUARANTINE_HELP, runQuarantine } from './quarantine.js';
import { REPAIR_HELP, runRepair } from './repair.js';
import { REPORT_HELP, runReport } from './report.js';
import { REQUEUE_HELP, runRequeue } from './requeue.js';
import { RESTORE_HELP, runRestore } from './restore.js';

export const QUEUE_HELP = `usage: mailrelay-exporter queue <command> [<flags>]
       mailrelay-exporter incoming repair [<flags>]

Clean up IceWarp's mail queues after a spam run, without losing a message.
Every command prints its plan and changes nothing unless --apply is given;
nothing is ever deleted (messages are moved to DIR/_quarantine/<UTC time>/);
a run that was killed is finished by the next run with --apply.
With --postfix, report, quarantine and restore work on Postfix's queue
(postqueue -j, postsuper -h / -H: held, never deleted).

Commands:
  queue report       counts, bytes and age per folder, top senders, same-size groups
  queue quarantine   move outgoing messages of a sender/size/folder to the quarantine
  queue restore      put quarantined messages back (from a manifest)
  queue requeue      IceWarp's re-queue procedure: files of any extension back as .tmp
  incoming repair    move complete .tmp/.dat pairs of _incoming.bak back, set orphans aside

Run "mailrelay-exporter queue <command> --help" for its flags.
Stop the IceWarp SMTP service while messages move.
`;

type Command = (argv: string[], io: AdminIo) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  'queue report': { run: runReport, help: REPORT_HELP },
  'queue quarantine': { run: runQuarantine, help: QUARANTINE_HELP },
  'queue restore': { run: runRestore, help: RESTORE_HELP },
  'queue requeue': { run: runRequeue, help: REQUEUE_HELP },
  'incoming repair': { run: runRepair, help: REPAIR_HELP },
};

export function processIo(): AdminIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    now: () => new Date(),
    step: stepDelayFromEnv(),
    defer: () => {
      throw new Error('defer() is provided by runAdminCommand');
    },
  };
}

export async function runAdminCommand(argv: string[], io: AdminIo = processIo()): Promise<number> {
  const [group, sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(QUEUE_HELP);
    return sub === undefined ? 2 : 0;
  }
  const command = COMMANDS[`${group} ${sub}`];
  if (!command) {
    io.err(`mailrelay-exporter: unknown command: ${group} ${sub}\n\n${QUEUE_HELP}`);
    return 2;
  }
  const deferred: (() => Promise<void>)[] = [];
  try {
    return await command.run(rest, { ...io, defer: (fn) => void deferred.push(fn) });
  } catch (err) {
    if (err instanceof UsageError || err instanceof FromHeaderError) {
      io.err(`mailrelay-exporter ${group} ${sub}: error: ${err.message}\n\n${command.help}`);
      return 2;
    }
    if (err instanceof MailDirError) {
      io.err(`mailrelay-exporter ${group} ${sub}: error: ${err.message}\n`);
      return 1;
    }
    // A file-system error in the middle of a run: the journal lets a rerun finish it.
    const e = err as NodeJS.ErrnoException;
    // A Buffer path (a name that is not UTF-8) is shown with \xNN escapes.
    const where = e.path ? `${pathText(e.path as string | Buffer)}: ` : '';
    const what = e.code ? describeFsError(e) : (e.message ?? String(err));
    io.err(`mailrelay-exporter ${group} ${sub}: error: ${where}${what}; no message was lost: fix this, then rerun the same command with --apply to finish\n`);
    return 1;
  } finally {
    for (const fn of deferred.reverse()) await fn();
  }
}
