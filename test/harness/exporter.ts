// Runs the built exporter (dist/src/main.js, made by `npm test`'s pretest) as
// a user would: its own process, a config file, a port on 127.0.0.1.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchText, freePort, spawnChild, untilExit, waitFor, type Child } from './processes.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXPORTER_MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');

export interface RunningExporter {
  url: string;
  port: number;
  child: Child;
  /** The config file the exporter was started with. */
  configFile: string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Writes configYaml to dir (a new temp dir when not given, removed at stop),
 * starts the exporter on a free port and waits for /-/healthy.
 */
export async function startExporter(opts: {
  configYaml: string;
  dir?: string;
  extraArgs?: string[];
  /** How to tell it is up, given its port (default: GET http://127.0.0.1:port/-/healthy), e.g. over TLS with credentials. */
  healthy?: (port: number) => Promise<boolean>;
  /** Run it as this user (e.g. nobody, as the Docker image does); the test makes what it needs readable. */
  user?: { uid: number; gid: number };
}): Promise<RunningExporter> {
  if (!existsSync(EXPORTER_MAIN)) throw new Error(`${EXPORTER_MAIN} is missing: run "npm run build" first`);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'mailrelay-exporter-e2e-')));
  const configFile = join(dir, 'mailrelay-exporter.yml');
  await writeFile(configFile, opts.configYaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnChild(
    process.execPath,
    [EXPORTER_MAIN, `--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, ...(opts.extraArgs ?? [])],
    { cwd: dir, user: opts.user },
  );
  const stop = async (): Promise<void> => {
    await child.stop();
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilExit(
      child,
      waitFor(opts.healthy ? () => opts.healthy!(port) : async () => (await fetchText(`${url}/-/healthy`)) !== undefined, {
        what: `the exporter on ${url} to be healthy`,
        timeoutMs: 20_000,
      }),
    );
  } catch (err) {
    await stop();
    throw new Error(`exporter did not start (${(err as Error).message})\n--- exporter output ---\n${child.output()}`, { cause: err });
  }
  return {
    url,
    port,
    child,
    configFile,
    metrics: () => fetchText(`${url}/metrics`),
    stop,
  };
}


/** The value of one series (`name{labels}` exactly as rendered) in a /metrics text; undefined when absent. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
