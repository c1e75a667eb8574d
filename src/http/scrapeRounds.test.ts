import { describe, expect, it } from 'vitest';
import { ScrapeRounds, type Turn } from './scrapeRounds.js';

/** A renderer that counts its renderings and takes `busyMs` of the thread each. */
function renderer(busyMs = 0) {
  const calls = { n: 0 };
  const render = async (write: (chunk: Buffer) => void): Promise<void> => {
    calls.n++;
    const until = performance.now() + busyMs;
    while (performance.now() < until) {
      // the main thread rendering
    }
    write(Buffer.from(`# rendering ${calls.n}\n`));
    await Promise.resolve();
    write(Buffer.from('up 1\n'));
  };
  return { calls, render };
}

const text = (turn: Turn): string => (turn.kind === 'shared' ? Buffer.concat(turn.chunks).toString() : turn.kind);

describe('ScrapeRounds', () => {
  it('gives the scrapes waiting together one shared rendering, and a scrape alone its own stream', async () => {
    const { calls, render } = renderer();
    const rounds = new ScrapeRounds(render, 0);
    const turns = await Promise.all(Array.from({ length: 100 }, () => rounds.next()));
    expect(calls.n).toBe(1);
    expect(new Set(turns.map(text))).toEqual(new Set(['# rendering 1\nup 1\n']));

    const alone = await rounds.next();
    expect(alone.kind).toBe('alone');
    expect(calls.n).toBe(1); // the scrape streams it itself
    if (alone.kind === 'alone') alone.done();
  });

  it('never gives a scrape a rendering begun before it arrived', async () => {
    let release!: () => void;
    let renderings = 0;
    const rounds = new ScrapeRounds(async (write) => {
      renderings++;
      if (renderings === 1) await new Promise<void>((r) => (release = r));
      write(Buffer.from(`rendering ${renderings}\n`));
    }, 0);
    const first = [rounds.next(), rounds.next()];
    await new Promise((r) => setTimeout(r, 20)); // the first rendering has begun
    const late = [rounds.next(), rounds.next()];
    release();
    expect((await Promise.all(first)).map(text)).toEqual(['rendering 1\n', 'rendering 1\n']);
    expect((await Promise.all(late)).map(text)).toEqual(['rendering 2\n', 'rendering 2\n']);
  });

  it('starts a round no sooner than `spacing` times the last round took, so rendering keeps to its share of the thread', async () => {
    const { calls, render } = renderer(30);
    const rounds = new ScrapeRounds(render, 4);
    await Promise.all([rounds.next(), rounds.next()]);
    const ended = performance.now();
    await Promise.all([rounds.next(), rounds.next()]);
    expect(calls.n).toBe(2);
    // The second rendering began at least 4 × 30 ms after the first ended (timers may fire a little early).
    expect(performance.now() - ended).toBeGreaterThanOrEqual(4 * 30 + 30 - 5);
  });

  it('waits a moment after the first scrape for the others sent with it, so they share its rendering', async () => {
    const { calls, render } = renderer();
    const rounds = new ScrapeRounds(render, 0, 20);
    const first = rounds.next();
    // Read a few turns of the event loop later (the catch-up parses between them).
    await new Promise((r) => setTimeout(r, 5));
    const others = [rounds.next(), rounds.next()];
    expect((await Promise.all([first, ...others])).map(text)).toEqual(Array(3).fill('# rendering 1\nup 1\n'));
    expect(calls.n).toBe(1);
  });

  it('gathers on while scrapes keep asking less than the gathering time apart, up to its longest', async () => {
    const { calls, render } = renderer();
    // Asked 15 ms apart over 135 ms, gathering for a quiet 50 ms: one round for all (a round 50 ms after the first split them).
    const rounds = new ScrapeRounds(render, 0, 50, 1000);
    const asked: Promise<Turn>[] = [];
    for (let i = 0; i < 10; i++) {
      asked.push(rounds.next());
      await new Promise((r) => setTimeout(r, 15));
    }
    expect((await Promise.all(asked)).map(text)).toEqual(Array(10).fill('# rendering 1\nup 1\n'));
    expect(calls.n).toBe(1);

    // Asked every 10 ms for 400 ms: the first round begins by the longest gathering (100 ms), not at the end.
    const capped = new ScrapeRounds(renderer().render, 0, 40, 100);
    let firstServed = false;
    const trickle: Promise<Turn>[] = [capped.next().then((t) => ((firstServed = true), t))];
    for (let i = 0; i < 40 && !firstServed; i++) {
      await new Promise((r) => setTimeout(r, 10));
      trickle.push(capped.next());
    }
    expect(firstServed).toBe(true);
    await Promise.all(trickle);
  });

  it('a scrape alone holds the round only until it first waits on its client', async () => {
    const rounds = new ScrapeRounds(renderer().render, 0);
    const alone = await rounds.next();
    if (alone.kind !== 'alone') throw new Error(`expected alone, got ${alone.kind}`);
    alone.paused(); // its client stopped reading: the others go on without it
    const others = await Promise.all([rounds.next(), rounds.next()]);
    expect(others.map(text)).toEqual(['# rendering 1\nup 1\n', '# rendering 1\nup 1\n']);
    alone.done();
  });

  it('a rendering that fails fails every scrape of its round, and the next round renders again', async () => {
    let fail = true;
    const rounds = new ScrapeRounds(async (write) => {
      if (fail) throw new Error('collector broke');
      write(Buffer.from('ok\n'));
    }, 0);
    const failed = await Promise.all([rounds.next(), rounds.next()]);
    expect(failed.map((t) => (t.kind === 'failed' ? t.err.message : t.kind))).toEqual(['collector broke', 'collector broke']);
    fail = false;
    expect((await Promise.all([rounds.next(), rounds.next()])).map(text)).toEqual(['ok\n', 'ok\n']);
  });
});
