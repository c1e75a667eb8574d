// The HTTP face of the exporter, as the Prometheus exporters have it:
// /metrics, /-/healthy, /-/ready and POST /-/reload; and the incident console
// at / with its JSON form at /api/v1/incident.
import type { Writable } from 'node:stream';
import express, { type Express } from 'express';
import type { ExporterRegistry } from '../collectors/registry.js';
import type { Incident } from '../incident/incident.js';
import { acceptsGzip, gzipStream } from './compression.js';
import { CONSOLE_CSP, renderConsole } from './console.js';
import { ScrapeRounds } from './scrapeRounds.js';

export const DEFAULT_PORT = 10025;
/** Scrapes served at once by default, as node_exporter's --web.max-requests. */
export const DEFAULT_MAX_REQUESTS = 40;
/** A response whose client has read nothing for this long is cut off (Prometheus's own scrape timeout defaults to 10s). */
export const DEFAULT_STALL_TIMEOUT_SECONDS = 30;

/** The incident console's data for scripts: the same as the page. */
export const INCIDENT_API_PATH = '/api/v1/incident';

export interface Readiness {
  /** The first catch-up of every feature is done. */
  caughtUp: boolean;
  /** Why a feature cannot see anything now, naming the config key: not ready while there is one. */
  problems: string[];
}

export interface HttpOptions {
  registry: ExporterRegistry;
  telemetryPath: string;
  version: string;
  ready(): Promise<Readiness>;
  reload(): Promise<boolean>;
  incident(): Promise<Incident>;
  /** A line at the top of the console (the demo's). */
  notice?: string;
  /** Scrapes of the telemetry path served at once; beyond, 503 (node_exporter's --web.max-requests). 0: no limit. */
  maxRequests?: number;
}

export function createHttpApp(opts: HttpOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // A scrape is in flight from its start until its response is finished or cut off
  // (a client that stops reading is cut off by the listener's stall timeout).
  let inFlight = 0;
  const maxRequests = opts.maxRequests ?? DEFAULT_MAX_REQUESTS;
  // Concurrent scrapes share a rendering, and rendering keeps to a share of the main thread (see scrapeRounds.ts).
  const rounds = new ScrapeRounds((write) => opts.registry.writeMetrics(write));
  const writes = new WriteTurns();
  app.get(opts.telemetryPath, async (req, res) => {
    if (maxRequests > 0 && inFlight >= maxRequests) {
      res.status(503).type('text/plain').send(`Limit of concurrent requests reached (${maxRequests}), try again later.\n`);
      return;
    }
    inFlight++;
    res.once('close', () => inFlight--);
    // The listener's stall timeout (nothing read or written) is for a client that stops reading:
    // it is off while the exporter itself is busy (waiting for the round, gathering the
    // metrics), and on while the answer waits for the client.
    const stallMs = req.socket.timeout ?? 0;
    const exportersTime = () => void req.socket.setTimeout(0);
    const clientsTime = () => void req.socket.setTimeout(stallMs);
    exportersTime();
    const turn = await rounds.next();
    if (turn.kind !== 'alone') clientsTime();
    if (turn.kind === 'failed') {
      res.status(500).type('text/plain').send(`error gathering metrics: ${turn.err.message}\n`);
      return;
    }
    res.set('Content-Type', opts.registry.contentType);
    res.vary('Accept-Encoding');
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    // What the body is written to: the response, or a gzip stream piped into it.
    let out: Writable = res;
    try {
      if (turn.kind === 'shared') {
        let body = turn.body;
        if (gzip) {
          exportersTime();
          body = await turn.gzipped();
          clientsTime();
          res.setHeader('Content-Encoding', 'gzip');
        }
        // The round's one buffer, whole (the response holds a reference, not a copy), in a share of a turn of the
        // event loop with other responses: a chunk per turn made each scrape wait one turn of the catch-up per chunk.
        res.setHeader('Content-Length', body.length);
        await writes.run(() => res.end(body));
        return;
      } else {
        if (gzip) {
          res.setHeader('Content-Encoding', 'gzip');
          const compressing = gzipStream();
          compressing.pipe(res);
          res.once('close', () => compressing.destroy());
          out = compressing;
        }
        let paused = false;
        const wait = (): Promise<void> => {
          if (!paused) turn.paused();
          paused = true;
          clientsTime();
          return drained(out).finally(exportersTime);
        };
        try {
          await opts.registry.writeMetrics((chunk) => out.write(chunk), wait);
        } finally {
          turn.done();
          clientsTime();
        }
      }
      out.end();
    } catch (err) {
      // Once the body has begun, a status can no longer be sent: cut the response so the scrape fails visibly.
      if (out !== res) out.destroy();
      if (err instanceof ClientGoneError) return;
      if (res.headersSent) res.destroy(err as Error);
      else {
        res.removeHeader('Content-Encoding');
        res.status(500).type('text/plain').send(`error gathering metrics: ${(err as Error).message}\n`);
      }
    }
  });

  app.get('/-/healthy', (_req, res) => {
    res.type('text/plain').send('Healthy.\n');
  });

  app.get('/-/ready', async (_req, res) => {
    const { caughtUp, problems } = await opts.ready();
    if (caughtUp && problems.length === 0) {
      res.type('text/plain').send('Ready.\n');
      return;
    }
    const lines = [...(caughtUp ? [] : ['still catching up']), ...problems];
    res.status(503).type('text/plain').send(`Not ready: ${lines.join('\n')}\n`);
  });

  app.post('/-/reload', async (_req, res) => {
    if (await opts.reload()) res.type('text/plain').send('Reloaded.\n');
    else res.status(500).type('text/plain').send('Reload failed; the previous config is still in use. See the exporter log.\n');
  });

  app.get('/', async (_req, res) => {
    const page = renderConsole(await opts.incident(), { version: opts.version, telemetryPath: opts.telemetryPath, apiPath: INCIDENT_API_PATH, notice: opts.notice });
    res.set({ 'Content-Security-Policy': CONSOLE_CSP, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    res.type('html').send(page);
  });

  app.get(INCIDENT_API_PATH, async (_req, res) => {
    res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.json(await opts.incident());
  });

  return app;
}

class ClientGoneError extends Error {}

/** Writing a round's responses holds the event loop about this long at a time (ms). */
const WRITE_SLICE_MS = 4;

/**
 * Runs writes in order, as many in each turn of the event loop as fit in
 * WRITE_SLICE_MS: a round's 100 responses of 300 KB handed to the kernel in
 * one go held the thread (and the catch-up) for tens of milliseconds.
 */
class WriteTurns {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  run(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push(() => {
        try {
          write();
          resolve();
        } catch (err) {
          reject(err);
        }
      });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.turn);
      }
    });
  }

  private readonly turn = (): void => {
    const until = performance.now() + WRITE_SLICE_MS;
    let write = this.queue.shift();
    while (write !== undefined) {
      write();
      if (performance.now() >= until) break;
      write = this.queue.shift();
    }
    if (this.queue.length > 0) setImmediate(this.turn);
    else this.scheduled = false;
  };
}

/** Resolves when the response (or its gzip stream) can take more data; rejects when it is gone (closed, cut off). */
function drained(res: Writable): Promise<void> {
  if (res.destroyed || res.writableEnded) return Promise.reject(new ClientGoneError('the client is gone'));
  if (!res.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      reject(new ClientGoneError('the client is gone'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
