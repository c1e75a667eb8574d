// The parser thread against the parser in this thread: the same facts in the
// same order, each chunk reported counted only once its facts are counted,
// and no line lost when the thread dies. Runs the built worker (`npm test`
// builds first), as the built exporter does.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { configuredMta } from '../mtas.js';
import { LocalDomains, type SmtpFact } from '../smtp/facts.js';
import { splitLines } from '../tail/lines.js';
import { writeBenchLogs } from '../../bench/log.js';
import { threadNiceValues } from '../../test/harness/threads.js';
import { icewarpLog } from '../../test/mta/icewarp.js';
import { postfixLog } from '../../test/mta/postfix.js';
import { LOCAL_DOMAINS, sharedScenario } from '../../test/mta/scenario.js';
import { ParserThread, type ParserThreadInit } from './parserThread.js';

const BUILT_WORKER = new URL('../../dist/src/pipeline/parseWorker.js', import.meta.url);
/** A worker that dies at the first chunk it is given. */
const DYING_WORKER = new URL(
  `data:text/javascript,${encodeURIComponent("import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => { throw new Error('parser bug'); });")}`,
);

const MTAS = {
  icewarp: { section: 'icewarp:\n  log_directory: /var/log/icewarp\n', write: icewarpLog },
  postfix: { section: 'postfix:\n  log_file: /var/log/mail.log*\n', write: postfixLog },
};

function setup(mta: keyof typeof MTAS) {
  const config = loadConfig(`${MTAS[mta].section}local_domains: [${LOCAL_DOMAINS.join(', ')}]\n`);
  const configured = configuredMta(config)!;
  const source = configured.mta.logSource(configured.section)!;
  const init: ParserThreadInit = { mta, section: configured.section, localDomains: LOCAL_DOMAINS, timeZone: source.timeZone };
  const files = MTAS[mta].write(sharedScenario());
  return { source, init, files };
}

/** The bytes of `text` in chunks of whole lines, one line to a few dozen each (the tailer cuts them where its reads end). */
function chunksOf(text: string): Buffer[] {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  let seed = 3;
  let at = 0;
  while (at < bytes.length) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    let end = Math.min(bytes.length, at + 1 + (seed % 2_000));
    const nl = bytes.indexOf(0x0a, end - 1);
    end = nl < 0 ? bytes.length : nl + 1;
    chunks.push(bytes.subarray(at, end));
    at = end;
  }
  return chunks;
}

describe.each(Object.keys(MTAS) as (keyof typeof MTAS)[])('the %s parser in the parser thread', (mta) => {
  it('gives the facts of the parser in this thread, in order, and reports each chunk counted after its facts', async () => {
    const { source, init, files } = setup(mta);
    const expected: SmtpFact[] = [];
    const here = source.createParser({ localDomains: new LocalDomains(LOCAL_DOMAINS), timeZone: source.timeZone, emit: (f) => expected.push(f) });
    let lines = 0;
    for (const f of files) {
      const fileLines = splitLines(f.text.replace(/\n$/, ''));
      here.feedLines(f.name, fileLines);
      lines += fileLines.length;
    }

    const got: SmtpFact[] = [];
    const thread = new ParserThread(init, source, (f) => got.push(f), silentLogger, BUILT_WORKER);
    const reports: { lines: number; factsBefore: number }[] = [];
    let written = 0;
    for (const f of files) {
      for (const chunk of chunksOf(f.text)) {
        written++;
        await thread.write(f.name, chunk, (n) => reports.push({ lines: n, factsBefore: got.length }));
      }
    }
    await thread.drain();
    await thread.stop();

    expect(thread.degraded).toBe(false);
    expect(expected.length).toBeGreaterThan(30);
    expect(got).toEqual(expected);
    expect(reports).toHaveLength(written);
    expect(reports.reduce((sum, r) => sum + r.lines, 0)).toBe(lines);
    expect(reports.at(-1)!.factsBefore).toBe(expected.length);
    expect(thread.stats).toMatchObject({ lines, unparsed: here.stats.unparsed, lastLineTime: here.stats.lastLineTime });
  });

  it('when the thread dies, parses the chunks it had not answered in this thread: no line lost, reported degraded', async () => {
    const { source, init, files } = setup(mta);
    const expected: SmtpFact[] = [];
    const here = source.createParser({ localDomains: new LocalDomains(LOCAL_DOMAINS), timeZone: source.timeZone, emit: (f) => expected.push(f) });
    for (const f of files) here.feedLines(f.name, splitLines(f.text.replace(/\n$/, '')));

    const got: SmtpFact[] = [];
    const thread = new ParserThread(init, source, (f) => got.push(f), silentLogger, DYING_WORKER);
    let counted = 0;
    for (const f of files) for (const chunk of chunksOf(f.text)) await thread.write(f.name, chunk, (n) => (counted += n));
    await thread.drain();
    await thread.stop();

    expect(thread.degraded).toBe(true);
    expect(got).toEqual(expected);
    expect(counted).toBe(here.stats.lines);
    expect(thread.stats.lines).toBe(here.stats.lines);
  });

  // Below 19 already, else every new thread would be at 19 whatever the worker does.
  it.runIf(process.platform === 'linux' && getPriority() < 19)('parses at the lowest priority: its thread alone is at nice 19, this one keeps its own', async () => {
    const { source, init, files } = setup(mta);
    const mine = getPriority();
    const lowest = (): number => threadNiceValues().filter((n) => n === 19).length;
    const before = lowest();
    const thread = new ParserThread(init, source, () => {}, silentLogger, BUILT_WORKER);
    // Once a chunk is answered, the worker has run its module.
    await thread.write(files[0]!.name, chunksOf(files[0]!.text)[0]!, () => {});
    await thread.drain();
    const during = lowest();
    await thread.stop();

    expect(during).toBe(before + 1);
    expect(getPriority()).toBe(mine);
  });
});

describe('the parser thread, for an MTA whose first stage runs in this thread (IceWarp\'s scanLines)', () => {
  it('scans a large chunk a slice at a time, turns of the event loop between, and counts what this thread would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-scan-'));
    try {
      writeBenchLogs(dir, 30_000);
      const name = readdirSync(dir).sort()[0]!;
      const whole = readFileSync(join(dir, name));
      // About 2 MiB of whole lines: milliseconds of scanning.
      const chunk = whole.subarray(0, whole.indexOf(0x0a, 2 << 20) + 1 || whole.length);
      expect(chunk.length).toBeGreaterThan(1 << 20);
      const { source, init } = setup('icewarp');
      const expected: SmtpFact[] = [];
      const here = source.createParser({ localDomains: new LocalDomains(LOCAL_DOMAINS), timeZone: source.timeZone, emit: (f) => expected.push(f) });
      const lines = here.feedChunk!(name, chunk);

      const got: SmtpFact[] = [];
      const thread = new ParserThread(init, source, (f) => got.push(f), silentLogger, BUILT_WORKER);
      let turns = 0;
      let scanning = true;
      const turn = (): void => {
        turns++;
        if (scanning) setImmediate(turn);
      };
      setImmediate(turn);
      let counted = 0;
      const written = thread.write(name, chunk, (n) => (counted = n));
      expect(written).toBeInstanceOf(Promise);
      await written;
      scanning = false;
      await thread.drain();
      await thread.stop();

      expect(turns).toBeGreaterThan(1);
      expect(counted).toBe(lines);
      expect(got.length).toBeGreaterThan(100);
      expect(got).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
