// OpenMetrics text with timestamps, as `promtool tsdb create-blocks-from
// openmetrics` reads it: each family's HELP and TYPE once at the top (a
// counter's family name without `_total`), then the samples of each step in
// time order, then `# EOF`. Families are interleaved step by step, which
// promtool accepts: writing them one after the other would mean holding every
// step of a week in memory.

export type MetricType = 'counter' | 'gauge';

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
}

/** Buffers lines and hands them to `write` in chunks of about 1 MiB. */
export class OpenMetricsWriter {
  private chunk: string[] = [];
  private size = 0;
  samples = 0;

  constructor(private readonly write: (text: string) => void) {}

  /** The metadata of every family, once, before any sample. */
  families(families: readonly MetricFamily[]): void {
    for (const f of families) {
      const family = f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
      this.line(`# HELP ${family} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      this.line(`# TYPE ${family} ${f.type}`);
    }
  }

  /** One sample; `labels` is rendered label text without braces ('' for none), `time` unix seconds. */
  sample(name: string, labels: string, value: number, time: number): void {
    this.samples++;
    this.line(`${labels === '' ? name : `${name}{${labels}}`} ${formatValue(value)} ${time}`);
  }

  end(): void {
    this.line('# EOF');
    this.flush();
  }

  private line(text: string): void {
    this.chunk.push(text);
    this.size += text.length + 1;
    if (this.size >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.chunk.length === 0) return;
    this.write(this.chunk.join('\n') + '\n');
    this.chunk = [];
    this.size = 0;
  }
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** One sample read back: the series as written (`name{labels}`), its value and unix time. */
export interface TimedSample {
  series: string;
  value: number;
  time: number;
}

/**
 * The samples of OpenMetrics text with timestamps, in file order (for tests
 * and tools that read a backfill back). Label values must not contain a
 * space followed by a number; the exporter's own output never does.
 */
export function* readOpenMetricsSamples(text: string): Generator<TimedSample> {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line === '' || line.startsWith('#')) continue;
    const timeAt = line.lastIndexOf(' ');
    const valueAt = line.lastIndexOf(' ', timeAt - 1);
    if (valueAt < 0) throw new Error(`OpenMetrics line without a timestamp: ${line.slice(0, 200)}`);
    yield { series: line.slice(0, valueAt), value: Number(line.slice(valueAt + 1, timeAt)), time: Number(line.slice(timeAt + 1)) };
  }
}
