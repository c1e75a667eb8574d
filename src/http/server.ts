// The HTTP face of the exporter, as the Prometheus exporters have it:
// /metrics, /-/healthy, /-/ready and POST /-/reload; and the incident console
// at / with its JSON form at /api/v1/incident.
import express, { type Express } from 'express';
import type { ExporterRegistry } from '../collectors/registry.js';
import type { Incident } from '../incident/incident.js';
import { CONSOLE_CSP, renderConsole } from './console.js';

export const DEFAULT_PORT = 10025;

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
}

export function createHttpApp(opts: HttpOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get(opts.telemetryPath, async (_req, res) => {
    res.set('Content-Type', opts.registry.contentType);
    try {
      await opts.registry.writeMetrics((chunk) => res.write(chunk));
      res.end();
    } catch (err) {
      // Once the body has begun, a status can no longer be sent: cut the response so the scrape fails visibly.
      if (res.headersSent) res.destroy(err as Error);
      else res.status(500).type('text/plain').send(`error gathering metrics: ${(err as Error).message}\n`);
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
