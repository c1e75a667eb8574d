import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountBook } from '../accounts/book.js';
import { ExporterRegistry } from '../collectors/registry.js';
import { buildIncident, type Incident } from '../incident/incident.js';
import { domainKey, type SmtpFact } from '../smtp/facts.js';
import { CONSOLE_CSP, renderConsole } from './console.js';
import { createHttpApp, INCIDENT_API_PATH } from './server.js';

const NOW = Date.UTC(2026, 10, 28, 14, 0, 0) / 1000;
const HOSTILE_ACCOUNT = '<img src=x onerror=alert(1)>@domaine.com';
const HOSTILE_SENDER = '"><script>alert(2)</script>@evil.example';

/** An attack by an account whose name, and whose forged sender, are HTML. */
function hostileIncident(): Incident {
  const book = new AccountBook({ maxAccounts: 10, maxFailedUsernames: 10, windowSeconds: 3600, maxSendersPerAccount: 5 });
  for (let i = 0; i < 40; i++) {
    const facts: SmtpFact[] = [
      { type: 'auth', time: NOW - 200 + i, peer: `198.51.100.${i}`, mechanism: 'login', username: HOSTILE_ACCOUNT, success: true },
      {
        type: 'message',
        time: NOW - 200 + i,
        peer: `198.51.100.${i}`,
        account: HOSTILE_ACCOUNT,
        mailFrom: HOSTILE_SENDER,
        recipients: Array.from({ length: 8 }, (_, j) => ({ domainKey: domainKey(`d${j}.example`), external: true })),
      },
    ];
    for (const f of facts) book.apply(f);
  }
  const snapshot = {
    folders: [{ folder: '_outgoing', queue: 'outgoing' as const, deferred: false, messages: 300, bytes: 900_000, oldestAgeSeconds: 200 }],
    topSenders: [{ sender: HOSTILE_SENDER, messages: 300 }],
    distinctSenders: 1,
    largestSameSize: { outgoing: 300, incoming: 0 },
  };
  return buildIncident(
    { log: { book, mta: 'icewarp' }, queue: { snapshot, mta: 'icewarp', location: '/opt/icewarp/mail', kind: 'folder' } },
    { now: new Date(NOW * 1000), exporterCommand: 'mailrelay-exporter' },
  );
}

const page = { version: '1.2.3', telemetryPath: '/metrics', apiPath: INCIDENT_API_PATH };

describe('renderConsole', () => {
  it('escapes every name from the logs and the queue: no tag of theirs reaches the page', () => {
    const html = renderConsole(hostileIncident(), page);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script>alert');
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;@domaine.com');
    expect(html).toContain('&#34;&#62;&#60;script&#62;alert(2)&#60;/script&#62;@evil.example');
  });

  it("allows exactly its own inline style and script by hash, and nothing else", () => {
    const html = renderConsole(hostileIncident(), page);
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(CONSOLE_CSP).toContain(`style-src ${hash(style)}`);
    expect(CONSOLE_CSP).toContain(`script-src ${hash(script)}`);
    expect(CONSOLE_CSP).toMatch(/^default-src 'none'; /);
    expect(html).not.toMatch(/ style="/);
  });

  it('marks the suspicious account and fills in its commands, with the forged sender quoted for the shell', () => {
    const html = renderConsole(hostileIncident(), page);
    expect(html).toMatch(/<article class="account suspicious" id="account-1">\s*<h3><span class="badge suspicious">suspicious<\/span>/);
    // The sender is one shell word, then HTML-escaped.
    expect(html).toContain(`queue quarantine --mail-dir=/opt/icewarp/mail &#39;--sender=&#34;&#62;&#60;script&#62;alert(2)&#60;/script&#62;@evil.example&#39;</code>`);
  });
});

describe('HTTP routes of the console', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function serve(): Promise<string> {
    const app = createHttpApp({
      registry: new ExporterRegistry(),
      telemetryPath: '/metrics',
      version: '1.2.3',
      ready: async () => ({ caughtUp: true, problems: [] }),
      reload: async () => true,
      incident: async () => hostileIncident(),
      notice: 'A <b>demo</b>.',
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    close = () => new Promise((r) => server.close(() => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('serves the page with its CSP, never cached, and the same data as JSON for scripts', async () => {
    const base = await serve();
    const html = await fetch(`${base}/`);
    expect(html.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(html.headers.get('cache-control')).toBe('no-store');
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await html.text();
    expect(body).toContain('A &#60;b&#62;demo&#60;/b&#62;.');
    const json = await fetch(`${base}${INCIDENT_API_PATH}`);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    const data = (await json.json()) as Incident;
    expect(data.logs!.accounts[0]).toMatchObject({ account: HOSTILE_ACCOUNT, verdict: 'suspicious' });
    expect(data.queue!.topSenders[0]).toMatchObject({ sender: HOSTILE_SENDER, accounts: [HOSTILE_ACCOUNT] });
  });
});
