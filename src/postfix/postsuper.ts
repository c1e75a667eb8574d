// Postfix's own way to set mail aside and bring it back: `postsuper -h`
// moves a message to the hold queue (nothing is delivered from there, nothing
// expires there, nothing is deleted), `postsuper -H` releases it to the
// deferred queue. Queue IDs go on stdin (`-`), so a list of any length is one
// process; postsuper names each message it moved, which is how the outcome of
// each ID is known.
import { spawn } from 'node:child_process';
import { isQueueId } from './messages.js';

export type HoldAction = 'hold' | 'release';

const FLAG: Record<HoldAction, string> = { hold: '-h', release: '-H' };
// `postsuper: 1739FA360B9: placed on hold` / `… released from hold`
const DONE: Record<HoldAction, RegExp> = { hold: /^postsuper: ([0-9A-Za-z]+): placed on hold$/, release: /^postsuper: ([0-9A-Za-z]+): released from hold$/ };

/** The queue IDs postsuper says it moved, from what it printed. */
export function parsePostsuperOutput(action: HoldAction, output: string): Set<string> {
  const done = new Set<string>();
  for (const line of output.split('\n')) {
    const m = DONE[action].exec(line.trim());
    if (m) done.add(m[1]!);
  }
  return done;
}

export interface PostsuperCommand {
  /** Path of `postsuper`. */
  postsuper: string;
  /** Postfix's configuration directory (`-c`); undefined: the default. */
  configDirectory?: string;
}

export class PostsuperError extends Error {}

/**
 * Holds or releases these messages; resolves with the IDs postsuper moved.
 * Every ID is checked first: postsuper takes `ALL` for every message, and a
 * journal is a file someone could have edited.
 */
export function postsuper(cmd: PostsuperCommand, action: HoldAction, queueIds: readonly string[]): Promise<Set<string>> {
  for (const id of queueIds) if (!isQueueId(id)) throw new PostsuperError(`${JSON.stringify(id)} is not a Postfix queue ID; nothing was moved`);
  if (queueIds.length === 0) return Promise.resolve(new Set());
  const args = [...(cmd.configDirectory === undefined ? [] : ['-c', cmd.configDirectory]), FLAG[action], '-'];
  const what = `${cmd.postsuper} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.postsuper, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.stdin.on('error', () => undefined); // postsuper may exit before reading all (its error says why)
    child.once('error', (err) => reject(new PostsuperError(`${what}: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => {
      const done = parsePostsuperOutput(action, output);
      if (code === 0) return resolve(done);
      const said = output.trim().split('\n').filter((l) => !DONE[action].test(l.trim())).slice(-3).join('; ');
      reject(new PostsuperError(`${what}: exit ${code ?? signal}${said ? `: ${said}` : ''}${done.size ? ` (after moving ${done.size})` : ''}`));
    });
    child.stdin.end(queueIds.join('\n') + '\n');
  });
}
