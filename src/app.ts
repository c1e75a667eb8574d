// Wires the config, the features (log pipeline, mail queues, probes), their
// collectors and the HTTP server. start()/stop(); reload() is all or nothing:
// the new file is parsed, validated and turned into every feature's settings
// before any feature is stopped or changed.
import { Gauge } from 'prom-client';
import { readConfigFile, defaultConfig, type Config } from './config/config.js';
import { registerExporterMetrics } from './collectors/exporter.js';
import { ExporterRegistry, type Collector } from './collectors/registry.js';
import { dnsblFeature } from './collectors/dnsbl.js';
import { relayProbeFeature } from './collectors/relayProbe.js';
import type { Feature, Running } from './feature.js';
import { COLLECTORS } from './features.js';
import { listen, type WebServer } from './http/listener.js';
import { createHttpApp, DEFAULT_STALL_TIMEOUT_SECONDS, type Readiness } from './http/server.js';
import { buildIncident, type Incident } from './incident/incident.js';
import type { Logger } from './logger.js';
import { logFeature } from './pipeline/logPipeline.js';
import { queueFeature } from './pipeline/mailQueues.js';

export interface AppOptions {
  configFile?: string;
  listenAddress: string;
  /** TLS and basic auth (exporter-toolkit format); none: plain HTTP, no auth. */
  webConfigFile?: string;
  telemetryPath: string;
  /** --web.max-requests: scrapes served at once (503 beyond); 0 no limit. */
  maxRequests?: number;
  /** --web.stall-timeout: a connection idle this long while a response is pending is cut off; 0 never. */
  stallTimeoutSeconds?: number;
  logger: Logger;
  version: string;
  /** How the console's runbook commands run this exporter (default `mailrelay-exporter`; the demo's `node …/main.js`). */
  exporterCommand?: string;
  /** A line at the top of the console (the demo says what it simulates). */
  consoleNotice?: string;
}

interface Slot {
  collector: Collector;
  running: Running | undefined;
  /** The JSON of the settings it runs with; undefined while off. */
  settings: string | undefined;
  /** Those settings themselves, to go back to when a reload fails half-way. */
  value: unknown;
}

export class App {
  readonly registry = new ExporterRegistry();
  private readonly slots: Slot[];
  private server: WebServer | undefined;
  private readonly reloadSuccess: Gauge;
  private reloading: Promise<boolean> = Promise.resolve(true);

  constructor(private readonly options: AppOptions, collectors: readonly Collector[] = COLLECTORS) {
    this.slots = collectors.map((collector) => ({ collector, running: undefined, settings: undefined, value: undefined }));
    registerExporterMetrics(this.registry, options.version, () =>
      this.slots.map((s) => ({ name: s.collector.feature.name, status: s.running?.status() })),
    );
    for (const slot of this.slots) slot.collector.register(this.registry, () => slot.running);
    this.reloadSuccess = new Gauge({
      name: 'mailrelay_config_last_reload_successful',
      help: 'Whether the last configuration reload attempt was successful.',
      registers: [this.registry],
    });
  }

  /** Loads the config (a bad file is fatal at start), starts the features, then listens. */
  async start(): Promise<{ address: string; port: number }> {
    await this.apply(this.options.configFile ? await readConfigFile(this.options.configFile) : defaultConfig());
    this.reloadSuccess.set(1);
    const app = createHttpApp({
      registry: this.registry,
      telemetryPath: this.options.telemetryPath,
      version: this.options.version,
      ready: () => this.isReady(),
      reload: () => this.reload(),
      incident: () => this.incident(),
      notice: this.options.consoleNotice,
      ...(this.options.maxRequests !== undefined ? { maxRequests: this.options.maxRequests } : {}),
    });
    const { host, port } = parseListenAddress(this.options.listenAddress);
    this.server = await listen({
      handler: app,
      host,
      port,
      webConfigFile: this.options.webConfigFile,
      logger: this.options.logger,
      stallTimeoutMs: (this.options.stallTimeoutSeconds ?? DEFAULT_STALL_TIMEOUT_SECONDS) * 1000,
    });
    const bound = this.server.address;
    this.options.logger.info('listening', { address: `${bound.address}:${bound.port}`, telemetry_path: this.options.telemetryPath });
    return bound;
  }

  /** Re-reads the config file. A bad file keeps the old config. Serialised: reloads never overlap, and one that fails never blocks the next. */
  reload(): Promise<boolean> {
    const run = this.reloading.then(() => this.reloadOnce());
    this.reloading = run.catch(() => false);
    return run;
  }

  private async reloadOnce(): Promise<boolean> {
    const file = this.options.configFile;
    if (!file) return true;
    let ok = false;
    try {
      await this.apply(await readConfigFile(file));
      ok = true;
      this.options.logger.info('config reloaded', { file });
    } catch (err) {
      this.options.logger.error('config reload failed, keeping the old config', { err: (err as Error).message, file });
    } finally {
      // In a finally, as blackbox_exporter defers it: no path leaves the gauge at 1 after a failure.
      this.reloadSuccess.set(ok ? 1 : 0);
    }
    return ok;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
    await Promise.all(this.slots.map((s) => s.running?.stop()));
    for (const s of this.slots) s.running = undefined;
  }

  /**
   * Starts, changes in place, restarts or stops each feature for `config`.
   * Every feature's settings are computed first: one that throws rejects the
   * config while everything still runs as before. What can still fail after
   * that is a feature's start (or in-place apply) throwing once older
   * features were already switched: then every switched feature goes back
   * to its previous settings, so the old config runs whole, and the error
   * fails the reload.
   */
  private async apply(config: Config): Promise<void> {
    const next = this.slots.map((slot) => slot.collector.feature.settings(config));
    // I/O checks too (a positions file that cannot be written), for every feature whose settings changed, before anything stops.
    await Promise.all(
      this.slots.map((slot, i) => {
        const value = next[i];
        if (value === undefined || JSON.stringify(value) === slot.settings) return undefined;
        return slot.collector.feature.check?.(value);
      }),
    );
    const switched: { slot: Slot; value: unknown }[] = [];
    try {
      for (const [i, slot] of this.slots.entries()) {
        const value = next[i];
        if ((value === undefined ? undefined : JSON.stringify(value)) === slot.settings) continue;
        switched.push({ slot, value: slot.value });
        await this.switchTo(slot, value);
      }
    } catch (err) {
      for (const { slot, value } of switched.reverse()) {
        try {
          await this.switchTo(slot, value);
        } catch (again) {
          // Neither the new nor the old settings start: the feature is off, and its absence from /metrics says so.
          this.options.logger.error('feature cannot start with its previous settings either; it is off', { feature: slot.collector.feature.name, err: again as Error });
        }
      }
      throw err;
    }
    if (this.slots.every((s) => !s.running)) this.options.logger.warn(NOTHING_CONFIGURED, { config_file: this.options.configFile ?? 'none' });
  }

  /** Runs one feature with `value` (undefined: off): in place when it can, else stop, then start. */
  private async switchTo(slot: Slot, value: unknown): Promise<void> {
    const json = value === undefined ? undefined : JSON.stringify(value);
    if (slot.running && value !== undefined && slot.running.apply?.(value)) {
      slot.settings = json;
      slot.value = value;
      return;
    }
    // The old instance saves its log positions before a new one reads them.
    const old = slot.running;
    slot.running = undefined;
    slot.settings = undefined;
    slot.value = undefined;
    try {
      await old?.stop();
    } catch (err) {
      // It is stopped as far as it can be; the replacement must start regardless.
      this.options.logger.error('feature did not stop cleanly', { feature: slot.collector.feature.name, err: err as Error });
    }
    if (value === undefined) return;
    slot.running = slot.collector.feature.start(value, this.options.logger);
    slot.settings = json;
    slot.value = value;
  }

  private async isReady(): Promise<Readiness> {
    const pending = this.slots.map((s) => s.running?.ready);
    const caughtUp = await Promise.race([
      Promise.all(pending).then(() => true),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
    ]);
    return { caughtUp, problems: await this.problems() };
  }

  private async problems(): Promise<string[]> {
    const each = await Promise.all(this.slots.map((s) => s.running?.problems?.() ?? []));
    return each.flat();
  }

  /** The running instance of `feature`, if it is on (and in this app's list). */
  private runningOf<R extends Running>(feature: Feature<unknown, R>): R | undefined {
    // The slot's instance was made by this very feature's start(), so it is an R.
    return this.slots.find((s) => s.collector.feature === feature)?.running as R | undefined;
  }

  /** The incident console's data, from the running features' current state; what keeps them from seeing comes first. */
  async incident(now = new Date()): Promise<Incident> {
    const problems = await this.problems();
    if (this.slots.every((s) => !s.running)) problems.push(NOTHING_CONFIGURED);
    const log = this.runningOf(logFeature);
    const queues = this.runningOf(queueFeature);
    const dnsbl = this.runningOf(dnsblFeature);
    const probe = this.runningOf(relayProbeFeature);
    return buildIncident(
      {
        log: log && { book: log.book, mta: log.mta },
        queue: queues && { snapshot: queues.snapshot(), mta: queues.location.mta, location: queues.location.location, kind: queues.location.kind, instance: queues.location.instance },
        dnsbl: dnsbl && { listings: dnsbl.checker.listings(), lastCheck: dnsbl.checker.lastRound()?.finishedAt },
        relayProbe: probe && { results: probe.probe.lastResults() },
      },
      { now, exporterCommand: this.options.exporterCommand ?? 'mailrelay-exporter', problems },
    );
  }
}

const NOTHING_CONFIGURED = 'no collector is configured: only the exporter\'s own metrics are exported (set an MTA section with its logs or queue, dnsbl or relay_probe)';

/** "[host]:port", ":port", "host:port". An empty host listens on all addresses, as in the Go exporters. */
export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`--web.listen-address: "${address}" is not [host]:port`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}
