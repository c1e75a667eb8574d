// Where the log pipeline parses: in the main thread, in slices between turns
// of the event loop, unless MAILRELAY_PARSER_THREAD asks for a thread of its
// own. Runs the built worker (`npm test` builds first) for the thread.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../logger.js';
import { writeBenchLogs } from '../../bench/log.js';
import { LogPipeline, logSettings, parserThreadWanted } from './logPipeline.js';

const BUILT_WORKER = new URL('../../dist/src/pipeline/parseWorker.js', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'mailrelay-pipeline-'));
// About 3 MiB: three of the tailer's reads, many slices each.
const written = writeBenchLogs(join(dir, 'smtp'), 40_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function catchUp(parserThread: false | URL | undefined): Promise<{ pipeline: LogPipeline; log: string; mostLinesInOneTurn: number }> {
  const positions = join(dir, `positions-${Math.random()}.json`);
  const config = loadConfig(`icewarp:\n  log_directory: ${join(dir, 'smtp')}\nstart_at: beginning\npositions_file: ${positions}\nlocal_domains: [domaine.com]\n`);
  let log = '';
  const pipeline = new LogPipeline(logSettings(config)!, createLogger('info', (l) => void (log += l)), { watch: false, ...(parserThread === undefined ? {} : { parserThread }) });
  // Lines parsed between two turns of the event loop left to others (a scrape, a file event).
  let mostLinesInOneTurn = 0;
  let before = 0;
  let watching = true;
  const tick = (): void => {
    const lines = pipeline.parser.stats.lines;
    mostLinesInOneTurn = Math.max(mostLinesInOneTurn, lines - before);
    before = lines;
    if (watching) setImmediate(tick);
  };
  setImmediate(tick);
  await pipeline.ready;
  watching = false;
  await pipeline.stop();
  return { pipeline, log, mostLinesInOneTurn };
}

describe('the log pipeline', () => {
  it('parses in the main thread by default, handing the event loop a turn between slices, and counts every line', async () => {
    const { pipeline, log, mostLinesInOneTurn } = await catchUp(undefined);
    expect(log).toContain('parser_thread=false');
    expect(pipeline.tailer.stats.lines).toBe(written.lines);
    expect(pipeline.parser.stats.lines).toBe(written.lines);
    // Slices of a few milliseconds: far fewer lines than one of the tailer's 1 MiB reads holds.
    const linesPerRead = written.lines / (written.bytes / 2 ** 20);
    expect(mostLinesInOneTurn).toBeGreaterThan(0);
    expect(mostLinesInOneTurn).toBeLessThan(linesPerRead * 0.75);
    expect(pipeline.book.trackedAccounts).toBeGreaterThan(10);
  });

  it('counts the same in a thread of its own', async () => {
    const here = await catchUp(false);
    const thread = await catchUp(BUILT_WORKER);
    expect(thread.log).toContain('parser_thread=true');
    expect(thread.pipeline.book.sessions).toBe(here.pipeline.book.sessions);
    expect([...thread.pipeline.book.accountEntries()].map(([a, s]) => [a, s.messages, s.externalRecipients])).toEqual(
      [...here.pipeline.book.accountEntries()].map(([a, s]) => [a, s.messages, s.externalRecipients]),
    );
  });

  it('takes MAILRELAY_PARSER_THREAD=1 (or true) as the wish for the thread; anything else parses in the main thread', () => {
    expect(parserThreadWanted({ MAILRELAY_PARSER_THREAD: '1' })).toBe(true);
    expect(parserThreadWanted({ MAILRELAY_PARSER_THREAD: 'true' })).toBe(true);
    expect(parserThreadWanted({ MAILRELAY_PARSER_THREAD: '0' })).toBe(false);
    expect(parserThreadWanted({})).toBe(false);
  });
});
