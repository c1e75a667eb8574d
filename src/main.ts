#!/usr/bin/env node
// The command line: flags, signals, subcommands. The only place that exits.
import { readFileSync } from 'node:fs';
import { App } from './app.js';
import { parseFlags, UsageError, USAGE } from './flags.js';
import { createLogger } from './logger.js';

/** Within systemd's and Kubernetes' default grace periods (90 s, 30 s). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

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
  if (flags['config.check']) {
    const { checkConfig } = await import('./configCheck.js');
    const report = await checkConfig({
      configFile: flags['config.file'],
      webConfigFile: flags['web.config.file'],
      listenAddress: flags['web.listen-address'],
      telemetryPath: flags['web.telemetry-path'],
    });
    process.stdout.write(report.text);
    return report.ok ? 0 : 1;
  }
  const logger = createLogger(flags['log.level']);
  const app = new App({
    configFile: flags['config.file'],
    webConfigFile: flags['web.config.file'],
    listenAddress: flags['web.listen-address'],
    telemetryPath: flags['web.telemetry-path'],
    maxRequests: flags['web.max-requests'],
    stallTimeoutSeconds: flags['web.stall-timeout'],
    logger,
    version: VERSION,
  });
  logger.info('starting mailrelay-exporter', { version: VERSION, config_file: flags['config.file'], web_config_file: flags['web.config.file'] });
  await app.start();
  process.on('SIGHUP', () => void app.reload());
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info('shutting down');
  // Whatever hangs (a file system that stopped answering), a stop request ends the process.
  const deadline = setTimeout(() => {
    logger.error('shutdown did not finish in time: exiting without waiting for it', { timeout_seconds: SHUTDOWN_TIMEOUT_MS / 1000 });
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  deadline.unref();
  await app.stop();
  clearTimeout(deadline);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === 'queue' || command === 'incoming') {
    const { runAdminCommand } = await import('./cli/admin.js');
    return runAdminCommand(argv);
  }
  if (command === 'logs') {
    const [{ runLogsCommand }, { processIo }] = await Promise.all([import('./cli/logs.js'), import('./cli/admin.js')]);
    return runLogsCommand(argv.slice(1), processIo());
  }
  if (command === 'backfill') {
    const { runBackfill } = await import('./backfill/command.js');
    return runBackfill(argv.slice(1));
  }
  return runExporter(argv);
}

/**
 * Exits once stdout and stderr have handed everything to the OS. Into a full
 * pipe (`logs report --json | jq`), Node queues the rest of a write, and
 * process.exit() would drop it: the reader got the first 64 KiB.
 */
function exitAfterOutput(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`mailrelay-exporter: error: ${err.message}\n\n${USAGE}`);
    else process.stderr.write(`mailrelay-exporter: error: ${err instanceof Error ? err.message : String(err)}\n`);
    exitAfterOutput(err instanceof UsageError ? 2 : 1);
  },
);
