import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CheckSchedule, forEachLimited } from './schedule.js';

/** A round the test finishes by hand. */
function manualRounds() {
  const started: Array<() => void> = [];
  const round = () => new Promise<void>((resolve) => started.push(resolve));
  return { round, started };
}

describe('CheckSchedule', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a round at start, then one interval after the previous round started', async () => {
    const { round, started } = manualRounds();
    const schedule = new CheckSchedule(900, round);
    schedule.start();
    expect(started).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    started[0]!();
    await vi.advanceTimersByTimeAsync(889_000);
    expect(started).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toHaveLength(2);
    started[1]!();
    await schedule.stop();
  });

  it('never overlaps rounds: a round longer than the interval delays the next', async () => {
    const { round, started } = manualRounds();
    const schedule = new CheckSchedule(60, round);
    schedule.start();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(started).toHaveLength(1);
    started[0]!();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toHaveLength(2);
    started[1]!();
    await schedule.stop();
  });

  it('keeps going after a round that rejects', async () => {
    let calls = 0;
    const schedule = new CheckSchedule(60, async () => {
      calls++;
      throw new Error('boom');
    });
    schedule.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(2);
    await schedule.stop();
  });

  it('stop() waits for the round in flight and schedules no more', async () => {
    const { round, started } = manualRounds();
    const schedule = new CheckSchedule(60, round);
    schedule.start();
    let stopped = false;
    const stopping = schedule.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    started[0]!();
    await stopping;
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(started).toHaveLength(1);
  });

  it('does not turn an interval beyond the timer range into a busy loop', async () => {
    const { round, started } = manualRounds();
    const schedule = new CheckSchedule(31_536_000, round);
    schedule.start();
    started[0]!();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toHaveLength(1);
    await schedule.stop();
  });
});

describe('forEachLimited', () => {
  it.each([1, 2, 8])('has at most %i calls in flight and visits every item once', async (limit) => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited(items, limit, async (item) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      seen.push(item);
      inFlight--;
    });
    expect(peak).toBe(limit);
    expect(seen.sort((a, b) => a - b)).toEqual(items);
  });

  it('does nothing for no items', async () => {
    const fn = vi.fn(async () => {});
    await forEachLimited([], 4, fn);
    expect(fn).not.toHaveBeenCalled();
  });
});
