// Preloaded into the exporter by the log benchmark (`node --import`): how
// long its main thread's event loop was held (the delay a timer, an HTTP
// request or a file event waits), written to stderr every 250 ms as
// `bench-loop-delay max=<ms>`, so the benchmark can take the worst during
// the catch-up. The parser thread (it loads this too) is left out.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const report = setInterval(() => {
    process.stderr.write(`bench-loop-delay max=${(delay.max / 1e6).toFixed(1)}\n`);
    delay.reset();
  }, 250);
  report.unref();
}
