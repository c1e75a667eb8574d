// Stalled /metrics readers (issue 12 item 9): clients that send a scrape and
// never read its answer each held the whole exposition (50 of them took the
// exporter from 110 MB to 408 MB at 10,000 accounts). The built exporter, with
// a real exposition far larger than the kernel's socket buffers, answers 503
// beyond --web.max-requests, keeps serving its other paths, and cuts off the
// stalled connections after --web.stall-timeout, after which scrapes work
// again. (Memory is measured in the `http` benchmark group, not here.)
import { mkdtempSync, rmSync } from 'node:fs';
import { get, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAccountsLog } from '../../bench/log.js';
import { startExporter, type RunningExporter } from '../harness/exporter.js';
import { fetchText, waitFor } from '../harness/processes.js';

// About 600 bytes of exposition per account: some 18 MB, more than a stalled
// localhost connection can hold in its kernel buffers (a few MB here).
const ACCOUNTS = 30_000;
const MAX_REQUESTS = 3;

let dir: string;
let exporter: RunningExporter;
const sockets: Socket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-scrapes-e2e-'));
  writeAccountsLog(join(dir, 'smtp'), ACCOUNTS);
  exporter = await startExporter({
    dir,
    configYaml: `icewarp:\n  log_directory: ${join(dir, 'smtp')}\nstart_at: beginning\npositions_file: ${join(dir, 'positions.json')}\nlimits:\n  max_accounts: ${ACCOUNTS}\n`,
    extraArgs: [`--web.max-requests=${MAX_REQUESTS}`, '--web.stall-timeout=3s', '--log.level=debug'],
  });
  await waitFor(async () => (await fetchText(`${exporter.url}/-/ready`)) === 'Ready.\n', { what: 'readiness', timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await exporter?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A scrape whose client does not read its answer (yet). */
function stalledScrape(): Socket {
  const socket = connect({ host: '127.0.0.1', port: exporter.port });
  sockets.push(socket);
  socket.pause(); // not reading: the response piles up until the kernel buffers are full
  socket.on('error', () => undefined); // the reset when the exporter cuts it off
  socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  return socket;
}

/** The first bytes of the answer to a scrape, after which the connection is dropped. */
function head(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: exporter.port });
    socket.once('error', reject);
    socket.once('data', (d: Buffer) => {
      socket.destroy();
      resolve(d.toString('latin1'));
    });
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

/**
 * Starts reading a paused scrape and resolves with what it got once the
 * connection ends. A paused socket does not notice that the peer dropped it
 * until it reads: what was buffered comes first, then the end or the reset.
 */
function readToEnd(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.once('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    socket.resume();
  });
}

/** A GET of /metrics over raw HTTP on its own connection, the body as sent (not decoded). */
function scrape(acceptEncoding?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(`${exporter.url}/metrics`, { agent: false, headers: acceptEncoding === undefined ? {} : { 'Accept-Encoding': acceptEncoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The per-account samples of an exposition: the log is read, so they stay put (the process's own metrics move). */
function accountLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('mailrelay_account_'));
}

describe('gzip, as Prometheus asks for it', () => {
  it('a scrape that accepts gzip gets the same exposition compressed; one that does not, plain text', { timeout: 60_000 }, async () => {
    const plain = await scrape();
    const compressed = await scrape('gzip');
    expect([plain.status, compressed.status]).toEqual([200, 200]);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(compressed.headers['content-encoding']).toBe('gzip');
    expect(compressed.headers.vary).toMatch(/accept-encoding/i);
    const lines = accountLines(plain.body.toString());
    expect(lines.length).toBeGreaterThan(ACCOUNTS * 5);
    expect(accountLines(gunzipSync(compressed.body).toString())).toEqual(lines);
    expect(compressed.body.length).toBeLessThan(plain.body.length / 10);
    // Quality 0 refuses it.
    expect((await scrape('gzip;q=0')).headers['content-encoding']).toBeUndefined();
  });

  it('scrapes of one round share its rendering and one compression of it', { timeout: 60_000 }, async () => {
    const plain = accountLines((await scrape()).body.toString());
    // Sent together, they are gathered into one round (10 ms), unless the machine is slow to accept them: then again.
    for (let attempt = 1; ; attempt++) {
      const [a, b, c] = await Promise.all([scrape('gzip'), scrape('gzip'), scrape()]);
      for (const r of [a!, b!, c!]) expect(r.status).toBe(200);
      for (const r of [a!, b!]) expect(accountLines(gunzipSync(r.body).toString())).toEqual(plain);
      expect(accountLines(c!.body.toString())).toEqual(plain);
      // A shared round answers with the whole body and its length; a scrape alone in its round is streamed.
      const shared = [a!, b!].every((r) => r.headers['content-length'] === String(r.body.length));
      if (shared) {
        expect(a!.body.equals(b!.body)).toBe(true);
        break;
      }
      expect(attempt, 'three scrapes sent together never shared a round').toBeLessThan(5);
    }
  });
});

describe('stalled /metrics readers', () => {
  it('beyond --web.max-requests get 503, other paths still answer, and the stalled ones are cut off after --web.stall-timeout', { timeout: 120_000 }, async () => {
    const full = await fetchText(`${exporter.url}/metrics`);
    expect(full).toContain(`mailrelay_account_messages_total{account="user${ACCOUNTS - 1}@domaine.com"} 1`);
    expect(full.length).toBeGreaterThan(10 * 2 ** 20);

    const stalled = Array.from({ length: MAX_REQUESTS }, stalledScrape);
    // Once the stalled scrapes are in flight, one more is refused at once. (Polled with
    // requests that read only the head of their answer: a 200 is dropped at once, freeing its slot.)
    await waitFor(async () => (await head()).startsWith('HTTP/1.1 503'), { what: 'a scrape beyond the limit to be refused', timeoutMs: 20_000, intervalMs: 50 });
    const refused = await fetch(`${exporter.url}/metrics`);
    expect([refused.status, await refused.text()]).toEqual([503, `Limit of concurrent requests reached (${MAX_REQUESTS}), try again later.\n`]);
    expect(await fetchText(`${exporter.url}/-/healthy`)).toBe('Healthy.\n');

    // The exporter drops each stalled connection on its own, after the stall timeout.
    await waitFor(async () => exporter.child.output().split('cutting off a stalled connection').length - 1 >= MAX_REQUESTS, {
      what: `the exporter to cut off ${MAX_REQUESTS} stalled connections`,
      timeoutMs: 30_000,
    });
    // Read now, each got the start of the exposition and then the reset, never its end (the chunked body's last chunk).
    for (const answer of await Promise.all(stalled.map(readToEnd))) {
      expect(answer.startsWith('HTTP/1.1 200 OK')).toBe(true);
      expect(answer.length).toBeLessThan(full.length);
      expect(answer.endsWith('\r\n0\r\n\r\n')).toBe(false);
    }

    // Their slots are free again: a normal scrape gets the whole exposition.
    const again = await fetchText(`${exporter.url}/metrics`);
    expect(again).toContain(`mailrelay_account_messages_total{account="user${ACCOUNTS - 1}@domaine.com"} 1`);
  });
});
