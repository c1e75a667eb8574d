// Micro benchmark of the IceWarp parser and session state machine alone
// (no tailer, no counting): lines already in memory, facts counted and dropped.

import { IcewarpSessions } from '../src/icewarp/sessions.js';
import { LocalDomains } from '../src/smtp/facts.js';

export async function benchParser(lines: string[], file = 's20261128.log'): Promise<{ linesPerSecond: number; facts: number }> {
  let facts = 0;
  const run = (): void => {
    const parser = new IcewarpSessions({ localDomains: new LocalDomains(['domaine.com']), emit: () => void facts++ });
    parser.feedLines(file, lines);
  };
  run(); // warm-up: let the JIT settle before timing
  facts = 0;
  const started = process.hrtime.bigint();
  run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { linesPerSecond: seconds > 0 ? lines.length / seconds : Infinity, facts };
}
