import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from './configCheck.js';

let dir: string;
const listen = { listenAddress: ':10025', telemetryPath: '/metrics' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-check-'));
  mkdirSync(join(dir, 'logs', 'smtp'), { recursive: true });
  mkdirSync(join(dir, 'mail'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('checkConfig', () => {
  it('says what would run: the MTA and its folders, each collector, the positions file, the address; ok', async () => {
    const file = config(
      'good.yml',
      `icewarp:\n  log_directory: ${dir}/logs/smtp\n  log_time_zone: Europe/Paris\n  mail_directory: ${dir}/mail\npositions_file: ${dir}/state/positions.json\nrelay_probe:\n  targets: ["127.0.0.1:25"]\n`,
    );
    const r = await checkConfig({ configFile: file, ...listen });
    expect(r.text).toBe(`config file ${file}: valid
MTA: icewarp
  SMTP logs: ${dir}/logs/smtp (files s*.log, log times in Europe/Paris)
  mail queues: ${dir}/mail
collector log: on
collector dnsbl: off
collector relay_probe: on
collector spool: on
positions file: ${dir}/state/positions.json
web config file: none (plain HTTP, no authentication)
listen: :10025; metrics at http://<host>:10025/metrics; authentication: none
config check: OK
`);
    expect(r.ok).toBe(true);
  });

  it('fails naming the key when a configured folder is missing, and when the positions folder cannot be written', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    const file = config('missing.yml', `icewarp:\n  log_directory: ${dir}/nope\npositions_file: ${dir}/a-file/state/p.json\n`);
    const r = await checkConfig({ configFile: file, ...listen });
    expect(r.ok).toBe(false);
    expect(r.text).toContain(`error: icewarp.log_directory: ${dir}/nope does not exist\n`);
    expect(r.text).toContain(`error: positions_file: ${dir}/a-file/state cannot be created: ${dir}/a-file is not a directory`);
    expect(r.text).toMatch(/config check: FAILED\n$/);
  });

  it('fails when nothing is configured: the exporter would be blind', async () => {
    const r = await checkConfig({ ...listen });
    expect(r.ok).toBe(false);
    expect(r.text).toContain('config file: none (--config.file not given)');
    expect(r.text).toContain('error: no collector is configured');
  });

  it('fails with the file, line and key of a bad config or web config', async () => {
    const bad = await checkConfig({ configFile: config('bad.yml', 'limits:\n  max_acounts: 5\n'), ...listen });
    expect(bad.ok).toBe(false);
    expect(bad.text).toContain(`error: ${dir}/bad.yml:2: limits.max_acounts: unknown key`);
    const web = await checkConfig({
      configFile: config('ok.yml', `icewarp:\n  mail_directory: ${dir}/mail\n`),
      webConfigFile: config('web.yml', `tls_server_config:\n  cert_file: ${dir}/none.pem\n  key_file: ${dir}/none.key\n`),
      ...listen,
    });
    expect(web.ok).toBe(false);
    expect(web.text).toContain(`error: tls_server_config.cert_file: cannot read ${dir}/none.pem`);
  });
});
