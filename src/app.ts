// Wires the config, the features (log pipeline, spool, probes), their
// collectors and the HTTP server. start()/stop(); reload() is all or nothing:
// the new file is parsed and validated before anything changes.
import { Gauge } from 'prom-client';
import { readConfigFile, defaultConfig, type Config } from './config/config.js';
import type { Feature, Running } from './collectors/collector.js';
import { registerExporterMetrics } from './collectors/exporter.js';
import { ExporterRegistry } from './collectors/registry.js';
import { FEATURES } from './features.js';
import { listen, type WebServer } from './http/listener.js';
import { createHttpApp, type LandingInfo } from './http/server.js';
import type { Logger } from './logger.js';

export interface AppOptions {
  configFile?: string;
  listenAddress: string;
  /** TLS and basic auth (exporter-toolkit format); none: plain HTTP, no auth. */
  webConfigFile?: string;
  telemetryPath: string;
  logger: Logger;
  version: string;
}

interface Slot {
  feature: Feature;
  running: Running | undefined;
  settings: string | undefined;
}

export class App {
  readonly registry = new ExporterRegistry();
  private config: Config = defaultConfig();
  private readonly slots: Slot[];
  private server: WebServer | undefined;
  private readonly reloadSuccess: Gauge;
  private reloading: Promise<boolean> = Promise.resolve(true);

  constructor(private readonly options: AppOptions, features: readonly Feature[] = FEATURES) {
    this.slots = features.map((feature) => ({ feature, running: undefined, settings: undefined }));
    registerExporterMetrics(this.registry, options.version, () =>
      this.slots.map((s) => ({ name: s.feature.name, status: s.running?.status() })),
    );
    for (const slot of this.slots) slot.feature.registerMetrics(this.registry, () => slot.running);
    this.reloadSuccess = new Gauge({
      name: 'mailrelay_config_last_reload_successful',
      help: 'Whether the last configuration reload attempt was successful.',
      registers: [this.registry],
    });
  }

  /** Loads the config (a bad file is fatal at start), starts the features, then listens. */
  async start(): Promise<{ address: string; port: number }> {
    if (this.options.configFile) this.config = await readConfigFile(this.options.configFile);
    this.reloadSuccess.set(1);
    await this.apply(this.config);
    const app = createHttpApp({
      registry: this.registry,
      telemetryPath: this.options.telemetryPath,
      ready: () => this.isReady(),
      reload: () => this.reload(),
      landing: () => this.landing(),
    });
    const { host, port } = parseListenAddress(this.options.listenAddress);
    this.server = await listen({ handler: app, host, port, webConfigFile: this.options.webConfigFile, logger: this.options.logger });
    const bound = this.server.address;
    this.options.logger.info('listening', { address: `${bound.address}:${bound.port}`, telemetry_path: this.options.telemetryPath });
    return bound;
  }

  /** Re-reads the config file. A bad file keeps the old config. Serialised: reloads never overlap. */
  reload(): Promise<boolean> {
    this.reloading = this.reloading.then(async () => {
      if (!this.options.configFile) return true;
      let next: Config;
      try {
        next = await readConfigFile(this.options.configFile);
      } catch (err) {
        this.reloadSuccess.set(0);
        this.options.logger.error('config reload failed, keeping the old config', { err: (err as Error).message });
        return false;
      }
      await this.apply(next);
      this.reloadSuccess.set(1);
      this.options.logger.info('config reloaded', { file: this.options.configFile });
      return true;
    });
    return this.reloading;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
    await Promise.all(this.slots.map((s) => s.running?.stop()));
    for (const s of this.slots) s.running = undefined;
  }

  /** Starts, reconfigures, restarts or stops each feature for `config`. */
  private async apply(config: Config): Promise<void> {
    this.config = config;
    for (const slot of this.slots) {
      const raw = slot.feature.settings(config);
      const settings = raw === undefined ? undefined : JSON.stringify(raw);
      if (settings === slot.settings) {
        slot.running?.reconfigure?.(config);
        continue;
      }
      if (slot.running && settings !== undefined && slot.running.reconfigure?.(config)) {
        slot.settings = settings;
        continue;
      }
      // The old instance saves its log positions before a new one reads them.
      await slot.running?.stop();
      slot.running = settings === undefined ? undefined : slot.feature.start(config, this.options.logger);
      slot.settings = settings;
    }
  }

  private async isReady(): Promise<boolean> {
    const pending = this.slots.map((s) => s.running?.ready);
    const settled = await Promise.race([
      Promise.all(pending).then(() => true),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
    ]);
    return settled;
  }

  private landing(): LandingInfo {
    return {
      version: this.options.version,
      telemetryPath: this.options.telemetryPath,
      tables: this.slots.flatMap((s) => (s.running?.landingTable ? [s.running.landingTable()] : [])),
    };
  }
}

/** "[host]:port", ":port", "host:port". An empty host listens on all addresses, as in the Go exporters. */
export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`--web.listen-address: "${address}" is not [host]:port`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}
