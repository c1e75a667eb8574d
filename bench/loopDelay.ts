// Preloaded into the exporter by the log benchmark (`node --import`), in its
// main thread (the parser thread loads it too and is left out). Every 250 ms
// it writes to stderr:
// - `bench-loop-delay max=<ms>`: the longest the event loop was held since the
//   last report (what a timer, an HTTP request or a file event waited);
// - `bench-scrape-ms <ms> …`: for each /metrics response finished since, the
//   time from its request's arrival (headers read) to its last byte handed to
//   the kernel: the exporter's side of a scrape, without the client's;
// - `bench-scrape-at <id>,<arrived>,<finished> …`: the same two moments on the
//   wall clock (ms; `performance.timeOrigin + performance.now()`, comparable
//   with the client's) for requests whose `x-bench-scrape` header names them,
//   so the client can tell its scrape's time before, in and after the exporter.
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const arrived = new WeakMap<ServerResponse, { at: number; id: string | undefined }>();
  let scrapes: number[] = [];
  let named: string[] = [];
  subscribe('http.server.request.start', (m) => {
    const { request, response } = m as { request: IncomingMessage; response: ServerResponse };
    const id = request.headers['x-bench-scrape'];
    if (request.url?.startsWith('/metrics')) arrived.set(response, { at: performance.now(), id: typeof id === 'string' ? id : undefined });
  });
  subscribe('http.server.response.finish', (m) => {
    const { response } = m as { response: ServerResponse };
    const scrape = arrived.get(response);
    if (scrape === undefined) return;
    const now = performance.now();
    scrapes.push(now - scrape.at);
    const wall = (t: number): string => (performance.timeOrigin + t).toFixed(2);
    if (scrape.id !== undefined) named.push(`${scrape.id},${wall(scrape.at)},${wall(now)}`);
  });
  const report = setInterval(() => {
    process.stderr.write(`bench-loop-delay max=${(delay.max / 1e6).toFixed(1)}\n`);
    if (scrapes.length > 0) process.stderr.write(`bench-scrape-ms ${scrapes.map((s) => s.toFixed(1)).join(' ')}\n`);
    if (named.length > 0) process.stderr.write(`bench-scrape-at ${named.join(' ')}\n`);
    delay.reset();
    scrapes = [];
    named = [];
  }, 250);
  report.unref();
}
