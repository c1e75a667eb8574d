// For tests: the example config with its receivers pointed at a local webhook,
// a real Alertmanager on 127.0.0.1, and the webhook that records what it gets.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { fetchText, freePort, spawnChild, untilExit, waitFor, type Child } from '../test/harness/processes.js';

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';
export const EXAMPLE_CONFIG = fileURLToPath(new URL('./alertmanager.yml', import.meta.url));

/** One notification as Alertmanager's webhook sends it, with the receiver path it came to. */
export interface Notification {
  path: string;
  receiver: string;
  status: string;
  groupLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

export interface Webhook {
  url: string;
  notifications: Notification[];
  stop(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that records every JSON POST. */
export async function startWebhook(): Promise<Webhook> {
  const notifications: Notification[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        notifications.push({ path: req.url ?? '', ...(JSON.parse(body) as Omit<Notification, 'path'>) });
        res.writeHead(200).end('ok');
      } catch {
        res.writeHead(400).end('not JSON');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    notifications,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A route of Alertmanager's config, as far as the tests read it. */
export interface Route {
  receiver?: string;
  matchers?: string[];
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: Route[];
}

/**
 * The example config, each receiver's webhook pointed at `<webhookUrl>/<receiver>`,
 * and every route's group_wait/group_interval shortened so a test sees notifications within seconds.
 */
export function exampleConfigFor(webhookUrl: string): string {
  const config = parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as {
    route: Route;
    receivers: { name: string; webhook_configs?: { url: string }[] }[];
  };
  const shorten = (r: Route, top: boolean): void => {
    if (top || r.group_wait !== undefined) r.group_wait = '1s';
    if (top || r.group_interval !== undefined) r.group_interval = '1s';
    for (const child of r.routes ?? []) shorten(child, false);
  };
  shorten(config.route, true);
  for (const r of config.receivers) for (const w of r.webhook_configs ?? []) w.url = `${webhookUrl}/${r.name}`;
  return stringify(config);
}

export interface RunningAlertmanager {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

export async function startAlertmanager(configYaml: string): Promise<RunningAlertmanager> {
  if (!existsSync(ALERTMANAGER_BIN)) throw new Error(`${ALERTMANAGER_BIN} is missing: install the "prometheus-alertmanager" package (see .ci/run)`);
  const dir = await mkdtemp(join(tmpdir(), 'mailrelay-alertmanager-'));
  const configFile = join(dir, 'alertmanager.yml');
  await writeFile(configFile, configYaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnChild(ALERTMANAGER_BIN, [
    `--config.file=${configFile}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // No gossip: a single instance, and no port outside 127.0.0.1.
    '--cluster.listen-address=',
  ]);
  const stop = async (): Promise<void> => {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilExit(child, waitFor(async () => (await fetchText(`${url}/-/ready`)) !== undefined, { what: `Alertmanager on ${url}`, timeoutMs: 30_000 }));
  } catch (err) {
    await stop();
    throw new Error(`Alertmanager did not start (${(err as Error).message})\n--- alertmanager output ---\n${child.output()}`, { cause: err });
  }
  return { url, child, stop };
}
