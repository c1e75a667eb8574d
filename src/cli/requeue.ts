// queue requeue: IceWarp's re-queue procedure done safely. Each message file
// (any extension but .dat) under SRC is first moved into the quarantine (the
// original is kept, never deleted), then its copy, with a From: line where it
// has none or an empty one, is written under a hidden `.partial` name in the
// target folder, fsynced, and renamed to `<name>.tmp`: IceWarp never sees a
// partial file. The journal's markers tell a rerun whether a copy was already
// handed over, so a message is never queued twice.
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { messageFileKind, OUTGOING, parseOriginalSender, queueOfFolder, QUARANTINE, stemOf, UNKNOWN_SENDER } from '../spool/layout.js';
import { shellWord } from '../runbook.js';
import { parseCommandFlags, parseSizes, requireString, UsageError } from './args.js';
import { fsyncDir, isPartialName, lstatOrUndefined, MailDirectory, partialPathFor, renameNoClobber, sha256, UnsafePathError, writeSynced } from './durable.js';
import { shown } from './names.js';
import { mailDirectoryQueue, runQueueCommand, unfinishedJournals } from './command.js';
import { Journal, moveGroup, summarise, type EntryResult, type JournalEntry } from './journal.js';
import { parseFromHeaderArg, withFromHeader } from './message.js';
import type { AdminIo, PlannedMove, Skipped } from './plan.js';
import { normaliseSender } from './quarantine.js';
import { freeName } from './restore.js';
import { listFolder, type QueueFile } from './scan.js';

const { dirname } = posix;

export const REQUEUE_HELP = `usage: mailrelay-exporter queue requeue --mail-dir DIR --from SRC [--to-folder FOLDER] [--from-header "From: admin@domaine.com"] [--apply] [--json]

IceWarp's re-queue procedure, done safely: every message file under SRC
(.tmp, .tm$, any extension but .dat; subfolders included) is put into
FOLDER (default _outgoing/priority_2) as a complete .tmp file, appearing in
one atomic rename. The original is moved into DIR/_quarantine/<UTC time>/
(kept, never deleted). Without --apply, prints the plan and changes nothing.

  --mail-dir DIR        the IceWarp mail directory
  --from SRC            folder to take the messages from, inside DIR: relative to it (_outgoing.old,
                        the copy IceWarp's procedure leaves), or absolute. A folder elsewhere:
                        copy it into DIR first (cp -a /backup/good DIR/_requeue; --from _requeue)
  --to-folder FOLDER    outgoing folder to queue them in (default _outgoing/priority_2)
  --from-header LINE    add this From: line to messages without one or with an empty one
  --sender ADDR         only this original sender (repeatable)
  --size BYTES          only this exact size (repeatable)
  --apply               act (stop the SMTP service first)
  --json, --verbose
`;

export const DEFAULT_REQUEUE_FOLDER = `${OUTGOING}/priority_2`;
const REQUEUE_NAME = /^requeue\.jsonl$/;
/** Never message files: our own journals and partial copies, Windows folder files. */
const NOT_MESSAGES = /^(desktop\.ini|thumbs\.db)$|\.(jsonl|progress|done|partial|abandoned)$/i;

/**
 * --from, inside the mail directory. Each message then moves by a rename and
 * its original stays in DIR/_quarantine; a folder elsewhere would have to be
 * copied, and the command never takes files it does not own. Why, and what to
 * do instead, rather than a bare "outside the mail directory".
 */
function sourceFolder(mail: MailDirectory, arg: string): string {
  try {
    return mail.folderArg(arg);
  } catch (err) {
    if (!(err instanceof UnsafePathError)) throw err;
    throw new UsageError(
      `--from ${arg}: not inside the mail directory ${mail.root}. IceWarp's procedure renames _outgoing, so its old copy is in the mail directory: give that (--from _outgoing.old). A folder kept elsewhere: copy it into the mail directory first (cp -a ${shellWord(arg)} ${shellWord(`${mail.root}/_requeue`)}) and give --from _requeue; its files are then moved to the queue and their originals kept in the quarantine.`,
      { cause: err },
    );
  }
}

export async function runRequeue(argv: string[], io: AdminIo): Promise<number> {
  const flags = parseCommandFlags(argv, {
    'mail-dir': 'string',
    from: 'string',
    'to-folder': 'string',
    'from-header': 'string',
    sender: 'list',
    size: 'list',
    apply: 'boolean',
    json: 'boolean',
    verbose: 'boolean',
  });
  if (flags.boolean('help')) {
    io.out(REQUEUE_HELP);
    return 0;
  }
  const mail = await MailDirectory.open(requireString(flags, 'mail-dir'));
  const source = sourceFolder(mail, requireString(flags, 'from'));
  const target = mail.folderArg(flags.string('to-folder') ?? DEFAULT_REQUEUE_FOLDER);
  const headerArg = flags.string('from-header');
  const fromHeader = headerArg === undefined ? undefined : parseFromHeaderArg(headerArg);
  const senders = flags.list('sender').map(normaliseSender);
  const sizes = parseSizes(flags.list('size'));
  if (queueOfFolder(target) !== 'outgoing') throw new UsageError(`--to-folder ${target}: not an outgoing queue folder (_outgoing or one of its subfolders)`);
  if (source === '' || source === QUARANTINE) {
    throw new UsageError(`--from: give a folder inside the mail directory, not the mail directory or ${QUARANTINE} itself (a run folder in it is fine)`);
  }
  if (source === target || source.startsWith(`${target}/`)) {
    throw new UsageError(`--from ${source} is the target folder ${target} or inside it; take the messages from another folder`);
  }
  if ((await mail.checkFolder(source)) === 'missing') throw new UnsafePathError(`--from ${mail.shownAbs(source)}: no such folder`);

  return runQueueCommand(
    {
      name: 'queue requeue',
      action: 'requeue',
      verb: 'requeue',
      queue: mailDirectoryQueue(mail),
      unfinished: () => unfinishedJournals(mail, REQUEUE_NAME),
      async select(inFlight, _journals, apply) {
        const warnings: string[] = [];
        const skipped: Skipped[] = [];
        const files = (await walk(mail, source, target, warnings)).filter((f) => {
          if (inFlight.has(f.path)) return false;
          if (f.name.startsWith('.') || isPartialName(f.name) || NOT_MESSAGES.test(f.name)) return false;
          if (messageFileKind(f.name) === 'dat') {
            skipped.push({ path: f.path, reason: 'a .dat file (envelope of an incoming pair), not a message' });
            return false;
          }
          return true;
        });

        const runDir = apply && files.length ? await Journal.newRunDir(mail, io.now()) : `${QUARANTINE}/<UTC time>`;
        const taken = new Set<string>();
        const entries: JournalEntry[] = [];
        for (const f of files) {
          let data: Buffer;
          try {
            data = await readFile(mail.abs(f.path));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
            throw new UnsafePathError(`${mail.shownAbs(f.path)}: ${(err as Error).message}`, { cause: err });
          }
          const sender = parseOriginalSender(data.subarray(0, 4096).toString('latin1')) ?? UNKNOWN_SENDER;
          if (senders.length && !senders.includes(sender)) continue;
          if (sizes.length && !sizes.includes(data.length)) continue;
          const out = fromHeader === undefined ? data : withFromHeader(data, fromHeader);
          const to = await freeName(mail, target, stemOf(f.name), taken);
          entries.push({
            from: f.path,
            keep: `${runDir}/${f.path}`,
            to,
            size: data.length,
            sha256: sha256(data),
            sender,
            outSha256: sha256(out),
            outSize: out.length,
            ...(fromHeader !== undefined ? { fromHeader } : {}),
          });
        }
        const planned: PlannedMove[] = entries.map((e) => ({
          action: 'requeue',
          from: e.from,
          to: e.to,
          size: e.outSize ?? e.size,
          sender: e.sender ?? '',
          keep: e.keep!,
          addsFrom: e.outSha256 !== e.sha256,
        }));
        return { entries, planned, skipped, warnings, journalPath: `${runDir}/requeue.jsonl` };
      },
      move: executeRequeue,
    },
    io,
    { apply: flags.boolean('apply'), json: flags.boolean('json'), verbose: flags.boolean('verbose') },
  );
}

/** Files under `folder`, depth first, skipping the target folder and, unless SRC is inside it, the quarantine. */
async function walk(mail: MailDirectory, folder: string, target: string, warnings: string[]): Promise<QueueFile[]> {
  const { files, folders } = await listFolder(mail, folder, warnings);
  const out = [...files];
  for (const sub of folders) {
    if (sub === target || (sub === QUARANTINE && !folder.startsWith(QUARANTINE))) continue;
    out.push(...(await walk(mail, sub, target, warnings)));
  }
  return out;
}

/**
 * Per entry: (1) move the source into the quarantine (`keep`), (2) place its
 * fixed copy at `to`. Markers: `commit i` (cross-fs keep copy verified),
 * `commit-out i` (the `.partial` copy at the target is complete), `placed i`.
 */
export async function executeRequeue(journal: Journal, step: () => Promise<void>): Promise<EntryResult[]> {
  const results: EntryResult[] = [];
  for (const [i, e] of journal.entries.entries()) results.push({ index: i, ...(await requeueOne(journal, i, e, step)) });
  await journal.finish(summarise(results));
  return results;
}

async function requeueOne(journal: Journal, i: number, e: JournalEntry, step: () => Promise<void>): Promise<Omit<EntryResult, 'index'>> {
  const { mail } = journal;
  if (journal.has(`placed ${i}`)) return { outcome: 'already' };
  if (!e.keep || !e.outSha256) throw new UnsafePathError(`${mail.shownAbs(journal.path)}: line ${i + 1} is not a requeue line (keep, outSha256)`);
  const K = mail.abs(e.keep);
  const T = mail.abs(e.to);
  const P = mail.abs(partialPathFor(e.to));
  // Every path is checked component by component just before it is used: no symlink on the way.
  let fromSt, toSt;
  try {
    fromSt = await mail.lstat(e.from);
    toSt = await mail.lstat(e.to);
    await mail.lstat(e.keep);
  } catch (err) {
    if (!(err instanceof UnsafePathError)) throw err;
    return { outcome: 'conflict', detail: `${err.message}; nothing requeued` };
  }

  if (fromSt) {
    const [kept] = await moveGroup(journal, [{ marker: `commit ${i}`, from: e.from, to: e.keep }], step);
    if (kept && kept.outcome !== 'moved' && kept.outcome !== 'already') return kept;
    // The original must be durably kept before its copy can be handed to IceWarp.
    await journal.flushFolders();
  }
  if (toSt) {
    const data = toSt.isFile() ? await readFile(T) : undefined;
    if (data && sha256(data) === e.outSha256) {
      await journal.mark(`placed ${i}`);
      return { outcome: 'moved' };
    }
    return { outcome: 'conflict', detail: `${shown(e.to)}: already exists with other content; ${shown(e.from)} is kept in ${shown(e.keep)}` };
  }
  if (journal.has(`commit-out ${i}`)) {
    // The complete copy was there: renamed before a kill (and maybe already sent), or still to rename.
    if (await lstatOrUndefined(P)) {
      await renameNoClobber(P, T);
      await fsyncDir(mail.abs(dirname(e.to)));
      await step();
    }
    await journal.mark(`placed ${i}`);
    return { outcome: 'moved' };
  }
  const keptSt = await mail.lstat(e.keep);
  if (!keptSt) return { outcome: 'missing', detail: `${shown(e.from)}: gone before it was requeued` };
  if (!keptSt.isFile()) return { outcome: 'conflict', detail: `${shown(e.keep)}: not a regular file (a symlink is never followed); not requeued` };
  const data = await readFile(K);
  if (sha256(data) !== e.sha256) {
    return { outcome: 'conflict', detail: `${shown(e.keep)}: changed since the plan (sha256); kept, not requeued` };
  }
  const out = e.fromHeader === undefined ? data : withFromHeader(data, e.fromHeader);
  if (sha256(out) !== e.outSha256) throw new UnsafePathError(`${shown(e.keep)}: the From: fix gives other bytes than planned`);
  await mail.ensureFolder(dirname(e.to));
  await writeSynced(P, out);
  await step();
  await journal.mark(`commit-out ${i}`);
  await step();
  await renameNoClobber(P, T);
  await fsyncDir(mail.abs(dirname(e.to)));
  await step();
  await journal.mark(`placed ${i}`);
  return { outcome: 'moved' };
}
