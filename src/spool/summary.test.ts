import { describe, expect, it } from 'vitest';
import { seededRandom } from '../demo/random.js';
import { SpoolSummary, topEntries } from './summary.js';

const NOW = 1_800_000_000_000;

function outgoing(): SpoolSummary {
  const s = new SpoolSummary(2);
  s.addFolder('_outgoing');
  s.addFolder('_outgoing/retry');
  return s;
}

describe('SpoolSummary, outgoing', () => {
  it('counts .tmp files only, with bytes, oldest age and senders', () => {
    const s = outgoing();
    s.putFile('_outgoing', 'A.tmp', { size: 100, mtimeMs: NOW - 60_000, sender: 'a@x.org' });
    s.putFile('_outgoing', 'B.TMP', { size: 200, mtimeMs: NOW - 10_000, sender: 'b@x.org' });
    s.putFile('_outgoing', 'C.tm$', { size: 300, mtimeMs: NOW - 999_000 });
    s.putFile('_outgoing', 'desktop.ini', { size: 50, mtimeMs: NOW - 999_000 });
    s.putFile('_outgoing', 'D.dat', { size: 50, mtimeMs: NOW - 999_000 });
    s.putFile('_outgoing/retry', 'E.tmp', { size: 100, mtimeMs: NOW - 5_000, sender: 'a@x.org' });
    s.settle();
    expect(s.snapshot(NOW)).toEqual({
      folders: [
        { folder: '_outgoing', queue: 'outgoing', deferred: false, messages: 2, bytes: 300, oldestAgeSeconds: 60 },
        { folder: '_outgoing/retry', queue: 'outgoing', deferred: true, messages: 1, bytes: 100, oldestAgeSeconds: 5 },
      ],
      topSenders: [
        { sender: 'a@x.org', messages: 2 },
        { sender: 'b@x.org', messages: 1 },
      ],
      distinctSenders: 2,
      largestSameSize: { outgoing: 2, incoming: 0 },
      pendingSenders: 0,
    });
  });

  it('replacing a file changes its contribution instead of adding one', () => {
    const s = outgoing();
    s.putFile('_outgoing', 'A.tmp', { size: 100, mtimeMs: NOW - 60_000, sender: 'a@x.org' });
    s.putFile('_outgoing', 'A.tmp', { size: 150, mtimeMs: NOW - 30_000, sender: 'c@x.org' });
    s.settle();
    const snap = s.snapshot(NOW);
    expect(snap.folders[0]).toMatchObject({ messages: 1, bytes: 150, oldestAgeSeconds: 30 });
    expect(snap.topSenders).toEqual([{ sender: 'c@x.org', messages: 1 }]);
    expect(snap.distinctSenders).toBe(1);
  });

  it('finds the next oldest message after the oldest leaves, and 0 for an empty folder', () => {
    const s = outgoing();
    s.putFile('_outgoing', 'A.tmp', { size: 1, mtimeMs: NOW - 60_000, sender: 'a' });
    s.putFile('_outgoing', 'B.tmp', { size: 1, mtimeMs: NOW - 40_000, sender: 'a' });
    s.putFile('_outgoing', 'C.tmp', { size: 1, mtimeMs: NOW - 50_000, sender: 'a' });
    s.removeFile('_outgoing', 'A.tmp');
    s.settle();
    expect(s.snapshot(NOW).folders[0]!.oldestAgeSeconds).toBe(50);
    s.removeFile('_outgoing', 'C.tmp');
    s.removeFile('_outgoing', 'B.tmp');
    s.settle();
    expect(s.snapshot(NOW).folders[0]).toMatchObject({ messages: 0, bytes: 0, oldestAgeSeconds: 0 });
    expect(s.snapshot(NOW).distinctSenders).toBe(0);
  });

  it('keeps the largest same-size group exact as groups grow and shrink', () => {
    const s = outgoing();
    const sizes = [10, 10, 10, 20, 20, 30];
    sizes.forEach((size, i) => s.putFile('_outgoing', `${i}.tmp`, { size, mtimeMs: NOW, sender: 'a' }));
    expect(s.snapshot(NOW).largestSameSize.outgoing).toBe(3);
    s.removeFile('_outgoing', '0.tmp');
    expect(s.snapshot(NOW).largestSameSize.outgoing).toBe(2);
    s.removeFile('_outgoing', '3.tmp');
    expect(s.snapshot(NOW).largestSameSize.outgoing).toBe(2);
    s.removeFile('_outgoing', '1.tmp');
    expect(s.snapshot(NOW).largestSameSize.outgoing).toBe(1);
    for (const n of ['2', '4', '5']) s.removeFile('_outgoing', `${n}.tmp`);
    expect(s.snapshot(NOW).largestSameSize.outgoing).toBe(0);
  });

  it('matches a recount after a long random sequence of changes', () => {
    const random = seededRandom(7);
    const s = new SpoolSummary(5);
    s.addFolder('_outgoing');
    const truth = new Map<string, { size: number; mtimeMs: number; sender: string }>();
    for (let i = 0; i < 5000; i++) {
      const name = `${Math.floor(random() * 300)}.tmp`;
      if (random() < 0.4) {
        s.removeFile('_outgoing', name);
        truth.delete(name);
      } else {
        const f = { size: 1 + Math.floor(random() * 8), mtimeMs: NOW - Math.floor(random() * 1e6), sender: `s${Math.floor(random() * 12)}` };
        s.putFile('_outgoing', name, f);
        truth.set(name, f);
      }
      if (i % 97 === 0) s.settle();
    }
    s.settle();
    const bySender = new Map<string, number>();
    const bySize = new Map<number, number>();
    for (const f of truth.values()) {
      bySender.set(f.sender, (bySender.get(f.sender) ?? 0) + 1);
      bySize.set(f.size, (bySize.get(f.size) ?? 0) + 1);
    }
    const files = [...truth.values()];
    const snap = s.snapshot(NOW);
    expect(snap.folders[0]).toEqual({
      folder: '_outgoing',
      queue: 'outgoing',
      deferred: false,
      messages: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      oldestAgeSeconds: (NOW - Math.min(...files.map((f) => f.mtimeMs))) / 1000,
    });
    expect(snap.distinctSenders).toBe(bySender.size);
    expect(snap.largestSameSize.outgoing).toBe(Math.max(...bySize.values()));
    const sorted = [...bySender].map(([sender, messages]) => ({ sender, messages }));
    sorted.sort((a, b) => b.messages - a.messages || (a.sender < b.sender ? -1 : 1));
    expect(snap.topSenders).toEqual(sorted.slice(0, 5));
  });

  it('finds every file by name through many more additions and removals than its index starts with', () => {
    const random = seededRandom(11);
    const s = new SpoolSummary(3);
    s.addFolder('_outgoing');
    const truth = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      // Names alike but for a few characters, as IceWarp's are; some Latin-1.
      const name = `${(Math.floor(random() * 20_000) * 7919).toString(16).toUpperCase().padStart(8, '0')}${random() < 0.01 ? '\u00e9' : ''}.tmp`;
      if (random() < 0.35) {
        s.removeFile('_outgoing', name);
        truth.delete(name);
      } else {
        const size = 1 + Math.floor(random() * 1000);
        s.putFile('_outgoing', name, { size, mtimeMs: NOW, sender: 'a' });
        truth.set(name, size);
      }
    }
    s.settle();
    expect(s.snapshot(NOW).folders[0]!.messages).toBe(truth.size);
    for (const [name, size] of truth) expect(s.file('_outgoing', name)?.size, name).toBe(size);
    expect(s.file('_outgoing', 'NOPE.tmp')).toBeUndefined();
    for (const name of [...truth.keys()]) s.removeFile('_outgoing', name);
    s.settle();
    expect(s.snapshot(NOW).folders[0]).toMatchObject({ messages: 0, bytes: 0 });
    expect(s.snapshot(NOW).topSenders).toEqual([]);
  });

  it('sweeps the files a scan did not see, keeping those put during the scan', () => {
    const s = outgoing();
    s.putFile('_outgoing', 'old.tmp', { size: 1, mtimeMs: NOW, sender: 'a' });
    s.putFile('_outgoing', 'kept.tmp', { size: 1, mtimeMs: NOW, sender: 'a' });
    const gen = s.beginScan('_outgoing');
    s.touch('_outgoing', 'kept.tmp');
    s.putFile('_outgoing', 'new.tmp', { size: 1, mtimeMs: NOW, sender: 'b' });
    s.sweep('_outgoing', gen);
    s.settle();
    expect(s.file('_outgoing', 'old.tmp')).toBeUndefined();
    expect(s.snapshot(NOW).folders[0]!.messages).toBe(2);
    expect(s.snapshot(NOW).topSenders).toEqual([
      { sender: 'a', messages: 1 },
      { sender: 'b', messages: 1 },
    ]);
  });

  it('knows each file for what it is whatever order a rescan lists them in', () => {
    const s = outgoing();
    const names = Array.from({ length: 50 }, (_, i) => `${String(i).padStart(4, '0')}.tmp`);
    for (const name of names) s.putFile('_outgoing', name, { size: 10, mtimeMs: NOW, sender: 'a' });
    s.removeFile('_outgoing', names[20]!); // a free slot in the middle of the listing order
    s.putFile('_outgoing', 'late.tmp', { size: 10, mtimeMs: NOW, sender: 'a' }); // …given to a later file
    const listings = [
      [...names.slice(0, 20), ...names.slice(21), 'late.tmp'],
      [...names.slice(0, 20), ...names.slice(21), 'late.tmp'].reverse(),
      [...names.slice(30, 50), 'late.tmp', ...names.slice(0, 20), ...names.slice(21, 30)],
    ];
    for (const listing of listings) {
      const gen = s.beginScan('_outgoing');
      // Every file unchanged, one changed: that one only is to be put again.
      for (const name of listing) expect(s.touchIfUnchanged('_outgoing', name, 10, NOW)).toBe(true);
      expect(s.touchIfUnchanged('_outgoing', names[20]!, 10, NOW)).toBe(false);
      expect(s.touchIfUnchanged('_outgoing', names[5]!, 11, NOW)).toBe(false);
      s.sweep('_outgoing', gen);
      expect(s.snapshot(NOW).folders[0]!.messages).toBe(50);
    }
  });

  it('sweeps exactly the unseen files whatever events happen during the scan', () => {
    const cases: [string, (s: SpoolSummary) => void, string[]][] = [
      ['all seen', (s) => ['A', 'B', 'C'].forEach((n) => s.touch('_outgoing', `${n}.tmp`)), ['A.tmp', 'B.tmp', 'C.tmp']],
      ['touched twice, one unseen', (s) => ['A', 'A', 'B'].forEach((n) => s.touch('_outgoing', `${n}.tmp`)), ['A.tmp', 'B.tmp']],
      ['an unseen file removed by an event', (s) => (s.touch('_outgoing', 'A.tmp'), s.touch('_outgoing', 'C.tmp'), s.removeFile('_outgoing', 'B.tmp')), ['A.tmp', 'C.tmp']],
      ['a seen file removed by an event', (s) => (s.touch('_outgoing', 'A.tmp'), s.removeFile('_outgoing', 'A.tmp')), []],
      ['a seen file replaced by an event', (s) => (s.touch('_outgoing', 'A.tmp'), s.putFile('_outgoing', 'A.tmp', { size: 9, mtimeMs: NOW, sender: 'z' })), ['A.tmp']],
    ];
    for (const [what, during, left] of cases) {
      const s = outgoing();
      for (const n of ['A', 'B', 'C']) s.putFile('_outgoing', `${n}.tmp`, { size: 1, mtimeMs: NOW, sender: n });
      const gen = s.beginScan('_outgoing');
      during(s);
      s.sweep('_outgoing', gen);
      s.settle();
      expect(['A.tmp', 'B.tmp', 'C.tmp'].filter((n) => s.file('_outgoing', n)), what).toEqual(left);
      expect(s.snapshot(NOW).folders[0]!.messages, what).toBe(left.length);
    }
  });

  it('forgets everything counted from a removed folder', () => {
    const s = outgoing();
    s.putFile('_outgoing/retry', 'A.tmp', { size: 5, mtimeMs: NOW, sender: 'a' });
    s.removeFolder('_outgoing/retry');
    s.settle();
    const snap = s.snapshot(NOW);
    expect(snap.folders.map((f) => f.folder)).toEqual(['_outgoing']);
    expect([snap.distinctSenders, snap.topSenders.length, snap.largestSameSize.outgoing]).toEqual([0, 0, 0]);
  });

  it('applies a new top-N limit at once', () => {
    const s = outgoing();
    for (const [i, sender] of ['a', 'b', 'b', 'c', 'c', 'c'].entries()) s.putFile('_outgoing', `${i}.tmp`, { size: i, mtimeMs: NOW, sender });
    s.settle();
    expect(s.snapshot(NOW).topSenders.map((t) => t.sender)).toEqual(['c', 'b']);
    s.setTopN(3);
    expect(s.snapshot(NOW).topSenders.map((t) => t.sender)).toEqual(['c', 'b', 'a']);
  });
});

describe('SpoolSummary, incoming pairs', () => {
  function incoming(): SpoolSummary {
    const s = new SpoolSummary(5);
    s.addFolder('_incoming');
    return s;
  }
  const view = (s: SpoolSummary) => {
    s.settle();
    const f = s.snapshot(NOW).folders[0]!;
    return { messages: f.messages, bytes: f.bytes, orphans: f.orphans, same: s.snapshot(NOW).largestSameSize.incoming };
  };

  it('pairs .tmp and .dat by name; either alone is an orphan', () => {
    const s = incoming();
    s.putFile('_incoming', 'M1.tmp', { size: 100, mtimeMs: NOW - 20_000 });
    expect(view(s)).toEqual({ messages: 0, bytes: 0, orphans: { tmp: 1, dat: 0 }, same: 0 });
    s.putFile('_incoming', 'M1.dat', { size: 10, mtimeMs: NOW - 10_000 });
    expect(view(s)).toEqual({ messages: 1, bytes: 110, orphans: { tmp: 0, dat: 0 }, same: 1 });
    expect(s.snapshot(NOW).folders[0]!.oldestAgeSeconds).toBe(20);
    s.removeFile('_incoming', 'M1.tmp');
    expect(view(s)).toEqual({ messages: 0, bytes: 0, orphans: { tmp: 0, dat: 1 }, same: 0 });
    s.removeFile('_incoming', 'M1.dat');
    expect(view(s)).toEqual({ messages: 0, bytes: 0, orphans: { tmp: 0, dat: 0 }, same: 0 });
  });

  it('takes a .tm$ with its .dat as a message, and a .tm$ alone as nothing', () => {
    const s = incoming();
    s.putFile('_incoming', 'M2.tm$', { size: 100, mtimeMs: NOW });
    expect(view(s)).toEqual({ messages: 0, bytes: 0, orphans: { tmp: 0, dat: 0 }, same: 0 });
    s.putFile('_incoming', 'M2.dat', { size: 10, mtimeMs: NOW });
    expect(view(s)).toEqual({ messages: 1, bytes: 110, orphans: { tmp: 0, dat: 0 }, same: 1 });
    s.putFile('_incoming', 'M2.tmp', { size: 120, mtimeMs: NOW });
    expect(view(s)).toEqual({ messages: 1, bytes: 130, orphans: { tmp: 0, dat: 0 }, same: 1 });
  });

  it('ignores files that are not queue files', () => {
    const s = incoming();
    s.putFile('_incoming', 'desktop.ini', { size: 100, mtimeMs: NOW });
    s.putFile('_incoming', 'lock', { size: 100, mtimeMs: NOW });
    expect(view(s)).toEqual({ messages: 0, bytes: 0, orphans: { tmp: 0, dat: 0 }, same: 0 });
  });
});

describe('topEntries', () => {
  it('selects the n largest, ties by name, as a full sort would', () => {
    const random = seededRandom(3);
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) counts.set(`sender${i}@x.org`, 1 + Math.floor(random() * 50));
    const sorted = [...counts].map(([sender, messages]) => ({ sender, messages }));
    sorted.sort((a, b) => b.messages - a.messages || (a.sender < b.sender ? -1 : 1));
    expect(topEntries(counts, 20)).toEqual(sorted.slice(0, 20));
    expect(topEntries(new Map([['a', 1]]), 20)).toEqual([{ sender: 'a', messages: 1 }]);
  });
});
