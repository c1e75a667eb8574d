// activeSigns() says what the rule `account:mailrelay_signs:value` says: each
// case's numbers are given to promtool as the recorded series the rule reads,
// and the signs it records must be the ones activeSigns() finds.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ACCOUNT_SIGNS, DEFAULT_THRESHOLDS, THRESHOLD_MEANINGS, activeSigns, type AccountObservation, type AccountSign } from './thresholds.js';

const RULES = fileURLToPath(new URL('../../alerts/mailrelay.rules.yml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mailrelay-signs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quiet: AccountObservation = { externalRecipientsLastHour: 5, clientIps: 1, messagesLastHour: 4, foreignSenderMessagesLastHour: 0, recipientDomains: 3 };
const t = DEFAULT_THRESHOLDS;

/** Each case on both sides of a threshold or factor, with and without history. */
const CASES: [string, AccountObservation][] = [
  ['quiet, with history', { ...quiet, usualHour: 6, usualClientIps: 1, usualRecipientDomains: 3 }],
  ['quiet, new', quiet],
  ['volume at the minimum', { ...quiet, externalRecipientsLastHour: t.signExternalRecipients, usualHour: 10 }],
  ['volume above the minimum and the factor', { ...quiet, externalRecipientsLastHour: t.signExternalRecipients + 1, usualHour: 10 }],
  ['volume at the factor', { ...quiet, externalRecipientsLastHour: 450, usualHour: 150 }],
  ['volume above the factor', { ...quiet, externalRecipientsLastHour: 451, usualHour: 150 }],
  ['volume of a new account', { ...quiet, externalRecipientsLastHour: 5000 }],
  ['client IPs at the threshold, new', { ...quiet, clientIps: t.accountClientIps }],
  ['client IPs above the threshold, new', { ...quiet, clientIps: t.accountClientIps + 1 }],
  ['client IPs at the factor', { ...quiet, clientIps: 8, usualClientIps: 4 }],
  ['client IPs above the factor', { ...quiet, clientIps: 9, usualClientIps: 4 }],
  ['client IPs above the factor, at the threshold', { ...quiet, clientIps: 5, usualClientIps: 1 }],
  ['foreign senders at the count', { ...quiet, messagesLastHour: 20, foreignSenderMessagesLastHour: 20 }],
  ['foreign senders above the count', { ...quiet, messagesLastHour: 21, foreignSenderMessagesLastHour: 21 }],
  ['foreign senders at half', { ...quiet, messagesLastHour: 60, foreignSenderMessagesLastHour: 30 }],
  ['foreign senders above half', { ...quiet, messagesLastHour: 59, foreignSenderMessagesLastHour: 30 }],
  ['recipient domains at the factor', { ...quiet, recipientDomains: 160, usualRecipientDomains: 80 }],
  ['recipient domains above the factor', { ...quiet, recipientDomains: 161, usualRecipientDomains: 80 }],
  ['recipient domains above the factor, at the threshold', { ...quiet, recipientDomains: 20, usualRecipientDomains: 2 }],
  ['recipient domains of a new account', { ...quiet, recipientDomains: 500 }],
  ['every sign', { externalRecipientsLastHour: 1200, usualHour: 10, clientIps: 40, usualClientIps: 2, messagesLastHour: 150, foreignSenderMessagesLastHour: 150, recipientDomains: 300, usualRecipientDomains: 5 }],
];

const MEASURED: Record<AccountSign, (o: AccountObservation) => number> = {
  volume: (o) => o.externalRecipientsLastHour,
  client_ips: (o) => o.clientIps,
  foreign_sender: (o) => o.foreignSenderMessagesLastHour,
  recipient_domains: (o) => o.recipientDomains,
};

describe('the thresholds', () => {
  it('each has its meaning written down', () => {
    for (const key of Object.keys(DEFAULT_THRESHOLDS)) expect(THRESHOLD_MEANINGS[key as keyof typeof THRESHOLD_MEANINGS], key).toMatch(/\w{3}/);
    expect(Object.keys(THRESHOLD_MEANINGS).sort()).toEqual(Object.keys(DEFAULT_THRESHOLDS).sort());
    expect(ACCOUNT_SIGNS.map((s) => s.sign).sort()).toEqual(Object.keys(MEASURED).sort());
  });

  it('activeSigns() finds, for each case, the signs the rules record', async () => {
    const series = (name: string, account: string, value: number | undefined) =>
      value === undefined ? [] : [{ series: `${name}{account="${account}"}`, values: `${value}x5` }];
    const input = CASES.flatMap(([, o], i) => {
      const account = `case${i}@domaine.com`;
      return [
        ...series('account:mailrelay_external_recipients:increase1h', account, o.externalRecipientsLastHour),
        ...series('account:mailrelay_external_recipients:increase1h_max1d_median7d', account, o.usualHour),
        ...series('account:mailrelay_client_ips:sum', account, o.clientIps),
        ...series('account:mailrelay_client_ips:max1d_median7d', account, o.usualClientIps),
        ...series('account:mailrelay_messages:increase1h', account, o.messagesLastHour),
        ...series('account:mailrelay_foreign_sender_messages:increase1h', account, o.foreignSenderMessagesLastHour),
        ...series('account:mailrelay_recipient_domains:sum', account, o.recipientDomains),
        ...series('account:mailrelay_recipient_domains:max1d_median7d', account, o.usualRecipientDomains),
      ];
    });
    const expected = CASES.flatMap(([, o], i) =>
      activeSigns(o).map((sign) => ({ labels: `account:mailrelay_signs:value{account="case${i}@domaine.com", sign="${sign}"}`, value: MEASURED[sign](o) })),
    );
    // Both sides of every threshold are among the cases.
    expect(expected.length).toBeGreaterThan(10);
    expect(new Set(expected.map((e) => /sign="(\w+)"/.exec(e.labels)?.[1])).size).toBe(4);
    const file = join(dir, 'signs.yml');
    writeFileSync(
      file,
      stringify({
        rule_files: [RULES],
        evaluation_interval: '1m',
        tests: [{ interval: '1m', input_series: input, promql_expr_test: [{ expr: 'account:mailrelay_signs:value', eval_time: '2m', exp_samples: expected }] }],
      }),
    );
    const { stdout, stderr } = await promisify(execFile)('promtool', ['test', 'rules', file]).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool disagrees with activeSigns():\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    expect(stdout + stderr).toContain('SUCCESS');
  });

  it('names the signs a stolen busy account shows, and none of a newsletter on a usual hour', () => {
    const newsletter = { externalRecipientsLastHour: 160, usualHour: 165, clientIps: 2, usualClientIps: 2, messagesLastHour: 60, foreignSenderMessagesLastHour: 0, recipientDomains: 82, usualRecipientDomains: 85 };
    expect(activeSigns(newsletter)).toEqual([]);
    expect(activeSigns({ ...newsletter, externalRecipientsLastHour: 600, clientIps: 12, foreignSenderMessagesLastHour: 150, messagesLastHour: 210 })).toEqual(['volume', 'client_ips', 'foreign_sender']);
  });
});
