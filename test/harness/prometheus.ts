// Runs the real Prometheus (/usr/bin/prometheus, Debian's package) on
// 127.0.0.1 with a generated config and a temp TSDB, for end-to-end tests.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { fetchText, freePort, spawnChild, untilExit, waitFor, type Child } from './processes.js';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PrometheusOptions {
  /** host:port of each target, all in one job (or, with scrapeConfigs, every target those name). */
  targets: string[];
  /**
   * Whole scrape_configs entries instead of the one plain-HTTP job, e.g. the
   * README's TLS and basic auth job with its files and target filled in.
   */
  scrapeConfigs?: Record<string, unknown>[];
  /** Job name of the scrape config (default "mailrelay"). */
  jobName?: string;
  /** Default "1s" (scrape timeout follows it). */
  scrapeInterval?: string;
  /** Default "1s". */
  evaluationInterval?: string;
  /** Absolute paths of rule files. */
  ruleFiles?: string[];
  /** Alertmanager base URL, e.g. http://127.0.0.1:9093 */
  alertmanagerUrl?: string;
  /** Listen on this port (default: a free one), e.g. to list Prometheus itself in targets. */
  port?: number;
  /** A folder of TSDB blocks (from `promtool tsdb create-blocks-from`) to start with, copied into the temp TSDB. */
  blocks?: string;
  extraArgs?: string[];
}

export interface RunningPrometheus {
  url: string;
  port: number;
  child: Child;
  /** Instant query; throws PrometheusQueryError (with the expression) when Prometheus rejects it. */
  query(expr: string, time?: number): Promise<Sample[]>;
  /** Range query; start/end in unix seconds, step in seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<Series[]>;
  /** /api/v1/alerts: pending and firing alerts. */
  alerts(): Promise<PrometheusAlert[]>;
  /** /api/v1/targets active targets. */
  targets(): Promise<{ scrapeUrl: string; health: string; lastError: string; labels: Record<string, string> }[]>;
  /** Resolves once every target has been scraped successfully (up == 1). */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | string;
  activeAt: string;
  value: string;
}

export class PrometheusQueryError extends Error {
  constructor(
    readonly expr: string,
    readonly errorType: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`query ${JSON.stringify(expr)} failed: ${errorType}: ${message}`, options);
  }
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) throw new Error(`${PROMETHEUS_BIN} is missing: install the "prometheus" package (see .ci/run)`);
  const dir = await mkdtemp(join(tmpdir(), 'mailrelay-prometheus-e2e-'));
  const scrapeInterval = opts.scrapeInterval ?? '1s';
  const config: Record<string, unknown> = {
    global: {
      scrape_interval: scrapeInterval,
      scrape_timeout: scrapeInterval,
      evaluation_interval: opts.evaluationInterval ?? '1s',
    },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: opts.scrapeConfigs ?? [{ job_name: opts.jobName ?? 'mailrelay', static_configs: [{ targets: opts.targets }] }],
  };
  if (opts.alertmanagerUrl !== undefined) {
    const am = new URL(opts.alertmanagerUrl);
    config.alerting = {
      alertmanagers: [
        {
          scheme: am.protocol.replace(':', ''),
          path_prefix: am.pathname,
          static_configs: [{ targets: [am.host] }],
        },
      ],
    };
  }
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, stringify(config));
  if (opts.blocks !== undefined) await cp(opts.blocks, join(dir, 'data'), { recursive: true });
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawnChild(PROMETHEUS_BIN, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    ...(opts.extraArgs ?? []),
  ]);
  const stop = async (): Promise<void> => {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilExit(
      child,
      waitFor(async () => (await fetchText(`${url}/-/ready`)) !== undefined, {
        what: `Prometheus on ${url} to be ready`,
        timeoutMs: 30_000,
      }),
    );
  } catch (err) {
    await stop();
    throw new Error(`Prometheus did not start (${(err as Error).message})\n--- prometheus output ---\n${child.output()}`, { cause: err });
  }

  async function api<T>(path: string, params: Record<string, string>, expr = ''): Promise<T> {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let body: ApiResponse<T>;
    try {
      body = JSON.parse(text) as ApiResponse<T>;
    } catch (err) {
      throw new Error(`${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`, { cause: err });
    }
    if (body.status !== 'success') throw new PrometheusQueryError(expr, body.errorType ?? 'error', body.error ?? text.slice(0, 300));
    return body.data;
  }

  const running: RunningPrometheus = {
    url,
    port,
    child,
    async query(expr, time) {
      const params: Record<string, string> = { query: expr };
      if (time !== undefined) params.time = String(time);
      const data = await api<{ resultType: string; result: unknown }>('/api/v1/query', params, expr);
      if (data.resultType === 'vector') return data.result as Sample[];
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      throw new PrometheusQueryError(expr, 'unexpected', `result type ${data.resultType}, expected vector or scalar`);
    },
    async queryRange(expr, start, end, step) {
      const data = await api<{ resultType: string; result: Series[] }>(
        '/api/v1/query_range',
        { query: expr, start: String(start), end: String(end), step: String(step) },
        expr,
      );
      return data.result;
    },
    async alerts() {
      const res = await fetchText(`${url}/api/v1/alerts`);
      return (JSON.parse(res) as ApiResponse<{ alerts: PrometheusAlert[] }>).data.alerts;
    },
    async targets() {
      const res = await fetchText(`${url}/api/v1/targets?state=active`);
      return (
        JSON.parse(res) as ApiResponse<{
          activeTargets: { scrapeUrl: string; health: string; lastError: string; labels: Record<string, string> }[];
        }>
      ).data.activeTargets;
    },
    async waitForTargetsUp(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          const targets = await running.targets();
          const down = targets.filter((t) => t.health !== 'up');
          if (targets.length < opts.targets.length || down.length > 0) {
            throw new Error(`targets not up yet: ${JSON.stringify(down.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`);
          }
          return true;
        },
        { what: 'every scrape target to be up', timeoutMs, intervalMs: 250 },
      );
    },
    stop,
  };
  return running;
}
