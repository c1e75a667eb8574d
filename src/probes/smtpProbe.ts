// The open-relay probe: a real SMTP conversation with our own server, as an
// outsider would have it: EHLO, MAIL FROM an external domain, RCPT TO another
// external domain, then RSET and QUIT. It never sends DATA, so no message can
// ever leave, even when the server is open: the RCPT reply is the answer.
import { isIP, Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { StringDecoder } from 'node:string_decoder';
import type { HostPort } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { forEachLimited } from './schedule.js';

/** RFC 5321 allows 512 octets per reply line; be generous, but bounded: the peer may be hostile. */
const MAX_LINE = 4096;
const MAX_REPLY_LINES = 100;

export class SmtpProbeError extends Error {
  constructor(
    readonly step: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${step}: ${message}`, options);
    this.name = 'SmtpProbeError';
  }
}

export interface SmtpReply {
  code: number;
  /** The text of each line, without the code. */
  lines: string[];
}

export interface ReplyLine {
  code: number;
  /** "250-..." continues the reply; "250 ..." (or a bare "250") ends it. */
  more: boolean;
  text: string;
}

export function parseReplyLine(line: string): ReplyLine | undefined {
  const m = /^([2-5][0-5]\d)(?:([ -])(.*))?$/.exec(line);
  if (!m) return undefined;
  return { code: Number(m[1]), more: m[2] === '-', text: m[3] ?? '' };
}

/** Folds reply lines into one reply; undefined while it is not complete. Throws on a malformed reply. */
export function foldReply(lines: readonly string[]): { reply: SmtpReply; used: number } | undefined {
  const texts: string[] = [];
  let code: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const parsed = parseReplyLine(lines[i]!);
    if (!parsed) throw new SmtpProbeError('reply', `malformed reply line ${JSON.stringify(lines[i]!.slice(0, 80))}`);
    if (code !== undefined && parsed.code !== code) {
      throw new SmtpProbeError('reply', `reply code changed from ${code} to ${parsed.code} within one reply`);
    }
    code = parsed.code;
    texts.push(parsed.text);
    if (!parsed.more) return { reply: { code, lines: texts }, used: i + 1 };
    if (texts.length >= MAX_REPLY_LINES) throw new SmtpProbeError('reply', `more than ${MAX_REPLY_LINES} lines in one reply`);
  }
  return undefined;
}

/** A minimal SMTP client: one command at a time, every wait bounded by the timeout. */
export class SmtpClient {
  private socket: Socket | TLSSocket;
  private decoder = new StringDecoder('utf8');
  private partial = '';
  private lines: string[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onError = (err: Error) => this.fail(new SmtpProbeError('connection', err.message, { cause: err }));
  private readonly onClose = () => this.fail(new SmtpProbeError('connection', 'closed by the server'));

  private constructor(
    socket: Socket,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  static connect(target: HostPort, timeoutMs: number, signal?: AbortSignal): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const giveUp = (message: string) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new SmtpProbeError('connect', message));
      };
      const onAbort = () => giveUp('probe stopped');
      if (signal?.aborted) return giveUp('probe stopped');
      signal?.addEventListener('abort', onAbort);
      const timer = setTimeout(() => giveUp(`no connection within ${timeoutMs / 1000}s`), timeoutMs);
      socket.once('error', (err) => giveUp(err.message));
      socket.connect({ host: target.host, port: target.port }, () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new SmtpClient(socket, timeoutMs));
      });
    });
  }

  /** Reads one (possibly multi-line) reply. */
  read(step: string): Promise<SmtpReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new SmtpProbeError(step, `no reply within ${this.timeoutMs / 1000}s`)), this.timeoutMs);
      const attempt = () => {
        try {
          const folded = foldReply(this.lines);
          if (folded) {
            this.lines.splice(0, folded.used);
            done();
            resolve(folded.reply);
            return;
          }
        } catch (err) {
          this.fail(err as Error);
        }
        if (this.failure) {
          done();
          reject(this.failure.message.startsWith(`${step}:`) ? this.failure : new SmtpProbeError(step, this.failure.message, { cause: this.failure }));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
      };
      this.wake = attempt;
      attempt();
    });
  }

  /** Sends one command line and reads its reply. */
  async command(line: string, step = line.split(' ')[0] ?? line): Promise<SmtpReply> {
    // Config values end up here: a CR or LF would smuggle a second command (such as DATA).
    if (/[\r\n]/.test(line)) throw new SmtpProbeError(step, 'command contains a line break');
    if (this.failure) throw new SmtpProbeError(step, this.failure.message, { cause: this.failure });
    this.socket.write(`${line}\r\n`);
    return this.read(step);
  }

  /**
   * Switches to TLS after a 2xx reply to STARTTLS. The certificate is not
   * verified (see docs/active-checks.md): the probe asks whether the server
   * relays, and checking the certificate would make that answer depend on
   * the certificate, which other checks watch.
   */
  async startTls(servername: string | undefined): Promise<void> {
    // Bytes the server sent before the handshake would be read as if they came over TLS (CVE-2011-0411 style injection).
    if (this.lines.length > 0 || this.partial !== '') throw new SmtpProbeError('STARTTLS', 'the server sent data after its STARTTLS reply');
    const plain = this.socket as Socket;
    this.detach(plain);
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
    this.socket = secure;
    this.decoder = new StringDecoder('utf8');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new SmtpProbeError('STARTTLS', `no TLS handshake within ${this.timeoutMs / 1000}s`));
      }, this.timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.removeAllListeners('error');
        resolve();
      });
      secure.once('error', (err) => {
        clearTimeout(timer);
        secure.destroy();
        reject(new SmtpProbeError('STARTTLS', `TLS handshake failed: ${err.message}`, { cause: err }));
      });
    });
    this.attach(secure);
  }

  close(reason = 'closed'): void {
    this.fail(new SmtpProbeError('connection', reason));
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private receive(chunk: Buffer): void {
    const parts = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) this.lines.push(part.endsWith('\r') ? part.slice(0, -1) : part);
    if (this.partial.length > MAX_LINE || this.lines.some((l) => l.length > MAX_LINE)) {
      this.fail(new SmtpProbeError('reply', `a reply line longer than ${MAX_LINE} characters`));
      return;
    }
    this.wake?.();
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.socket.destroy();
    this.wake?.();
  }
}

export interface RelayProbeSettings {
  targets: HostPort[];
  /** Seconds for the connection and for each reply. */
  timeout: number;
  mail_from: string;
  rcpt_to: string;
  starttls: boolean;
  helo: string;
}

export interface RelayProbeResult {
  /** host:port, as the `target` label. */
  target: string;
  /** Every step up to the RCPT reply was answered as expected. */
  success: boolean;
  /** RCPT TO an external domain, from an external sender and without AUTH, got 2xx: an open relay. */
  accepted: boolean;
  durationSeconds: number;
  /** Unix seconds when the probe ended. */
  finishedAt: number;
  /** The RCPT reply, when there was one ("554 5.7.1 ... Relay access denied"). */
  rcptReply?: string;
  error?: string;
  tls: boolean;
}

export function targetLabel(target: HostPort): string {
  return isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

function expect2xx(reply: SmtpReply, step: string): void {
  if (reply.code < 200 || reply.code > 299) {
    throw new SmtpProbeError(step, `expected 2xx, got ${reply.code} ${(reply.lines[0] ?? '').slice(0, 200)}`);
  }
}

/** One probe of one target. Never throws: a failure is a result with success false. */
export async function probeOpenRelay(
  target: HostPort,
  settings: Omit<RelayProbeSettings, 'targets'>,
  track: (client: SmtpClient | undefined) => void = () => {},
  signal?: AbortSignal,
): Promise<RelayProbeResult> {
  const started = performance.now();
  const result: RelayProbeResult = { target: targetLabel(target), success: false, accepted: false, durationSeconds: 0, finishedAt: 0, tls: false };
  let client: SmtpClient | undefined;
  try {
    client = await SmtpClient.connect(target, settings.timeout * 1000, signal);
    track(client);
    if (signal?.aborted) client.close('probe stopped');
    expect2xx(await client.read('greeting'), 'greeting');
    let ehlo = await client.command(`EHLO ${settings.helo}`);
    if (settings.starttls) {
      expect2xx(ehlo, 'EHLO');
      if (!ehlo.lines.some((l) => /^STARTTLS\b/i.test(l))) throw new SmtpProbeError('EHLO', 'STARTTLS is not offered');
      expect2xx(await client.command('STARTTLS'), 'STARTTLS');
      await client.startTls(isIP(target.host) ? undefined : target.host);
      result.tls = true;
      ehlo = await client.command(`EHLO ${settings.helo}`);
    } else if (ehlo.code >= 500) {
      // An RFC 821 server: HELO is as good for the question asked.
      ehlo = await client.command(`HELO ${settings.helo}`);
    }
    expect2xx(ehlo, 'EHLO');
    expect2xx(await client.command(`MAIL FROM:<${settings.mail_from}>`, 'MAIL FROM'), 'MAIL FROM');
    const rcpt = await client.command(`RCPT TO:<${settings.rcpt_to}>`, 'RCPT TO');
    result.rcptReply = `${rcpt.code} ${rcpt.lines.join(' ')}`.slice(0, 300);
    result.accepted = rcpt.code >= 200 && rcpt.code <= 299;
    result.success = true;
    // The answer is in; RSET drops the transaction, never DATA.
    await client.command('RSET');
    await client.command('QUIT');
  } catch (err) {
    if (!result.success) result.error = (err as Error).message;
  } finally {
    client?.close();
    track(undefined);
    result.durationSeconds = (performance.now() - started) / 1000;
    result.finishedAt = Date.now() / 1000;
  }
  return result;
}

export interface RelayProbeRound {
  finishedAt: number;
  durationSeconds: number;
  probes: number;
  failures: number;
}

/** Probes every target once a round; keeps the last result per target for the collector. */
export class OpenRelayProbe {
  private readonly results = new Map<string, RelayProbeResult>();
  private readonly open = new Set<SmtpClient>();
  private last: RelayProbeRound | undefined;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly settings: RelayProbeSettings,
    private readonly log: Logger,
  ) {}

  lastResults(): RelayProbeResult[] {
    return [...this.results.values()];
  }

  lastRound(): RelayProbeRound | undefined {
    return this.last;
  }

  async runRound(): Promise<RelayProbeRound> {
    const started = performance.now();
    let failures = 0;
    // Targets are few and each waits on the network: probe them side by side, a few at a time.
    await forEachLimited(this.settings.targets, 4, async (target) => {
      let mine: SmtpClient | undefined;
      const result = await probeOpenRelay(target, this.settings, (client) => {
        if (mine) this.open.delete(mine);
        mine = client;
        if (client) this.open.add(client);
      }, this.abort.signal);
      if (this.stopped) return;
      if (!result.success) {
        failures++;
        this.log.warn('relay probe failed', { target: result.target, err: result.error });
      } else if (result.accepted) {
        this.log.error('open relay: the server accepted a recipient in an external domain without AUTH', {
          target: result.target,
          rcpt_to: this.settings.rcpt_to,
          reply: result.rcptReply,
        });
      }
      this.results.set(result.target, result);
    });
    const round = { finishedAt: Date.now() / 1000, durationSeconds: (performance.now() - started) / 1000, probes: this.settings.targets.length, failures };
    if (!this.stopped) this.last = round;
    return round;
  }

  /** Closes conversations in flight; their results are dropped. */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
    for (const client of this.open) client.close('probe stopped');
    this.open.clear();
  }
}
