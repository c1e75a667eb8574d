// Golden /metrics for the log pipeline: a realistic log directory (the two
// real samples and a day with an attack, a spray, inbound mail and a client
// session) rendered through a real prom-client Registry.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { LogPipeline, logSettings } from '../pipeline/logPipeline.js';
import { logCollector } from './log.js';
import { ExporterRegistry } from './registry.js';

const fixtures = fileURLToPath(new URL('./testdata/smtp/', import.meta.url));
const golden = fileURLToPath(new URL('./testdata/log.metrics', import.meta.url));

let dir: string;
let pipeline: LogPipeline | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-log-'));
  cpSync(fixtures, join(dir, 'smtp'), { recursive: true });
});

afterEach(async () => {
  await pipeline?.stop();
  pipeline = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function render(extraConfig = '', extraIcewarp = ''): Promise<string> {
  const positions = join(dir, `positions-${Math.random()}.json`);
  const config = loadConfig(
    `icewarp:\n  log_directory: ${join(dir, 'smtp')}\n${extraIcewarp}start_at: beginning\npositions_file: ${positions}\n${extraConfig}`,
  );
  pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false });
  await pipeline.ready;
  const registry = new ExporterRegistry();
  const running = pipeline;
  logCollector.register(registry, () => running);
  return registry.metrics();
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('log collector', () => {
  it('renders the golden /metrics for the fixture log directory', async () => {
    const text = await render();
    await expect(text).toMatchFileSnapshot(golden);
  });

  it('passes promtool check metrics on the golden file', () => {
    // promtool prints lint findings and exits 1 on problems; the output must be empty.
    const out = execFileSync('promtool', ['check', 'metrics'], { input: readFileSync(golden), encoding: 'utf8' });
    expect(out).toBe('');
  });

  it('counts exactly by the counting rules', async () => {
    const text = await render();
    const expected: [string, number][] = [
      // 5 server sessions in the day file, one in each sample; the client session is not counted.
      ['mailrelay_smtp_sessions_total', 7],
      ['mailrelay_smtp_auth_attempts_total{mechanism="login"}', 6],
      ['mailrelay_smtp_auth_attempts_total{mechanism="plain"}', 1],
      ['mailrelay_smtp_auth_attempts_total{mechanism="cram_md5"}', 1],
      ['mailrelay_smtp_auth_failures_total{mechanism="login"}', 3],
      ['mailrelay_smtp_auth_failures_total{mechanism="cram_md5"}', 1],
      ['mailrelay_account_logins_total{account="info@domaine.com"}', 3],
      ['mailrelay_account_logins_total{account="contact@domaine.com"}', 1],
      // The PLAIN session's message was refused after DATA (554): not counted.
      ['mailrelay_account_messages_total{account="info@domaine.com"}', 2],
      ['mailrelay_account_recipients_total{account="info@domaine.com",destination="external"}', 4],
      ['mailrelay_account_recipients_total{account="info@domaine.com",destination="local"}', 0],
      ['mailrelay_account_recipients_total{account="contact@domaine.com",destination="external"}', 1],
      ['mailrelay_account_recipients_total{account="contact@domaine.com",destination="local"}', 1],
      // The link to the queue: info@'s spam went out under a forged MAIL FROM.
      ['mailrelay_account_sender_recipients_total{account="info@domaine.com",sender="willm.b@orange.fr"}', 4],
      ['mailrelay_account_sender_recipients_total{account="contact@domaine.com",sender="contact@domaine.com"}', 2],
      ['mailrelay_account_foreign_sender_messages_total{account="info@domaine.com"}', 2],
      ['mailrelay_account_foreign_sender_messages_total{account="contact@domaine.com"}', 0],
      ['mailrelay_account_auth_failures_total{account="admin@domaine.com"}', 1],
      ['mailrelay_account_auth_failures_total{account="webmaster@domaine.com"}', 1],
      ['mailrelay_account_client_ips{account="info@domaine.com"}', 2],
      ['mailrelay_account_recipient_domains{account="info@domaine.com"}', 3],
      // The docs sample relays to seznam.cz without AUTH; inbound mail to a local user is not relaying.
      ['mailrelay_unauthenticated_relay_recipients_total', 1],
      ['mailrelay_relay_denied_total', 1],
      ['mailrelay_log_unparsed_lines_total', 1],
      ['mailrelay_log_files_opened_total', 3],
      ['mailrelay_log_truncations_total', 0],
      ['mailrelay_log_lag_bytes', 0],
      ['mailrelay_log_last_line_timestamp_seconds', Date.UTC(2026, 10, 28, 8, 5, 0) / 1000],
      ['mailrelay_accounts_tracked', 2],
      ['mailrelay_accounts_overflow_total', 0],
    ];
    expect(expected.map(([series]) => [series, sample(text, series)])).toEqual(expected);
    // 12 + 16 lines in the samples, 136 in the day file: the Latin-1 line did not stop the reader.
    expect(sample(text, 'mailrelay_log_lines_total')).toBe(164);
  });

  it('bounds label values: a spray of random usernames stays within max_failed_usernames', async () => {
    const text = await render('limits:\n  max_failed_usernames: 2\n');
    const failed = text.split('\n').filter((l) => l.startsWith('mailrelay_account_auth_failures_total{'));
    // The two real accounts, the two most recent failed usernames, and __overflow__ holding the evicted one.
    expect(failed).toEqual([
      'mailrelay_account_auth_failures_total{account="info@domaine.com"} 0',
      'mailrelay_account_auth_failures_total{account="contact@domaine.com"} 0',
      'mailrelay_account_auth_failures_total{account="__overflow__"} 1',
      'mailrelay_account_auth_failures_total{account="test@domaine.com"} 1',
      'mailrelay_account_auth_failures_total{account="webmaster@domaine.com"} 1',
    ]);
  });

  it('decides external recipients by local_domains when configured', async () => {
    // With gmail.com declared local, contact's gmail recipient is local and info's k.lee@gmail.com too.
    const text = await render('local_domains: [domaine.com, gmail.com]\n');
    expect(sample(text, 'mailrelay_account_recipients_total{account="contact@domaine.com",destination="external"}')).toBe(0);
    expect(sample(text, 'mailrelay_account_recipients_total{account="contact@domaine.com",destination="local"}')).toBe(2);
    expect(sample(text, 'mailrelay_account_recipients_total{account="info@domaine.com",destination="external"}')).toBe(3);
  });

  it('reads HH:MM:SS in the zone of log_time_zone', async () => {
    const text = await render('');
    // The day file's last line is 08:05:00: UTC by default; in Paris on 28 November (CET, +01:00), 07:05:00 UTC.
    expect(sample(text, 'mailrelay_log_last_line_timestamp_seconds')).toBe(Date.UTC(2026, 10, 28, 8, 5, 0) / 1000);
    await pipeline!.stop();
    const paris = await render('', '  log_time_zone: Europe/Paris\n');
    expect(sample(paris, 'mailrelay_log_last_line_timestamp_seconds')).toBe(Date.UTC(2026, 10, 28, 7, 5, 0) / 1000);
  });

  it('reports nothing while the feature is off', async () => {
    const registry = new ExporterRegistry();
    logCollector.register(registry, () => undefined);
    const text = await registry.metrics();
    expect(text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
  });
});
