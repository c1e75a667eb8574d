// The IceWarp parser and session state machine without the tailer: lines
// already in memory as bytes, facts dropped or counted by an account book.

import { AccountBook, type AccountLimits } from '../src/accounts/book.js';
import { scanLines } from '../src/icewarp/line.js';
import { IcewarpSessions } from '../src/icewarp/sessions.js';
import { FactBatchWriter } from '../src/pipeline/factBatch.js';
import { domainKeyOfBytes, LocalDomains } from '../src/smtp/facts.js';
import { median } from './report.js';

/**
 * The catch-up's first two stages without the tailer: the parser over log
 * files already in memory (as the tailer's chunks would hand them on, whole),
 * its facts dropped, or counted by an account book when `limits` are given;
 * `localDomains` as the config's local_domains (none by default).
 * Seconds of one run.
 */
export function parseInMemory(files: { name: string; bytes: Buffer }[], limits?: AccountLimits, localDomains: readonly string[] = []): number {
  const book = limits === undefined ? undefined : new AccountBook(limits);
  let facts = 0;
  const parser = new IcewarpSessions({ localDomains: new LocalDomains(localDomains), emit: book === undefined ? () => void facts++ : (f) => book.apply(f) });
  const started = process.hrtime.bigint();
  for (const { name, bytes } of files) parser.feedChunk(name, bytes);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * What the parser thread does with the same lines, on one core: the bytes as
 * the tailer reads them, in 1 MiB chunks, scanned beforehand (scanLines, which
 * the main thread does as it hands each chunk on), through feedScanned, each
 * fact written into a FactBatch as for the trip to the main thread. The
 * catch-up in a parser thread cannot go faster than this.
 */
export async function benchParserThreadWork(lines: string[], file = 's20261128.log'): Promise<{ linesPerSecond: number; facts: number }> {
  const bytes = Buffer.from(lines.join('\n') + '\n');
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const nl = bytes.lastIndexOf(0x0a, Math.min(bytes.length, at + (1 << 20)) - 1);
    const end = nl < at ? bytes.length : nl + 1;
    chunks.push(bytes.subarray(at, end));
    at = end;
  }
  const scanned = chunks.map((chunk) => scanLines(chunk));
  let facts = 0;
  const run = (): void => {
    const batch = new FactBatchWriter();
    const parser = new IcewarpSessions({
      localDomains: new LocalDomains(['domaine.com']),
      emit: (f) => {
        facts++;
        batch.add(f);
      },
    });
    chunks.forEach((chunk, i) => {
      parser.feedScanned(file, chunk, scanned[i]!);
      batch.take();
    });
  };
  run();
  facts = 0;
  const started = process.hrtime.bigint();
  run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { linesPerSecond: seconds > 0 ? lines.length / seconds : Infinity, facts };
}

/**
 * local_domains as a hosting provider's IceWarp server has them: 500 names
 * (the scenario's own domain among them) and 20 `*.` wildcards.
 */
export const HOSTING_LOCAL_DOMAINS: readonly string[] = [
  'domaine.com',
  ...Array.from({ length: 499 }, (_, i) => `client${i}-hosting.fr`),
  ...Array.from({ length: 20 }, (_, i) => `*.tenant${i}.example.net`),
];

/**
 * What a sender's worst RCPT domain costs the local_domains judgement: a
 * domain of 1,280 bytes (as much of an address as the parser reads) and 640
 * dots, against HOSTING_LOCAL_DOMAINS, each call given the domain's key as
 * the parser gives it. The reference is that key itself (domainKeyOfBytes),
 * the one pass over the domain's bytes every RCPT makes anyway. Nanoseconds a
 * call, medians of five runs of 20,000 calls, alternated.
 */
export function hostileDomainCost(): { judgeNs: number; keyNs: number } {
  const local = new LocalDomains(HOSTING_LOCAL_DOMAINS);
  const line = Buffer.from(`RCPT TO:<x@${'a.'.repeat(639)}aa>`);
  const from = line.indexOf(0x40) + 1;
  const to = line.length - 1;
  const key = domainKeyOfBytes(line, from, to);
  const calls = 20_000;
  const judge: number[] = [];
  const keys: number[] = [];
  let sink = 0;
  for (let run = 0; run < 6; run++) {
    let started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) if (local.isLocalBytes(line, from, to, key)) sink++;
    const judged = Number(process.hrtime.bigint() - started) / calls;
    started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink += domainKeyOfBytes(line, from, to) === key ? 0 : 1;
    const keyed = Number(process.hrtime.bigint() - started) / calls;
    // The first run warms the JIT.
    if (run > 0) {
      judge.push(judged);
      keys.push(keyed);
    }
  }
  if (sink !== 0) throw new Error('hostileDomainCost: the hostile domain was judged local, or its key changed');
  return { judgeNs: median(judge), keyNs: median(keys) };
}
