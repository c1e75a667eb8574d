// The port of an exporter started on `127.0.0.1:0`, from its `listening` log
// line. A port picked at random beforehand can be taken by then: the
// benchmarks' own clients get theirs from the same range (EADDRINUSE seen).
import type { ChildProcess } from 'node:child_process';

/** Reads the child's stderr (which must be a pipe) until it logs where it listens; the rest of it is left flowing. */
export function listeningPort(child: ChildProcess): Promise<number> {
  const stderr = child.stderr;
  if (!stderr) throw new Error('listeningPort: the exporter needs its stderr piped');
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString();
      const m = /msg=listening address=\S*:(\d+)/.exec(seen);
      if (!m) return;
      stderr.off('data', onData);
      child.off('exit', onExit);
      resolve(Number(m[1]));
    };
    const onExit = (code: number | null): void => reject(new Error(`the exporter exited (${code}) before listening: ${seen}`));
    stderr.on('data', onData);
    stderr.resume();
    child.once('exit', onExit);
  });
}
