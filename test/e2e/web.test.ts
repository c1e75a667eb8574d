// --web.config.file end to end: the built exporter serves TLS with basic
// auth, and a real Prometheus scrapes it with the README's scrape job (its
// files and target filled in). A job with a wrong password and a plain-HTTP
// job are refused, and say why in Prometheus's own target status.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, type Certificates } from '../harness/certs.js';
import { REPO_ROOT, startExporter, type RunningExporter } from '../harness/exporter.js';
import { startPrometheus, type RunningPrometheus } from '../harness/prometheus.js';
import { waitFor } from '../harness/processes.js';

const FIXTURES = new URL('../../src/collectors/testdata/smtp/', import.meta.url);
const PASSWORD = 'correct horse battery staple';

let dir: string;
let certs: Certificates;
let exporter: RunningExporter | undefined;
let prometheus: RunningPrometheus | undefined;

/** The scrape job the README shows, as YAML. */
function readmeScrapeJob(): Record<string, any> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /<!-- scrape-config:[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md: no ```yaml block after the "scrape-config" marker');
  const jobs = (parse(m[1]!) as { scrape_configs: Record<string, any>[] }).scrape_configs;
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

function get(port: number, path: string, password?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        ca: readFileSync(certs.caFile),
        agent: false,
        ...(password !== undefined ? { auth: `prometheus:${password}` } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-web-e2e-'));
  certs = makeCertificates(dir);
  cpSync(FIXTURES, join(dir, 'smtp'), { recursive: true });
  writeFileSync(
    join(dir, 'web.yml'),
    // Relative names: read beside the web config, as the README says.
    `tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\nbasic_auth_users:\n  prometheus: ${bcrypt.hashSync(PASSWORD, 10)}\n`,
  );
  writeFileSync(join(dir, 'prometheus.password'), PASSWORD);
  writeFileSync(join(dir, 'wrong.password'), 'Tr0ub4dor&3');
  exporter = await startExporter({
    configYaml: `icewarp:\n  log_directory: ${join(dir, 'smtp')}\nstart_at: beginning\npositions_file: ${join(dir, 'positions.json')}\n`,
    dir,
    extraArgs: [`--web.config.file=${join(dir, 'web.yml')}`],
    healthy: async (port) => (await get(port, '/-/healthy', PASSWORD)).status === 200,
  });
  const target = `127.0.0.1:${exporter.port}`;
  const job = readmeScrapeJob();
  const good = { ...job, tls_config: { ...job.tls_config, ca_file: certs.caFile }, basic_auth: { ...job.basic_auth, password_file: join(dir, 'prometheus.password') }, static_configs: [{ targets: [target] }] };
  const wrong = { ...good, job_name: 'wrong-password', basic_auth: { ...good.basic_auth, password_file: join(dir, 'wrong.password') } };
  const plain = { job_name: 'plain-http', static_configs: [{ targets: [target] }] };
  prometheus = await startPrometheus({ targets: [target], scrapeConfigs: [good, wrong, plain] });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus and the exporter behind TLS and basic auth', () => {
  it("scrapes with the README's job: the target is up and the exporter's series arrive", async () => {
    const job = readmeScrapeJob();
    expect(job.scheme).toBe('https');
    expect(Object.keys(job.basic_auth)).toEqual(['username', 'password_file']);
    await waitFor(
      async () => {
        const up = await prometheus!.query('up{job="mailrelay"} == 1');
        return up.length === 1;
      },
      { what: 'the README job to be up', timeoutMs: 30_000 },
    );
    const sessions = await prometheus!.query('mailrelay_smtp_sessions_total{job="mailrelay"}');
    expect(Number(sessions[0]?.value[1])).toBeGreaterThan(0);
  });

  it('marks the job with a wrong password down with 401, and the plain-HTTP job down', async () => {
    const targets = await waitFor(
      async () => {
        const t = await prometheus!.targets();
        const byJob = new Map(t.map((x) => [x.labels.job, x]));
        const wrong = byJob.get('wrong-password');
        const plain = byJob.get('plain-http');
        return wrong?.health === 'down' && plain?.health === 'down' ? { wrong, plain } : undefined;
      },
      { what: 'the wrong-password and plain-HTTP jobs to be scraped', timeoutMs: 30_000 },
    );
    expect(targets.wrong.lastError).toContain('401');
    expect(targets.plain.lastError).not.toBe('');
    const upWrong = await prometheus!.query('up{job=~"wrong-password|plain-http"}');
    expect(upWrong.map((s) => s.value[1])).toEqual(['0', '0']);
  });

  it('keeps the incident console, its JSON and the /-/ endpoints behind the same password', async () => {
    for (const path of ['/', '/api/v1/incident', '/metrics', '/-/ready', '/-/healthy']) {
      expect((await get(exporter!.port, path)).status).toBe(401);
      expect((await get(exporter!.port, path, 'wrong')).status).toBe(401);
    }
    const page = await get(exporter!.port, '/', PASSWORD);
    expect(page.status).toBe(200);
    expect(page.body).toContain('mailrelay-exporter');
  });
});
