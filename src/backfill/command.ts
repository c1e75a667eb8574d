// `mailrelay-exporter backfill`: the command line of src/backfill/backfill.ts.
// Returns the exit code: 0 done, 1 an error (config, log folder, output), 2 a usage error.
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseCommandFlags, UsageError } from '../cli/args.js';
import { ConfigError, readConfigFile } from '../config/config.js';
import { parseDuration } from '../config/duration.js';
import { createLogger } from '../logger.js';
import { backfill, BackfillError } from './backfill.js';
import { RuleFileError, SHIPPED_RULES_FILE, writeRuleLevels } from './ruleLevels.js';

export const BACKFILL_HELP = `usage: mailrelay-exporter backfill --config.file=PATH [--step 60s] [--from T] [--to T]
                                  [--label NAME=VALUE ...] [--output FILE]
       mailrelay-exporter backfill --rule-levels=DIR [--rules=FILE]

Replays the SMTP logs of the config in log time, through the exporter's own
parser and counting, and writes what /metrics would have shown every --step
of log time, as OpenMetrics with timestamps, for
  promtool tsdb create-blocks-from openmetrics FILE DATA_DIR
Use it to give Prometheus the weeks before the exporter was installed (the
baselines of the alerts need days of history) or the history of an incident.

Flags:
  --config.file=PATH   the exporter's config: its MTA section names the logs; local_domains,
                       detection.window and limits count as the live exporter does
  --step=DURATION      log time between two samples, as the scrape interval (default 60s)
  --from=T, --to=T     the samples to write: RFC 3339 (2026-11-02T00:00:00Z) or unix seconds;
                       the replay still counts from the first line, as counters must
  --label NAME=VALUE   a label on every series, repeatable: the job and instance of the live
                       scrape (--label job=mailrelay --label instance=mx1:10025), so the
                       history joins the live series
  --output=FILE        where to write (default: standard output)

End the history where the live exporter's series begin (--to), so the two do not overlap.

The baselines of the alerts are recording rules, which Prometheus records from
the moment it loads them, not for the past. For the backfilled days:
  --rule-levels=DIR    write the recording rules of --rules split by dependency level
                       (DIR/1.yml, DIR/2.yml, …) and exit: give them one after the other to
                       promtool tsdb create-blocks-from rules, loading each level's blocks
                       into Prometheus before the next (each reads the levels below it)
  --rules=FILE         the rule file (default: the alerts/mailrelay.rules.yml shipped with
                       the exporter; give yours if you changed thresholds)
`;

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at);
}

function parseTime(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text)) {
    throw new UsageError(`--${flag} ${text}: a time is RFC 3339 with a zone (2026-11-02T00:00:00Z) or unix seconds`);
  }
  return ms / 1000;
}

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const v of values) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)=(.*)$/s.exec(v);
    const name = m?.[1];
    if (m === null || name === undefined || name.startsWith('__')) throw new UsageError(`--label ${v}: must be NAME=VALUE, NAME a Prometheus label name not starting with __`);
    if (name in labels) throw new UsageError(`--label ${v}: ${name} given twice`);
    if (['account', 'destination', 'mechanism'].includes(name)) throw new UsageError(`--label ${v}: ${name} is a label of the exporter's own series`);
    labels[name] = m[2] ?? '';
  }
  return labels;
}

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

function ruleLevels(dir: string, rulesFile: string, io: CommandIo): number {
  try {
    for (const w of writeRuleLevels(rulesFile, dir)) io.out(`wrote ${w.file} (${w.rules} recording rules)\n`);
    return 0;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof RuleFileError) io.err(`mailrelay-exporter backfill: error: ${err.message}\n`);
    else if (e.code !== undefined) io.err(`mailrelay-exporter backfill: error: ${e.path ?? dir}: ${e.message}\n`);
    else throw err;
    return 1;
  }
}

export async function runBackfill(argv: string[], io: CommandIo = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) }): Promise<number> {
  let flags;
  let step: number;
  let from: number | undefined;
  let to: number | undefined;
  let labels: Record<string, string>;
  let configFile: string;
  try {
    flags = parseCommandFlags(argv, {
      'config.file': 'string',
      step: 'string',
      from: 'string',
      to: 'string',
      label: 'list',
      output: 'string',
      'rule-levels': 'string',
      rules: 'string',
    });
    if (flags.boolean('help')) {
      io.out(BACKFILL_HELP);
      return 0;
    }
    const levelsDir = flags.string('rule-levels');
    if (levelsDir !== undefined) return ruleLevels(levelsDir, flags.string('rules') ?? SHIPPED_RULES_FILE, io);
    if (flags.string('rules') !== undefined) throw new UsageError('--rules goes with --rule-levels');
    configFile = flags.string('config.file') ?? '';
    if (configFile === '') throw new UsageError('--config.file is required: the config of the exporter whose logs to replay');
    const stepText = flags.string('step') ?? '60s';
    step = parseDuration(stepText) ?? NaN;
    if (!(step >= 1)) throw new UsageError(`--step ${stepText}: a duration of at least 1s, such as 15s or 1m`);
    from = parseTime('from', flags.string('from'));
    to = parseTime('to', flags.string('to'));
    if (from !== undefined && to !== undefined && to < from) throw new UsageError('--to is before --from');
    labels = parseLabels(flags.list('label'));
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`mailrelay-exporter backfill: error: ${err.message}\n\n${BACKFILL_HELP}`);
      return 2;
    }
    throw err;
  }

  const output = flags.string('output');
  let fd: number | undefined;
  try {
    const config = await readConfigFile(configFile);
    // Written synchronously, a MiB at a time: weeks of 10,000 accounts are gigabytes, never held in memory.
    if (output !== undefined && output !== '-') fd = openSync(output, 'w');
    const sink = fd;
    const summary = await backfill({
      config,
      stepSeconds: step,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      labels,
      logger: createLogger('warn', io.err),
      write: (text) => {
        if (sink === undefined) io.out(text);
        else writeAll(sink, text);
      },
    });
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    const when = (t: number | undefined) => (t === undefined ? '-' : new Date(t * 1000).toISOString());
    io.err(
      `backfill: ${summary.lines} lines (${summary.unparsedLines} not in the log layout, skipped), ` +
        `${summary.samples} samples in ${summary.steps} steps of ${step} s from ${when(summary.firstStep)} to ${when(summary.lastStep)}\n`,
    );
    return 0;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    if (err instanceof ConfigError || err instanceof BackfillError) {
      io.err(`mailrelay-exporter backfill: error: ${err.message}\n`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined && output !== undefined) {
      io.err(`mailrelay-exporter backfill: error: cannot write ${output}: ${e.message}\n`);
      return 1;
    }
    throw err;
  }
}
