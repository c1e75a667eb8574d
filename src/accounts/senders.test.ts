import { describe, expect, it } from 'vitest';
import { SenderTally, senderLabel } from './senders.js';

describe('SenderTally', () => {
  it('counts exactly while there is room', () => {
    const t = new SenderTally(3);
    t.add('info@domaine.com', 2);
    t.add('willm.b@orange.fr', 8);
    t.add('info@domaine.com', 1);
    expect(t.top()).toEqual([
      { sender: 'willm.b@orange.fr', recipients: 8, estimate: 8 },
      { sender: 'info@domaine.com', recipients: 3, estimate: 3 },
    ]);
  });

  it('keeps a sender that carries most recipients, even behind a thousand one-off forged senders', () => {
    const t = new SenderTally(5);
    for (let i = 0; i < 1000; i++) {
      t.add(`random${i}@spam.example`, 1);
      if (i % 3 === 0) t.add('willm.b@orange.fr', 8);
    }
    const top = t.top();
    expect(top).toHaveLength(5);
    expect(top[0]!.sender).toBe('willm.b@orange.fr');
    // It took its slot early: every recipient after that is counted exactly.
    expect(top[0]!.recipients).toBe(334 * 8);
  });

  it('a newcomer takes the smallest slot and counts exactly from there, so the exported counter never goes down while kept', () => {
    const t = new SenderTally(2);
    t.add('a@x', 10);
    t.add('b@x', 3);
    t.add('c@x', 1); // replaces b (3): estimate 4, exact 1
    expect(t.top()).toEqual([
      { sender: 'a@x', recipients: 10, estimate: 10 },
      { sender: 'c@x', recipients: 1, estimate: 4 },
    ]);
    t.add('c@x', 7);
    expect(labelled(t)).toEqual([
      ['<a@x>', 10],
      ['<c@x>', 8],
    ]);
  });

  it("makes a sender's label once while it holds its slot, and anew for the sender that takes the slot", () => {
    const t = new SenderTally(2);
    const made: string[] = [];
    const label = (sender: string): string => {
      made.push(sender);
      return `<${sender}>`;
    };
    t.add('a@x', 10);
    t.add('b@x', 3);
    const scrape = (): [string, number][] => {
      const out: [string, number][] = [];
      t.forEachLabelled(label, (text, n) => out.push([text, n]));
      return out;
    };
    expect(scrape()).toEqual([['<a@x>', 10], ['<b@x>', 3]]);
    t.add('b@x', 1);
    expect(scrape()).toEqual([['<a@x>', 10], ['<b@x>', 4]]);
    expect(made).toEqual(['a@x', 'b@x']);
    t.add('c@x', 1); // takes b's slot
    expect(scrape()).toEqual([['<a@x>', 10], ['<c@x>', 1]]);
    expect(made).toEqual(['a@x', 'b@x', 'c@x']);
  });

  it('forgets the smallest when its capacity shrinks', () => {
    const t = new SenderTally(3);
    t.add('a@x', 1);
    t.add('b@x', 5);
    t.add('c@x', 3);
    t.setCapacity(2);
    expect(t.top().map((s) => s.sender)).toEqual(['b@x', 'c@x']);
    t.add('d@x', 1);
    expect(t.size).toBe(2);
  });
});

function labelled(t: SenderTally): [string, number][] {
  const out: [string, number][] = [];
  t.forEachLabelled((sender) => `<${sender}>`, (text, n) => out.push([text, n]));
  return out;
}

describe('senderLabel', () => {
  it('writes the null sender as <> (as the queue does), bounds length and replaces control characters', () => {
    expect(senderLabel('')).toBe('<>');
    expect(senderLabel('Info@Domaine.COM')).toBe('info@domaine.com');
    expect(senderLabel('a\u0000b\nc@x')).toBe('a\ufffdb\ufffdc@x');
    expect(senderLabel('x'.repeat(400) + '@x')).toHaveLength(254);
  });
});
