// queue quarantine: moves the matching outgoing messages to
// `_quarantine/<UTC time>/`, keeping their paths, with a manifest that
// `queue restore` reads. The manifest is written (and fsynced) before the
// first move, so a killed run is finished by the next one.
import { queueOfFolder } from '../spool/layout.js';
import { parseCommandFlags, parseSizes, requireString, UsageError } from './args.js';
import { mailDirectoryQueue, runQueueCommand, unfinishedJournals } from './command.js';
import { MailDirectory, sha256File } from './durable.js';
import { executeMoves, Journal, type JournalEntry } from './journal.js';
import type { AdminIo } from './plan.js';
import { POSTFIX_FLAGS, POSTFIX_HELP, runPostfixQuarantine, wantsPostfix } from './postfix.js';
import { listOutgoing, outgoingFolders, type OutgoingMessage } from './scan.js';

export const MANIFEST = 'manifest.jsonl';
const MANIFEST_NAME = /^manifest\.jsonl$/;

export const QUARANTINE_HELP = `usage: mailrelay-exporter queue quarantine --mail-dir DIR [selectors] [--apply] [--json] [--verbose]
       mailrelay-exporter queue quarantine --postfix [--config-directory DIR] [selectors] [--apply] [--json] [--verbose]

Moves the matching outgoing messages (.tmp files in _outgoing and its
subfolders) to DIR/_quarantine/<UTC time>/, keeping their relative paths,
and writes manifest.jsonl there (from, to, size, sha256, sender per file).
Without --apply, prints the plan and changes nothing.

Selectors (AND between kinds, OR within a repeated kind; at least one, or --all):
  --sender ADDR     original sender, case-insensitive (repeatable; "<>" for the null sender)
  --size BYTES      exact size in bytes (repeatable)
  --folder FOLDER   an outgoing folder, e.g. _outgoing/retry (repeatable)
  --queue QUEUE     with --postfix: incoming, active or deferred (repeatable)
  --all             every outgoing message

  --apply           move the files (stop the SMTP service first)
  --json            print the plan and the outcome as JSON
  --verbose         list every file of the plan
A run that was killed is finished by the next run with --apply.

${POSTFIX_HELP}`;

export interface MessageSelector {
  senders: string[];
  sizes: number[];
  folders: string[];
}

export function matchesSelector(m: { sender: string; size: number; folder: string }, s: MessageSelector): boolean {
  return (
    (s.senders.length === 0 || s.senders.includes(m.sender)) &&
    (s.sizes.length === 0 || s.sizes.includes(m.size)) &&
    (s.folders.length === 0 || s.folders.includes(m.folder))
  );
}

/** `--sender`: lowercased like the parsed original sender; `<>` is the null sender. */
export function normaliseSender(arg: string): string {
  const s = arg.trim().toLowerCase();
  return s === '<>' ? '' : s.replace(/^<(.*)>$/, '$1');
}

export async function runQuarantine(argv: string[], io: AdminIo): Promise<number> {
  const flags = parseCommandFlags(argv, {
    'mail-dir': 'string',
    sender: 'list',
    size: 'list',
    folder: 'list',
    queue: 'list',
    all: 'boolean',
    apply: 'boolean',
    json: 'boolean',
    verbose: 'boolean',
    ...POSTFIX_FLAGS,
  });
  if (flags.boolean('help')) {
    io.out(QUARANTINE_HELP);
    return 0;
  }
  const postfix = wantsPostfix(flags, ['mail-dir', 'folder']);
  const senders = flags.list('sender').map(normaliseSender);
  const sizes = parseSizes(flags.list('size'));
  const all = flags.boolean('all');
  const places = postfix ? flags.list('queue') : flags.list('folder');
  if (!all && senders.length === 0 && sizes.length === 0 && places.length === 0) {
    throw new UsageError(`give a selector (--sender, --size, ${postfix ? '--queue' : '--folder'}), or --all to quarantine the whole outgoing queue`);
  }
  if (all && (senders.length || sizes.length || places.length)) throw new UsageError('--all cannot be combined with selectors');
  if (postfix) return runPostfixQuarantine(flags, io, { senders, sizes });
  const mailDirArg = requireString(flags, 'mail-dir');
  const mail = await MailDirectory.open(mailDirArg);
  const folders = flags.list('folder').map((f) => {
    const rel = mail.folderArg(f);
    if (queueOfFolder(rel) !== 'outgoing') throw new UsageError(`--folder ${f}: not an outgoing queue folder (_outgoing or one of its subfolders)`);
    return rel;
  });
  const selector: MessageSelector = { senders, sizes, folders };
  return runQueueCommand(
    {
      name: 'queue quarantine',
      action: 'quarantine',
      verb: 'move',
      queue: mailDirectoryQueue(mail),
      unfinished: () => unfinishedJournals(mail, MANIFEST_NAME),
      async select(inFlight, _journals, apply) {
        const warnings: string[] = [];
        const scanFolders = folders.length ? folders : await outgoingFolders(mail, warnings);
        const selected = (await listOutgoing(mail, scanFolders, warnings)).filter((m) => matchesSelector(m, selector) && !inFlight.has(m.path));
        const runDir = apply && selected.length ? await Journal.newRunDir(mail, io.now()) : '_quarantine/<UTC time>';
        const journalPath = `${runDir}/${MANIFEST}`;
        return { entries: await manifestEntries(mail, selected, runDir, apply), journalPath, warnings, after: `manifest: ${mail.shownAbs(journalPath)}\n` };
      },
      move: executeMoves,
    },
    io,
    { apply: flags.boolean('apply'), json: flags.boolean('json'), verbose: flags.boolean('verbose') },
  );
}

/** The manifest lines; the sha256 is computed only for a real run (a dry run stays quick on a flooded queue). */
async function manifestEntries(mail: MailDirectory, selected: OutgoingMessage[], runDir: string, withSha: boolean): Promise<JournalEntry[]> {
  const entries: JournalEntry[] = [];
  for (const m of selected) {
    let sha = '';
    try {
      if (withSha) sha = await sha256File(mail.abs(m.path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // sent meanwhile
      throw err;
    }
    entries.push({ from: m.path, to: `${runDir}/${m.path}`, size: m.size, sha256: sha, sender: m.sender });
  }
  return entries;
}
