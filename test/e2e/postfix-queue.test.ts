// The queue commands on a real Postfix (test/harness/postfix.ts): a spam run
// of one forged sender piles up deferred among legitimate mail; `queue
// quarantine --postfix` holds exactly the spam with postsuper -h (dry run
// first), survives a SIGKILL halfway (a rerun finishes the journal, nothing
// lost, nothing held twice), and `queue restore --postfix` releases it with
// postsuper -H. No message is ever deleted: the queue's total never changes.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORTER_MAIN } from '../harness/exporter.js';
import { startPostfix, type RunningPostfix } from '../harness/postfix.js';
import { waitFor } from '../harness/processes.js';

const SPAM_SENDER = 'willm.b@orange.fr';
const SPAM = 150;
const LEGITIMATE = 20;

let postfix: RunningPostfix | undefined;
let state: string;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The built CLI; `killWhen` is polled while it runs and SIGKILLs it once true. */
function cli(args: string[], opts: { stepDelayMs?: number; killWhen?: () => Promise<boolean> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (opts.stepDelayMs) env.MAILRELAY_TEST_STEP_DELAY_MS = String(opts.stepDelayMs);
    else delete env.MAILRELAY_TEST_STEP_DELAY_MS;
    const child = spawn(process.execPath, [EXPORTER_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let done = false;
    const poll = async (): Promise<void> => {
      while (!done && opts.killWhen) {
        if (await opts.killWhen()) {
          child.kill('SIGKILL');
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    void poll();
    child.once('error', reject);
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const postfixArgs = () => ['--postfix', '--config-directory', postfix!.configDir, '--state-dir', state];

async function counts(): Promise<{ total: number; hold: number; spamHeld: number; spamQueued: number }> {
  const q = await postfix!.queue();
  return {
    total: q.length,
    hold: q.filter((m) => m.queue_name === 'hold').length,
    spamHeld: q.filter((m) => m.queue_name === 'hold' && m.sender === SPAM_SENDER).length,
    spamQueued: q.filter((m) => m.queue_name !== 'hold' && m.sender === SPAM_SENDER).length,
  };
}

/** Submits a message through Postfix's sendmail (postdrop → pickup): mail for an external domain stays deferred. */
async function submit(sender: string, rcpt: string, body: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('/usr/sbin/sendmail', ['-C', postfix!.configDir, '-f', sender, rcpt], (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(`From: ${sender}\nTo: ${rcpt}\nSubject: offer\n\n${body}\n`);
  });
}

beforeAll(async () => {
  state = mkdtempSync(join(tmpdir(), 'mailrelay-postfix-state-'));
  postfix = await startPostfix({ localDomains: ['domaine.com'], mailboxes: ['info@domaine.com'], users: {}, mynetworks: ['127.0.0.200/32'] });
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < SPAM + LEGITIMATE; i++) {
    const spam = i < SPAM;
    jobs.push(spam ? submit(SPAM_SENDER, `victim${i}@spam-target.example`, 'Cheap pills, same size every time.') : submit(`user${i}@domaine.com`, `partner${i}@partner.example`, `Invoice ${i}`));
    if (jobs.length === 10) await Promise.all(jobs.splice(0));
  }
  await Promise.all(jobs);
  // Every message tried once and deferred (the network is "down").
  await waitFor(async () => (await postfix!.queue()).filter((m) => m.queue_name === 'deferred').length === SPAM + LEGITIMATE, {
    what: 'every submitted message in the deferred queue',
    timeoutMs: 120_000,
    intervalMs: 500,
  });
}, 240_000);

afterAll(async () => {
  await postfix?.stop();
  if (state !== undefined) rmSync(state, { recursive: true, force: true });
});

describe('queue quarantine and restore on a real Postfix (postsuper)', () => {
  it('plans without acting, as JSON', async () => {
    const r = await cli(['queue', 'quarantine', ...postfixArgs(), '--sender', SPAM_SENDER.toUpperCase(), '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { dryRun: boolean; plan: { from: string; to: string; sender: string }[]; totals: Record<string, { files: number }> };
    expect(out.dryRun).toBe(true);
    expect(out.plan).toHaveLength(SPAM);
    expect(out.plan.every((m) => m.sender === SPAM_SENDER && m.from.startsWith('deferred/') && m.to === `hold/${m.from.slice('deferred/'.length)}`)).toBe(true);
    expect(await counts()).toEqual({ total: SPAM + LEGITIMATE, hold: 0, spamHeld: 0, spamQueued: SPAM });
    expect(existsSync(join(state, 'postfix'))).toBe(false); // a dry run writes nothing
  });

  it('holds exactly the spam, survives a SIGKILL halfway, and a rerun finishes the run', async () => {
    // postsuper runs 100 messages at a time; the kill lands in the pause after the first 100.
    const killed = await cli(['queue', 'quarantine', ...postfixArgs(), '--sender', SPAM_SENDER, '--apply'], {
      stepDelayMs: 3000,
      killWhen: async () => (await counts()).hold >= 100,
    });
    expect(killed.signal).toBe('SIGKILL');
    const mid = await counts();
    expect(mid).toEqual({ total: SPAM + LEGITIMATE, hold: 100, spamHeld: 100, spamQueued: SPAM - 100 });
    const runs = join(state, 'postfix', postfix!.configDir.replace(/[^A-Za-z0-9.-]/g, '_'), '_quarantine');
    const [run] = readdirSync(runs).filter((d) => !d.startsWith('.'));
    expect(readdirSync(join(runs, run!)).sort()).toEqual(['manifest.jsonl']); // unfinished: no .done

    const rerun = await cli(['queue', 'quarantine', ...postfixArgs(), '--sender', SPAM_SENDER, '--apply']);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(`_quarantine/${run}/manifest.jsonl: moved 50, already done 100, gone before the move 0, conflicts 0`);
    expect(rerun.stdout).toContain('total: nothing to do');
    expect(await counts()).toEqual({ total: SPAM + LEGITIMATE, hold: SPAM, spamHeld: SPAM, spamQueued: 0 });
    expect(readdirSync(join(runs, run!)).sort()).toEqual(['manifest.done', 'manifest.jsonl']);

    // The report sees the quarantine as Postfix's hold queue.
    const report = await cli(['queue', 'report', ...postfixArgs(), '--json']);
    const snap = JSON.parse(report.stdout) as { folders: { folder: string; queue: string; messages: number }[]; topSenders: { sender: string }[] };
    expect(snap.folders.find((f) => f.folder === 'hold')).toMatchObject({ queue: 'quarantine', messages: SPAM });
    expect(snap.topSenders.map((s) => s.sender)).not.toContain(SPAM_SENDER);
  }, 120_000);

  it('releases the held spam with postsuper -H, and only once', async () => {
    const runs = join(state, 'postfix', postfix!.configDir.replace(/[^A-Za-z0-9.-]/g, '_'), '_quarantine');
    const [run] = readdirSync(runs).filter((d) => !d.startsWith('.'));
    const manifest = join(runs, run!, 'manifest.jsonl');
    const restore = await cli(['queue', 'restore', ...postfixArgs(), '--manifest', manifest, '--apply']);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toMatch(new RegExp(`restore-\\d{8}T\\d{6}Z\\.jsonl: moved ${SPAM}, already done 0`));
    expect(await counts()).toEqual({ total: SPAM + LEGITIMATE, hold: 0, spamHeld: 0, spamQueued: SPAM });
    const again = await cli(['queue', 'restore', ...postfixArgs(), '--manifest', manifest]);
    expect(again.stdout).toContain(`total: nothing to do; skipped: ${SPAM}`);
    // postsuper -H puts them in the deferred queue, where the next retry takes them.
    const q = await postfix!.queue();
    expect(q.filter((m) => m.sender === SPAM_SENDER).every((m) => m.queue_name === 'deferred' || m.queue_name === 'active')).toBe(true);
  }, 60_000);
});
