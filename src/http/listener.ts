// Serves an HTTP handler on the listen address, plain or with TLS and basic
// auth from --web.config.file, the way the exporter-toolkit's web.Serve does:
// whether TLS is on is decided at start; the certificate files are read again
// for every new connection and the file itself for every request, so renewed
// certificates and changed users apply without a restart. A file that has
// become invalid refuses connections (TLS) or answers 500, and says why in
// the log, rather than falling back to less protection.
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../logger.js';
import { clientConnected } from '../turns.js';
import { BasicAuth } from './basicAuth.js';
import { readTlsFiles, readWebConfig, tlsContext, type TlsContext, type WebConfig } from './webConfig.js';

/** A TLS handshake must be done within this time. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ListenOptions {
  handler: RequestListener;
  host: string | undefined;
  port: number;
  webConfigFile?: string;
  logger: Logger;
  /**
   * A connection on which nothing could be written or read for this long is
   * cut off: a client that stops reading its /metrics response would
   * otherwise hold the response (and a scrape slot) forever. 0: never.
   */
  stallTimeoutMs?: number;
}

export interface WebServer {
  readonly address: { address: string; port: number };
  readonly tls: boolean;
  close(): Promise<void>;
}

/** Reads the web config (a bad one throws: fatal at start), then listens. */
export async function listen(opts: ListenOptions): Promise<WebServer> {
  const log = opts.logger;
  const file = opts.webConfigFile;
  const first = file ? await readWebConfig(file) : undefined;
  const auth = new BasicAuth();
  const startedWithTls = first?.tls !== undefined;

  let configError = false;
  const guarded: RequestListener = (req, res) => {
    if (!file) return opts.handler(req, res);
    void (async () => {
      let config: WebConfig;
      try {
        config = await readWebConfig(file);
        if (configError) log.info('web config readable again', { file });
        configError = false;
      } catch (err) {
        if (!configError) log.error('cannot read the web config: answering 500 until it is fixed', { file, err });
        configError = true;
        return plain(res, 500, 'Internal Server Error\n');
      }
      for (const [name, value] of config.headers) res.setHeader(name, value);
      const outcome = await auth.check(config.users, req.headers.authorization);
      if (outcome === 'allowed') return opts.handler(req, res);
      if (outcome === 'busy') return plain(res, 503, 'Service Unavailable: too many authentication checks at once\n');
      res.setHeader('WWW-Authenticate', 'Basic');
      return plain(res, 401, 'Unauthorized\n');
    })().catch((err: unknown) => {
      log.error('web request failed', { err });
      if (!res.headersSent) plain(res, 500, 'Internal Server Error\n');
      else res.destroy();
    });
  };

  const http = createHttpServer(guarded);
  // A plain connection is accepted here; a TLS one by the server below, which says so too.
  http.on('connection', () => clientConnected());
  // Node's socket timeout is inactivity: it fires while a paused client leaves the response unwritten.
  http.timeout = opts.stallTimeoutMs ?? 0;
  http.on('timeout', (socket: Socket) => {
    log.debug('cutting off a stalled connection: nothing read or written for the stall timeout', { remote: socket.remoteAddress, timeout_ms: http.timeout });
    socket.destroy();
  });
  let server: Server | NetServer = http;
  const rawSockets = new Set<Socket>();
  if (startedWithTls) {
    const tlsFor = tlsContexts(file!);
    await tlsFor(); // a certificate that cannot be read is fatal at start
    server = createNetServer({ pauseOnConnect: true }, (socket) => {
      clientConnected();
      rawSockets.add(socket);
      socket.once('close', () => rawSockets.delete(socket));
      socket.on('error', () => socket.destroy());
      void tlsFor().then(
        (ctx) => secure(socket, ctx),
        (err: unknown) => {
          log.error('refusing a connection: the TLS settings of the web config cannot be used', { file, err });
          socket.destroy();
        },
      );
    });
  }

  // One tls.Server per TLS context, never listening: connections are handed to it, and once
  // the handshake (and Node's certificate checks) succeed, on to the one HTTP server.
  const tlsServers = new WeakMap<TlsContext, TlsServer>();
  const secure = (socket: Socket, ctx: TlsContext): void => {
    let tlsServer = tlsServers.get(ctx);
    if (!tlsServer) {
      tlsServer = createTlsServer({ ...ctx.options, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
      tlsServer.on('secureConnection', (tlsSocket: TLSSocket) => {
        const why = ctx.refuse(tlsSocket);
        if (why !== undefined) {
          log.debug('TLS client refused', { remote: tlsSocket.remoteAddress, reason: why });
          tlsSocket.destroy();
          return;
        }
        http.emit('connection', tlsSocket);
      });
      // Plain HTTP to the TLS port, a client that does not trust the certificate, a refused client certificate.
      tlsServer.on('tlsClientError', (err, tlsSocket) => {
        log.debug('TLS handshake failed', { remote: tlsSocket.remoteAddress, err });
        tlsSocket.destroy();
      });
      tlsServers.set(ctx, tlsServer);
    }
    tlsServer.emit('connection', socket);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The HTTP server gets its TLS connections handed over and never listens itself; Node starts
  // its per-connection request and header timeouts, and closeAllConnections(), on 'listening'.
  if (server !== http) http.emit('listening');
  const addr = server.address();
  const address = typeof addr === 'object' && addr ? { address: addr.address, port: addr.port } : { address: opts.host ?? '', port: opts.port };
  log.info(startedWithTls ? 'TLS is enabled' : 'TLS is disabled', {
    address: `${address.address}:${address.port}`,
    ...(file ? { web_config_file: file, basic_auth_users: first!.users.size } : {}),
  });
  return {
    address,
    tls: startedWithTls,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (server !== http) http.close(() => undefined); // stops its timeout checks
      http.closeAllConnections();
      for (const s of rawSockets) s.destroy();
      await closed;
    },
  };
}

/**
 * The TLS context for a new connection, from the web config and the files it
 * names as they are now; built again only when one of them changed.
 */
function tlsContexts(file: string): () => Promise<TlsContext> {
  let last: { tlsJson: string; files: Map<string, Buffer>; ctx: TlsContext } | undefined;
  return async () => {
    const config = await readWebConfig(file);
    if (!config.tls) throw new Error('tls_server_config was removed; restart the exporter to serve plain HTTP');
    const files = await readTlsFiles(config.tls);
    const tlsJson = JSON.stringify(config.tls);
    if (last && last.tlsJson === tlsJson && sameFiles(last.files, files)) return last.ctx;
    const ctx = tlsContext(config.tls, files);
    last = { tlsJson, files, ctx };
    return ctx;
  };
}

function sameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.get(k)?.equals(v)) return false;
  return true;
}

function plain(res: ServerResponse<IncomingMessage>, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(body);
}
