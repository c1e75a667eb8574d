// The naive reference for the spool benchmark, run as its own process: one
// synchronous loop over the outgoing folders that lists each and reads 4 KiB
// of every `.tmp` file for its original sender. What a first version of the
// scanner would do, and what the two-phase scan must beat.
//   node dist/bench/naiveQueueLoop.js MAIL_DIR → {"files":…,"senders":…,"seconds":…,"cpuSeconds":…}
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { HEAD_BYTES, OUTGOING, parseOriginalSender } from '../src/spool/layout.js';

const mail = process.argv[2]!;
const started = performance.now();
const cpu = process.cpuUsage();
const folders = [OUTGOING, ...readdirSync(join(mail, OUTGOING), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${OUTGOING}/${d.name}`)];
const buf = Buffer.allocUnsafe(HEAD_BYTES);
const senders = new Map<string, number>();
let files = 0;
for (const folder of folders) {
  for (const name of readdirSync(join(mail, folder))) {
    if (!name.toLowerCase().endsWith('.tmp')) continue;
    const fd = openSync(join(mail, folder, name), 'r');
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    closeSync(fd);
    const sender = parseOriginalSender(buf.toString('latin1', 0, n)) ?? '__unknown__';
    senders.set(sender, (senders.get(sender) ?? 0) + 1);
    files++;
  }
}
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({ files, senders: senders.size, seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 }) + '\n');
