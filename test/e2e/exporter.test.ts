// The built exporter as a user runs it: its own process, a config file, a
// log directory that keeps growing, signals, reloads and restarts.
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeScenario } from '../../src/demo/scenario.js';
import { startExporter, type RunningExporter } from '../harness/exporter.js';
import { fetchText, waitFor } from '../harness/processes.js';

const FIXTURES = new URL('../../src/collectors/testdata/smtp/', import.meta.url);
// Passwords in the fixture's AUTH exchanges, plain and base64 (LOGIN sends base64 lines; PLAIN packs user and password).
const PASSWORDS = ['S3cret-Contact!', 'UzNjcmV0LUNvbnRhY3Qh', 'domaine2012', 'ZG9tYWluZTIwMTI=', 'MTIzNDU2', 'AGluZm9AZG9tYWluZS5jb20AZG9tYWluZTIwMTI='];

let dir: string;
let exporter: RunningExporter | undefined;

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const config = (extra = '') =>
  `icewarp:\n  log_directory: ${join(dir, 'smtp')}\nstart_at: beginning\npositions_file: ${join(dir, 'positions.json')}\n${extra}`;

/** A LOGIN session of contact@domaine.com from `peer` sending one message to an external recipient. */
function contactSession(peer: string, thread: string, time: string): string {
  return [
    `${peer} [${thread}] ${time} Connected`,
    `${peer} [${thread}] ${time} >>> 220 mail.domaine.com ESMTP IceWarp 13.0.2; Sat, 28 Nov 2026 ${time} +0000`,
    `${peer} [${thread}] ${time} <<< EHLO laptop`,
    `${peer} [${thread}] ${time} >>> 250 mail.domaine.com Hello laptop [${peer}], pleased to meet you.`,
    `${peer} [${thread}] ${time} <<< AUTH LOGIN`,
    `${peer} [${thread}] ${time} >>> 334 VXNlcm5hbWU6`,
    `${peer} [${thread}] ${time} <<< Y29udGFjdEBkb21haW5lLmNvbQ==`,
    `${peer} [${thread}] ${time} >>> 334 UGFzc3dvcmQ6`,
    `${peer} [${thread}] ${time} <<< UzNjcmV0LUNvbnRhY3Qh`,
    `${peer} [${thread}] ${time} >>> 235 2.0.0 Authentication successful`,
    `${peer} [${thread}] ${time} <<< MAIL FROM:<contact@domaine.com>`,
    `${peer} [${thread}] ${time} >>> 250 2.1.0 <contact@domaine.com>... Sender ok`,
    `${peer} [${thread}] ${time} <<< RCPT TO:<partner@example.net>`,
    `${peer} [${thread}] ${time} >>> 250 2.1.5 <partner@example.net>... Recipient ok; will forward`,
    `${peer} [${thread}] ${time} <<< DATA`,
    `${peer} [${thread}] ${time} >>> 354 Enter mail, end with "." on a line by itself`,
    `${peer} [${thread}] ${time} >>> 250 2.6.0 900 bytes received in 00:00:00; Message id 1@domaine.com accepted for delivery`,
    `${peer} [${thread}] ${time} <<< QUIT`,
    `${peer} [${thread}] ${time} Disconnected`,
  ].join('\n') + '\n';
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-e2e-'));
  cpSync(FIXTURES, join(dir, 'smtp'), { recursive: true });
  exporter = await startExporter({ configYaml: config(), dir, extraArgs: ['--log.level=debug'] });
  await waitFor(async () => (await fetchText(`${exporter!.url}/-/ready`)) === 'Ready.\n', { what: 'readiness', timeoutMs: 20_000 });
});

afterAll(async () => {
  await exporter?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the built exporter', () => {
  it('serves exact counts for the log directory it was started on', async () => {
    const text = await exporter!.metrics();
    expect([
      sample(text, 'mailrelay_smtp_sessions_total'),
      sample(text, 'mailrelay_account_logins_total{account="info@domaine.com"}'),
      sample(text, 'mailrelay_account_recipients_total{account="info@domaine.com",destination="external"}'),
      sample(text, 'mailrelay_account_foreign_sender_messages_total{account="info@domaine.com"}'),
      sample(text, 'mailrelay_log_lines_total'),
      sample(text, 'mailrelay_collector_success{collector="log"}'),
      sample(text, 'mailrelay_config_last_reload_successful'),
    ]).toEqual([7, 3, 4, 2, 164, 1, 1]);
    expect(text).toMatch(/^mailrelay_build_info\{version="\d+\.\d+\.\d+",nodejs_version="20\.[\d.]+"\} 1$/m);
  });

  it('lists the accounts of the last hour of log time on the console, the attacked one first, and as JSON', async () => {
    const incident = JSON.parse(await fetchText(`${exporter!.url}/api/v1/incident`)) as {
      logs: { accounts: { account: string; totals: { externalRecipients: number; messages: number }; senders: { sender: string }[] }[] };
    };
    expect(incident.logs.accounts.map((a) => [a.account, a.totals.externalRecipients, a.totals.messages])).toEqual([
      ['info@domaine.com', 4, 2],
      ['contact@domaine.com', 1, 1],
    ]);
    expect(incident.logs.accounts[0]!.senders.map((s) => s.sender)).toEqual(['willm.b@orange.fr']);
    const page = await fetchText(`${exporter!.url}/`);
    expect(page).toContain('info@domaine.com');
    expect(page).toContain('href="/metrics"');
  });

  it('follows appended lines, waiting for a partial last line to be completed', async () => {
    const day = join(dir, 'smtp', 's20261128.log');
    const session = contactSession('192.0.2.20', '0F01', '09:00:00');
    const cut = session.lastIndexOf('Disconnected') + 4;
    appendFileSync(day, session.slice(0, cut));
    await waitFor(
      async () => sample(await exporter!.metrics(), 'mailrelay_account_messages_total{account="contact@domaine.com"}') === 2,
      { what: 'the appended message to be counted', timeoutMs: 10_000 },
    );
    // The incomplete "Disco" line is not read yet.
    expect(sample(await exporter!.metrics(), 'mailrelay_log_lines_total')).toBe(164 + 18);
    appendFileSync(day, session.slice(cut));
    await waitFor(async () => sample(await exporter!.metrics(), 'mailrelay_log_lines_total') === 164 + 19, {
      what: 'the completed line',
      timeoutMs: 10_000,
    });
  });

  it('picks up a new daily file without a restart', async () => {
    writeFileSync(join(dir, 'smtp', 's20261129.log'), contactSession('192.0.2.21', '0F02', '00:00:10'));
    await waitFor(
      async () => sample(await exporter!.metrics(), 'mailrelay_account_logins_total{account="contact@domaine.com"}') === 3,
      { what: 'the new file to be read', timeoutMs: 10_000 },
    );
    const text = await exporter!.metrics();
    expect(sample(text, 'mailrelay_log_files_opened_total')).toBe(4);
    expect(sample(text, 'mailrelay_log_last_line_timestamp_seconds')).toBe(Date.UTC(2026, 10, 29, 0, 0, 10) / 1000);
  });

  it('keeps the old config when a reload (SIGHUP) finds a bad file, and takes a good one (POST /-/reload)', async () => {
    writeFileSync(exporter!.configFile, config('limits:\n  max_acounts: 5\n'));
    process.kill(exporter!.child.pid, 'SIGHUP');
    await waitFor(async () => sample(await exporter!.metrics(), 'mailrelay_config_last_reload_successful') === 0, {
      what: 'the failed reload',
      timeoutMs: 10_000,
    });
    expect(exporter!.child.output()).toMatch(/level=error msg="config reload failed, keeping the old config" err=".*mailrelay-exporter\.yml:6: limits\.max_acounts: unknown key/);
    // Still counting with the old config.
    expect(sample(await exporter!.metrics(), 'mailrelay_account_logins_total{account="contact@domaine.com"}')).toBe(3);

    const refused = await fetch(`${exporter!.url}/-/reload`, { method: 'POST' });
    expect(refused.status).toBe(500);

    writeFileSync(exporter!.configFile, config('local_domains: [domaine.com]\n'));
    const accepted = await fetch(`${exporter!.url}/-/reload`, { method: 'POST' });
    expect(accepted.status).toBe(200);
    const text = await exporter!.metrics();
    expect(sample(text, 'mailrelay_config_last_reload_successful')).toBe(1);
    // The counters kept their history across the reload.
    expect(sample(text, 'mailrelay_account_logins_total{account="contact@domaine.com"}')).toBe(3);
  });

  it('never shows a password, plain or base64, in /metrics or in its own output at debug level', async () => {
    const text = (await exporter!.metrics()) + (await fetchText(`${exporter!.url}/`));
    const output = exporter!.child.output();
    expect(output).toContain('level=debug');
    for (const secret of PASSWORDS) {
      expect(text).not.toContain(secret);
      expect(output).not.toContain(secret);
    }
  });

  it('resumes from saved positions after a restart: neither re-reads nor skips', async () => {
    await exporter!.stop();
    exporter = undefined;
    // Written while the exporter is down.
    appendFileSync(join(dir, 'smtp', 's20261129.log'), contactSession('192.0.2.22', '0F03', '00:10:00'));
    exporter = await startExporter({ configYaml: config(), dir });
    await waitFor(
      async () => sample(await exporter!.metrics(), 'mailrelay_account_logins_total{account="contact@domaine.com"}') === 1,
      { what: 'the lines written while down', timeoutMs: 10_000 },
    );
    const text = await exporter!.metrics();
    expect(sample(text, 'mailrelay_log_lines_total')).toBe(19);
    expect(sample(text, 'mailrelay_smtp_sessions_total')).toBe(1);
  });
});

describe('the built exporter on a generated scenario', () => {
  it('counts every metric of the log pipeline exactly as the scenario\'s ground truth', async () => {
    const root = mkdtempSync(join(tmpdir(), 'mailrelay-e2e-scenario-'));
    let run: RunningExporter | undefined;
    try {
      const truth = await writeScenario(
        join(root, 'smtp'),
        {
          seed: 42,
          start: new Date(Date.UTC(2026, 10, 27, 22, 0, 0)),
          durationSeconds: 4 * 3600, // crosses midnight: two daily files
          legitimateUsers: 15,
          spray: { perMinute: 3, usernames: 60 },
          attack: { account: 'info@domaine.com', startSecond: 3600, messagesPerMinute: 10, recipientsPerMessage: 5, ips: 12, foreignSender: true },
          busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2 },
        },
        { crlf: true },
      );
      run = await startExporter({
        dir: root,
        configYaml: `icewarp:\n  log_directory: ${join(root, 'smtp')}\nlocal_domains: [domaine.com]\nstart_at: beginning\npositions_file: ${join(root, 'positions.json')}\ndetection:\n  window: 30d\n`,
      });
      await waitFor(async () => (await fetchText(`${run!.url}/-/ready`)) === 'Ready.\n', { what: 'readiness', timeoutMs: 20_000 });
      const text = await run.metrics();

      const expected: [string, number][] = [
        ['mailrelay_smtp_sessions_total', truth.sessions],
        ['mailrelay_log_lines_total', truth.lines],
        ['mailrelay_log_unparsed_lines_total', 0],
        ['mailrelay_unauthenticated_relay_recipients_total', truth.unauthenticatedRelayRecipients],
        ['mailrelay_relay_denied_total', truth.relayDenied],
      ];
      for (const m of ['login', 'plain', 'cram_md5', 'other'] as const) {
        expected.push([`mailrelay_smtp_auth_attempts_total{mechanism="${m}"}`, truth.authAttempts[m]]);
        expected.push([`mailrelay_smtp_auth_failures_total{mechanism="${m}"}`, truth.authFailures[m]]);
      }
      for (const [account, a] of Object.entries(truth.accounts)) {
        const l = `account="${account}"`;
        expected.push(
          [`mailrelay_account_logins_total{${l}}`, a.logins],
          [`mailrelay_account_messages_total{${l}}`, a.messages],
          [`mailrelay_account_recipients_total{${l},destination="external"}`, a.externalRecipients],
          [`mailrelay_account_recipients_total{${l},destination="local"}`, a.localRecipients],
          [`mailrelay_account_foreign_sender_messages_total{${l}}`, a.foreignSenderMessages],
          [`mailrelay_account_client_ips{${l}}`, a.clientIps.length],
          [`mailrelay_account_recipient_domains{${l}}`, a.recipientDomains.length],
        );
      }
      for (const [username, failures] of Object.entries(truth.failedUsernames)) {
        expected.push([`mailrelay_account_auth_failures_total{account="${username}"}`, failures]);
      }
      expect(expected.length).toBeGreaterThan(100);
      expect(expected.map(([series]) => [series, sample(text, series)])).toEqual(expected);
      expect(sample(text, 'mailrelay_accounts_tracked')).toBe(Object.keys(truth.accounts).length);
      expect(truth.accounts['info@domaine.com']!.clientIps.length).toBe(12);
    } finally {
      await run?.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
