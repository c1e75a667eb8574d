// incoming repair: after an overload, moves the complete `.tmp`/`.dat` pairs
// (a `.tm$` with its `.dat` too) of `_incoming.bak` back to `_incoming`, and
// sets the lone files aside in the quarantine, never deleting them. The
// files of a pair move back to back, the message first and the `.dat` last
// (the order IceWarp writes them in, A: IceWarp acts on the `.dat`); a
// cross-file-system pair is copied completely before either appears.
import { dirname, posix, resolve } from 'node:path';
import { INCOMING } from '../spool/layout.js';
import { parseCommandFlags, requireString, UsageError } from './args.js';
import { MailDirectory, sha256File, UnsafePathError } from './durable.js';
import { shown } from './names.js';
import { mailDirectoryQueue, runQueueCommand, unfinishedJournals } from './command.js';
import { executeMoves, Journal, type JournalEntry } from './journal.js';
import type { AdminIo, PlannedMove, Skipped } from './plan.js';
import { scanIncomingFolder } from './scan.js';

export const REPAIR_HELP = `usage: mailrelay-exporter incoming repair --dir DIR/_incoming.bak [--to DIR/_incoming] [--apply] [--json]

Moves the complete .tmp/.dat pairs (and .tm$/.dat) from --dir back to --to
(default: the _incoming folder beside --dir), so that IceWarp never sees
half a pair, and sets the lone .tmp, .tm$ and .dat files aside in
DIR/_quarantine/<UTC time>/ (never deleted). Other files stay where they are.
A pair whose name is already taken in --to stays in place.
Without --apply, prints the plan and changes nothing.

  --dir FOLDER       the folder to repair, e.g. /opt/icewarp/mail/_incoming.bak
  --to FOLDER        where the pairs go (default: DIR/_incoming)
  --mail-dir DIR     the mail directory (default: the folder holding --dir)
  --apply            act (stop the SMTP service first)
  --json, --verbose
`;

const REPAIR_NAME = /^repair\.jsonl$/;

export async function runRepair(argv: string[], io: AdminIo): Promise<number> {
  const flags = parseCommandFlags(argv, {
    dir: 'string',
    to: 'string',
    'mail-dir': 'string',
    apply: 'boolean',
    json: 'boolean',
    verbose: 'boolean',
  });
  if (flags.boolean('help')) {
    io.out(REPAIR_HELP);
    return 0;
  }
  const dirArg = requireString(flags, 'dir');
  const mail = await MailDirectory.open(flags.string('mail-dir') ?? dirname(resolve(dirArg)));
  const dir = mail.folderArg(resolve(dirArg));
  const to = flags.string('to') === undefined ? INCOMING : mail.folderArg(resolve(flags.string('to')!));
  if (dir === '' || to === '') throw new UsageError('--dir and --to must be folders inside the mail directory');
  if (dir === to) throw new UsageError(`--dir and --to are the same folder (${dir})`);
  if ((await mail.checkFolder(dir)) === 'missing') throw new UnsafePathError(`--dir ${mail.shownAbs(dir)}: no such folder`);
  await mail.checkFolder(to);

  return runQueueCommand(
    {
      name: 'incoming repair',
      action: 'repair',
      verb: 'move',
      queue: mailDirectoryQueue(mail),
      unfinished: () => unfinishedJournals(mail, REPAIR_NAME),
      async select(_inFlight, _journals, apply) {
        const warnings: string[] = [];
        const scan = await scanIncomingFolder(mail, dir, warnings);
        const skipped: Skipped[] = scan.others.map((f) => ({ path: f.path, reason: 'not a queue file, left in place' }));
        const runDir = apply && (scan.pairs.length || scan.orphans.length) ? await Journal.newRunDir(mail, io.now()) : '_quarantine/<UTC time>';
        const entries: JournalEntry[] = [];
        const planned: PlannedMove[] = [];
        let group = 0;
        for (const pair of scan.pairs) {
          // The message first, the .dat last.
          const files = [...pair.files].sort((a, b) => Number(a.kind === 'dat') - Number(b.kind === 'dat') || (a.name < b.name ? -1 : 1));
          const clash = [];
          for (const f of files) if (await mail.lstat(`${to}/${f.name}`)) clash.push(shown(f.name));
          if (clash.length) {
            for (const f of files) skipped.push({ path: f.path, reason: `${shown(to)}/${clash.join(', ')} already exists; the pair stays here` });
            continue;
          }
          group++;
          for (const f of files) {
            entries.push({ from: f.path, to: `${to}/${f.name}`, size: f.size, sha256: '', group });
            planned.push({ action: 'repair', from: f.path, to: `${to}/${f.name}`, size: f.size });
          }
        }
        for (const orphan of scan.orphans) {
          for (const f of orphan.files) {
            const dest = `${runDir}/${dir}/${posix.basename(f.path)}`;
            entries.push({ from: f.path, to: dest, size: f.size, sha256: '' });
            planned.push({ action: 'set aside', from: f.path, to: dest, size: f.size });
          }
        }
        // Hashes only for a real run: a dry run on a flooded folder stays quick.
        return { entries: apply ? await withHashes(mail, entries) : entries, planned, skipped, warnings, journalPath: `${runDir}/repair.jsonl` };
      },
      move: executeMoves,
    },
    io,
    { apply: flags.boolean('apply'), json: flags.boolean('json'), verbose: flags.boolean('verbose') },
  );
}

/** The sha256 of each file; a pair one of whose files is gone meanwhile is left out whole (never half a pair). */
async function withHashes(mail: MailDirectory, entries: JournalEntry[]): Promise<JournalEntry[]> {
  const gone = new Set<number>();
  const out: JournalEntry[] = [];
  for (const e of entries) {
    try {
      out.push({ ...e, sha256: await sha256File(mail.abs(e.from)) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (e.group !== undefined) gone.add(e.group);
    }
  }
  return out.filter((e) => e.group === undefined || !gone.has(e.group));
}
