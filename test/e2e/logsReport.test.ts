// `mailrelay-exporter logs report` as the admin runs it: the built command
// on log files, no exporter running. Its JSON must equal the generator's
// ground truth exactly; the same scenario in IceWarp's and Postfix's formats
// must give the same accounts; a file that cannot be read is named and the
// rest is reported; no password ever appears.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogsReportOutput } from '../../src/cli/logs.js';
import { writeScenario, type ScenarioOptions, type ScenarioTruth } from '../../src/demo/scenario.js';
import { EXPORTER_MAIN } from '../harness/exporter.js';
import { icewarpLog } from '../mta/icewarp.js';
import { postfixLog } from '../mta/postfix.js';
import { expectedAccountSeries, LOCAL_DOMAINS, sharedScenario } from '../mta/scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-logs-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const START = Date.UTC(2026, 10, 27, 22, 0, 0);
const scenario: ScenarioOptions = {
  seed: 77,
  start: new Date(START),
  durationSeconds: 4 * 3600, // crosses midnight: two daily files
  legitimateUsers: 15,
  inboundPerMinute: 6,
  outboundDeliveriesPerMinute: 3,
  spray: { perMinute: 3, usernames: 120 },
  attack: {
    account: 'info@domaine.com',
    startSecond: 3600,
    messagesPerMinute: 12,
    recipientsPerMessage: 6,
    ips: 15,
    foreignSender: true,
    senders: ['willm.b@orange.fr', 'bmyerd77@yahoo.com'],
    passwordChangedSecond: 3 * 3600,
  },
  busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2 },
};
const WHOLE = ['--from', '2026-11-27T00:00:00Z', '--to', '2026-11-29T00:00:00Z'];
const PASSWORD = 'S3cret-password!';
let truth: ScenarioTruth;

/** Runs the built command; its exit code, stdout and stderr. */
function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [EXPORTER_MAIN, 'logs', 'report', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[]): LogsReportOutput {
  const r = run([...args, '--json']);
  if (r.status !== 0) throw new Error(`logs report failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as LogsReportOutput;
}

beforeAll(async () => {
  truth = await writeScenario(join(dir, 'icewarp'), scenario, { crlf: true });
});

describe('logs report', () => {
  it('--json equals the ground truth of a generated day, account by account', () => {
    const r = json(['--log-dir', join(dir, 'icewarp'), '--local-domain', 'domaine.com', ...WHOLE]);
    expect(r.files.read).toEqual(['s20261127.log', 's20261128.log']);
    expect([r.lines, r.unparsedLines]).toEqual([truth.lines, 0]);
    expect([r.sessions, r.authAttempts, r.authFailures, r.relayDenied, r.unauthenticatedRelays.recipients]).toEqual([
      truth.sessions,
      truth.authAttempts,
      truth.authFailures,
      truth.relayDenied,
      truth.unauthenticatedRelayRecipients,
    ]);
    const got = Object.fromEntries(
      r.accounts.map((a) => [
        a.account,
        {
          logins: a.logins,
          messages: a.messages,
          externalRecipients: a.externalRecipients,
          localRecipients: a.localRecipients,
          foreignSenderMessages: a.foreignSenderMessages,
          clientIps: a.clientIps,
          recipientDomains: a.recipientDomains,
          senders: Object.fromEntries(a.senders.map((s) => [s.sender, s.recipients])),
        },
      ]),
    );
    const expected = Object.fromEntries(
      Object.entries(truth.accounts).map(([account, t]) => [account, { ...t, clientIps: t.clientIps.length, recipientDomains: t.recipientDomains.length }]),
    );
    expect(got).toEqual(expected);
    expect(Object.fromEntries(r.failedUsernames.map((f) => [f.username, f.failures]))).toEqual(truth.failedUsernames);
    // Worst first: the stolen account, judged suspicious on the signs of its hours of attack, then nobody else.
    expect(r.accounts[0]).toMatchObject({ account: 'info@domaine.com', verdict: 'suspicious' });
    expect(r.accounts[0]!.signs.filter((s) => s.above).map((s) => s.sign)).toEqual(expect.arrayContaining(['hourly', 'client_ips', 'foreign_sender', 'recipient_domains']));
    expect(r.accounts[0]!.signs.find((s) => s.sign === 'hourly')!.firstAbove).toMatch(/^2026-11-27T23:0\d:00\.000Z$/);
    expect(r.accounts.filter((a) => a.verdict === 'suspicious').map((a) => a.account)).toEqual(['info@domaine.com']);
  });

  it('counts only the period asked for, in log time', () => {
    // The hour before the attack: the stolen account has not logged in yet.
    const before = json(['--log-dir', join(dir, 'icewarp'), '--local-domain', 'domaine.com', '--from', '2026-11-27T22:00', '--to', '2026-11-27T23:00']);
    expect(before.accounts.map((a) => a.account)).not.toContain('info@domaine.com');
    expect(before.accounts.length).toBeGreaterThan(3);
    // The same hour written in Paris time (UTC+1 in November).
    const paris = json(['--log-dir', join(dir, 'icewarp'), '--local-domain', 'domaine.com', '--from', '2026-11-27T23:00+01:00', '--to', '2026-11-28T00:00+01:00']);
    expect(paris.accounts).toEqual(before.accounts);
    expect([paris.from, paris.to]).toEqual(['2026-11-27T22:00:00.000Z', '2026-11-27T23:00:00.000Z']);
  });

  it('prints the same worst-first report as text, with the verdict and the forged senders', () => {
    const r = run(['--log-dir', join(dir, 'icewarp'), '--local-domain', 'domaine.com', ...WHOLE, '--top', '2']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^SUSPICIOUS {2}info@domaine\.com\n {2}[\d,]+ external and 0 local recipients/m);
    expect(r.stdout).toMatch(/envelope senders: willm\.b@orange\.fr \([\d,]+\), bmyerd77@yahoo\.com \([\d,]+\)/);
    expect(r.stdout.indexOf('SUSPICIOUS  info@domaine.com')).toBeLessThan(r.stdout.indexOf('newsletter@domaine.com'));
    expect(r.stdout).toContain('Auth failures:');
    expect(r.stdout).toContain('Relaying without AUTH: none');
  });

  it('gives the same accounts for the shared scenario written by IceWarp and by Postfix (--mta)', () => {
    const sessions = sharedScenario();
    const accounts: Record<string, unknown>[] = [];
    for (const [mta, write] of [
      ['icewarp', icewarpLog],
      ['postfix', postfixLog],
    ] as const) {
      const d = join(dir, `shared-${mta}`);
      mkdirSync(d);
      for (const f of write(sessions)) writeFileSync(join(d, f.name), f.text);
      const r = json(['--mta', mta, '--log-dir', d, '--log-time-zone', 'UTC', ...LOCAL_DOMAINS.flatMap((x) => ['--local-domain', x]), '--from', '2026-11-28T00:00:00Z', '--to', '2026-11-29T00:00:00Z']);
      expect(r.mta).toBe(mta);
      accounts.push(Object.fromEntries(r.accounts.map((a) => [a.account, [a.logins, a.messages, a.externalRecipients, a.localRecipients, a.foreignSenderMessages, a.clientIps, a.senders]])));
      // The shared truth's own numbers for the stolen account.
      const expected = expectedAccountSeries(sessions);
      const stolen = r.accounts.find((a) => a.account === 'info@domaine.com')!;
      expect(stolen.externalRecipients).toBe(expected.get('mailrelay_account_recipients_total{account="info@domaine.com",destination="external"}'));
      expect(r.unauthenticatedRelays.recipients).toBe(expected.get('mailrelay_unauthenticated_relay_recipients_total'));
    }
    expect(accounts[1]).toEqual(accounts[0]);
  });

  it('names a file it cannot read and still reports the rest, with exit code 1', () => {
    const d = join(dir, 'broken');
    mkdirSync(d);
    execFileSync('cp', [join(dir, 'icewarp', 's20261127.log'), join(dir, 'icewarp', 's20261128.log'), d]);
    symlinkSync(join(d, 'gone.log'), join(d, 's20261126.log')); // a dangling link: missing
    mkdirSync(join(d, 's20261125.log')); // a folder where a file should be
    execFileSync('mkfifo', [join(d, 's20261124.log')]); // a FIFO: must not hang the report
    const r = run(['--log-dir', d, '--local-domain', 'domaine.com', ...WHOLE, '--json']);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as LogsReportOutput;
    expect(out.files.unreadable).toEqual([
      { file: join(d, 's20261124.log'), error: 'not a regular file' },
      { file: join(d, 's20261125.log'), error: 'not a regular file' },
      { file: join(d, 's20261126.log'), error: 'no such file or folder' },
    ]);
    expect(out.files.read).toEqual(['s20261127.log', 's20261128.log']);
    expect(out.lines).toBe(truth.lines);
    expect(r.stderr).toContain(`${join(d, 's20261126.log')}: no such file or folder`);
    const text = run(['--log-dir', d, ...WHOLE]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`NOT READ: ${join(d, 's20261125.log')}: not a regular file`);
    expect(text.stdout).toContain('info@domaine.com');
  });

  it('says what is wrong with its flags (exit code 2), and with a missing folder (exit code 1)', () => {
    expect(run([]).status).toBe(2);
    expect(run(['--log-dir', dir, '--since', '1h', '--from', '2026-11-27T00:00']).stderr).toContain('give --since or --from/--to, not both');
    expect(run(['--log-dir', dir, '--mta', 'exim']).stderr).toContain('--mta exim: must be one of icewarp, postfix');
    expect(run(['--log-dir', dir, '--from', 'yesterday']).stderr).toContain('--from yesterday: must be a time such as');
    expect(run(['--log-dir', dir, '--log-time-zone', 'Mars/Olympus']).stderr).toContain('--log-time-zone');
    const missing = run(['--log-dir', join(dir, 'nowhere')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`${join(dir, 'nowhere')} (icewarp.log_directory): no such file or folder`);
  });

  it('writes all of a long report into a pipe read slowly (as `| jq` does), not just the first 64 KiB', async () => {
    // Three hours of 400 users: a few hundred accounts, half a megabyte of JSON.
    await writeScenario(join(dir, 'many'), { seed: 5, start: new Date(START), durationSeconds: 3 * 3600, legitimateUsers: 400 });
    const args = ['--log-dir', join(dir, 'many'), '--local-domain', 'domaine.com', ...WHOLE, '--json'];
    const whole = run(args).stdout;
    expect(whole.length).toBeGreaterThan(200_000);
    const quoted = [process.execPath, EXPORTER_MAIN, 'logs', 'report', ...args].map((a) => `'${a}'`).join(' ');
    const piped = execFileSync('sh', ['-c', `${quoted} | (sleep 1; cat)`], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(piped).toBe(whole);
  });

  it('never shows a password', () => {
    const d = join(dir, 'passwords');
    mkdirSync(d);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const line = (thread: string, text: string) => `198.51.100.9 [${thread}] 09:00:00 ${text}\r\n`;
    appendFileSync(
      join(d, 's20261128.log'),
      [
        line('0A01', 'Connected'),
        line('0A01', '<<< AUTH LOGIN'),
        line('0A01', '>>> 334 VXNlcm5hbWU6'),
        line('0A01', `<<< ${b64('contact@domaine.com')}`),
        line('0A01', '>>> 334 UGFzc3dvcmQ6'),
        line('0A01', `<<< ${b64(PASSWORD)}`),
        line('0A01', '>>> 535 5.7.8 Authentication credentials invalid'),
        line('0A01', `<<< AUTH PLAIN ${b64(`\0contact@domaine.com\0${PASSWORD}`)}`),
        line('0A01', '>>> 235 2.0.0 Authentication successful'),
        line('0A01', 'Disconnected'),
      ].join(''),
    );
    for (const format of [[], ['--json']]) {
      const r = run(['--log-dir', d, '--from', '2026-11-28T00:00:00Z', '--to', '2026-11-29T00:00:00Z', ...format]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('contact@domaine.com');
      for (const secret of [PASSWORD, b64(PASSWORD), b64(`\0contact@domaine.com\0${PASSWORD}`)]) expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });
});
