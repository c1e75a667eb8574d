// The listener with real TLS (certificates from openssl), real bcrypt hashes
// and real HTTP clients on 127.0.0.1.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, type Certificates } from '../../test/harness/certs.js';
import { createLogger } from '../logger.js';
import type { Incident } from '../incident/incident.js';
import type { ExporterRegistry } from '../collectors/registry.js';
import { listen, type WebServer } from './listener.js';
import { createHttpApp } from './server.js';

let dir: string;
let certs: Certificates;
let server: WebServer | undefined;
const logLines: string[] = [];
const logger = createLogger('debug', (l) => void logLines.push(l));
const PROM_HASH = bcrypt.hashSync('scrape-secret', 4);
const OTHER_HASH = bcrypt.hashSync('other-secret', 4);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailrelay-web-'));
  certs = makeCertificates(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await server?.close();
  server = undefined;
  logLines.length = 0;
});

const handler = (req: { url?: string }, res: { end(s: string): void }) => res.end(`hello from ${req.url}`);

async function start(webConfig: string | undefined): Promise<{ port: number; file: string }> {
  const file = join(dir, 'web.yml');
  if (webConfig !== undefined) writeFileSync(file, webConfig);
  server = await listen({ handler, host: '127.0.0.1', port: 0, webConfigFile: webConfig === undefined ? undefined : file, logger });
  return { port: server.address.port, file };
}

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  peerCN?: string;
}

function get(port: number, path: string, opts: RequestOptions & { tls?: boolean; user?: string; password?: string } = {}): Promise<Reply> {
  const { tls = true, user, password, ...rest } = opts;
  const headers: Record<string, string> = {};
  if (user !== undefined) headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(
      { host: '127.0.0.1', port, path, headers, ca: readFileSync(certs.caFile), agent: false, ...rest },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const peer = (res.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } }).getPeerCertificate?.();
          resolve({ status: res.statusCode!, body, headers: res.headers, ...(peer?.subject?.CN ? { peerCN: peer.subject.CN } : {}) });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

const tlsConfig = (extra = '') => `tls_server_config:
  cert_file: ${certs.serverCert}
  key_file: ${certs.serverKey}
${extra}`;
const users = `basic_auth_users:
  prometheus: ${PROM_HASH}
  grafana: ${OTHER_HASH}
`;

describe('listen without --web.config.file', () => {
  it('serves plain HTTP with no authentication', async () => {
    const { port } = await start(undefined);
    expect(await get(port, '/metrics', { tls: false })).toMatchObject({ status: 200, body: 'hello from /metrics' });
  });
});

describe('listen with TLS and basic auth', () => {
  it('serves the right user over TLS on every path, and refuses wrong passwords, unknown users and no credentials with 401', async () => {
    const { port } = await start(tlsConfig() + users);
    for (const path of ['/metrics', '/', '/-/ready', '/-/healthy', '/api/anything']) {
      expect(await get(port, path, { user: 'prometheus', password: 'scrape-secret' })).toMatchObject({ status: 200, body: `hello from ${path}` });
      const refused = await get(port, path);
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Basic');
      expect(refused.body).not.toContain('hello');
    }
    expect((await get(port, '/metrics', { user: 'prometheus', password: 'scrape-secreT' })).status).toBe(401);
    expect((await get(port, '/metrics', { user: 'nobody', password: 'scrape-secret' })).status).toBe(401);
    // A valid password of another user is not this user's.
    expect((await get(port, '/metrics', { user: 'prometheus', password: 'other-secret' })).status).toBe(401);
    expect((await get(port, '/metrics', { user: 'grafana', password: 'other-secret' })).status).toBe(200);
  });

  it('refuses plain HTTP on the TLS port: the connection ends without an HTTP answer', async () => {
    const { port } = await start(tlsConfig() + users);
    await expect(get(port, '/metrics', { tls: false, user: 'prometheus', password: 'scrape-secret' })).rejects.toThrow();
    // And the raw bytes that come back are no HTTP response.
    const answer = await new Promise<string>((resolve) => {
      const s = netConnect(port, '127.0.0.1', () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      s.on('data', (c) => (got += c.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
    });
    expect(answer).not.toMatch(/HTTP\/1\.[01] 200/);
    expect(answer).not.toContain('hello');
  });

  it('sets the response headers of http_server_config', async () => {
    const { port } = await start(tlsConfig() + 'http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n');
    const r = await get(port, '/');
    expect(r.headers['x-frame-options']).toBe('deny');
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('takes a renewed certificate for the next connection and a changed user for the next request, without a restart', async () => {
    const live = { cert: join(dir, 'live.pem'), key: join(dir, 'live-key.pem') };
    copyFileSync(certs.serverCert, live.cert);
    copyFileSync(certs.serverKey, live.key);
    const liveTls = `tls_server_config:\n  cert_file: ${live.cert}\n  key_file: ${live.key}\n`;
    const { port, file } = await start(liveTls + users);
    expect(await get(port, '/', { user: 'prometheus', password: 'scrape-secret' })).toMatchObject({ status: 200, peerCN: 'server' });
    const renewed = makeCertificates(dir, 'renewed');
    copyFileSync(renewed.serverCert, live.cert);
    copyFileSync(renewed.serverKey, live.key);
    expect(await get(port, '/', { user: 'prometheus', password: 'scrape-secret' })).toMatchObject({ status: 200, peerCN: 'renewed' });
    writeFileSync(file, liveTls + `basic_auth_users:\n  grafana: ${OTHER_HASH}\n`);
    expect((await get(port, '/', { user: 'prometheus', password: 'scrape-secret' })).status).toBe(401);
    expect((await get(port, '/', { user: 'grafana', password: 'other-secret' })).status).toBe(200);
  });

  it('refuses connections while the web config is broken, says why in the log, and recovers when it is fixed', async () => {
    const { port, file } = await start(tlsConfig() + users);
    writeFileSync(file, tlsConfig() + 'basic_auth_users:\n  prometheus: plaintext-password\n');
    await expect(get(port, '/', { user: 'prometheus', password: 'scrape-secret' })).rejects.toThrow();
    const logged = logLines.join('');
    expect(logged).toContain('basic_auth_users.prometheus: must be a bcrypt hash');
    expect(logged).not.toContain('plaintext-password');
    writeFileSync(file, tlsConfig() + users);
    expect((await get(port, '/', { user: 'prometheus', password: 'scrape-secret' })).status).toBe(200);
  });

  it('refuses a client below min_version', async () => {
    const { port } = await start(tlsConfig('  min_version: TLS13\n'));
    await expect(get(port, '/', { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    expect((await get(port, '/', { minVersion: 'TLSv1.3' })).status).toBe(200);
  });
});

describe('listen: closing', () => {
  it('ends kept-alive TLS connections and connections still in their handshake', async () => {
    const { port } = await start(tlsConfig());
    const ca = readFileSync(certs.caFile);
    // A client that keeps its connection open after a response, as Prometheus does.
    const kept = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    const closedKept = new Promise<void>((resolve) => kept.once('close', () => resolve()));
    kept.on('error', () => undefined);
    await new Promise<void>((resolve) => kept.once('secureConnect', () => resolve()));
    kept.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await new Promise<void>((resolve) => kept.once('data', () => resolve()));
    // And one that connected but never started TLS.
    const silent = netConnect(port, '127.0.0.1');
    const closedSilent = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    silent.on('error', () => undefined);
    await new Promise<void>((resolve) => silent.once('connect', () => resolve()));
    await server!.close();
    server = undefined;
    await Promise.all([closedKept, closedSilent]);
  });
});

describe('listen with client certificates', () => {
  const clientAuth = (type: string, extra = '') => tlsConfig(`  client_ca_file: ${certs.caFile}\n  client_auth_type: ${type}\n${extra}`);
  const withCert = (which: 'client' | 'stranger') => ({
    cert: readFileSync(which === 'client' ? certs.clientCert : certs.strangerCert),
    key: readFileSync(which === 'client' ? certs.clientKey : certs.strangerKey),
  });

  it('RequireAndVerifyClientCert: only a certificate from client_ca_file gets in', async () => {
    const { port } = await start(clientAuth('RequireAndVerifyClientCert'));
    expect((await get(port, '/', withCert('client'))).status).toBe(200);
    await expect(get(port, '/', withCert('stranger'))).rejects.toThrow();
    await expect(get(port, '/')).rejects.toThrow();
  });

  it('VerifyClientCertIfGiven: no certificate is fine, an unknown one is not', async () => {
    const { port } = await start(clientAuth('VerifyClientCertIfGiven'));
    expect((await get(port, '/')).status).toBe(200);
    expect((await get(port, '/', withCert('client'))).status).toBe(200);
    await expect(get(port, '/', withCert('stranger'))).rejects.toThrow();
  });

  it('client_allowed_sans: a verified certificate must also name an allowed SAN', async () => {
    const { port, file } = await start(clientAuth('RequireAndVerifyClientCert', '  client_allowed_sans: [prometheus.example.net]\n'));
    expect((await get(port, '/', withCert('client'))).status).toBe(200);
    writeFileSync(file, clientAuth('RequireAndVerifyClientCert', '  client_allowed_sans: [other.example.net]\n'));
    await expect(get(port, '/', withCert('client'))).rejects.toThrow();
  });
});

describe('listen at start', () => {
  it('fails with the file and key when the web config is invalid or a certificate is missing', async () => {
    await expect(start('tls_server_config:\n  cert_file: x.pem\n')).rejects.toThrow(/web\.yml: tls_server_config\.key_file: is required/);
    await expect(start(`tls_server_config:\n  cert_file: ${join(dir, 'missing.pem')}\n  key_file: ${certs.serverKey}\n`)).rejects.toThrow(
      /tls_server_config\.cert_file: cannot read .*missing\.pem/,
    );
  });

  it('resolves relative certificate paths against the web config file folder, as the exporter-toolkit does', async () => {
    const { port } = await start('tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n');
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(certs.caFile), servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    expect(socket.getPeerCertificate().subject.CN).toBe('server');
    socket.destroy();
  });
});

describe('listen: stalled clients', () => {
  it('cuts off a TLS client that stops reading a large response after the stall timeout', async () => {
    writeFileSync(join(dir, 'web.yml'), tlsConfig());
    const chunk = Buffer.alloc(1 << 16, 'x');
    let responseClosed!: () => void;
    const closed = new Promise<void>((resolve) => (responseClosed = resolve));
    // 64 MiB, written as a well-behaved handler does (waiting for 'drain'): far more than the socket buffers hold.
    const bigHandler = (_req: unknown, res: ServerResponse): void => {
      let left = 1024;
      res.once('close', () => responseClosed());
      const pump = (): void => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    server = await listen({ handler: bigHandler, host: '127.0.0.1', port: 0, webConfigFile: join(dir, 'web.yml'), logger, stallTimeoutMs: 500 });
    const client = tlsConnect({ host: '127.0.0.1', port: server.address.port, ca: readFileSync(certs.caFile), servername: 'localhost' });
    client.on('error', () => undefined);
    await new Promise<void>((resolve) => client.once('secureConnect', () => resolve()));
    client.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n');
    client.pause();
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the stalled response was not cut off within 10 s')), 10_000))]);
    expect(logLines.some((l) => l.includes('cutting off a stalled connection'))).toBe(true);
    client.destroy();
  });
});

describe("the stall timeout and the exporter's own time", () => {
  it('does not cut off a scrape that waits for a rendering longer than the stall timeout: only a client that stops reading is stalled', async () => {
    // A rendering of 600 ms against a stall timeout of 200 ms (a large exposition on a busy machine).
    const slowRegistry = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      writeMetrics: async (write: (chunk: Buffer) => void) => {
        await new Promise((r) => setTimeout(r, 600));
        write(Buffer.from('mailrelay_up 1\n'));
      },
    } as unknown as ExporterRegistry;
    const app = createHttpApp({
      registry: slowRegistry,
      telemetryPath: '/metrics',
      version: '1.2.3',
      ready: async () => ({ caughtUp: true, problems: [] }),
      reload: async () => true,
      incident: async () => ({}) as Incident,
    });
    server = await listen({ handler: app, host: '127.0.0.1', port: 0, logger, stallTimeoutMs: 200 });
    const reply = await get(server.address.port, '/metrics', { tls: false });
    expect([reply.status, reply.body]).toEqual([200, 'mailrelay_up 1\n']);
    expect(logLines.some((l) => l.includes('cutting off a stalled connection'))).toBe(false);
  });
});
