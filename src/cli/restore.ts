// queue restore: puts quarantined messages back, where they came from or
// into one outgoing folder, as `.tmp` files that appear whole (one rename on
// the same file system, a hidden `.partial` copy renamed into place across
// file systems). Its own journal sits beside the manifest it restores from.
//
// A manifest is a file in the mail directory, so it is read as untrusted
// input: every file it names must lie in its own run folder and come from an
// outgoing queue folder, no path may pass through a symlink (each component
// is lstat'ed, so `linkdir -> /outside` never brings a file in from outside
// the mail directory), and a file moves back into a live queue only while its
// content still has the sha256 the manifest recorded.
import { realpath } from 'node:fs/promises';
import { basename, dirname, posix, resolve } from 'node:path';
import { queueOfFolder, QUARANTINE, stemOf } from '../spool/layout.js';
import { parseCommandFlags, parseSizes, requireString, UsageError } from './args.js';
import { describeFsError, MailDirectory, UnsafePathError } from './durable.js';
import { shown } from './names.js';
import { freeRestoreJournal, mailDirectoryQueue, runQueueCommand, unfinishedJournals } from './command.js';
import { executeMoves, Journal, type JournalEntry } from './journal.js';
import type { AdminIo, Skipped } from './plan.js';
import { POSTFIX_FLAGS, runPostfixRestore, wantsPostfix } from './postfix.js';
import { normaliseSender } from './quarantine.js';

export const RESTORE_HELP = `usage: mailrelay-exporter queue restore --manifest FILE [--sender ADDR] [--size BYTES] [--to-folder FOLDER] [--apply] [--json]
       mailrelay-exporter queue restore --postfix [--config-directory DIR] --manifest FILE [--sender ADDR] [--size BYTES] [--apply] [--json]

Puts messages quarantined by "queue quarantine" back: to the folder each
came from, or into --to-folder (e.g. _outgoing/priority_2), with the
extension .tmp. A name already taken gets a suffix (_2, _3 …): nothing is
ever overwritten. Without --apply, prints the plan and changes nothing.

  --manifest FILE     DIR/_quarantine/<run>/manifest.jsonl
  --mail-dir DIR      only when the manifest was moved out of its run folder
  --sender ADDR       only this original sender (repeatable, case-insensitive)
  --size BYTES        only this exact size (repeatable)
  --to-folder FOLDER  an outgoing folder, relative to the mail directory
  --apply             move the files (stop the SMTP service first)
  --json, --verbose

With --postfix, releases the messages a Postfix quarantine held (postsuper -H:
back to the deferred queue, delivered at the next retry or postqueue -f);
--config-directory, --postqueue and --state-dir as for queue quarantine.
`;

const RESTORE_NAME = /^restore-.*\.jsonl$/;

export async function runRestore(argv: string[], io: AdminIo): Promise<number> {
  const flags = parseCommandFlags(argv, {
    manifest: 'string',
    'mail-dir': 'string',
    sender: 'list',
    size: 'list',
    'to-folder': 'string',
    apply: 'boolean',
    json: 'boolean',
    verbose: 'boolean',
    ...POSTFIX_FLAGS,
  });
  if (flags.boolean('help')) {
    io.out(RESTORE_HELP);
    return 0;
  }
  const postfix = wantsPostfix(flags, ['mail-dir', 'to-folder']);
  const manifestArg = requireString(flags, 'manifest');
  const senders = flags.list('sender').map(normaliseSender);
  const sizes = parseSizes(flags.list('size'));
  if (postfix) return runPostfixRestore(flags, io, manifestArg, { senders, sizes });

  let manifestReal: string;
  try {
    manifestReal = await realpath(manifestArg);
  } catch (err) {
    throw new UnsafePathError(`manifest ${manifestArg}: ${describeFsError(err)}`, { cause: err });
  }
  if (basename(manifestReal) !== 'manifest.jsonl') {
    throw new UsageError(`${manifestArg}: give the manifest.jsonl of a quarantine run (the journals of other commands are not manifests)`);
  }
  let mailDirArg = flags.string('mail-dir');
  if (mailDirArg === undefined) {
    if (basename(dirname(dirname(manifestReal))) !== QUARANTINE) {
      throw new UsageError(`${manifestArg}: not in DIR/${QUARANTINE}/<run>/; give --mail-dir`);
    }
    mailDirArg = resolve(manifestReal, '..', '..', '..');
  }
  const mail = await MailDirectory.open(mailDirArg);
  const manifestRel = mail.rel(manifestReal);
  const runDir = posix.dirname(manifestRel);
  if (!(await mail.lstat(manifestRel))?.isFile()) throw new UnsafePathError(`${mail.shownAbs(manifestRel)}: not a regular file`);
  const toFolderArg = flags.string('to-folder');
  const toFolder = toFolderArg === undefined ? undefined : mail.folderArg(toFolderArg);
  if (toFolder !== undefined && queueOfFolder(toFolder) !== 'outgoing') {
    throw new UsageError(`--to-folder ${toFolderArg}: not an outgoing queue folder (_outgoing or one of its subfolders)`);
  }

  return runQueueCommand(
    {
      name: 'queue restore',
      action: 'restore',
      verb: 'move',
      queue: mailDirectoryQueue(mail),
      // Only this manifest's own restore runs.
      unfinished: () => unfinishedJournals(mail, RESTORE_NAME, (path) => posix.dirname(path) === runDir),
      async select(inFlight) {
        const manifest = await Journal.load(mail, manifestRel);
        // Restoring from a half-done quarantine would let its rerun take the restored files again.
        if (!(await mail.lstat(manifestRel.replace(/\.jsonl$/, '.done')))) {
          throw new UnsafePathError(`${mail.shownAbs(manifestRel)}: that quarantine run did not finish; finish it first (rerun "queue quarantine --mail-dir ${mail.root} … --apply"), then restore`);
        }
        const skipped: Skipped[] = [];
        const taken = new Set<string>();
        const entries: JournalEntry[] = [];
        for (const [line, e] of manifest.entries.entries()) {
          const sender = e.sender ?? '';
          if (senders.length && !senders.includes(sender)) continue;
          if (sizes.length && !sizes.includes(e.size)) continue;
          if (inFlight.has(e.to)) continue;
          checkManifestLine(mail, manifestRel, line, e, runDir);
          const st = await mail.lstat(e.to);
          if (!st) {
            skipped.push({ path: e.to, reason: 'not in the quarantine (already restored, or moved by hand)' });
            continue;
          }
          if (!st.isFile()) {
            skipped.push({ path: e.to, reason: 'not a regular file (a symlink is never followed)' });
            continue;
          }
          if (st.size !== e.size) {
            skipped.push({ path: e.to, reason: `${st.size} bytes, the manifest says ${e.size}: changed since it was quarantined; left there` });
            continue;
          }
          const folder = toFolder ?? posix.dirname(e.from);
          const dest = await freeName(mail, folder, stemOf(posix.basename(e.from)), taken);
          entries.push({ from: e.to, to: dest, size: st.size, sha256: e.sha256, sender });
        }
        return { entries, skipped, journalPath: await freeRestoreJournal(mail, runDir, io.now()) };
      },
      move: executeMoves,
    },
    io,
    { apply: flags.boolean('apply'), json: flags.boolean('json'), verbose: flags.boolean('verbose') },
  );
}

/**
 * Refuses a manifest line that a quarantine run could not have written: a
 * quarantined file outside the manifest's own run folder (it could name a
 * file in a live queue or a mailbox), an origin outside the outgoing queue
 * folders (restore writes there), a missing sha256. Throws, so a tampered
 * manifest restores nothing at all.
 */
function checkManifestLine(mail: MailDirectory, manifestRel: string, line: number, e: JournalEntry, runDir: string): void {
  const where = `${mail.shownAbs(manifestRel)}:${line + 1}`;
  if (!e.to.startsWith(`${runDir}/`)) throw new UnsafePathError(`${where}: ${shown(e.to)} is not in the run folder ${shown(runDir)}; refusing this manifest`);
  if (queueOfFolder(posix.dirname(e.from)) !== 'outgoing') {
    throw new UnsafePathError(`${where}: ${shown(e.from)} is not in an outgoing queue folder; refusing this manifest`);
  }
  if (!/^[0-9a-f]{64}$/.test(e.sha256)) throw new UnsafePathError(`${where}: no valid sha256; refusing this manifest`);
}

/** `<folder>/<stem>.tmp`, or `<stem>_N.tmp` when that name exists or is already planned. */
export async function freeName(mail: MailDirectory, folder: string, stem: string, taken: Set<string>): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = `${folder}/${n === 1 ? stem : `${stem}_${n}`}.tmp`;
    if (taken.has(candidate)) continue;
    if (await mail.lstat(candidate)) continue;
    taken.add(candidate);
    return candidate;
  }
}
