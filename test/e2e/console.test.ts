// The incident console in a real headless Chromium, at a phone's width: on
// the demo, and on generated logs where a busy honest account has ten times
// the lifetime total of an account stolen three minutes ago, with a queue
// that records the forged envelope senders and one that records the account.
// The stolen account must come first and be marked, with its forged senders;
// its filled-in quarantine command must name the spam's queued sender; the
// page must not scroll sideways; and HTML in a username or a sender must stay
// text. Screenshots go to $MAILRELAY_SCREENSHOTS (default: a temp folder);
// with MAILRELAY_UPDATE_SCREENSHOT=1 the demo's becomes docs/console.png.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSpam, writeQueue } from '../../src/demo/queue.js';
import { writeScenario, type ScenarioOptions } from '../../src/demo/scenario.js';
import { Chromium, type Page } from '../harness/chromium.js';
import { REPO_ROOT, startExporter, type RunningExporter } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, waitFor, type Child } from '../harness/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-console-'));
const shots = process.env.MAILRELAY_SCREENSHOTS ?? join(dir, 'screenshots');
mkdirSync(shots, { recursive: true });

const PHONE = { width: 390, height: 844, mobile: true };
const updateScreenshot = process.env.MAILRELAY_UPDATE_SCREENSHOT === '1';
const FORGED = ['willm.b@orange.fr', 'bmyerd77@yahoo.com'];
/** A username and a sender that are HTML: they must reach the page as text. */
const HOSTILE_ACCOUNT = '<img src=x id=pwned onerror=alert(1)//@domaine.com';
const HOSTILE_SENDER = 'x"onmouseover="alert(3)&amp;@evil.example';

const START = Date.UTC(2026, 10, 27, 12, 0, 0) / 1000;
const DURATION = 26 * 3600;
const END = START + DURATION;
const scenario: ScenarioOptions = {
  seed: 1313,
  start: new Date(START * 1000),
  durationSeconds: DURATION,
  localDomain: 'domaine.com',
  legitimateUsers: 5,
  inboundPerMinute: 1,
  outboundDeliveriesPerMinute: 0.5,
  attack: { account: 'info@domaine.com', startSecond: DURATION - 180, messagesPerMinute: 10, recipientsPerMessage: 8, ips: 12, foreignSender: true, senders: FORGED },
  busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2 },
};

function hhmmss(t: number): string {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

/** An IceWarp session logging in as HOSTILE_ACCOUNT and sending one message to 210 recipients as HOSTILE_SENDER. */
function hostileSession(time: number): string {
  const at = (line: string) => `203.0.113.66 [7A7A] ${hhmmss(time)} ${line}\r\n`;
  const b64 = Buffer.from(HOSTILE_ACCOUNT).toString('base64');
  let text = at('Connected') + at('>>> 220 mail.domaine.com ESMTP IceWarp 13.0.2') + at('<<< EHLO x') + at('>>> 250 mail.domaine.com Hello x');
  text += at('<<< AUTH LOGIN') + at('>>> 334 VXNlcm5hbWU6') + at(`<<< ${b64}`) + at('>>> 334 UGFzc3dvcmQ6') + at('<<< c2VjcmV0') + at('>>> 235 2.0.0 Authentication successful');
  text += at(`<<< MAIL FROM: <${HOSTILE_SENDER}>`) + at('>>> 250 2.1.0 Sender ok');
  for (let i = 0; i < 210; i++) text += at(`<<< RCPT TO: <r${i}@gmail.com>`) + at(`>>> 250 2.1.5 <r${i}@gmail.com>... Recipient ok; will forward`);
  text += at('<<< DATA') + at(">>> 354 Enter mail, end with '.' on a line by itself") + at('>>> 250 2.6.0 Message accepted for delivery') + at('<<< QUIT') + at('Disconnected');
  return text;
}

let browser: Chromium;
let demo: Child | undefined;
let demoUrl: string;
const exporters: Record<'forged' | 'account', RunningExporter | undefined> = { forged: undefined, account: undefined };

beforeAll(async () => {
  const logs = join(dir, 'logs');
  await writeScenario(logs, scenario, { crlf: true });
  appendFileSync(join(logs, `s${new Date(END * 1000).toISOString().slice(0, 10).replaceAll('-', '')}.log`), hostileSession(END - 120));
  const queueOptions = { seed: 7, legitimateMessages: 40, spamMessages: 300, retryFraction: 0.5, incomingPairs: 2, incomingBakPairs: 0, incomingBakOrphans: 0 };
  // A queue whose original sender line records the forged MAIL FROM, and one that records the authenticated account.
  writeQueue(join(dir, 'forged', 'mail'), { ...queueOptions, spamSender: FORGED[0]! });
  addSpam(join(dir, 'forged', 'mail'), 40, { sender: FORGED[1]!, seed: 8 });
  addSpam(join(dir, 'forged', 'mail'), 5, { sender: HOSTILE_SENDER, seed: 9 });
  writeQueue(join(dir, 'account', 'mail'), { ...queueOptions, spamSender: 'info@domaine.com' });

  const port = await freePort();
  // The README's screenshot shows a readable folder rather than a random one.
  const demoDir = updateScreenshot ? join(tmpdir(), 'mailrelay-demo', 'demo-data') : join(dir, 'demo-data');
  demo = spawnChild(process.execPath, [join(REPO_ROOT, 'dist/src/demo/main.js')], { env: { ...process.env, PORT: String(port), DEMO_DIR: demoDir } });
  demoUrl = `http://127.0.0.1:${port}/`;
  for (const kind of ['forged', 'account'] as const) {
    exporters[kind] = await startExporter({
      dir: join(dir, kind),
      configYaml: [
        'icewarp:',
        `  log_directory: ${logs}`,
        `  mail_directory: ${join(dir, kind, 'mail')}`,
        'local_domains: [domaine.com]',
        'start_at: beginning',
        `positions_file: ${join(dir, kind, 'positions.json')}`,
        '',
      ].join('\n'),
    });
    const url = exporters[kind]!.url;
    await waitFor(async () => (await fetchText(`${url}/-/ready`)) === 'Ready.\n', { what: `${kind} exporter ready`, timeoutMs: 60_000 });
  }
  await waitFor(async () => (await fetchText(`${demoUrl}-/ready`)) === 'Ready.\n', { what: 'the demo ready', timeoutMs: 90_000 });
  browser = await Chromium.launch();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  for (const e of Object.values(exporters)) await e?.stop();
  rmSync(dir, { recursive: true, force: true });
  if (updateScreenshot) rmSync(join(tmpdir(), 'mailrelay-demo'), { recursive: true, force: true });
});

interface Card {
  account: string;
  classes: string;
  badge: string;
  text: string;
  commands: string[];
}

/** What a reader sees, read from the rendered DOM. */
async function read(page: Page): Promise<{ cards: Card[]; scrollWidth: number; clientWidth: number; scripts: number; images: number; pwned: boolean; text: string }> {
  return page.evaluate(`(() => ({
    cards: [...document.querySelectorAll('article.account')].map((a) => ({
      account: a.querySelector('.name').textContent,
      classes: a.className,
      badge: a.querySelector('.badge').textContent,
      text: a.textContent,
      commands: [...a.querySelectorAll('pre code')].map((c) => c.textContent),
    })),
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    scripts: document.scripts.length,
    images: document.images.length,
    pwned: document.getElementById('pwned') !== null || Boolean(window.__pwned),
    text: document.body.textContent,
  }))()`);
}

async function open(url: string, shot: string): Promise<Awaited<ReturnType<typeof read>> & { page: Page }> {
  const page = await browser.open(url, PHONE);
  writeFileSync(join(shots, shot), await page.screenshot());
  return { page, ...(await read(page)) };
}

function quarantineCommand(card: Card): string | undefined {
  return card.commands.find((c) => c.includes(' queue quarantine ') && !c.endsWith(' --apply'));
}

describe('the incident console in Chromium, at 390 px', () => {
  it('on the demo: the stolen account first and marked, its forged senders and its quarantine command; no sideways scroll', async () => {
    const view = await open(demoUrl, 'demo-390.png');
    const [stolen] = view.cards;
    expect(stolen).toMatchObject({ account: 'info@domaine.com', classes: 'account suspicious', badge: 'suspicious' });
    for (const sender of FORGED) expect(stolen!.text).toContain(sender);
    expect(quarantineCommand(stolen!)).toMatch(/ queue quarantine --mail-dir=\S+ --sender=willm\.b@orange\.fr --sender=bmyerd77@yahoo\.com$/);
    expect(view.scrollWidth).toBeLessThanOrEqual(view.clientWidth);
    expect(view.clientWidth).toBe(390);
    if (updateScreenshot) {
      const wide = await browser.open(demoUrl, { width: 900, height: 1500 });
      writeFileSync(join(REPO_ROOT, 'docs', 'console.png'), await wide.screenshot(false));
      await wide.close();
    }
    await view.page.close();
  });

  it('a queue recording the forged sender: the account stolen 3 minutes ago comes before a busy one with 10× its lifetime total', async () => {
    const incident = JSON.parse(await fetchText(`${exporters.forged!.url}/api/v1/incident`)) as {
      logs: { accounts: { account: string; verdict: string; totals: { externalRecipients: number } }[] };
    };
    const total = (a: string) => incident.logs.accounts.find((x) => x.account === a)!.totals.externalRecipients;
    expect(total('newsletter@domaine.com')).toBeGreaterThanOrEqual(10 * total('info@domaine.com'));

    const view = await open(`${exporters.forged!.url}/`, 'forged-390.png');
    const [stolen] = view.cards;
    expect(stolen).toMatchObject({ account: 'info@domaine.com', classes: 'account suspicious', badge: 'suspicious' });
    for (const sender of FORGED) expect(stolen!.text).toContain(sender);
    expect(quarantineCommand(stolen!)).toBe(
      `mailrelay-exporter queue quarantine --mail-dir=${join(dir, 'forged', 'mail')} --sender=willm.b@orange.fr --sender=bmyerd77@yahoo.com`,
    );
    // The busy account is not suspicious: it comes after, at most watched for its daily volume.
    const busy = view.cards.find((c) => c.account === 'newsletter@domaine.com');
    if (busy) expect(busy.classes).toBe('account watch');
    expect(view.cards.findIndex((c) => c.account === 'newsletter@domaine.com')).not.toBe(0);
    expect(view.scrollWidth).toBeLessThanOrEqual(view.clientWidth);
    await view.page.close();
  });

  it('a queue recording the account: the quarantine command names the account, and says its own mail matches too', async () => {
    const view = await open(`${exporters.account!.url}/`, 'account-390.png');
    const [stolen] = view.cards;
    expect(stolen).toMatchObject({ account: 'info@domaine.com', classes: 'account suspicious' });
    for (const sender of FORGED) expect(stolen!.text).toContain(sender);
    expect(quarantineCommand(stolen!)).toBe(`mailrelay-exporter queue quarantine --mail-dir=${join(dir, 'account', 'mail')} --sender=info@domaine.com`);
    expect(stolen!.text).toContain('legitimate queued mail matches too');
    expect(view.scrollWidth).toBeLessThanOrEqual(view.clientWidth);
    await view.page.close();
  });

  it('keeps HTML in a username and a sender inert: shown as text, no element, no script, no dialog', async () => {
    const view = await open(`${exporters.forged!.url}/`, 'hostile-390.png');
    const hostile = view.cards.find((c) => c.account === HOSTILE_ACCOUNT);
    expect(hostile?.classes).toBe('account suspicious');
    expect(hostile!.text).toContain(HOSTILE_SENDER);
    // Its quarantine command: the sender as one shell word.
    expect(quarantineCommand(hostile!)).toBe(`mailrelay-exporter queue quarantine --mail-dir=${join(dir, 'forged', 'mail')} '--sender=${HOSTILE_SENDER}'`);
    expect(view.text).toContain(HOSTILE_ACCOUNT);
    expect([view.images, view.scripts, view.pwned]).toEqual([0, 1, false]);
    // Hovering over the sender would run an injected handler: there is none.
    expect(await view.page.evaluate<number>('document.querySelectorAll("[onmouseover],[onerror]").length')).toBe(0);
    expect(view.page.dialogs).toEqual([]);
    expect(view.scrollWidth).toBeLessThanOrEqual(view.clientWidth);
    await view.page.close();
  });
});
