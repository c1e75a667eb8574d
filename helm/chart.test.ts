// The chart, rendered by the real helm: lint, template, Kubernetes and
// prometheus-operator schemas, and the exporter's own config validation.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema, loadConfig } from '../src/config/config.js';
import { DEFAULT_RUNBOOK_BASE_URL, DEFAULT_THRESHOLDS, buildRules } from '../alerts/rules.js';

const HELM = '/usr/local/bin/helm';
const PROMTOOL = 'promtool';
const REPO = fileURLToPath(new URL('..', import.meta.url));
const CHART = fileURLToPath(new URL('./mailrelay-exporter', import.meta.url));
const CI_FILES = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

class HelmError extends Error {
  constructor(readonly args: string[], readonly output: string, options?: ErrorOptions) {
    super(`helm ${args.join(' ')} failed:\n${output}`, options);
    this.name = 'HelmError';
  }
}

/** Runs the real helm; a missing binary is an error, not a skip. */
function helm(args: string[]): string {
  try {
    return execFileSync(HELM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HELM_CACHE_HOME: helmHome, HELM_CONFIG_HOME: helmHome, HELM_DATA_HOME: helmHome } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new HelmError(args, `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message, { cause: err });
  }
}
const helmHome = mkdtempSync(join(tmpdir(), 'mailrelay-helm-home-'));
afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

function valuesArgs(valuesFile?: string, set: string[] = []): string[] {
  return [...(valuesFile ? ['-f', join(CHART, 'ci', valuesFile)] : []), ...set.flatMap((s) => ['--set', s])];
}

function render(valuesFile?: string, set: string[] = [], chart = CHART): Obj[] {
  const out = helm(['template', 'rel', chart, '--namespace', 'mail', ...valuesArgs(valuesFile, set)]);
  return parseAllDocuments(out)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

function renderError(set: string[], valuesFile?: string): string {
  try {
    helm(['template', 'rel', CHART, ...valuesArgs(valuesFile, set)]);
  } catch (err) {
    if (err instanceof HelmError) return err.output;
    throw err;
  }
  throw new Error(`helm template accepted ${set.join(' ')}`);
}

/** The real promtool on a rule file holding the spec's groups. */
function promtoolCheckRules(spec: unknown): void {
  const dir = mkdtempSync(join(tmpdir(), 'mailrelay-rules-'));
  try {
    const file = join(dir, 'rules.yml');
    writeFileSync(file, JSON.stringify(spec));
    execFileSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool check rules failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`, { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function byKind(objs: Obj[], kind: string): Obj[] {
  return objs.filter((o) => o.kind === kind);
}
function one(objs: Obj[], kind: string): Obj {
  const found = byKind(objs, kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0]!;
}
function workload(objs: Obj[]): Obj {
  const found = objs.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet');
  expect(found, 'exactly one workload').toHaveLength(1);
  return found[0]!;
}
function exporterConfigText(objs: Obj[]): string {
  const cm = byKind(objs, 'ConfigMap').find((c) => c.data?.['config.yml'] !== undefined);
  if (!cm) throw new Error('no ConfigMap with config.yml');
  return cm.data['config.yml'] as string;
}

const CASES: (string | undefined)[] = [undefined, ...CI_FILES];
const label = (f: string | undefined): string => f ?? 'default values';

describe.each(CASES.map((f) => [label(f), f] as const))('chart with %s', (_name, valuesFile) => {
  const objs = render(valuesFile);
  const values = valuesFile ? (parse(readFileSync(join(CHART, 'ci', valuesFile), 'utf8')) as any) : {};
  const kind: string = values.kind ?? 'Deployment';

  it('passes helm lint --strict', () => {
    expect(helm(['lint', '--strict', CHART, ...valuesArgs(valuesFile)])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders only objects that are valid against the Kubernetes and prometheus-operator schemas', () => {
    expect(objs.length).toBeGreaterThan(0);
    for (const o of objs) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      if (!Model) throw new Error(`${label(valuesFile)}: no schema for ${o.apiVersion} ${o.kind}`);
      expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      expect(o.metadata.labels?.['app.kubernetes.io/name']).toBe('mailrelay-exporter');
    }
  });

  it("renders an exporter config that the exporter's own validation accepts, with the values' keys", () => {
    const config = loadConfig(exporterConfigText(objs), `${label(valuesFile)}: config.yml`);
    if (values.config?.local_domains) expect(config.local_domains).toEqual(values.config.local_domains);
    if (values.config?.start_at) expect(config.start_at).toBe(values.config.start_at);
    expect(config.dnsbl !== undefined).toBe(values.config?.dnsbl !== undefined);
    expect(config.relay_probe !== undefined).toBe(values.config?.relay_probe !== undefined);
  });

  it('serves the exporter port through a Service that selects the exporter pods', () => {
    const svc = one(objs, 'Service');
    const port = svc.spec.ports.find((p: any) => p.name === 'http');
    expect(port.targetPort).toBe(10025);
    if (kind === 'Sidecar') {
      expect(svc.spec.selector).toEqual(values.sidecar.selectorLabels);
      expect(objs.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')).toEqual([]);
      return;
    }
    const pod = workload(objs).spec.template;
    expect(pod.metadata.labels).toMatchObject(svc.spec.selector);
    expect(workload(objs).spec.selector.matchLabels).toEqual(svc.spec.selector);
    const container = pod.spec.containers[0];
    expect(container.ports).toContainEqual({ name: 'http', containerPort: 10025, protocol: 'TCP' });
  });

  it('scrapes the Service from the ServiceMonitor when enabled', () => {
    const monitors = byKind(objs, 'ServiceMonitor');
    expect(monitors).toHaveLength(values.serviceMonitor?.enabled ? 1 : 0);
    if (!monitors.length) return;
    const svc = one(objs, 'Service');
    const sm = monitors[0]!;
    expect(svc.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(sm.spec.namespaceSelector.matchNames).toEqual(['mail']);
    expect(sm.metadata.namespace).toBe(values.serviceMonitor.namespace ?? 'mail');
    expect(sm.spec.endpoints).toHaveLength(1);
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
    const job = values.serviceMonitor.job ?? 'mailrelay';
    expect(sm.spec.endpoints[0].relabelings[0]).toEqual({ targetLabel: 'job', replacement: job });
    // The ExporterDown rule looks for the job the ServiceMonitor sets.
    const rules = byKind(objs, 'PrometheusRule');
    if (rules.length) {
      const up = rules[0]!.spec.groups.flatMap((g: any) => g.rules).filter((r: any) => /\bup\{/.test(r.expr));
      expect(up.length).toBeGreaterThan(0);
      for (const r of up) expect(r.expr).toContain(`up{job="${job}"}`);
    }
  });

  it("holds the alerts of alerts/rules.ts with the values' thresholds, valid for promtool", () => {
    const rules = byKind(objs, 'PrometheusRule');
    const pr = values.prometheusRule ?? {};
    expect(rules).toHaveLength(pr.enabled ? 1 : 0);
    if (!rules.length) return;
    const expected = buildRules(
      { ...DEFAULT_THRESHOLDS, ...pr.thresholds },
      { runbookBaseUrl: pr.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL, exporterSelector: pr.exporterSelector ?? 'job="mailrelay"' },
    );
    expect(rules[0]!.spec).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(rules[0]!.metadata.namespace).toBe(pr.namespace ?? 'mail');
    promtoolCheckRules(rules[0]!.spec);
  });

  it('carries every dashboard of dashboards/ in a ConfigMap for the Grafana sidecar when enabled', () => {
    const d = { label: 'grafana_dashboard', labelValue: '1', ...values.dashboards };
    const maps = byKind(objs, 'ConfigMap').filter((c) => c.metadata.labels?.[d.label] === d.labelValue);
    if (!d.enabled) {
      expect(maps).toEqual([]);
      return;
    }
    const source = readdirSync(join(REPO, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
    expect(source.length).toBeGreaterThan(0);
    expect(maps.flatMap((m) => Object.keys(m.data)).sort()).toEqual(source);
    for (const m of maps) {
      const [name, text] = Object.entries(m.data as Record<string, string>)[0]!;
      expect(text, name).toBe(readFileSync(join(REPO, 'dashboards', name), 'utf8'));
      expect(m.metadata.namespace).toBe(d.namespace ?? 'mail');
      if (d.annotations) expect(m.metadata.annotations).toEqual(d.annotations);
    }
  });

  if (kind === 'Sidecar') return;

  it('runs as a locked-down non-root pod without a service account token', () => {
    const pod = workload(objs).spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext.capabilities.add).toBeUndefined();
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits.memory).toEqual(expect.any(String));
    expect(c.livenessProbe.httpGet).toEqual({ path: '/-/healthy', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/-/ready', port: 'http' });
    const sa = byKind(objs, 'ServiceAccount');
    expect(sa).toHaveLength(1);
    expect(sa[0]!.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe(sa[0]!.metadata.name);
  });

  it("mounts the MTA's folders read-only where the config points, and the positions folder writable", () => {
    const config = loadConfig(exporterConfigText(objs));
    const pod = workload(objs).spec.template.spec;
    const c = pod.containers[0];
    const mount = (path: string): any => {
      const m = c.volumeMounts.find((v: any) => v.mountPath === path);
      if (!m) throw new Error(`no volume mounted at ${path}`);
      return { mount: m, volume: pod.volumes.find((v: any) => v.name === m.name) };
    };
    expect(c.args).toContain('--config.file=/etc/mailrelay-exporter/config.yml');
    expect(mount('/etc/mailrelay-exporter').volume.configMap.name).toBe(byKind(objs, 'ConfigMap')[0]!.metadata.name);
    // IceWarp's log and mail folders, or the folder of Postfix's mail log (its rotations sit beside it).
    const folders: [string, any, RegExp][] = config.postfix
      ? [[posix.dirname(config.postfix.log_file!), values.postfix?.logs, /^\/var\/log$/]]
      : [
          [config.icewarp?.log_directory!, values.icewarp?.logs, /^\/opt\/icewarp\//],
          [config.icewarp?.mail_directory!, values.icewarp?.mail, /^\/opt\/icewarp\//],
        ];
    for (const [dir, source, hostPath] of folders) {
      const { mount: m, volume } = mount(dir);
      expect(m.readOnly).toBe(true);
      if (source?.existingClaim) {
        expect(volume.persistentVolumeClaim).toEqual({ claimName: source.existingClaim, readOnly: true });
        expect(m.subPath).toBe(source.subPath);
      } else {
        expect(volume.hostPath.type).toBe('Directory');
        expect(volume.hostPath.path).toMatch(hostPath);
      }
    }
    const { mount: pm, volume: pv } = mount(posix.dirname(config.positions_file));
    expect(pm.readOnly).toBeUndefined();
    if (values.positions?.existingClaim) expect(pv.persistentVolumeClaim).toEqual({ claimName: values.positions.existingClaim });
    else if (values.positions?.hostPath) expect(pv.hostPath).toEqual({ path: values.positions.hostPath, type: 'DirectoryOrCreate' });
    else expect(pv.emptyDir).toBeDefined();
    // Every mount has its volume.
    for (const m of c.volumeMounts) expect(pod.volumes.map((v: any) => v.name)).toContain(m.name);
  });

  it(`is a ${kind}`, () => {
    const w = workload(objs);
    expect(w.kind).toBe(kind);
    if (kind === 'Deployment') {
      expect(w.spec.replicas).toBe(1);
      expect(w.spec.strategy.type).toBe('Recreate');
    }
    if (values.nodeSelector) expect(w.spec.template.spec.nodeSelector).toEqual(values.nodeSelector);
    if (values.tolerations) expect(w.spec.template.spec.tolerations).toEqual(values.tolerations);
    if (values.extraEnv) expect(w.spec.template.spec.containers[0].env).toEqual(values.extraEnv);
    if (values.podAnnotations) expect(w.spec.template.metadata.annotations).toMatchObject(values.podAnnotations);
    expect(w.spec.template.spec.containers[0].args).toContain(`--log.level=${values.logLevel ?? 'info'}`);
  });

  it('rolls the pods when the config changes, and only then', () => {
    const checksum = (set: string[]): string => workload(render(valuesFile, set)).spec.template.metadata.annotations['checksum/config'];
    const base = workload(objs).spec.template.metadata.annotations['checksum/config'];
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(['config.detection.window=2h'])).not.toBe(base);
    expect(checksum(['logLevel=warn'])).toBe(base);
  });
});

describe('chart values', () => {
  it('holds the exporter config exactly: values.yaml config is a valid config file as it stands', () => {
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as any;
    const config = loadConfig(JSON.stringify(values.config), 'values.yaml config');
    expect(config.icewarp?.log_directory).toBe('/icewarp/logs/smtp');
    expect(config.positions_file).toBe('/var/lib/mailrelay-exporter/positions.json');
  });

  it("values.schema.json knows every config key of the exporter's schema, and no other", () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    const keysOfNode = (node: any, prefix: string): string[] =>
      node && typeof node === 'object' && 'shape' in node
        ? Object.entries(node.shape as Record<string, unknown>).flatMap(([k, v]) => [`${prefix}${k}`, ...keysOfNode(v, `${prefix}${k}.`)])
        : [];
    const keysOfJsonSchema = (s: any, prefix: string): string[] =>
      s?.properties
        ? Object.entries(s.properties as Record<string, unknown>).flatMap(([k, v]) => [`${prefix}${k}`, ...keysOfJsonSchema(v, `${prefix}${k}.`)])
        : [];
    expect(keysOfJsonSchema(schema.properties.config, '').sort()).toEqual(keysOfNode(configSchema, '').sort());
  });

  it('rejects, at lint time, config keys and values the exporter would reject', () => {
    expect(() => helm(['lint', CHART, '--set', 'config.icewarp.log_dir=/x'])).toThrow(/additional properties 'log_dir' not allowed/);
    expect(() => helm(['lint', CHART, '--set', 'config.postfix.log_file=/var/log/*/mail.log'])).toThrow(/log_file/);
    expect(() => helm(['template', CHART, '--set', 'config.postfix.log_file=/var/log/mail.log'])).toThrow(/set one MTA section, icewarp or postfix/);
    expect(() => helm(['lint', CHART, '--set', 'config.detection.window=1x'])).toThrow(/window/);
    expect(() => helm(['lint', CHART, '--set', 'config.start_at=middle'])).toThrow(/start_at/);
    expect(() => helm(['lint', CHART, '--set', 'kind=StatefulSet'])).toThrow(/kind/);
    expect(() => helm(['lint', CHART, '--set-json', 'config.dnsbl={"zones":["zen.spamhaus.org"]}'])).toThrow(/ips/);
    expect(() => helm(['lint', CHART, '--set-json', 'config.dnsbl={"ips":["999.1.1.1"]}'])).toThrow(/dnsbl\/ips\/0/);
    expect(() => helm(['lint', CHART, '--set', 'prometheusRule.thresholds.accountExternalRecipientsPerHor=5'])).toThrow(/additional properties 'accountExternalRecipientsPerHor' not allowed/);
    expect(() => helm(['lint', CHART, '--set', 'prometheusRule.thresholds.accountExternalRecipientsFor=ten minutes'])).toThrow(/accountExternalRecipientsFor/);
    expect(() => helm(['lint', CHART, '--set-string', 'prometheusRule.thresholds.accountClientIps=5'])).toThrow(/accountClientIps/);
  });

  it('fails with a message naming the value when a mount cannot be made', () => {
    expect(renderError(['config.positions_file=data/positions.json'])).toMatch(/config\.positions_file must be an absolute path/);
    expect(renderError(['icewarp.logs.hostPath='])).toMatch(/icewarp\.logs: set existingClaim or hostPath/);
    expect(renderError(['kind=Sidecar'])).toMatch(/sidecar\.selectorLabels/);
    expect(renderError(['kind=Sidecar', 'sidecar.selectorLabels.app=icewarp'])).toMatch(/icewarp\.logs\.volume/);
  });

  it('drops a folder and its volume when its config key is null', () => {
    const objs = render(undefined, ['config.icewarp.mail_directory=null']);
    expect(loadConfig(exporterConfigText(objs)).icewarp?.mail_directory).toBeUndefined();
    const pod = workload(objs).spec.template.spec;
    expect(pod.volumes.map((v: any) => v.name)).not.toContain('icewarp-mail');
    expect(pod.containers[0].volumeMounts.map((v: any) => v.mountPath)).not.toContain('/icewarp/mail');
  });

  it('pins the image by digest, else by tag, else by the chart appVersion', () => {
    const image = (set: string[], file?: string): string => workload(render(file, set)).spec.template.spec.containers[0].image;
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    expect(image([])).toBe(`mailrelay-exporter:${chart.appVersion}`);
    expect(image(['image.tag=9.9.9', 'image.registry=r.example.com'])).toBe('r.example.com/mailrelay-exporter:9.9.9');
    expect(image([], 'full-values.yaml')).toMatch(/^registry\.example\.com\/mail\/mailrelay-exporter@sha256:[0-9a-f]{64}$/);
  });

  it('packages into a chart archive that renders the same objects', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-package-'));
    try {
      helm(['package', CHART, '--destination', dir]);
      const archive = readdirSync(dir).find((f) => f.endsWith('.tgz'));
      if (!archive) throw new Error('helm package wrote no .tgz');
      expect(render('full-values.yaml', [], join(dir, archive))).toEqual(render('full-values.yaml'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("carries the package's version as appVersion", () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
  });
});

describe('alerts and dashboards at default values', () => {
  it('renders, once enabled, the PrometheusRule whose rules are alerts/mailrelay.rules.yml', () => {
    const rule = one(render(undefined, ['prometheusRule.enabled=true']), 'PrometheusRule');
    const file = parse(readFileSync(join(REPO, 'alerts', 'mailrelay.rules.yml'), 'utf8')) as { groups: unknown[] };
    expect(file.groups.length).toBeGreaterThan(0);
    expect(rule.spec).toEqual(file);
    expect(rule.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'mailrelay-exporter' });
  });

  it('keeps large thresholds whole and Prometheus templates intact', () => {
    const rule = one(render(undefined, ['prometheusRule.enabled=true']), 'PrometheusRule');
    const all = rule.spec.groups.flatMap((g: any) => g.rules);
    const text = JSON.stringify(all);
    expect(text).not.toMatch(/e\+0\d/);
    expect(text).toContain(String(DEFAULT_THRESHOLDS.logLagBytes));
    const annotated = all.filter((r: any) => r.annotations?.summary?.includes('{{ $labels.'));
    expect(annotated.length).toBeGreaterThan(0);
  });

  it('renders nothing of them unless enabled', () => {
    const objs = render();
    expect(byKind(objs, 'PrometheusRule')).toEqual([]);
    expect(byKind(objs, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard)).toEqual([]);
  });
});

// helm template does not print NOTES.txt: render it inside a copy of the chart.
function renderNotes(valuesFile?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailrelay-chart-'));
  try {
    const chart = join(dir, 'mailrelay-exporter');
    cpSync(CHART, chart, { recursive: true });
    mkdirSync(join(chart, 'files'), { recursive: true });
    renameSync(join(chart, 'templates', 'NOTES.txt'), join(chart, 'files', 'NOTES.txt'));
    writeFileSync(
      join(chart, 'templates', 'notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ tpl (.Files.Get "files/NOTES.txt") . | toJson }}\n',
    );
    const out = helm(['template', 'rel', chart, '--namespace', 'mail', ...valuesArgs(valuesFile), '--show-only', 'templates/notes-under-test.yaml']);
    return (parse(out) as { data: { notes: string } }).data.notes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('NOTES', () => {
  it('tell how to reach the exporter, and warn when offsets do not outlive the pod', () => {
    const notes = renderNotes();
    expect(notes).toContain('kubectl --namespace mail port-forward service/rel-mailrelay-exporter 10025');
    expect(notes).toContain('http://rel-mailrelay-exporter.mail.svc:10025/metrics');
    expect(notes).toMatch(/positions file is on an emptyDir/);
    expect(renderNotes('pvc-values.yaml')).not.toMatch(/emptyDir/);
    expect(renderNotes('full-values.yaml')).toMatch(/PrometheusRule: monitoring\/rel-mailrelay-exporter/);
  });
});

describe('sidecar mode', () => {
  it('NOTES give a container and volumes that make a valid pod beside IceWarp, reading its volumes', () => {
    const notes = renderNotes('sidecar-values.yaml');
    const snippet = /\n( {2}containers:\n[\s\S]*?)\n\n/.exec(notes)?.[1];
    if (!snippet) throw new Error(`no container snippet in NOTES:\n${notes}`);
    const spec = parse(snippet) as { containers: any[]; volumes: any[] };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'icewarp-0', labels: { 'app.kubernetes.io/name': 'icewarp' } },
      spec: {
        containers: [{ name: 'icewarp', image: 'icewarp:latest', volumeMounts: [{ name: 'icewarp-data', mountPath: '/opt/icewarp' }] }, ...spec.containers],
        volumes: [{ name: 'icewarp-data', persistentVolumeClaim: { claimName: 'icewarp' } }, ...spec.volumes],
      },
    };
    expect(() => new Pod(pod).validate()).not.toThrow();
    const exporter = spec.containers[0];
    expect(exporter.name).toBe('exporter');
    expect(exporter.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, readOnlyRootFilesystem: true });
    expect(exporter.volumeMounts).toContainEqual({ name: 'icewarp-data', mountPath: '/icewarp/logs/smtp', subPath: 'logs/smtp', readOnly: true });
    expect(exporter.volumeMounts).toContainEqual({ name: 'icewarp-data', mountPath: '/icewarp/mail', subPath: 'mail', readOnly: true });
    const names = pod.spec.volumes.map((v) => v.name);
    for (const m of exporter.volumeMounts) expect(names).toContain(m.name);
    expect(spec.volumes).toContainEqual({ name: 'exporter-config', configMap: { name: 'rel-mailrelay-exporter' } });
    // The ConfigMap the snippet names is the one the release renders.
    const objs = render('sidecar-values.yaml');
    expect(one(objs, 'ConfigMap').metadata.name).toBe('rel-mailrelay-exporter');
    expect(byKind(objs, 'ServiceAccount')).toEqual([]);
  });
});
