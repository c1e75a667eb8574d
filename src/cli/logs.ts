// `mailrelay-exporter logs report`: who sent what, from the MTA's log files
// alone. The first step of the response ("find the stolen account") as one
// command, for the admin who installs the exporter during an incident (its
// metrics start at `start_at: end`) or has no Prometheus. The same parser and
// account book as the exporter, read synchronously, file after file, oldest
// first; judged by the same signs as the console.
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema, readConfigFile, type Config } from '../config/config.js';
import { parseDuration } from '../config/duration.js';
import type { Issue } from '../config/schema.js';
import { LogReport, type LogReportData, type ReportAccount } from '../incident/logReport.js';
import { MTAS, configuredLogSource } from '../mtas.js';
import { accountLimits } from '../pipeline/logPipeline.js';
import { LocalDomains } from '../smtp/facts.js';
import { feedChunkTo, type LogSource } from '../smtp/parser.js';
import { wallClock } from '../smtp/timezone.js';
import { parseCommandFlags, UsageError } from './args.js';
import { describeFsError } from './durable.js';
import type { AdminIo } from './plan.js';

export const LOGS_REPORT_HELP = `usage: mailrelay-exporter logs report (--log-dir DIR [--mta icewarp|postfix] | --config.file FILE)
         [--since 24h | --from TIME [--to TIME]] [--local-domain D …] [--log-time-zone ZONE] [--top N] [--json]

Who sent what, from the SMTP log files alone: each account's external and
local recipients, messages, client IPs, recipient domains, foreign-sender
messages and envelope senders; auth failures by username; relaying without
AUTH; and a verdict per account, judged as the alert rules would have judged
it minute by minute (the same thresholds). Worst first.

  --log-dir DIR         the MTA's log folder (IceWarp: logs/smtp; Postfix: the folder of mail.log)
  --mta NAME            icewarp (default) or postfix
  --config.file FILE    read the MTA section, local_domains and limits from the exporter's config instead
  --since DURATION      the last DURATION before now (default 24h)
  --from TIME, --to TIME  log time, such as 2026-11-28T06:00 (in the log time zone) or 2026-11-28T06:00:00Z
  --local-domain D      a local domain (repeat; *.example.com for subdomains); without any, the MTA decides
  --log-time-zone ZONE  zone of log times without an offset (UTC, Local, +02:00, Europe/Paris)
  --top N               accounts printed in full (default 20); --json lists them all
  --json                the report as JSON

Files not written to within a day before the period are skipped. A file that
cannot be read is named and the rest is reported (exit code 1).
`;

/** Files whose last write is older than this before the period start are not read: their lines are older still. */
const SKIP_MARGIN_SECONDS = 86_400;
const CHUNK = 1 << 20;

export interface LogsReportOutput extends LogReportData {
  mta: string;
  logDirectory: string;
  files: { read: string[]; skipped: string[]; unreadable: { file: string; error: string }[] };
  lines: number;
  unparsedLines: number;
}

export async function runLogsCommand(argv: string[], io: AdminIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(LOGS_REPORT_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'report') {
    io.err(`mailrelay-exporter: unknown command: logs ${sub}\n\n${LOGS_REPORT_HELP}`);
    return 2;
  }
  try {
    const flags = parseCommandFlags(rest, {
      'log-dir': 'string',
      mta: 'string',
      'config.file': 'string',
      since: 'string',
      from: 'string',
      to: 'string',
      'local-domain': 'list',
      'log-time-zone': 'string',
      top: 'string',
      json: 'boolean',
    });
    if (flags.boolean('help')) {
      io.out(LOGS_REPORT_HELP);
      return 0;
    }
    const { source, config } = await logSourceOf(flags.string('log-dir'), flags.string('mta'), flags.string('config.file'), flags.string('log-time-zone'), flags.list('local-domain'));
    const { from, to } = period(flags.string('since'), flags.string('from'), flags.string('to'), source.timeZone, io.now());
    const top = flags.string('top') === undefined ? 20 : Number(flags.string('top'));
    if (!Number.isInteger(top) || top < 0) throw new UsageError(`--top ${flags.string('top')}: must be a whole number`);
    const output = reportLogs(source, config, from, to);
    io.out(flags.boolean('json') ? `${JSON.stringify(output, null, 2)}\n` : renderText(output, top));
    if (output.files.unreadable.length > 0) {
      io.err(`mailrelay-exporter logs report: ${output.files.unreadable.length} file(s) could not be read: ${output.files.unreadable.map((u) => `${u.file}: ${u.error}`).join('; ')}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`mailrelay-exporter logs report: error: ${err.message}\n\n${LOGS_REPORT_HELP}`);
      return 2;
    }
    io.err(`mailrelay-exporter logs report: error: ${(err as Error).message}\n`);
    return 1;
  }
}

/** The MTA's log source and the config it is read with: from the config file, or from the flags. */
async function logSourceOf(
  logDir: string | undefined,
  mtaName: string | undefined,
  configFile: string | undefined,
  timeZone: string | undefined,
  localDomains: string[],
): Promise<{ source: LogSource; config: Config }> {
  if (configFile !== undefined) {
    if (logDir !== undefined || mtaName !== undefined || timeZone !== undefined) throw new UsageError('--config.file reads the logs its MTA section names: give it without --log-dir, --mta and --log-time-zone');
    const config = await readConfigFile(configFile);
    const source = configuredLogSource(config);
    if (!source) throw new Error(`${configFile}: no MTA section names a log folder (icewarp.log_directory, postfix.log_file)`);
    return { source, config: { ...config, local_domains: [...config.local_domains, ...localDomains] } };
  }
  if (logDir === undefined) throw new UsageError('--log-dir (or --config.file) is required');
  const mta = MTAS.find((m) => m.name === (mtaName ?? 'icewarp'));
  if (!mta) throw new UsageError(`--mta ${mtaName}: must be one of ${MTAS.map((m) => m.name).join(', ')}`);
  const issues: Issue[] = [];
  const config = configSchema.check({ [mta.name]: mta.logDirectorySection(logDir, timeZone), local_domains: localDomains }, [], issues);
  if (!config || issues.length > 0) {
    const flagOf = (key: string) => (/time_zone$/.test(key) ? '--log-time-zone' : /^local_domains/.test(key) ? '--local-domain' : '--log-dir');
    throw new UsageError(issues.map((i) => `${flagOf(i.path.join('.'))}: ${i.message}`).join('; '));
  }
  const source = configuredLogSource(config);
  if (!source) throw new UsageError(`--mta ${mta.name}: no log source`);
  return { source, config };
}

/** [from, to) in unix seconds, from --since or --from/--to (log time: a time without an offset is in the log's zone). */
export function period(since: string | undefined, fromText: string | undefined, toText: string | undefined, zone: string, now: Date): { from: number; to: number } {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (since !== undefined) {
    if (fromText !== undefined || toText !== undefined) throw new UsageError('give --since or --from/--to, not both');
    const seconds = parseDuration(since);
    if (seconds === undefined || seconds <= 0) throw new UsageError(`--since ${since}: must be a duration such as 24h or 90m`);
    return { from: nowSeconds - seconds, to: nowSeconds + 1 };
  }
  if (fromText === undefined) {
    if (toText !== undefined) throw new UsageError('--to needs --from');
    return { from: nowSeconds - 86_400, to: nowSeconds + 1 };
  }
  const from = logTime(fromText, zone, '--from');
  const to = toText === undefined ? nowSeconds + 1 : logTime(toText, zone, '--to');
  if (to <= from) throw new UsageError(`--to ${toText} is not after --from ${fromText}`);
  return { from, to };
}

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

function logTime(text: string, zone: string, flag: string): number {
  const local = LOCAL_TIME.exec(text);
  if (local) {
    const [, y, mo, d, h, mi, s] = local.map((v) => (v === undefined ? 0 : Number(v)));
    const wall = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000;
    if (Number.isNaN(wall)) throw new UsageError(`${flag} ${text}: not a date`);
    return wallClock(zone)(wall);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return Math.floor(Date.parse(text) / 1000);
  throw new UsageError(`${flag} ${text}: must be a time such as 2026-11-28T06:00 (log time zone) or 2026-11-28T06:00:00Z`);
}

/** Reads the source's files that may hold lines of [from, to), oldest first, and reports. Never throws on a file: it is listed as unreadable. */
export function reportLogs(source: LogSource, config: Config, from: number, to: number): LogsReportOutput {
  const report = new LogReport(from, to, accountLimits(config));
  const parser = source.createParser({ localDomains: new LocalDomains(config.local_domains), timeZone: source.timeZone, emit: (fact) => report.apply(fact) });
  const files: LogsReportOutput['files'] = { read: [], skipped: [], unreadable: [] };
  let names: string[];
  try {
    names = readdirSync(source.directory).filter((n) => source.matches(n)).sort(source.order);
  } catch (err) {
    throw new Error(`${source.directory} (${source.key}): ${fsErrorText(err)}`, { cause: err });
  }
  for (const name of names) {
    const path = join(source.directory, name);
    try {
      // A file last written long before the period holds nothing of it; a copy that lost its times is read (safe side).
      if (statSync(path).mtimeMs / 1000 < from - SKIP_MARGIN_SECONDS) {
        files.skipped.push(name);
        continue;
      }
      readChunks(path, (chunk) => feedChunkTo(parser, name, chunk));
      files.read.push(name);
    } catch (err) {
      files.unreadable.push({ file: path, error: fsErrorText(err) });
    }
  }
  return { mta: source.mta, logDirectory: source.directory, files, lines: parser.stats.lines, unparsedLines: parser.stats.unparsed, ...report.finish() };
}

/** A file's lines in chunks of whole lines as bytes, synchronously; a last line without its newline counts too (the file is read as it is now). */
function readChunks(path: string, onChunk: (chunk: Buffer) => void): void {
  // O_NONBLOCK: a FIFO put in the folder must not hang the report at open.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry = 0;
    let position = 0;
    for (;;) {
      const n = readSync(fd, buf, carry, buf.length - carry, position);
      if (n === 0) break;
      position += n;
      const end = carry + n;
      const nl = buf.lastIndexOf(0x0a, end - 1);
      if (nl < 0) {
        if (end < buf.length) {
          carry = end;
          continue;
        }
        onChunk(buf.subarray(0, end)); // a line longer than the buffer, in pieces
        carry = 0;
        continue;
      }
      onChunk(buf.subarray(0, nl + 1));
      carry = end - nl - 1;
      if (carry > 0) buf.copyWithin(0, nl + 1, end);
    }
    if (carry > 0) onChunk(buf.subarray(0, carry));
  } finally {
    closeSync(fd);
  }
}

const fsErrorText = (err: unknown): string => describeFsError(err, 'permission denied');

const num = (n: number): string => n.toLocaleString('en-US');
const when = (isoTime: string): string => `${isoTime.slice(0, 16).replace('T', ' ')} UTC`;

function renderText(r: LogsReportOutput, top: number): string {
  const out: string[] = [];
  out.push(`SMTP log report: ${r.mta} logs in ${r.logDirectory}`);
  out.push(`Period (log time): ${when(r.from)} to ${when(r.to)}`);
  out.push(`Read ${r.files.read.length} file(s), ${num(r.lines)} lines (${num(r.unparsedLines)} not in the log's layout); ${r.files.skipped.length} older file(s) skipped.`);
  for (const u of r.files.unreadable) out.push(`NOT READ: ${u.file}: ${u.error}`);
  out.push('');
  const counts = { suspicious: 0, watch: 0, ok: 0 };
  for (const a of r.accounts) counts[a.verdict]++;
  out.push(`Accounts with a login or a message: ${num(r.accounts.length)} (${counts.suspicious} suspicious, ${counts.watch} to watch), worst first.`);
  out.push(`  ${r.thresholds.verdicts} Thresholds: ${r.thresholds.source}, judged at the end of every minute.`);
  const full = r.accounts.slice(0, top);
  for (const a of full) out.push('', ...accountText(a));
  if (r.accounts.length > full.length) {
    out.push("", `${num(r.accounts.length - full.length)} more account(s) (--top N prints more in full, --json lists all):`);
    for (const a of r.accounts.slice(full.length, full.length + 50)) out.push(`  ${a.verdict.padEnd(10)} ${a.account}: ${num(a.externalRecipients)} external recipients, ${num(a.messages)} messages`);
  }
  out.push('');
  const failures = r.failedUsernames.reduce((n, f) => n + f.failures, 0);
  out.push(`Auth failures: ${num(failures)} with a username, by ${num(r.failedUsernames.length)} username(s); by mechanism: ${Object.entries(r.authFailures).map(([m, n]) => `${m} ${num(n)}`).join(', ')}.`);
  for (const f of r.failedUsernames.slice(0, 20)) out.push(`  ${num(f.failures).padStart(7)}  ${f.username}`);
  if (r.failedUsernames.length > 20) out.push(`  … ${num(r.failedUsernames.length - 20)} more (--json lists them all)`);
  out.push('');
  if (r.unauthenticatedRelays.recipients === 0) out.push('Relaying without AUTH: none (no external recipient accepted from a client that did not log in).');
  else {
    out.push(`RELAYING WITHOUT AUTH: ${num(r.unauthenticatedRelays.recipients)} external recipients accepted from clients that did not log in (an open relay, or a trusted network relaying):`);
    for (const c of r.unauthenticatedRelays.byClient.slice(0, 20)) out.push(`  ${num(c.recipients).padStart(7)}  ${c.ip}`);
  }
  out.push(`Relaying refused: ${num(r.relayDenied)} RCPT(s).`);
  if (r.overflowEvents > 0) out.push(`${num(r.overflowEvents)} event(s) beyond the account limits were counted under __overflow__.`);
  return `${out.join('\n')}\n`;
}

function accountText(a: ReportAccount): string[] {
  const lines = [`${a.verdict.toUpperCase()}  ${a.account}`];
  lines.push(`  ${num(a.externalRecipients)} external and ${num(a.localRecipients)} local recipients, ${num(a.messages)} messages (${num(a.foreignSenderMessages)} with a foreign sender), ${num(a.logins)} logins, ${num(a.authFailures)} failed`);
  lines.push(`  ${num(a.clientIps)} client IPs, ${num(a.recipientDomains)} external recipient domains`);
  if (a.senders.length > 0) lines.push(`  envelope senders: ${a.senders.map((s) => `${s.sender} (${num(s.recipients)})`).join(', ')}`);
  for (const s of a.signs.filter((x) => x.above)) {
    lines.push(`  above: ${s.what}, peak ${num(s.peak)} (threshold ${s.limit}), from ${when(s.firstAbove!)} [${s.alert}]`);
  }
  return lines;
}
