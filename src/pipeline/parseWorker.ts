// The parser's thread: chunks of log lines in, the SMTP facts of each
// chunk out (their numbers' memory moved, not copied), in order. It holds the MTA's
// parser and its session state; the account book stays in the main thread
// with the metrics (see parserThread.ts).
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { MTAS } from '../mtas.js';
import { LocalDomains } from '../smtp/facts.js';
import { feedChunkTo } from '../smtp/parser.js';
import { FactBatchWriter } from './factBatch.js';
import type { ParserThreadInit, ToParser } from './parserThread.js';

/** Linux's nice 19: runs when no thread of normal priority wants the core. */
const LOWEST_PRIORITY = 19;

const init = workerData as ParserThreadInit;
const mta = MTAS.find((m) => m.name === init.mta);
const source = mta?.logSource(init.section);
if (!parentPort || !source) throw new Error(`parser thread: no log source for MTA ${init.mta}`);
const port = parentPort;
// Parsing takes only CPU that nothing else wants: the main thread (scrapes,
// counting) and the MTA on the same host come first. Measured under 100
// scrapes a second during a catch-up, the threads at equal priority made the
// scrapes' p99 about 1.5 times as long (BENCHMARKS.md). Linux keeps a nice
// value per thread (setpriority of "process" 0 is the calling thread);
// elsewhere it would be the whole process's, so it is left alone there.
if (process.platform === 'linux') {
  try {
    setPriority(0, LOWEST_PRIORITY);
  } catch {
    // A sandbox that forbids it: parsing at the same priority still works.
  }
}
const facts = new FactBatchWriter();
const parser = source.createParser({
  localDomains: new LocalDomains(init.localDomains),
  timeZone: init.timeZone,
  emit: (fact) => facts.add(fact),
});

port.on('message', (m: ToParser) => {
  if (m.kind === 'settings') {
    parser.setLocalDomains(new LocalDomains(m.localDomains));
    parser.setTimeZone(m.timeZone);
    return;
  }
  const started = performance.now();
  const chunk = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  const lines = m.scanned && parser.feedScanned ? parser.feedScanned(m.file, chunk, m.scanned) : feedChunkTo(parser, m.file, chunk);
  const batch = facts.take();
  const { lines: fed, unparsed, lastLineTime } = parser.stats;
  // The chunk's memory goes back too (and its scanned lines'): the main thread sends the next chunk in it.
  port.postMessage(
    { kind: 'counted', bytes: m.bytes, scanned: m.scanned, lines, facts: batch, stats: { lines: fed, unparsed, lastLineTime }, seconds: (performance.now() - started) / 1000 },
    [
      batch.numbers.buffer as ArrayBuffer,
      m.bytes.buffer as ArrayBuffer,
      ...(m.scanned ? [m.scanned.ints.buffer as ArrayBuffer, m.scanned.times.buffer as ArrayBuffer] : []),
    ],
  );
});
