// Run as its own process by the log benchmark (bareLoopOwnProcess): the bare
// loop in a fresh Node, its figures as JSON on stdout.
import { bareLoop } from './bareLoop.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: freshBareLoop.js <folder of IceWarp log files>');
process.stdout.write(`${JSON.stringify(bareLoop(dir))}\n`);
