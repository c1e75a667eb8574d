// `npm run demo -- --mta postfix` as a newcomer uses it: open the page it
// prints, put the demo's stand-ins first on PATH as the page says, and run
// the commands the page shows for the stolen account, in order. They must end
// with the spam on hold, the legitimate mail still deferred, and the attacker
// refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, waitFor, type Child } from '../harness/processes.js';

const SPAM = ['willm.b@orange.fr', 'bmyerd77@yahoo.com'];
let demo: Child | undefined;
const dir = mkdtempSync(join(tmpdir(), 'mailrelay-demo-postfix-'));
const demoData = join(dir, 'demo-data');

afterAll(async () => {
  await demo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const unescape = (html: string): string => html.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

/** The demo's queue as its postqueue stand-in lists it: queue name by sender. */
function queue(path: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const line of execFileSync(join(demoData, 'bin', 'postqueue'), ['-j'], { encoding: 'utf8', env: { ...process.env, PATH: path } }).split('\n').filter(Boolean)) {
    const m = JSON.parse(line) as { queue_name: string; sender: string };
    const bySender = out.get(m.sender) ?? out.set(m.sender, new Map()).get(m.sender)!;
    bySender.set(m.queue_name, (bySender.get(m.queue_name) ?? 0) + 1);
  }
  return out;
}

describe('npm run demo -- --mta postfix', () => {
  it("serves the incident console; its commands, run in order, hold the spam and refuse the account", async () => {
    const port = await freePort();
    demo = spawnChild(process.execPath, [join(REPO_ROOT, 'dist/src/demo/main.js'), '--mta', 'postfix'], { env: { ...process.env, PORT: String(port), DEMO_DIR: demoData } });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetchText(`${base}/-/ready`)) === 'Ready.\n', { what: `the demo on ${base}`, timeoutMs: 90_000 });
    expect(demo.output()).toContain(`export PATH=${join(demoData, 'bin')}:$PATH`);

    const metrics = await fetchText(`${base}/metrics`);
    expect(sample(metrics, `mailrelay_account_sender_recipients_total{account="info@domaine.com",sender="willm.b@orange.fr"}`)).toBeGreaterThan(500);
    expect(sample(metrics, 'mailrelay_spool_deferred_messages')).toBeGreaterThan(100);

    const page = await fetchText(`${base}/`);
    const card = /<article class="account suspicious"[^>]*>([\s\S]*?)<\/article>/.exec(page)?.[1] ?? '';
    expect(unescape(card)).toContain('info@domaine.com');
    const commands = [...card.matchAll(/<pre><code>([\s\S]*?)<\/code><\/pre>/g)].map((m) => unescape(m[1]!));
    expect(commands.some((c) => c.includes('queue quarantine') && c.includes('--postfix') && SPAM.every((s) => c.includes(`--sender=${s}`)))).toBe(true);

    const path = `${join(demoData, 'bin')}:${process.env.PATH}`;
    const before = queue(path);
    const legitimate = [...before].filter(([s]) => !SPAM.includes(s)).map(([s, q]) => [s, q.get('deferred') ?? 0] as const);
    expect(legitimate.length).toBeGreaterThan(3);
    const outputs: string[] = [];
    for (const command of commands) {
      outputs.push(execFileSync('sh', ['-c', command], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: path }, stdio: ['ignore', 'pipe', 'pipe'] }));
    }
    expect(outputs.join('\n')).toMatch(/_quarantine\/\d{8}T\d{6}Z\/manifest\.jsonl: moved \d+, already done 0/);

    // The spam is on hold, the legitimate mail still deferred; the journal is in the demo's state folder.
    const after = queue(path);
    for (const s of SPAM) expect([...(after.get(s)?.keys() ?? [])]).toEqual(['hold']);
    for (const [s, n] of legitimate) expect(after.get(s)?.get('deferred') ?? 0).toBeGreaterThanOrEqual(n);
    await waitFor(async () => (sample(await fetchText(`${base}/metrics`), 'mailrelay_spool_messages{queue="quarantine",folder="hold"}') ?? 0) > 100, {
      what: 'the held spam in the queue gauges',
      timeoutMs: 30_000,
    });

    // The account is refused: the attacker's logins fail from now on, and no new spam joins the queue.
    await waitFor(async () => (sample(await fetchText(`${base}/metrics`), 'mailrelay_account_auth_failures_total{account="info@domaine.com"}') ?? 0) > 0, {
      what: "the attacker's failed logins",
      timeoutMs: 120_000,
    });
    const held = after.get(SPAM[0]!)?.get('hold') ?? 0;
    await new Promise((r) => setTimeout(r, 5_000));
    expect(queue(path).get(SPAM[0]!)?.get('deferred') ?? 0).toBe(0);
    expect(queue(path).get(SPAM[0]!)?.get('hold')).toBe(held);
  }, 300_000);
});
