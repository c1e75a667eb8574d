// The config file: its schema with defaults, and load(text) → config or errors
// that name the file, the line and the key. Pure: reading the file is the
// caller's business (readConfigFile below is the one I/O helper).
import { readFile } from 'node:fs/promises';
import { MTA_SECTIONS } from '../mtas.js';
import {
  atMostOneOf,
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
  withDefault,
  type Infer,
} from './schema.js';
import { defaultPositionsFile } from './paths.js';
import { ConfigError, parseYamlFile } from './yaml.js';

export { ConfigError };

/** Widely used public DNSBL zones that answer without registration for low volumes. */
export const DEFAULT_DNSBL_ZONES = [
  'zen.spamhaus.org',
  'bl.spamcop.net',
  'b.barracudacentral.org',
  'psbl.surriel.com',
  'bl.mailspike.net',
  'dnsbl-1.uceprotect.net',
];

// Facts from two MTAs would be counted as one server's: one exporter per MTA.
export const configSchema = atMostOneOf(Object.keys(MTA_SECTIONS), 'MTA section', object({
  /** One section per MTA (icewarp, …): the one present selects the MTA whose logs and queue are read. */
  ...MTA_SECTIONS,
  local_domains: withDefault(list(domainPattern), []),
  start_at: withDefault(oneOf('end', 'beginning'), 'end'),
  /** Default: $STATE_DIRECTORY under systemd, else /var/lib/mailrelay-exporter, or %ProgramData%\\mailrelay-exporter on Windows. */
  positions_file: withDefault(string, defaultPositionsFile()),
  detection: object({
    window: withDefault(logWindow, 3600),
  }),
  limits: object({
    max_accounts: withDefault(positiveInt, 10000),
    max_failed_usernames: withDefault(positiveInt, 1000),
    spool_top_senders: withDefault(positiveInt, 20),
    /** Envelope senders (MAIL FROM) kept per account, the most frequent: series of mailrelay_account_sender_recipients_total. */
    account_senders: withDefault(positiveInt, 5),
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
}));

export type Config = Infer<typeof configSchema>;

/** The config used when no file is given: every collector off. */
export function defaultConfig(): Config {
  return configSchema.fallback();
}

/** Parses and validates a config file's text. Throws ConfigError naming file, line and key. */
export function loadConfig(text: string, file = '<config>'): Config {
  return parseYamlFile(configSchema, text, file);
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
