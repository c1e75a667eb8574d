// The README's first command, as a newcomer uses it: `npm run demo`, open the
// page it prints, and run the commands the page shows for the stolen account,
// in order. They must end with the spam quarantined and the legitimate mail
// still queued.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, waitFor, type Child } from '../harness/processes.js';

let demo: Child | undefined;
const dir = mkdtempSync(join(tmpdir(), 'mailrelay-demo-'));
const demoData = join(dir, 'demo-data');

afterAll(async () => {
  await demo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const unescape = (html: string): string => html.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');

/** The commands of the suspicious account's card, in the page's order. */
function commandsOnPage(html: string, account: string): string[] {
  const card = /<article class="account suspicious"[^>]*>([\s\S]*?)<\/article>/.exec(html)?.[1] ?? '';
  expect(unescape(card)).toContain(account);
  return [...card.matchAll(/<pre><code>([\s\S]*?)<\/code><\/pre>/g)].map((m) => unescape(m[1]!));
}

/** Original senders of the messages left in the outgoing queue, by sender. */
function queuedSenders(mail: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.tmp')) {
        const sender = /^Original Sender: <([^>]*)>/m.exec(readFileSync(path, 'latin1'))?.[1] ?? '?';
        out.set(sender, (out.get(sender) ?? 0) + 1);
      }
    }
  };
  walk(join(mail, '_outgoing'));
  return out;
}

describe('npm run demo', () => {
  it('serves the incident console; its commands, run in order, quarantine the spam and leave the legitimate mail queued', async () => {
    const port = await freePort();
    demo = spawnChild(process.execPath, [join(REPO_ROOT, 'dist/src/demo/main.js')], { env: { ...process.env, PORT: String(port), DEMO_DIR: demoData } });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetchText(`${base}/-/ready`)) === 'Ready.\n', { what: `the demo on ${base}`, timeoutMs: 60_000 });
    expect(demo.output()).toContain(`http://localhost:${port}/`);

    // Lines keep arriving as the attack goes on.
    const before = sample(await fetchText(`${base}/metrics`), 'mailrelay_log_lines_total')!;
    await waitFor(async () => sample(await fetchText(`${base}/metrics`), 'mailrelay_log_lines_total')! > before, { what: 'live log lines', timeoutMs: 30_000 });

    // The page names the queued senders: they are complete a moment after ready (heads are read after the listing).
    const metrics = await waitFor(
      async () => {
        const text = await fetchText(`${base}/metrics`);
        return sample(text, 'mailrelay_spool_senders_complete') === 1 && text;
      },
      { what: 'the queued senders' },
    );
    expect(sample(metrics, 'mailrelay_account_sender_recipients_total{account="info@domaine.com",sender="willm.b@orange.fr"}')).toBeGreaterThan(1000);
    const page = await fetchText(`${base}/`);
    const commands = commandsOnPage(page, 'info@domaine.com');
    expect(commands.some((c) => c.includes('queue quarantine') && c.includes('--sender=willm.b@orange.fr') && c.includes('--sender=bmyerd77@yahoo.com'))).toBe(true);
    expect(commands.some((c) => c.includes('--sender=info@domaine.com'))).toBe(false);

    const mail = join(demoData, 'mail');
    const legitimate = [...queuedSenders(mail)].filter(([s]) => !['willm.b@orange.fr', 'bmyerd77@yahoo.com'].includes(s));
    const outputs: string[] = [];
    for (const command of commands) {
      // As a newcomer pastes them: one at a time, into a shell, from wherever they are.
      outputs.push(execFileSync('sh', ['-c', command], { cwd: dir, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] }));
    }
    expect(outputs.join('\n')).toContain("the password of info@domaine.com is changed");

    const after = queuedSenders(mail);
    expect(after.get('willm.b@orange.fr')).toBeUndefined();
    expect(after.get('bmyerd77@yahoo.com')).toBeUndefined();
    expect([...after].sort()).toEqual(legitimate.sort());
    const quarantined = readdirSync(join(mail, '_quarantine')).filter((n) => !n.startsWith('.'));
    expect(quarantined).toHaveLength(1);
    const manifest = readFileSync(join(mail, '_quarantine', quarantined[0]!, 'manifest.jsonl'), 'utf8').trim().split('\n');
    expect(manifest.length).toBeGreaterThanOrEqual(1350);

    // The attack is over: no new spam reaches the queue, and the stolen account's logins now fail.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(queuedSenders(mail).get('willm.b@orange.fr')).toBeUndefined();
    await waitFor(
      async () => (sample(await fetchText(`${base}/metrics`), 'mailrelay_account_auth_failures_total{account="info@domaine.com"}') ?? 0) > 0,
      { what: "the attacker's failed logins", timeoutMs: 90_000 },
    );
  }, 240_000);
});
