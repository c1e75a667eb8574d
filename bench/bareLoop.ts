// The log benchmark's reference loop, run in the benchmark's process (its
// JIT warm from the runs before) and, by freshBareLoop.ts, as a program of
// its own, which is what the exporter as its own process is compared with.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BareLoopRun {
  seconds: number;
  lines: number;
  matched: number;
  cpuSeconds: number;
}

const OWN_PROCESS = fileURLToPath(new URL('./freshBareLoop.js', import.meta.url));

/**
 * The reference: the least a Node program does to look at every line. Reads
 * the same files oldest first in 1 MiB pieces, decodes them, splits the lines
 * and runs one regex of the line layout on each; no state, no counting.
 */
export function bareLoop(dir: string): BareLoopRun {
  const layout = /^(\S+) \[([0-9A-Fa-f]+)\] (\d\d:\d\d:\d\d) (.*)$/;
  const files = readdirSync(dir).sort();
  const buf = Buffer.allocUnsafe(1 << 20);
  let lines = 0;
  let matched = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const name of files) {
    const fd = openSync(join(dir, name), 'r');
    let carry = '';
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const parts = (carry + buf.toString('utf8', 0, n)).split('\n');
      carry = parts.pop()!;
      for (const line of parts) {
        lines++;
        if (layout.test(line)) matched++;
      }
    }
    closeSync(fd);
    if (carry !== '') {
      lines++;
      if (layout.test(carry)) matched++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { seconds, lines, matched, cpuSeconds: (used.user + used.system) / 1e6 };
}

/**
 * bareLoop as a program of its own, timed the same way: a fresh Node whose
 * JIT and heap start cold, as the exporter's do when it starts on a backlog.
 */
export function bareLoopOwnProcess(dir: string): BareLoopRun {
  return JSON.parse(execFileSync(process.execPath, [OWN_PROCESS, dir], { encoding: 'utf8' })) as BareLoopRun;
}
