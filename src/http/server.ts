// The HTTP face of the exporter, as the Prometheus exporters have it:
// /metrics, a landing page, /-/healthy, /-/ready and POST /-/reload.
import express, { type Express } from 'express';
import type { ExporterRegistry } from '../collectors/registry.js';
import type { LandingTable } from '../feature.js';

export const DEFAULT_PORT = 10025;

export interface LandingInfo {
  version: string;
  telemetryPath: string;
  tables: LandingTable[];
  /** What keeps the exporter from seeing anything (a configured folder missing), shown first. */
  problems: string[];
}

export interface Readiness {
  /** The first catch-up of every feature is done. */
  caughtUp: boolean;
  /** Why a feature cannot see anything now, naming the config key: not ready while there is one. */
  problems: string[];
}

export interface HttpOptions {
  registry: ExporterRegistry;
  telemetryPath: string;
  ready(): Promise<Readiness>;
  reload(): Promise<boolean>;
  landing(): Promise<LandingInfo>;
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
    res.type('html').send(landingPage(await opts.landing()));
  });

  return app;
}

function landingPage(info: LandingInfo): string {
  const problems = info.problems.length
    ? `<h2>Problems</h2>\n<ul class="problems">\n${info.problems.map((p) => `<li>${esc(p)}</li>`).join('\n')}\n</ul>\n`
    : '';
  const tables = info.tables
    .map(
      (t) => `<h2>${esc(t.title)}</h2>
<table>
<tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>
${t.rows.length ? t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n') : `<tr><td colspan="${t.columns.length}">none yet</td></tr>`}
</table>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>mailrelay-exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.problems{color:#a00}</style>
</head>
<body>
<h1>mailrelay-exporter</h1>
<p>Detects a mail server used as a spam relay. Version ${esc(info.version)}.</p>
<ul>
<li><a href="${esc(info.telemetryPath)}">Metrics</a></li>
<li><a href="/-/healthy">Health</a></li>
<li><a href="/-/ready">Readiness</a></li>
</ul>
${problems}${tables}
</body>
</html>
`;
}

/** Account names come from the mail log, i.e. from attackers: always escape. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
