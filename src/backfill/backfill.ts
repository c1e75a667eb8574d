// `mailrelay-exporter backfill`: replays the SMTP log files of the config in
// log time through the live exporter's own pipeline (tailer, parser, account
// book) and writes, every `step` of log time, what /metrics would have shown
// then, as OpenMetrics with timestamps, for `promtool tsdb create-blocks-from
// openmetrics`. The samples are rendered by the log collector itself
// (src/collectors/log.ts), so the numbers are the live exporter's.
//
// A sample at time T holds every fact of log time ≤ T. Facts arrive in log
// order; the replay writes the steps a fact has passed before applying it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountBook } from '../accounts/book.js';
import { registerLogMetrics, type LogState } from '../collectors/log.js';
import { ExporterRegistry, labelPair, type StateMetricDefinition } from '../collectors/registry.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logger.js';
import { logSettings } from '../pipeline/logPipeline.js';
import { LocalDomains } from '../smtp/facts.js';
import { feedChunkTo } from '../smtp/parser.js';
import { LogTailer } from '../tail/tailer.js';
import { OpenMetricsWriter } from './openMetrics.js';

export interface BackfillOptions {
  config: Config;
  /** Seconds of log time between two samples of a series (a scrape interval). */
  stepSeconds: number;
  /** Unix seconds: samples from this time on. The replay still counts from the first line, as counters need. */
  from?: number;
  /** Unix seconds: no sample after this time. */
  to?: number;
  /** Labels added to every series, such as the job and instance of the live scrape, so the history joins its series. */
  labels?: Record<string, string>;
  write(text: string): void;
  logger: Logger;
}

export interface BackfillSummary {
  lines: number;
  unparsedLines: number;
  steps: number;
  samples: number;
  /** Unix seconds of the first and last step written; undefined when none was. */
  firstStep: number | undefined;
  lastStep: number | undefined;
}

export class BackfillError extends Error {}

/** A registry that also keeps the definitions of the state metrics registered on it, to render them at a chosen time. */
class CapturingRegistry extends ExporterRegistry {
  readonly captured: StateMetricDefinition[] = [];

  override addStateMetrics(definitions: StateMetricDefinition[]): void {
    super.addStateMetrics(definitions);
    this.captured.push(...definitions);
  }
}

export async function backfill(opts: BackfillOptions): Promise<BackfillSummary> {
  const { config, stepSeconds: step } = opts;
  // The live exporter's settings: its MTA's log folder, file order and parser, local domains, limits and window.
  const settings = logSettings(config);
  if (settings === undefined) throw new BackfillError('the config names no SMTP logs to read (the log folder of its MTA section, such as icewarp.log_directory)');
  const { source } = settings;
  if (!(step > 0)) throw new BackfillError(`the step must be positive, got ${step}`);
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  const extra = Object.entries(opts.labels ?? {})
    .map(([name, value]) => labelPair(name, value))
    .join(',');

  const book = new AccountBook(settings.limits);
  let next: number | undefined; // the next step to write
  const summary: BackfillSummary = { lines: 0, unparsedLines: 0, steps: 0, samples: 0, firstStep: undefined, lastStep: undefined };

  const writer = new OpenMetricsWriter(opts.write);
  const registry = new CapturingRegistry();
  // What the log collector reads. The replay keeps up with the log as a live
  // exporter does, so there is no lag to report.
  let state: LogState | undefined;
  registerLogMetrics(registry, () => state);
  const definitions = registry.captured;
  writer.families(definitions);

  const writeStep = (time: number): void => {
    if (time < from || time > to) return;
    for (const d of definitions) {
      d.collect((labels, value) => writer.sample(d.name, labels === '' ? extra : extra === '' ? labels : `${labels},${extra}`, value, time));
    }
    summary.steps++;
    summary.firstStep ??= time;
    summary.lastStep = time;
  };
  /** Writes every step before `time` (a step holds the facts of its own second). */
  const passTo = (time: number): void => {
    if (next === undefined) next = Math.ceil(time / step) * step;
    while (next < time) {
      writeStep(next);
      next += step;
    }
  };

  const parser = source.createParser({
    localDomains: new LocalDomains(settings.localDomains),
    timeZone: source.timeZone,
    emit: (fact) => {
      passTo(fact.time);
      book.apply(fact);
    },
  });
  const positions = await mkdtemp(join(tmpdir(), 'mailrelay-backfill-'));
  const tailer = new LogTailer({
    directory: source.directory,
    matches: source.matches,
    order: source.order,
    // Never the live exporter's positions: a replay reads every file from its first byte.
    positionsFile: join(positions, 'positions.json'),
    startAt: 'beginning',
    watch: false,
    logger: opts.logger,
    sink: {
      write(file, chunk, counted) {
        counted(feedChunkTo(parser, file, chunk));
        // A quiet stretch of the log (no facts) still moves time on.
        const last = parser.stats.lastLineTime;
        if (last !== undefined) passTo(last);
      },
    },
  });
  state = { book, parser, tailer: { stats: tailer.stats, lagBytes: () => 0 } };
  try {
    await tailer.start();
    if (!tailer.healthy) throw new BackfillError(`cannot read the SMTP log folder ${source.directory} (${source.key})`);
  } finally {
    await tailer.stop();
    await rm(positions, { recursive: true, force: true });
  }
  // The step that holds the last facts.
  const last = parser.stats.lastLineTime;
  if (last !== undefined) {
    passTo(last);
    if (next !== undefined && next <= to) writeStep(next);
  }
  writer.end();
  summary.lines = parser.stats.lines;
  summary.unparsedLines = parser.stats.unparsed;
  summary.samples = writer.samples;
  return summary;
}
