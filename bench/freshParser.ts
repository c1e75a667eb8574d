// Run as its own process by the log benchmark: the parser and the account
// book over the log files of a folder, in memory, twice. The first run is
// what a fresh process pays (code not compiled yet by the JIT, a heap that
// has to grow), the second what a warm one does. The exporter as its own
// process pays the first in its catch-up; the benchmark's in-process rows
// run warm.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { accountLimits } from '../src/pipeline/logPipeline.js';
import { parseInMemory } from './parser.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: freshParser.js <folder of IceWarp log files>');
const files = readdirSync(dir)
  .sort()
  .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
const limits = accountLimits(loadConfig(`icewarp:\n  log_directory: ${dir}\n`));
const first = parseInMemory(files, limits);
const second = parseInMemory(files, limits);
process.stdout.write(`${JSON.stringify({ first, second })}\n`);
