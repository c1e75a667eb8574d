// Real processes for end-to-end tests: free ports, children that are always
// stopped, and polling with a timeout that says what it was waiting for.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (listen on 0, close, return it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

export interface Child {
  pid: number;
  /** stdout and stderr so far, interleaved, capped to the last 1 MiB. */
  output(): string;
  /** Resolves when the process has exited (or failed to start). */
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

const OUTPUT_CAP = 1 << 20;

/** Starts cmd without a shell (as another user when given: tests run as root). A failure to start shows up in output() and makes stop() resolve. */
export function spawnChild(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; user?: { uid: number; gid: number } } = {}): Child {
  const proc: ChildProcess = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    uid: opts.user?.uid,
    gid: opts.user?.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (chunk: Buffer | string): void => {
    out += chunk.toString();
    if (out.length > OUTPUT_CAP) out = out.slice(out.length - OUTPUT_CAP);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      append(`\n[${cmd} exited: code=${code} signal=${signal}]\n`);
      resolve();
    });
    proc.once('error', (err) => {
      append(`\n[${cmd} failed to start: ${err.message}]\n`);
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: proc.pid ?? -1,
    output: () => out,
    exited,
    stop() {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return exited;
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

export class WaitTimeoutError extends Error {}

/**
 * Polls fn until it returns something other than undefined/false. Errors from
 * fn count as "not yet"; on timeout the error names `what` and carries the last one.
 */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${last}`, {
        cause: lastError,
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** GET url, the body as text; throws on a non-2xx status (waitFor treats that as "not yet"). */
export async function fetchText(url: string, init?: RequestInit): Promise<string> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${res.status}: ${body.slice(0, 500)}`);
  return body;
}

export class ChildExitedError extends Error {}

/** Waits for `ready`, but fails at once if the child exits first (a bad flag, a port taken). */
export async function untilExit<T>(child: Child, ready: Promise<T>): Promise<T> {
  const exit = child.exited.then(() => {
    throw new ChildExitedError(`process ${child.pid} exited before it was ready`);
  });
  exit.catch(() => undefined);
  return Promise.race([ready, exit]);
}
