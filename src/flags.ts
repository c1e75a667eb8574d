// The exporter's flags, kingpin style as in the Go exporters.
import { MAX_TIMER_MS, parseDuration } from './config/duration.js';
import { DEFAULT_MAX_REQUESTS, DEFAULT_PORT, DEFAULT_STALL_TIMEOUT_SECONDS } from './http/server.js';
import { LEVELS, type Level } from './logger.js';

export const USAGE = `usage: mailrelay-exporter [<flags>]
       mailrelay-exporter queue|incoming <command> [<flags>]   (run "mailrelay-exporter queue --help")
       mailrelay-exporter logs report [<flags>]                (who sent what, from the log files: "logs report --help")
       mailrelay-exporter backfill --config.file=PATH [<flags>] (run "mailrelay-exporter backfill --help")

Detects a mail server used as a spam relay, from its SMTP logs and mail queues.

Flags:
  --config.file=PATH               Config file (YAML). Without one, every collector is off.
  --config.check                   Check the config file and the web config file, print what
                                   would run, and exit: 0 when all is well, 1 otherwise.
  --web.listen-address=[HOST]:PORT Address to listen on (default ":${DEFAULT_PORT}").
  --web.config.file=PATH           TLS and basic auth for every path, in the Prometheus
                                   exporter-toolkit's web config format (default: plain HTTP).
  --web.telemetry-path=PATH        Path under which to expose metrics (default "/metrics").
  --web.max-requests=N             Maximum number of parallel scrape requests; beyond it the
                                   telemetry path answers 503. 0 disables (default ${DEFAULT_MAX_REQUESTS}).
  --web.stall-timeout=DURATION     Cut off a connection on which nothing was read or written
                                   for this long, such as a scrape whose client stopped
                                   reading. 0 disables (default "${DEFAULT_STALL_TIMEOUT_SECONDS}s").
  --log.level=LEVEL                One of ${LEVELS.join(', ')} (default "info").
  --version                        Print the version and exit.
  --help                           Print this help and exit.
`;

export interface Flags {
  'config.file'?: string;
  'config.check': boolean;
  'web.listen-address': string;
  'web.config.file'?: string;
  'web.telemetry-path': string;
  'web.max-requests': number;
  /** Seconds. */
  'web.stall-timeout': number;
  'log.level': Level;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--name=value` or `--name value`; booleans `--name` or `--no-name`; kingpin style. */
export function parseFlags(argv: string[]): Flags | 'help' | 'version' {
  const flags: Flags = {
    'config.check': false,
    'web.listen-address': `:${DEFAULT_PORT}`,
    'web.telemetry-path': '/metrics',
    'web.max-requests': DEFAULT_MAX_REQUESTS,
    'web.stall-timeout': DEFAULT_STALL_TIMEOUT_SECONDS,
    'log.level': 'info',
  };
  const known = new Set(['config.file', 'web.listen-address', 'web.config.file', 'web.telemetry-path', 'web.max-requests', 'web.stall-timeout', 'log.level']);
  const booleans = new Set(['config.check']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version') return 'version';
    const b = /^--(no-)?([\w.-]+)$/.exec(arg);
    if (b && booleans.has(b[2]!)) {
      (flags as unknown as Record<string, boolean>)[b[2]!] = b[1] === undefined;
      continue;
    }
    const m = /^--([\w.-]+)(?:=(.*))?$/s.exec(arg);
    if (m && booleans.has(m[1]!)) throw new UsageError(`--${m[1]} takes no value (--${m[1]} or --no-${m[1]})`);
    if (!m || !known.has(m[1]!)) throw new UsageError(`unknown flag or argument: ${arg}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
    if (m[1] === 'web.max-requests') {
      if (!/^\d+$/.test(value)) throw new UsageError(`--web.max-requests must be a whole number (0: no limit), got "${value}"`);
      flags['web.max-requests'] = Number(value);
    } else if (m[1] === 'web.stall-timeout') {
      const seconds = parseDuration(value);
      // Node's socket timeouts cannot wait longer than its timers (24.8 days).
      if (seconds === undefined || seconds * 1000 > MAX_TIMER_MS) throw new UsageError(`--web.stall-timeout must be a duration such as 30s, at most 24d (0: never), got "${value}"`);
      flags['web.stall-timeout'] = seconds;
    } else {
      (flags as unknown as Record<string, string>)[m[1]!] = value;
    }
  }
  if (!LEVELS.includes(flags['log.level'])) throw new UsageError(`--log.level must be one of ${LEVELS.join(', ')}`);
  if (!flags['web.telemetry-path'].startsWith('/')) throw new UsageError('--web.telemetry-path must start with /');
  return flags;
}

