#!/usr/bin/env node
// The command line: flags, signals, subcommands. The only place that exits.
import { readFileSync } from 'node:fs';
import { App } from './app.js';
import { DEFAULT_PORT } from './http/server.js';
import { createLogger, LEVELS, type Level } from './logger.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `usage: mailrelay-exporter [<flags>]
       mailrelay-exporter queue|incoming <command> [<flags>]   (run "mailrelay-exporter queue --help")

Detects a mail server used as a spam relay, from its SMTP logs and mail queues.

Flags:
  --config.file=PATH               Config file (YAML). Without one, every collector is off.
  --web.listen-address=[HOST]:PORT Address to listen on (default ":${DEFAULT_PORT}").
  --web.telemetry-path=PATH        Path under which to expose metrics (default "/metrics").
  --log.level=LEVEL                One of ${LEVELS.join(', ')} (default "info").
  --version                        Print the version and exit.
  --help                           Print this help and exit.
`;

export interface Flags {
  'config.file'?: string;
  'web.listen-address': string;
  'web.telemetry-path': string;
  'log.level': Level;
}

class UsageError extends Error {}

/** `--name=value` or `--name value`, kingpin style. */
export function parseFlags(argv: string[]): Flags | 'help' | 'version' {
  const flags: Flags = { 'web.listen-address': `:${DEFAULT_PORT}`, 'web.telemetry-path': '/metrics', 'log.level': 'info' };
  const known = new Set(['config.file', 'web.listen-address', 'web.telemetry-path', 'log.level']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version') return 'version';
    const m = /^--([\w.-]+)(?:=(.*))?$/s.exec(arg);
    if (!m || !known.has(m[1]!)) throw new UsageError(`unknown flag or argument: ${arg}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
    (flags as unknown as Record<string, string>)[m[1]!] = value;
  }
  if (!LEVELS.includes(flags['log.level'])) throw new UsageError(`--log.level must be one of ${LEVELS.join(', ')}`);
  if (!flags['web.telemetry-path'].startsWith('/')) throw new UsageError('--web.telemetry-path must start with /');
  return flags;
}

async function runExporter(argv: string[]): Promise<number> {
  const flags = parseFlags(argv);
  if (flags === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags === 'version') {
    process.stdout.write(`mailrelay-exporter ${VERSION} (node ${process.versions.node})\n`);
    return 0;
  }
  const logger = createLogger(flags['log.level']);
  const app = new App({
    configFile: flags['config.file'],
    listenAddress: flags['web.listen-address'],
    telemetryPath: flags['web.telemetry-path'],
    logger,
    version: VERSION,
  });
  logger.info('starting mailrelay-exporter', { version: VERSION, config_file: flags['config.file'] });
  await app.start();
  process.on('SIGHUP', () => void app.reload());
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info('shutting down');
  await app.stop();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === 'queue' || command === 'incoming') {
    const { runAdminCommand } = await import('./cli/admin.js');
    return runAdminCommand(argv);
  }
  return runExporter(argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`mailrelay-exporter: error: ${err.message}\n\n${USAGE}`);
    else process.stderr.write(`mailrelay-exporter: error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
