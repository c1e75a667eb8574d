// Preloaded into the exporter by the log benchmark (`node --import`), in its
// main thread (the parser thread loads it too and is left out). Every 250 ms
// it writes to stderr:
// - `bench-loop-delay max=<ms>`: the longest the event loop was held since the
//   last report (what a timer, an HTTP request or a file event waited);
// - `bench-scrape-ms <ms> …`: for each /metrics response finished since, the
//   time from its request's arrival (headers read) to its last byte handed to
//   the kernel: the exporter's side of a scrape, without the client's.
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const arrived = new WeakMap<ServerResponse, number>();
  let scrapes: number[] = [];
  subscribe('http.server.request.start', (m) => {
    const { request, response } = m as { request: IncomingMessage; response: ServerResponse };
    if (request.url?.startsWith('/metrics')) arrived.set(response, performance.now());
  });
  subscribe('http.server.response.finish', (m) => {
    const { response } = m as { response: ServerResponse };
    const at = arrived.get(response);
    if (at !== undefined) scrapes.push(performance.now() - at);
  });
  const report = setInterval(() => {
    process.stderr.write(`bench-loop-delay max=${(delay.max / 1e6).toFixed(1)}\n`);
    if (scrapes.length > 0) process.stderr.write(`bench-scrape-ms ${scrapes.map((s) => s.toFixed(1)).join(' ')}\n`);
    delay.reset();
    scrapes = [];
  }, 250);
  report.unref();
}
