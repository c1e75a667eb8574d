import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseOriginalSender } from '../spool/layout.js';
import { addSpam, DEFAULT_SPAM_SIZE, writeLargeQueue, writeQueue, type QueueOptions } from './queue.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mailrelay-queue-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const OPTS: QueueOptions = {
  seed: 42,
  legitimateMessages: 40,
  spamMessages: 120,
  spamSender: 'willm.b@orange.fr',
  retryFraction: 0.3,
  incomingPairs: 7,
  incomingBakPairs: 4,
  incomingBakOrphans: 5,
  oldMessages: 3,
  nowMs: NOW,
};

/** Recounts a folder's .tmp files the plain way. */
function walk(dir: string): { names: string[]; sizes: number[]; senders: (string | undefined)[]; mtimes: number[] } {
  const names = readdirSync(dir).filter((n) => n.endsWith('.tmp'));
  return {
    names,
    sizes: names.map((n) => statSync(join(dir, n)).size),
    senders: names.map((n) => parseOriginalSender(readFileSync(join(dir, n), 'latin1').slice(0, 4096))),
    mtimes: names.map((n) => statSync(join(dir, n)).mtimeMs),
  };
}

describe('writeQueue', () => {
  it('writes what its ground truth says', () => {
    const dir = tempDir();
    const truth = writeQueue(dir, OPTS);
    const out = walk(join(dir, '_outgoing'));
    const retry = walk(join(dir, '_outgoing/retry'));
    const prio = walk(join(dir, '_outgoing/priority_2'));
    expect(out.names.length + retry.names.length).toBe(160);
    expect(prio.names.length).toBe(3);
    for (const [folder, w] of [['_outgoing', out], ['_outgoing/retry', retry], ['_outgoing/priority_2', prio]] as const) {
      expect(truth.folders[folder]).toEqual({
        messages: w.names.length,
        bytes: w.sizes.reduce((a, b) => a + b, 0),
        oldestMtimeMs: Math.min(...w.mtimes),
      });
    }
    const all = [...out.senders, ...retry.senders, ...prio.senders];
    expect(truth.senders['willm.b@orange.fr']).toBe(120);
    expect(all.filter((s) => s === 'willm.b@orange.fr')).toHaveLength(120);
    expect(Object.values(truth.senders).reduce((a, b) => a + b, 0)).toBe(all.length);
    expect(all).not.toContain(undefined);
    expect(truth.largestSameSize.outgoing).toBeGreaterThanOrEqual(120);
    expect(truth.folders['_outgoing/priority_2']!.oldestMtimeMs).toBeLessThan(NOW - 5 * 86400_000);

    const bak = readdirSync(join(dir, '_incoming.bak'));
    expect(bak.filter((n) => n.endsWith('.tmp'))).toHaveLength(4 + 3);
    expect(bak.filter((n) => n.endsWith('.dat'))).toHaveLength(4 + 2);
    expect(truth.orphans['_incoming.bak']).toEqual({ tmp: 3, dat: 2 });
    expect(truth.folders['_incoming.bak']!.messages).toBe(4);
    expect(truth.folders['_incoming']!.messages).toBe(7);
    expect(readdirSync(join(dir, '_incoming'))).toHaveLength(14);
    // Clutter that is not a message.
    expect(readdirSync(join(dir, '_outgoing')).filter((n) => !n.endsWith('.tmp')).sort()).toEqual(
      expect.arrayContaining(['desktop.ini', 'queue.lock']),
    );
  });

  it('gives every spam copy the same size, and the same tree for the same seed', () => {
    const a = tempDir();
    const b = tempDir();
    const truthA = writeQueue(a, OPTS);
    const truthB = writeQueue(b, OPTS);
    expect(truthB).toEqual(truthA);
    expect(readdirSync(join(a, '_outgoing')).sort()).toEqual(readdirSync(join(b, '_outgoing')).sort());
    const spam = walk(join(a, '_outgoing'));
    const spamSizes = new Set(spam.sizes.filter((_, i) => spam.senders[i] === 'willm.b@orange.fr'));
    expect([...spamSizes]).toEqual([DEFAULT_SPAM_SIZE]);
  });

  it('writes no _incoming.bak when asked for none', () => {
    const dir = tempDir();
    const truth = writeQueue(dir, { ...OPTS, incomingBakPairs: 0, incomingBakOrphans: 0 });
    expect(existsSync(join(dir, '_incoming.bak'))).toBe(false);
    expect(truth.orphans['_incoming.bak']).toBeUndefined();
  });
});

describe('addSpam', () => {
  it('adds copies of one size from one sender', () => {
    const dir = tempDir();
    const names = addSpam(dir, 5, { sender: 'x@evil.test', size: 4000, folder: '_outgoing/retry' });
    expect(names).toHaveLength(5);
    const w = walk(join(dir, '_outgoing/retry'));
    expect(w.names.sort()).toEqual([...names].sort());
    expect(new Set(w.sizes)).toEqual(new Set([4000]));
    expect(new Set(w.senders)).toEqual(new Set(['x@evil.test']));
  });
});

describe('writeLargeQueue', () => {
  it('fills each folder with the count asked, its senders in the shares asked, as its ground truth says', () => {
    const dir = tempDir();
    const truth = writeLargeQueue(dir, {
      seed: 7,
      folders: { _outgoing: 300, '_outgoing/retry': 500, '_outgoing/priority_1': 200 },
      spamSender: 'willm.b@orange.fr',
      spamShare: 0.7,
      bounceShare: 0.05,
      oneOffShare: 0.05,
      nowMs: NOW,
    });
    const walked = { _outgoing: walk(join(dir, '_outgoing')), '_outgoing/retry': walk(join(dir, '_outgoing/retry')), '_outgoing/priority_1': walk(join(dir, '_outgoing/priority_1')) };
    const senders = new Map<string, number>();
    for (const [folder, w] of Object.entries(walked)) {
      expect(truth.folders[folder]).toEqual({ messages: w.names.length, bytes: w.sizes.reduce((a, b) => a + b, 0), oldestMtimeMs: Math.min(...w.mtimes) });
      for (const s of w.senders) senders.set(s!, (senders.get(s!) ?? 0) + 1);
    }
    expect([walked._outgoing.names.length, walked['_outgoing/retry'].names.length, walked['_outgoing/priority_1'].names.length]).toEqual([300, 500, 200]);
    expect(Object.fromEntries(senders)).toEqual(truth.senders);
    // The shares, within what 1,000 draws allow.
    expect(truth.senders['willm.b@orange.fr']).toBeGreaterThan(640);
    expect(truth.senders['willm.b@orange.fr']).toBeLessThan(760);
    expect(truth.senders['']).toBeGreaterThan(25);
    expect(Object.keys(truth.senders).filter((s) => s.startsWith('customer')).length).toBeGreaterThan(25);
    expect(truth.largestSameSize.outgoing).toBe(truth.senders['willm.b@orange.fr']);
    // One page per file.
    expect(Math.max(...Object.values(walked).flatMap((w) => w.sizes))).toBeLessThanOrEqual(4096);
  });
});
