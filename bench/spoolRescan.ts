// The rescan figure of the spool benchmark, run as its own process: a
// SpoolScanner over the tree, its first scan to the end, then full rescans
// of the unchanged tree, each timed (wall and CPU); and the bare pass a rescan
// must not exceed, a synchronous Node loop of readdir and lstat over the same
// folders, timed the same way.
//   node dist/bench/spoolRescan.js MAIL_DIR ROUNDS → {"rescans":[{seconds,cpuSeconds}…],"statLoops":[…],"passes":{listed,unchanged}}
import { lstatSync, opendirSync } from 'node:fs';
import { join, sep } from 'node:path';
import { OUTGOING } from '../src/spool/layout.js';
import { SpoolScanner } from '../src/spool/scanner.js';

const [mail, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 3);

async function timed(fn: () => unknown): Promise<{ seconds: number; cpuSeconds: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

function statLoop(): number {
  let files = 0;
  const outgoing = join(mail!, OUTGOING);
  const folders = [outgoing];
  const top = opendirSync(outgoing);
  for (let d = top.readSync(); d; d = top.readSync()) if (d.isDirectory()) folders.push(join(outgoing, d.name));
  top.closeSync();
  for (const folder of folders) {
    const dir = opendirSync(folder, { encoding: 'latin1', bufferSize: 1024 });
    for (let d = dir.readSync(); d; d = dir.readSync()) if (d.isFile() && lstatSync(folder + sep + d.name, { throwIfNoEntry: false })?.isFile()) files++;
    dir.closeSync();
  }
  return files;
}

const scanner = new SpoolScanner({ mailDirectory: mail!, topSenders: 20, rescanIntervalMs: 0 });
await scanner.idle();
const firstScan = scanner.folderPasses();
const rescans = [];
const statLoops = [];
for (let i = 0; i < rounds; i++) {
  rescans.push(await timed(() => scanner.fullScan()));
  statLoops.push(await timed(statLoop));
}
const pending = scanner.snapshot().pendingSenders;
const all = scanner.folderPasses();
// The rescans' folder passes: how many listed their folder, how many found it unchanged and lstat'ed the files known.
const passes = { listed: all.listed - firstScan.listed, unchanged: all.unchanged - firstScan.unchanged };
await scanner.stop();
process.stdout.write(JSON.stringify({ rescans, statLoops, pendingAfterRescans: pending, passes }) + '\n');
