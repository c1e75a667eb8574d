// The config file: its schema with defaults, and load(text) → config or errors
// that name the file, the line and the key. Pure: reading the file is the
// caller's business (readConfigFile below is the one I/O helper).
import { readFile } from 'node:fs/promises';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import {
  boolean,
  domainPattern,
  hostPort,
  interval,
  ipAddress,
  list,
  logWindow,
  mailbox,
  object,
  oneOf,
  positiveInt,
  required,
  section,
  string,
  timeout,
  timeZone,
  withDefault,
  type Infer,
  type Issue,
} from './schema.js';

/** Widely used public DNSBL zones that answer without registration for low volumes. */
export const DEFAULT_DNSBL_ZONES = [
  'zen.spamhaus.org',
  'bl.spamcop.net',
  'b.barracudacentral.org',
  'psbl.surriel.com',
  'bl.mailspike.net',
  'dnsbl-1.uceprotect.net',
];

export const configSchema = object({
  icewarp: object({
    /** Enables the log pipeline. */
    log_directory: string,
    log_file_pattern: withDefault(string, 's*.log'),
    /** The zone of the logs' HH:MM:SS times: UTC, Local, +02:00, or an IANA name such as Europe/Paris. */
    log_time_zone: withDefault(timeZone, 'UTC'),
    /** Enables the spool collector. */
    mail_directory: string,
  }),
  local_domains: withDefault(list(domainPattern), []),
  start_at: withDefault(oneOf('end', 'beginning'), 'end'),
  positions_file: withDefault(string, './data/positions.json'),
  detection: object({
    window: withDefault(logWindow, 3600),
  }),
  limits: object({
    max_accounts: withDefault(positiveInt, 10000),
    max_failed_usernames: withDefault(positiveInt, 1000),
    spool_top_senders: withDefault(positiveInt, 20),
  }),
  spool: object({
    /** Full rescans heal file events the watcher missed. */
    rescan_interval: withDefault(interval, 300),
  }),
  dnsbl: section({
    ips: required(list(ipAddress, { nonEmpty: true })),
    zones: withDefault(list(domainPattern, { nonEmpty: true }), DEFAULT_DNSBL_ZONES),
    interval: withDefault(interval, 900),
    timeout: withDefault(timeout, 5),
    /** Default: the system's resolvers. */
    resolver: hostPort,
    concurrency: withDefault(positiveInt, 8),
  }),
  relay_probe: section({
    targets: required(list(hostPort, { nonEmpty: true })),
    interval: withDefault(interval, 3600),
    timeout: withDefault(timeout, 10),
    mail_from: withDefault(mailbox, 'relay-probe@example.org'),
    rcpt_to: withDefault(mailbox, 'relay-probe@example.net'),
    starttls: withDefault(boolean, false),
    helo: withDefault(string, 'mailrelay-exporter.invalid'),
  }),
});

export type Config = Infer<typeof configSchema>;

/** The config used when no file is given: every collector off. */
export function defaultConfig(): Config {
  return configSchema.fallback();
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { key: string; line?: number; message: string }[],
    options?: ErrorOptions,
  ) {
    super(
      problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.key ? `${p.key}: ` : ''}${p.message}`).join('\n'),
      options,
    );
    this.name = 'ConfigError';
  }
}

/** Parses and validates a config file's text. Throws ConfigError naming file, line and key. */
export function loadConfig(text: string, file = '<config>'): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ key: '', line: lines.linePos(e.pos[0]).line, message: `invalid YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const issues: Issue[] = [];
  const config = configSchema.check(doc.toJS() ?? {}, [], issues);
  if (!config) {
    throw new ConfigError(
      file,
      issues.map((i) => ({ key: keyName(i.path), line: lineOf(doc, lines, i.path), message: i.message })),
    );
  }
  return config;
}

export async function readConfigFile(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ key: '', message: `cannot read: ${(err as Error).message}` }], { cause: err });
  }
  return loadConfig(text, file);
}

function keyName(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The line of the deepest node on the path that exists in the document. For a key, the key's own line. */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const parentPath = path.slice(0, depth - 1);
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    const key = path[depth - 1];
    if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray(parent.items)) {
      for (const item of parent.items as unknown[]) {
        // Map pairs carry the key node; sequences hold the nodes themselves.
        if (item && typeof item === 'object' && 'key' in item) {
          const k = (item as { key: unknown }).key;
          if (isNode(k) && (k as { value?: unknown }).value === key && k.range) return lines.linePos(k.range[0]).line;
        }
      }
      if (typeof key === 'number') {
        const node = parent.items[key] as unknown;
        if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
      }
    }
  }
  return undefined;
}
