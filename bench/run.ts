// `npm run bench [-- group…]`: runs the benchmark groups named (all of them
// when none is) and rewrites their sections of BENCHMARKS.md, each with the
// date and the machine. Targets are checked and reported, never asserted in
// tests (timings on shared machines are not test material).
//
// A new group: a module exporting a BenchGroup, added to GROUPS below.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { httpGroup } from './http.js';
import { logGroup } from './log.js';
import { postfixGroup } from './postfix.js';
import { reportGroup } from './logsReport.js';
import { replaceSection, type BenchGroup } from './report.js';
import { rulesGroup } from './rules.js';
import { spoolGroup } from './spool.js';

/** In the order of their sections in BENCHMARKS.md. */
const GROUPS: readonly BenchGroup[] = [logGroup, postfixGroup, spoolGroup, httpGroup, reportGroup, rulesGroup];

const OUT = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${kernel}, Node.js ${process.versions.node}`;
}

function selected(args: string[]): BenchGroup[] {
  if (args.length === 0) return [...GROUPS];
  const unknown = args.filter((a) => !GROUPS.some((g) => g.name === a));
  if (unknown.length) {
    process.stderr.write(`bench: unknown group ${unknown.join(', ')} (groups: ${GROUPS.map((g) => g.name).join(', ')})\n`);
    process.exit(2);
  }
  return GROUPS.filter((g) => args.includes(g.name));
}

async function main(): Promise<void> {
  const groups = selected(process.argv.slice(2));
  const order = GROUPS.map((g) => g.name);
  for (const group of groups) {
    const started = new Date();
    process.stderr.write(`bench: ${group.name}…\n`);
    const result = await group.run();
    const section = {
      group: group.name,
      title: group.title,
      date: `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      machine: machine(),
      ...result,
    };
    // Written after each group, so a later group's failure keeps what was measured.
    const doc = replaceSection(existsSync(OUT) ? readFileSync(OUT, 'utf8') : '', section, order);
    writeFileSync(OUT, doc);
  }
  process.stdout.write(readFileSync(OUT, 'utf8'));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
