// This process's threads as Linux sees them (/proc/self/task): what a
// test of a worker's priority reads.
import { readdirSync, readFileSync } from 'node:fs';

/** Nice values of this process's threads (Linux: the 19th field of /proc/self/task/<tid>/stat). */
export function threadNiceValues(): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // a thread that ended meanwhile
    }
  });
}
