// The README's queries that join an account to the queued senders it
// produced, run by promtool over the series the exporter exports: once for a
// queue that records the forged envelope sender, once for one that records
// the account itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'mailrelay-join-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The queries of the README's block marked `join-query`, one per line (comments dropped). */
function readmeQueries(): string[] {
  const at = readme.indexOf('<!-- join-query:');
  const block = /```promql\n([\s\S]*?)```/.exec(readme.slice(at));
  return (block?.[1] ?? '').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

const instance = 'mail.domaine.com:10025';
const series = (name: string, labels: Record<string, string>, values: string) => ({
  series: `${name}{${Object.entries({ instance, job: 'mailrelay', ...labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`,
  values,
});

/** What the exporter exports during the demo's attack: the stolen account's forged senders, a busy honest account. */
const accounts = [
  series('mailrelay_account_sender_recipients_total', { account: 'info@domaine.com', sender: 'willm.b@orange.fr' }, '0+240x10'),
  series('mailrelay_account_sender_recipients_total', { account: 'info@domaine.com', sender: 'bmyerd77@yahoo.com' }, '0+24x10'),
  series('mailrelay_account_sender_recipients_total', { account: 'newsletter@domaine.com', sender: 'newsletter@domaine.com' }, '0+3x10'),
  series('mailrelay_account_messages_total', { account: 'info@domaine.com' }, '0+30x10'),
  series('mailrelay_account_messages_total', { account: 'newsletter@domaine.com' }, '0+1x10'),
];

function promtoolTest(name: string, input: object[], tests: { expr: string; exp: { labels: string; value: number }[] }[]): string {
  const file = join(dir, `${name}.test.yml`);
  writeFileSync(
    file,
    stringify({
      rule_files: [],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: input,
          promql_expr_test: tests.map((t) => ({ expr: t.expr, eval_time: '10m', exp_samples: t.exp })),
        },
      ],
    }),
  );
  try {
    return execFileSync('promtool', ['test', 'rules', file], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool test rules ${name}:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

describe("README's account-to-queue join", () => {
  const [bySender, byAccount] = readmeQueries();

  it('is in the README, two queries', () => {
    expect(bySender).toContain('mailrelay_account_sender_recipients_total');
    expect(byAccount).toContain('label_replace');
  });

  it('links the stolen account to the forged envelope senders its spam is queued under', () => {
    const queue = [
      series('mailrelay_spool_sender_messages', { sender: 'willm.b@orange.fr' }, '1200x10'),
      series('mailrelay_spool_sender_messages', { sender: 'bmyerd77@yahoo.com' }, '150x10'),
      series('mailrelay_spool_sender_messages', { sender: 'newsletter@domaine.com' }, '12x10'),
      series('mailrelay_spool_sender_messages', { sender: 'info@domaine.com' }, '22x10'),
    ];
    const l = (account: string, sender: string) => `{account="${account}", instance="${instance}", sender="${sender}"}`;
    const out = promtoolTest('forged', [...accounts, ...queue], [
      {
        expr: bySender!,
        exp: [
          { labels: l('info@domaine.com', 'willm.b@orange.fr'), value: 1200 },
          { labels: l('info@domaine.com', 'bmyerd77@yahoo.com'), value: 150 },
          { labels: l('newsletter@domaine.com', 'newsletter@domaine.com'), value: 12 },
        ],
      },
      // The account's own address in the queue: its legitimate mail (and the newsletter's).
      {
        expr: byAccount!,
        exp: [
          { labels: `{account="info@domaine.com", instance="${instance}", job="mailrelay", sender="info@domaine.com"}`, value: 22 },
          { labels: `{account="newsletter@domaine.com", instance="${instance}", job="mailrelay", sender="newsletter@domaine.com"}`, value: 12 },
        ],
      },
    ]);
    expect(out).toContain('SUCCESS');
  });

  it('links the stolen account to its spam when the queue records the account as the sender', () => {
    const queue = [
      series('mailrelay_spool_sender_messages', { sender: 'info@domaine.com' }, '1372x10'),
      series('mailrelay_spool_sender_messages', { sender: 'newsletter@domaine.com' }, '12x10'),
    ];
    const out = promtoolTest('account', [...accounts, ...queue], [
      {
        expr: byAccount!,
        exp: [
          { labels: `{account="info@domaine.com", instance="${instance}", job="mailrelay", sender="info@domaine.com"}`, value: 1372 },
          { labels: `{account="newsletter@domaine.com", instance="${instance}", job="mailrelay", sender="newsletter@domaine.com"}`, value: 12 },
        ],
      },
    ]);
    expect(out).toContain('SUCCESS');
  });
});
