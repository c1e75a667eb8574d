// The queue commands on Postfix's queue (`--postfix`): quarantine is
// `postsuper -h` (the hold queue: nothing is delivered, nothing expires,
// nothing is deleted), restore is `postsuper -H` (back to the deferred
// queue), report is the spool metrics' numbers from `postqueue -j`. They run
// on the same skeleton as IceWarp's, with the same dry-run default, journal
// and report; the journals live in the exporter's state directory, one folder
// per Postfix instance, since Postfix's queue is Postfix's alone.
//
// A journal line is one message: from `<queue>/<queue ID>`, to
// `hold/<queue ID>` (or back to `deferred/<queue ID>`).
import { mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { defaultPositionsFile } from '../config/paths.js';
import { isQueueId } from '../postfix/messages.js';
import { postsuper, type HoldAction } from '../postfix/postsuper.js';
import { listPostfixQueue, PostqueueListing, type QueuedMessage } from '../postfix/queue.js';
import { QUARANTINE } from '../spool/layout.js';
import { UsageError, type ParsedFlags } from './args.js';
import { freeRestoreJournal, runQueueCommand, unfinishedJournals, type CommandQueue } from './command.js';
import { describeFsError, lstatOrUndefined, MailDirectory, UnsafePathError } from './durable.js';
import { Journal, summarise, type EntryResult, type JournalEntry } from './journal.js';
import { formatBytes, senderLabel, type AdminIo, type Skipped } from './plan.js';

export const POSTFIX_FLAGS = { postfix: 'boolean', 'config-directory': 'string', postqueue: 'string', 'state-dir': 'string' } as const;

export const POSTFIX_HELP = `Postfix (--postfix): the same commands on Postfix's queue, through postqueue -j
and postsuper. Quarantine puts messages on hold (postsuper -h), restore
releases them (postsuper -H): nothing is ever deleted.
  --postfix                 work on Postfix's queue
  --config-directory DIR    Postfix's configuration directory (postqueue/postsuper -c), for a second instance
  --postqueue PATH          default /usr/sbin/postqueue; postsuper is taken from the same folder
  --state-dir DIR           where the runs are journaled (default: the exporter's state directory,
                            /var/lib/mailrelay-exporter); runs go to DIR/postfix/<instance>/_quarantine/
`;

export const POSTFIX_WARNING = 'Postfix keeps running: held messages are never delivered, released ones go back to the deferred queue.\n';

/** Postfix's queues a quarantine takes messages from (postsuper -h's own default). */
const HOLDABLE = ['incoming', 'active', 'deferred'];
/** postsuper calls are this many messages long; a kill between two loses nothing. */
const BATCH = 100;

export interface PostfixTools {
  postqueue: string;
  postsuper: string;
  configDirectory: string | undefined;
  /** DIR/postfix/<instance>: the runs' journals and the lock. */
  home: string;
}

export function postfixTools(flags: ParsedFlags, env: NodeJS.ProcessEnv = process.env): PostfixTools {
  const postqueue = flags.string('postqueue') ?? '/usr/sbin/postqueue';
  const configDirectory = flags.string('config-directory');
  const stateDir = flags.string('state-dir') ?? dirname(defaultPositionsFile(env));
  // One folder per instance, named after its configuration directory: /etc/postfix-out → _etc_postfix-out.
  const instance = configDirectory === undefined ? 'default' : resolve(configDirectory).replace(/[^A-Za-z0-9.-]/g, '_');
  return { postqueue, postsuper: join(dirname(postqueue), 'postsuper'), configDirectory, home: join(stateDir, 'postfix', instance) };
}

function postfixQueue(tools: PostfixTools): CommandQueue {
  return {
    location: `postfix${tools.configDirectory === undefined ? '' : ` -c ${tools.configDirectory}`}`,
    warning: POSTFIX_WARNING,
    async journals(create) {
      if (create) await mkdir(tools.home, { recursive: true, mode: 0o700 });
      else if (!(await lstatOrUndefined(tools.home))) return undefined;
      return MailDirectory.open(tools.home);
    },
  };
}

async function listing(tools: PostfixTools): Promise<QueuedMessage[]> {
  const out: QueuedMessage[] = [];
  await listPostfixQueue({ postqueue: tools.postqueue, configDirectory: tools.configDirectory, timeoutMs: 600_000 }, (m) => out.push(m));
  return out;
}

/** The sender as the commands write it: '' for the null sender (the listing's `<>`). */
const commandSender = (label: string) => (label === '<>' ? '' : label);
const idOf = (path: string) => path.slice(path.indexOf('/') + 1);

export async function runPostfixQuarantine(flags: ParsedFlags, io: AdminIo, selector: { senders: string[]; sizes: number[] }): Promise<number> {
  const queues = flags.list('queue');
  for (const q of queues) if (!HOLDABLE.includes(q)) throw new UsageError(`--queue ${q}: one of ${HOLDABLE.join(', ')} (the queues postsuper -h takes from)`);
  const tools = postfixTools(flags);
  return runQueueCommand(
    {
      name: 'queue quarantine',
      action: 'quarantine',
      verb: 'hold',
      unit: 'messages',
      queue: postfixQueue(tools),
      unfinished: (journals) => unfinishedJournals(journals, /^manifest\.jsonl$/),
      async select(inFlight, journals, apply) {
        const busy = new Set([...inFlight].map(idOf));
        const selected = (await listing(tools)).filter(
          (m) =>
            (queues.length ? queues : HOLDABLE).includes(m.queueName) &&
            !busy.has(m.queueId) &&
            (selector.senders.length === 0 || selector.senders.includes(commandSender(m.sender))) &&
            (selector.sizes.length === 0 || selector.sizes.includes(m.size)),
        );
        const runDir = apply && selected.length ? await Journal.newRunDir(journals!, io.now()) : `${QUARANTINE}/<UTC time>`;
        const journalPath = `${runDir}/manifest.jsonl`;
        const entries: JournalEntry[] = selected.map((m) => ({ from: `${m.queueName}/${m.queueId}`, to: `hold/${m.queueId}`, size: m.size, sha256: '', sender: commandSender(m.sender) }));
        return { entries, journalPath, after: `manifest: ${join(tools.home, journalPath)}\n` };
      },
      move: (journal, step) => moveByPostsuper(tools, 'hold', journal, step),
    },
    io,
    { apply: flags.boolean('apply'), json: flags.boolean('json'), verbose: flags.boolean('verbose') },
  );
}

export async function runPostfixRestore(flags: ParsedFlags, io: AdminIo, manifestArg: string, selector: { senders: string[]; sizes: number[] }): Promise<number> {
  const tools = postfixTools(flags);
  let manifestReal: string;
  try {
    manifestReal = await realpath(manifestArg);
  } catch (err) {
    throw new UnsafePathError(`manifest ${manifestArg}: ${describeFsError(err)}`, { cause: err });
  }
  // DIR/postfix/<instance>/_quarantine/<run>/manifest.jsonl, of this instance.
  const home = resolve(manifestReal, '..', '..', '..');
  if (basename(manifestReal) !== 'manifest.jsonl' || basename(dirname(dirname(manifestReal))) !== QUARANTINE) {
    throw new UsageError(`${manifestArg}: give the manifest.jsonl of a Postfix quarantine run (…/postfix/<instance>/${QUARANTINE}/<run>/manifest.jsonl)`);
  }
  if (home !== (await realpath(tools.home).catch(() => resolve(tools.home)))) {
    throw new UsageError(`${manifestArg}: a run of another Postfix instance or state directory than ${tools.home}; give its --config-directory (and --state-dir)`);
  }
  const journals = await MailDirectory.open(home);
  const manifestRel = journals.rel(manifestReal);
  const runDir = posix.dirname(manifestRel);
  return runQueueCommand(
    {
      name: 'queue restore',
      action: 'restore',
      verb: 'release',
      unit: 'messages',
      queue: postfixQueue(tools),
      unfinished: () => unfinishedJournals(journals, /^restore-.*\.jsonl$/, (path) => posix.dirname(path) === runDir),
      async select(inFlight) {
        const manifest = await Journal.load(journals, manifestRel);
        // Releasing from a half-done quarantine would let its rerun hold the messages again.
        if (!(await journals.lstat(manifestRel.replace(/\.jsonl$/, '.done')))) {
          throw new UnsafePathError(`${journals.shownAbs(manifestRel)}: that quarantine run did not finish; finish it first (rerun "queue quarantine --postfix … --apply"), then restore`);
        }
        const where = new Map((await listing(tools)).map((m) => [m.queueId, m.queueName]));
        const busy = new Set([...inFlight].map(idOf));
        const skipped: Skipped[] = [];
        const entries: JournalEntry[] = [];
        for (const [line, e] of manifest.entries.entries()) {
          const id = idOf(e.to);
          if (e.to !== `hold/${id}` || !isQueueId(id) || idOf(e.from) !== id) {
            throw new UnsafePathError(`${journals.shownAbs(manifestRel)}:${line + 1}: not a line a Postfix quarantine writes (hold/<queue ID>); refusing this manifest`);
          }
          const sender = e.sender ?? '';
          if (selector.senders.length && !selector.senders.includes(sender)) continue;
          if (selector.sizes.length && !selector.sizes.includes(e.size)) continue;
          if (busy.has(id)) continue;
          const now = where.get(id);
          if (now !== 'hold') {
            skipped.push({ path: e.to, reason: now === undefined ? 'no longer queued (deleted by hand, or released and delivered)' : `in the ${now} queue now, not on hold (released already)` });
            continue;
          }
          entries.push({ from: `hold/${id}`, to: `deferred/${id}`, size: e.size, sha256: '', sender });
        }
        return { entries, skipped, journalPath: await freeRestoreJournal(journals, runDir, io.now()) };
      },
      move: (journal, step) => moveByPostsuper(tools, 'release', journal, step),
    },
    io,
    { apply: flags.boolean('apply'), json: flags.boolean('json'), verbose: flags.boolean('verbose') },
  );
}

/**
 * The move: postsuper on the journal's queue IDs, a batch at a time. What
 * postsuper did not name is looked up in the queue afterwards: already where
 * it should be (an earlier run that was killed moved it), gone (delivered or
 * deleted meanwhile), or still elsewhere (a conflict: postsuper would not).
 */
async function moveByPostsuper(tools: PostfixTools, action: HoldAction, journal: Journal, step: () => Promise<void>): Promise<EntryResult[]> {
  const target = action === 'hold' ? 'hold' : 'deferred';
  const ids = journal.entries.map((e, i) => {
    const id = idOf(e.to);
    if (e.to !== `${target}/${id}` || !isQueueId(id)) {
      throw new UnsafePathError(`${journal.mail.shownAbs(journal.path)}:${i + 1}: not a line this command writes (${target}/<queue ID>); nothing more is moved`);
    }
    return id;
  });
  const moved = new Set<string>();
  for (let i = 0; i < ids.length; i += BATCH) {
    for (const id of await postsuper({ postsuper: tools.postsuper, configDirectory: tools.configDirectory }, action, ids.slice(i, i + BATCH))) moved.add(id);
    await step();
  }
  const rest = ids.some((id) => !moved.has(id)) ? new Map((await listing(tools)).map((m) => [m.queueId, m.queueName])) : new Map<string, string>();
  const results: EntryResult[] = ids.map((id, index) => {
    if (moved.has(id)) return { index, outcome: 'moved' };
    const now = rest.get(id);
    // Released mail may already be active again, or delivered.
    if (now === target || (action === 'release' && now !== undefined && now !== 'hold')) return { index, outcome: 'already' };
    if (now === undefined) return { index, outcome: 'missing', detail: `${id}: no longer queued (delivered, expired or deleted before it was ${action === 'hold' ? 'held' : 'released'})` };
    return { index, outcome: 'conflict', detail: `${id}: still in the ${now} queue; postsuper did not move it` };
  });
  await journal.finish(summarise(results));
  return results;
}

/** `queue report --postfix`: the spool metrics' numbers, from one listing. */
export async function runPostfixReport(flags: ParsedFlags, io: AdminIo, top: number): Promise<number> {
  const tools = postfixTools(flags);
  const l = new PostqueueListing();
  for (const m of await listing(tools)) l.add(m);
  const snap = l.snapshot(io.now().getTime(), top);
  const unfinished = (await lstatOrUndefined(tools.home)) ? await Journal.findUnfinished(await MailDirectory.open(tools.home), /\.jsonl$/) : [];
  if (flags.boolean('json')) {
    io.out(JSON.stringify({ postfix: tools.configDirectory ?? 'default', ...snap, unfinishedRuns: unfinished }, null, 2) + '\n');
    return 0;
  }
  io.out(`postfix queue${tools.configDirectory === undefined ? '' : ` (-c ${tools.configDirectory})`}\n\n`);
  io.out(`${'queue'.padEnd(10)} ${'folder'.padEnd(10)} ${'messages'.padStart(9)} ${'bytes'.padStart(11)}  oldest\n`);
  for (const f of snap.folders) {
    io.out(`${f.queue.padEnd(10)} ${f.folder.padEnd(10)} ${String(f.messages).padStart(9)} ${formatBytes(f.bytes).padStart(11)}  ${f.messages ? `${Math.round(f.oldestAgeSeconds)} s ago` : '-'}\n`);
  }
  io.out(`\nsenders (outgoing): ${snap.distinctSenders} distinct\n`);
  for (const s of snap.topSenders) io.out(`  ${String(s.messages).padStart(9)}  ${senderLabel(commandSender(s.sender))}\n`);
  io.out(`\nlargest same-size group (outgoing): ${snap.largestSameSize.outgoing} messages\n`);
  for (const u of unfinished) io.out(`unfinished run: ${join(tools.home, u)} (rerun its command with --apply to finish it)\n`);
  return 0;
}

/**
 * Whether the command works on Postfix's queue: `--postfix`. Postfix's flags
 * without it, or IceWarp's (`icewarpOnly`) with it, are usage errors.
 */
export function wantsPostfix(flags: ParsedFlags, icewarpOnly: string[]): boolean {
  const postfix = flags.boolean('postfix');
  for (const n of ['config-directory', 'postqueue', 'state-dir', 'queue']) {
    if (!postfix && (flags.string(n) !== undefined || flags.list(n).length)) throw new UsageError(`--${n} is for Postfix's queue: add --postfix`);
  }
  for (const n of icewarpOnly) {
    if (postfix && (flags.string(n) !== undefined || flags.list(n).length)) throw new UsageError(`--${n} is for IceWarp's mail directory, not with --postfix`);
  }
  return postfix;
}
