// mailrelay-exporter --config.check: validates the config file and the web
// config file as a start would, checks that what they name can be read
// (and the positions folder written) by the user running the check, and
// says what would run. Nothing is started. ok is false on any problem.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Collector } from './collectors/registry.js';
import { defaultConfig, readConfigFile, type Config } from './config/config.js';
import { COLLECTORS } from './features.js';
import { folderProblem } from './folders.js';
import { readTlsFiles, readWebConfig, tlsContext } from './http/webConfig.js';
import { configuredMta } from './mtas.js';
import type { LogSource } from './smtp/parser.js';
import type { QueueLocation } from './spool/source.js';

export interface CheckOptions {
  configFile?: string;
  webConfigFile?: string;
  listenAddress: string;
  telemetryPath: string;
  collectors?: readonly Collector[];
}

export interface CheckReport {
  ok: boolean;
  /** What would run, and each problem on a line starting with "error:". */
  text: string;
}

export async function checkConfig(opts: CheckOptions): Promise<CheckReport> {
  const out: string[] = [];
  let ok = true;
  const problem = (msg: string) => {
    ok = false;
    out.push(`error: ${msg}`);
  };

  let config: Config | undefined;
  if (opts.configFile) {
    try {
      config = await readConfigFile(opts.configFile);
      out.push(`config file ${opts.configFile}: valid`);
    } catch (err) {
      problem((err as Error).message);
    }
  } else {
    config = defaultConfig();
    out.push('config file: none (--config.file not given)');
  }

  if (config) {
    const mta = configuredMta(config);
    out.push(`MTA: ${mta?.mta.name ?? 'none configured'}`);
    let logs: LogSource | undefined;
    let queue: QueueLocation | undefined;
    try {
      logs = mta?.mta.logSource(mta.section);
      queue = mta?.mta.queue(mta.section);
    } catch (err) {
      problem((err as Error).message);
    }
    if (logs) {
      out.push(`  SMTP logs: ${logs.directory} (files ${logs.pattern}, log times in ${logs.timeZone})`);
      await checkFolder(logs.directory, logs.key, problem);
    }
    if (queue) {
      out.push(`  mail queues: ${queue.location}${queue.instance === undefined ? '' : ` (${queue.instance})`}`);
      if (queue.kind === 'folder') await checkFolder(queue.location, queue.key, problem);
      else await checkExecutable(queue.location, queue.key, problem);
    }
    const on: string[] = [];
    for (const { feature } of opts.collectors ?? COLLECTORS) {
      let settings: unknown;
      try {
        settings = feature.settings(config);
      } catch (err) {
        problem((err as Error).message);
      }
      out.push(`collector ${feature.name}: ${settings === undefined ? 'off' : 'on'}`);
      if (settings !== undefined) on.push(feature.name);
    }
    if (on.length === 0) problem('no collector is configured: the exporter would export only its own health (set an MTA section with its logs or queue, dnsbl or relay_probe)');
    if (logs) {
      const positions = resolve(config.positions_file);
      const note = isAbsolute(config.positions_file) ? '' : ` (relative: resolved against the working directory ${process.cwd()})`;
      out.push(`positions file: ${positions}${note}`);
      await checkWritableFolder(dirname(positions), 'positions_file', problem);
    }
  }

  let scheme = 'http';
  let auth = 'none';
  if (opts.webConfigFile) {
    try {
      const web = await readWebConfig(opts.webConfigFile);
      if (web.tls) {
        tlsContext(web.tls, await readTlsFiles(web.tls));
        scheme = 'https';
        const client = web.tls.client_auth_type ?? 'NoClientCert';
        out.push(`web config file ${opts.webConfigFile}: valid; TLS on (${web.tls.min_version} to ${web.tls.max_version}, client certificates: ${client})`);
      } else {
        out.push(`web config file ${opts.webConfigFile}: valid; TLS off`);
      }
      if (web.users.size > 0) auth = `basic auth, ${web.users.size} user${web.users.size === 1 ? '' : 's'}`;
    } catch (err) {
      problem((err as Error).message);
    }
  } else {
    out.push('web config file: none (plain HTTP, no authentication)');
  }
  out.push(`listen: ${opts.listenAddress}; metrics at ${scheme}://<host>${portOf(opts.listenAddress)}${opts.telemetryPath}; authentication: ${auth}`);
  out.push(ok ? 'config check: OK' : 'config check: FAILED');
  return { ok, text: out.join('\n') + '\n' };
}

/** Checked as the user running the check: run it as the service's user to be sure. */
async function checkFolder(dir: string, key: string, problem: (msg: string) => void): Promise<void> {
  const why = await folderProblem(dir, key);
  if (why !== undefined) problem(why);
}

async function checkExecutable(file: string, key: string, problem: (msg: string) => void): Promise<void> {
  try {
    await access(file, constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem(`${key}: ${file} ${code === 'ENOENT' ? 'does not exist' : 'cannot be run by this user'}`);
  }
}

/** The folder, or the nearest existing folder above it (the exporter creates the rest), must be writable. */
async function checkWritableFolder(dir: string, key: string, problem: (msg: string) => void): Promise<void> {
  let probe = dir;
  for (;;) {
    try {
      if (!(await stat(probe)).isDirectory()) return problem(`${key}: ${dir} cannot be created: ${probe} is not a directory`);
      break;
    } catch {
      const up = dirname(probe);
      if (up === probe) break;
      probe = up;
    }
  }
  try {
    await access(probe, constants.W_OK);
  } catch {
    problem(`${key}: ${dir} cannot be written by this user${probe === dir ? '' : ` (nor created in ${probe})`}`);
  }
}

function portOf(listenAddress: string): string {
  const m = /:(\d+)$/.exec(listenAddress);
  return m ? `:${m[1]}` : '';
}
