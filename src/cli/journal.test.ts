import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailDirectory, partialPathFor, sha256 } from './durable.js';
import { executeMoves, Journal, moveGroup, runStamp } from './journal.js';

let root: string;
let mail: MailDirectory;
const noDelay = async (): Promise<void> => undefined;
const alwaysCross = async (): Promise<boolean> => true;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailrelay-journal-'));
  await mkdir(join(root, '_outgoing'));
  await mkdir(join(root, '_quarantine/run/_outgoing'), { recursive: true });
  mail = await MailDirectory.open(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function journalOf(...pairs: [string, string][]): Promise<Journal> {
  return Journal.create(
    mail,
    '_quarantine/run/manifest.jsonl',
    pairs.map(([from, to]) => ({ from, to, size: 0, sha256: '' })),
  );
}

const exists = async (rel: string): Promise<boolean> =>
  readFile(join(root, rel)).then(
    () => true,
    () => false,
  );

describe('Journal', () => {
  it('writes the plan under its final name only when complete, and reads it back with its markers', async () => {
    const j = await journalOf(['_outgoing/a b é.tmp', '_quarantine/run/_outgoing/a b é.tmp']);
    expect(await readdir(join(root, '_quarantine/run'))).toEqual(['_outgoing', 'manifest.jsonl']);
    await j.mark('commit 0');
    const again = await Journal.load(mail, j.path);
    expect(again.entries).toEqual(j.entries);
    expect(again.has('commit 0')).toBe(true);
    expect(await Journal.findUnfinished(mail, /^manifest\.jsonl$/)).toEqual(['_quarantine/run/manifest.jsonl']);
    await again.finish({});
    expect(await Journal.findUnfinished(mail, /^manifest\.jsonl$/)).toEqual([]);
  });

  it('refuses a journal line that leads out of the mail directory', async () => {
    await writeFile(join(root, '_quarantine/run/manifest.jsonl'), JSON.stringify({ from: '../etc/passwd', to: 'x', size: 1, sha256: 'a' }) + '\n');
    await expect(Journal.load(mail, '_quarantine/run/manifest.jsonl')).rejects.toThrow(/outside the mail directory/);
  });

  it('names runs by UTC time without colons', () => {
    expect(runStamp(new Date('2026-11-28T02:30:05.123Z'))).toBe('20261128T023005Z');
  });
});

describe('moveGroup', () => {
  const F = '_outgoing/m 1.tmp';
  const T = '_quarantine/run/_outgoing/m 1.tmp';

  it('moves on one file system with a rename', async () => {
    await writeFile(join(root, F), 'hello');
    const j = await journalOf([F, T]);
    expect(await executeMoves(j, noDelay)).toEqual([{ index: 0, outcome: 'moved' }]);
    expect([await exists(F), await readFile(join(root, T), 'utf8')]).toEqual([false, 'hello']);
    expect(await exists('_quarantine/run/manifest.done')).toBe(true);
  });

  it('takes the copy path across file systems: verified copy, commit marker, rename, then the source goes', async () => {
    await writeFile(join(root, F), 'hello');
    const j = await journalOf([F, T]);
    expect(await moveGroup(j, [{ marker: 'commit 0', from: F, to: T }], noDelay, alwaysCross)).toEqual([{ outcome: 'moved' }]);
    expect([await exists(F), await readFile(join(root, T), 'utf8'), await exists(partialPathFor(T))]).toEqual([false, 'hello', false]);
    expect(j.has('commit 0')).toBe(true);
  });

  it('after a kill during the copy (no marker), copies again over the stale partial', async () => {
    await writeFile(join(root, F), 'hello');
    await writeFile(join(root, partialPathFor(T)), 'hel');
    const j = await journalOf([F, T]);
    await moveGroup(j, [{ marker: 'commit 0', from: F, to: T }], noDelay, alwaysCross);
    expect([await exists(F), await readFile(join(root, T), 'utf8'), await exists(partialPathFor(T))]).toEqual([false, 'hello', false]);
  });

  it('after a kill past the marker, renames the complete partial and removes the source', async () => {
    await writeFile(join(root, F), 'hello');
    await writeFile(join(root, partialPathFor(T)), 'hello');
    const j = await journalOf([F, T]);
    await j.mark('commit 0');
    expect(await moveGroup(j, [{ marker: 'commit 0', from: F, to: T }], noDelay)).toEqual([{ outcome: 'moved' }]);
    expect([await exists(F), await readFile(join(root, T), 'utf8')]).toEqual([false, 'hello']);
  });

  it('after a kill between the rename and the removal, removes the source once the destination is verified equal', async () => {
    await writeFile(join(root, F), 'hello');
    await writeFile(join(root, T), 'hello');
    const j = await journalOf([F, T]);
    await j.mark('commit 0');
    await moveGroup(j, [{ marker: 'commit 0', from: F, to: T }], noDelay);
    expect([await exists(F), await readFile(join(root, T), 'utf8')]).toEqual([false, 'hello']);
  });

  it('after the marker, when the destination was already taken by IceWarp, does not copy it again', async () => {
    await writeFile(join(root, F), 'hello');
    const j = await journalOf([F, T]);
    await j.mark('commit 0');
    await moveGroup(j, [{ marker: 'commit 0', from: F, to: T }], noDelay);
    expect([await exists(F), await exists(T)]).toEqual([false, false]);
  });

  it('never overwrites: a destination with other content is a conflict and both files stay', async () => {
    await writeFile(join(root, F), 'hello');
    await writeFile(join(root, T), 'other');
    const j = await journalOf([F, T]);
    const [r] = await moveGroup(j, [{ marker: 'commit 0', from: F, to: T }], noDelay);
    expect(r?.outcome).toBe('conflict');
    expect([await readFile(join(root, F), 'utf8'), await readFile(join(root, T), 'utf8')]).toEqual(['hello', 'other']);
  });

  it('without a marker, an identical destination is still a conflict (it is not ours)', async () => {
    await writeFile(join(root, F), 'same');
    await writeFile(join(root, T), 'same');
    const j = await journalOf([F, T]);
    const [r] = await moveGroup(j, [{ marker: 'commit 0', from: F, to: T }], noDelay);
    expect(r?.outcome).toBe('conflict');
    expect([await exists(F), await exists(T)]).toEqual([true, true]);
  });

  it('reports a moved file as already done, and a vanished one as missing', async () => {
    await writeFile(join(root, T), 'hello');
    const j = await journalOf([F, T], ['_outgoing/gone.tmp', '_quarantine/run/_outgoing/gone.tmp']);
    const results = await executeMoves(j, noDelay);
    expect(results.map((r) => r.outcome)).toEqual(['already', 'missing']);
  });

  it('stages every copy of a group before the first rename', async () => {
    await writeFile(join(root, '_outgoing/p.tmp'), 'body');
    await writeFile(join(root, '_outgoing/p.dat'), 'envelope');
    const j = await journalOf(['_outgoing/p.tmp', '_quarantine/run/p.tmp'], ['_outgoing/p.dat', '_quarantine/run/p.dat']);
    const seen: string[][] = [];
    // Observe the destination folder at every step: no .dat may appear without its .tmp.
    const step = async (): Promise<void> => {
      seen.push((await readdir(join(root, '_quarantine/run'))).filter((n) => n.endsWith('.tmp') || n.endsWith('.dat')).sort());
    };
    await moveGroup(
      j,
      [
        { marker: 'commit 0', from: '_outgoing/p.tmp', to: '_quarantine/run/p.tmp' },
        { marker: 'commit 1', from: '_outgoing/p.dat', to: '_quarantine/run/p.dat' },
      ],
      step,
      alwaysCross,
    );
    expect(seen.some((s) => s.length === 0)).toBe(true);
    expect(seen.every((s) => !s.includes('p.dat') || s.includes('p.tmp'))).toBe(true);
    expect(seen.at(-1)).toEqual(['p.dat', 'p.tmp']);
    expect(sha256(await readFile(join(root, '_quarantine/run/p.dat')))).toBe(sha256(Buffer.from('envelope')));
  });
});
