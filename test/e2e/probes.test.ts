// The active checks against real servers on 127.0.0.1, started and stopped
// here: dnsmasq as the DNSBL resolver, Postfix as the MTA (open on one
// listener, closed on another), plus peers that never answer.
import { execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket as NetSocket, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { dnsblCollector } from '../../src/collectors/dnsbl.js';
import { relayProbeCollector } from '../../src/collectors/relayProbe.js';
import { COLLECTORS } from '../../src/features.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { DnsblChecker, type DnsblSettings } from '../../src/probes/dnsbl.js';
import { OpenRelayProbe, probeOpenRelay } from '../../src/probes/smtpProbe.js';
import { startDnsmasq, type Dnsmasq } from '../harness/dnsmasq.js';
import { fetchText, freePort, waitFor } from '../harness/processes.js';

const run = promisify(execFile);
const POSTFIX = '/usr/sbin/postfix';

// ---- dnsmasq: a real resolver with DNSBL-shaped data ----

/**
 * zen.test answers like a blocklist: 192.0.2.1 listed twice (127.0.0.2 and
 * 127.0.0.4), 2001:db8::1 listed (127.0.0.3), anything else NXDOMAIN.
 * refusing.test answers 127.255.255.254 to everything, as Spamhaus does for
 * public resolvers. lame.test is not known: with no upstream, dnsmasq REFUSES.
 */
function startZenDnsmasq(dir: string): Promise<Dnsmasq> {
  const v6name = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2';
  return startDnsmasq(dir, [
    '--local=/zen.test/',
    '--host-record=1.2.0.192.zen.test,127.0.0.2',
    '--host-record=1.2.0.192.zen.test,127.0.0.4',
    `--host-record=${v6name}.zen.test,127.0.0.3`,
    '--address=/refusing.test/127.255.255.254',
  ]);
}

/** A "resolver" that reads queries and never answers. */
async function silentResolver(): Promise<{ port: number; socket: UdpSocket; queries: () => number }> {
  const socket = createSocket('udp4');
  let queries = 0;
  socket.on('message', () => queries++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, socket, queries: () => queries };
}

// ---- Postfix: a test-owned instance with its own config and queue ----

interface Postfix {
  dir: string;
  configDir: string;
  /** mynetworks = 0.0.0.0/0, the classic misconfiguration: an open relay. */
  openPort: number;
  /** permit_mynetworks (127.0.0.2/32 only), reject_unauth_destination: closed. */
  closedPort: number;
  /** closed, and STARTTLS not offered. */
  plainPort: number;
  maillog(): string;
  stop(): Promise<void>;
}

async function startPostfix(): Promise<Postfix> {
  const dir = await mkdtemp(join(tmpdir(), 'mailrelay-postfix-'));
  // The postfix user must reach the queue and data directories under it.
  await chmod(dir, 0o755);
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const dataDir = join(dir, 'data');
  const maillog = join(dir, 'maillog');
  for (const d of [configDir, queueDir, dataDir]) await mkdir(d);
  const { stdout: uid } = await run('id', ['-u', 'postfix']);
  const { stdout: gid } = await run('id', ['-g', 'postfix']);
  await chown(dataDir, Number(uid), Number(gid));
  await chmod(dataDir, 0o700);
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mta.probe.test',
    '-keyout', join(configDir, 'key.pem'), '-out', join(configDir, 'cert.pem'),
  ]);
  const [openPort, closedPort, plainPort] = [await freePort(), await freePort(), await freePort()];
  await writeFile(
    join(configDir, 'main.cf'),
    `compatibility_level = 3.6
queue_directory = ${queueDir}
data_directory = ${dataDir}
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.probe.test
mydomain = probe.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.2/32
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
maillog_file = ${maillog}
maillog_file_prefixes = ${dir}
smtpd_tls_security_level = may
smtpd_tls_cert_file = ${join(configDir, 'cert.pem')}
smtpd_tls_key_file = ${join(configDir, 'key.pem')}
smtpd_tls_loglevel = 1
biff = no
`,
  );
  await writeFile(
    join(configDir, 'master.cf'),
    `127.0.0.1:${openPort} inet n - n - - smtpd -o mynetworks=0.0.0.0/0
127.0.0.1:${closedPort} inet n - n - - smtpd
127.0.0.1:${plainPort} inet n - n - - smtpd -o smtpd_tls_security_level=none
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
proxymap unix - - n - - proxymap
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`,
  );
  const readLog = () => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  const stop = async () => {
    const pidFile = join(queueDir, 'pid', 'master.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
    await run(POSTFIX, ['-c', configDir, 'stop']).catch(() => undefined);
    // postfix stop only signals the master: wait until it is gone (or a zombie nobody reaps) before removing its files.
    if (pid) await waitFor(async () => !isRunning(pid), { what: `postfix master ${pid} to exit` }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run(POSTFIX, ['-c', configDir, 'start'], { timeout: 30_000 });
    for (const port of [openPort, closedPort, plainPort]) {
      await waitFor(async () => (await smtpGreeting(port)).startsWith('220 '), { what: `postfix smtpd on port ${port}` });
    }
  } catch (err) {
    const log = readLog();
    await stop();
    throw new Error(`postfix did not start (${(err as Error).message}); is ${POSTFIX} installed? maillog:\n${log}`, { cause: err });
  }
  return { dir, configDir, openPort, closedPort, plainPort, maillog: readLog, stop };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/^\d+ \(.*\) Z/.test(stat);
}

/** Reads the greeting and hangs up. */
function smtpGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new NetSocket();
    let text = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('no greeting')));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        socket.end('QUIT\r\n');
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.connect(port, '127.0.0.1');
  });
}

/** A peer that accepts and never says a word. */
async function hangingPeer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('no address');
  return { server, port: addr.port, sockets };
}

/** The Postfix queue holds no message: nothing was accepted for delivery. */
async function queuedFiles(queueDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const q of ['maildrop', 'incoming', 'active', 'deferred', 'hold']) {
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else out.push(join(d, e.name));
      }
    };
    await walk(join(queueDir, q));
  }
  return out;
}

/**
 * Postfix's per-session summary: "disconnect from ... ehlo=2 starttls=1 mail=1 rcpt=1 rset=1 quit=1 commands=7",
 * of the sessions that said EHLO (startPostfix's readiness checks only read the greeting).
 */
function disconnectLines(log: string): string[] {
  return log.split('\n').filter((l) => /postfix\/smtpd\[\d+\]: disconnect from .* ehlo=/.test(l));
}

/** Runs cmd with input on stdin; stdout+stderr, or a rejection naming the exit code and output. */
function runWithInput(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`, { cause: err }));
      else resolve(stdout + stderr);
    });
    child.stdin?.end(input);
  });
}

function metricLines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

// ---- the tests ----

const ips = ['192.0.2.1', '198.51.100.7', '2001:db8::1'];

describe('DNSBL checks against dnsmasq', () => {
  let dir: string;
  let dns: Dnsmasq;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailrelay-dnsbl-'));
    dns = await startZenDnsmasq(dir);
  });
  afterAll(async () => {
    await dns?.child.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads listed, not listed, refused-by-zone and refused-by-resolver answers', async () => {
    const checker = new DnsblChecker(
      { ips, zones: ['zen.test', 'refusing.test', 'lame.test'], timeout: 5, resolver: { host: '127.0.0.1', port: dns.port }, concurrency: 2 },
      silentLogger,
    );
    expect([...checker.queryErrors()]).toEqual([['zen.test', 0], ['refusing.test', 0], ['lame.test', 0]]);
    const round = await checker.runRound();
    expect(round).toMatchObject({ queries: 9, errors: 6 });
    // Only zen.test gave usable answers; the other zones' pairs have no state.
    expect(checker.listings().sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '192.0.2.1', zone: 'zen.test', listed: true, answer: '127.0.0.2,127.0.0.4' },
      { ip: '198.51.100.7', zone: 'zen.test', listed: false, answer: '' },
      { ip: '2001:db8::1', zone: 'zen.test', listed: true, answer: '127.0.0.3' },
    ]);
    expect([...checker.queryErrors()]).toEqual([['zen.test', 0], ['refusing.test', 3], ['lame.test', 3]]);
    await checker.runRound();
    expect([...checker.queryErrors()]).toEqual([['zen.test', 0], ['refusing.test', 6], ['lame.test', 6]]);
  });

  it('keeps a listing when a later lookup fails, and counts the failure', async () => {
    const silent = await silentResolver();
    try {
      const settings: DnsblSettings = { ips: ['192.0.2.1'], zones: ['zen.test'], timeout: 1, concurrency: 1, resolver: { host: '127.0.0.1', port: dns.port } };
      const checker = new DnsblChecker(settings, silentLogger);
      await checker.runRound();
      expect(checker.listings()).toEqual([{ ip: '192.0.2.1', zone: 'zen.test', listed: true, answer: '127.0.0.2,127.0.0.4' }]);
      // Same checker, resolver gone quiet (the resolver address is read at the start of each round).
      settings.resolver = { host: '127.0.0.1', port: silent.port };
      const round = await checker.runRound();
      expect(round).toMatchObject({ queries: 1, errors: 1 });
      expect(silent.queries()).toBeGreaterThanOrEqual(1);
      expect(checker.listings()).toEqual([{ ip: '192.0.2.1', zone: 'zen.test', listed: true, answer: '127.0.0.2,127.0.0.4' }]);
      expect(checker.queryErrors().get('zen.test')).toBe(1);
    } finally {
      silent.socket.close();
    }
  });

  it('times out every query against a resolver that never answers, within a bounded round', async () => {
    const silent = await silentResolver();
    try {
      const checker = new DnsblChecker(
        { ips, zones: ['zen.test', 'refusing.test'], timeout: 1, resolver: { host: '127.0.0.1', port: silent.port }, concurrency: 8 },
        silentLogger,
      );
      const round = await checker.runRound();
      expect(round).toMatchObject({ queries: 6, errors: 6 });
      expect(silent.queries()).toBe(6);
      expect(checker.listings()).toEqual([]);
      expect([...checker.queryErrors()]).toEqual([['zen.test', 3], ['refusing.test', 3]]);
    } finally {
      silent.socket.close();
    }
  });
});

describe('open-relay probe against Postfix', () => {
  let mta: Postfix;
  beforeAll(async () => {
    mta = await startPostfix();
  });
  afterAll(async () => {
    await mta?.stop();
  });

  const settings = { timeout: 5, mail_from: 'relay-probe@example.org', rcpt_to: 'relay-probe@example.net', helo: 'probe.invalid' };

  it('finds the open listener open and the closed one closed, over STARTTLS, and never sends DATA', async () => {
    const open = await probeOpenRelay({ host: '127.0.0.1', port: mta.openPort }, { ...settings, starttls: true });
    expect(open).toMatchObject({ success: true, accepted: true, tls: true });
    expect(open.rcptReply).toMatch(/^250 2\.1\.5 Ok/);

    const closed = await probeOpenRelay({ host: '127.0.0.1', port: mta.closedPort }, { ...settings, starttls: true });
    expect(closed).toMatchObject({ success: true, accepted: false, tls: true });
    expect(closed.rcptReply).toMatch(/^554 5\.7\.1 <relay-probe@example\.net>: Relay access denied/);

    const plain = await probeOpenRelay({ host: '127.0.0.1', port: mta.closedPort }, { ...settings, starttls: false });
    expect(plain).toMatchObject({ success: true, accepted: false, tls: false });

    // The MTA's side: three sessions, each EHLO/MAIL/RCPT/RSET/QUIT, none with DATA, nothing queued.
    const sessions = await waitFor(async () => {
      const lines = disconnectLines(mta.maillog());
      return lines.length >= 3 && lines;
    }, { what: 'three disconnect lines in the postfix maillog' });
    // Sessions from different smtpd processes may reach the log in any order: compare their command counts as a set.
    expect(sessions.map((l) => l.replace(/^.* disconnect from unknown\[127\.0\.0\.1\] /, '')).sort()).toEqual([
      'ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=4/5',
      'ehlo=2 starttls=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=6/7',
      'ehlo=2 starttls=1 mail=1 rcpt=1 rset=1 quit=1 commands=7',
    ]);
    for (const line of sessions) expect(line).not.toMatch(/\bdata=|\bbdat=/);
    const log = mta.maillog();
    expect(log).toMatch(/TLS connection established from unknown\[127\.0\.0\.1\]/);
    expect(log).toMatch(/NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <relay-probe@example\.net>: Relay access denied; from=<relay-probe@example\.org> to=<relay-probe@example\.net> proto=ESMTP helo=<probe\.invalid>/);
    expect(await queuedFiles(join(mta.dir, 'spool'))).toEqual([]);
  });

  it('fails rather than probe in clear when STARTTLS is required and not offered', async () => {
    const result = await probeOpenRelay({ host: '127.0.0.1', port: mta.plainPort }, { ...settings, starttls: true });
    expect(result).toMatchObject({ success: false, accepted: false, tls: false });
    expect(result.error).toBe('EHLO: STARTTLS is not offered');
  });

  it('times out on a peer that never answers', async () => {
    const peer = await hangingPeer();
    try {
      const result = await probeOpenRelay({ host: '127.0.0.1', port: peer.port }, { ...settings, timeout: 1, starttls: false });
      expect(result).toMatchObject({ success: false, accepted: false });
      expect(result.error).toBe('greeting: no reply within 1s');
      // The probe hung up: the peer is left with no connection.
      await waitFor(async () => peer.sockets.size === 0, { what: 'the probe to close its connection' });
    } finally {
      for (const s of peer.sockets) s.destroy();
      await new Promise((r) => peer.server.close(r));
    }
  });

  it('stop() ends a conversation in flight', async () => {
    const peer = await hangingPeer();
    try {
      const probe = new OpenRelayProbe({ ...settings, timeout: 600, starttls: false, targets: [{ host: '127.0.0.1', port: peer.port }] }, silentLogger);
      const round = probe.runRound();
      await waitFor(async () => peer.sockets.size === 1, { what: 'the probe to connect' });
      probe.stop();
      await round;
      expect(probe.lastRound()).toBeUndefined();
      expect(probe.lastResults()).toEqual([]);
    } finally {
      for (const s of peer.sockets) s.destroy();
      await new Promise((r) => peer.server.close(r));
    }
  });
});

describe('the exporter with both active checks', () => {
  let dir: string;
  let dns: Dnsmasq;
  let mta: Postfix;
  let peer: Awaited<ReturnType<typeof hangingPeer>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailrelay-active-'));
    dns = await startZenDnsmasq(dir);
    mta = await startPostfix();
    peer = await hangingPeer();
  });
  afterAll(async () => {
    for (const s of peer?.sockets ?? []) s.destroy();
    if (peer) await new Promise((r) => peer.server.close(r));
    await mta?.stop();
    await dns?.child.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers both features in the feature list', () => {
    expect(COLLECTORS).toContain(dnsblCollector);
    expect(COLLECTORS).toContain(relayProbeCollector);
  });

  it('exports the last round of each check, ready at once, and logs an open relay', async () => {
    const configFile = join(dir, 'config.yml');
    await writeFile(
      configFile,
      `dnsbl:
  ips: ["192.0.2.1", "198.51.100.7", "2001:db8::1"]
  zones: [zen.test, refusing.test]
  resolver: 127.0.0.1:${dns.port}
  timeout: 2s
relay_probe:
  targets: ["127.0.0.1:${mta.openPort}", "127.0.0.1:${mta.closedPort}", "127.0.0.1:${peer.port}"]
  timeout: 1s
  starttls: true
`,
    );
    const logs: string[] = [];
    const app = new App(
      { configFile, listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', logger: createLogger('info', (l) => logs.push(l)), version: 'test' },
      [dnsblCollector, relayProbeCollector],
    );
    const { port } = await app.start();
    const base = `http://127.0.0.1:${port}`;
    try {
      // The hanging peer holds the first probe round for a second: readiness does not wait for it.
      expect(await fetchText(`${base}/-/ready`)).toBe('Ready.\n');

      const text = await waitFor(
        async () => {
          const t = await fetchText(`${base}/metrics`);
          return /^mailrelay_dnsbl_last_check_timestamp_seconds [1-9]/m.test(t) && /^mailrelay_collector_success\{collector="relay_probe"\}/m.test(t) && t;
        },
        { what: 'both checks to finish a round' },
      );
      expect(metricLines(text, 'mailrelay_dnsbl_listed').sort()).toEqual([
        'mailrelay_dnsbl_listed{ip="192.0.2.1",zone="zen.test",answer="127.0.0.2,127.0.0.4"} 1',
        'mailrelay_dnsbl_listed{ip="198.51.100.7",zone="zen.test",answer=""} 0',
        'mailrelay_dnsbl_listed{ip="2001:db8::1",zone="zen.test",answer="127.0.0.3"} 1',
      ]);
      expect(metricLines(text, 'mailrelay_dnsbl_query_errors_total').sort()).toEqual([
        'mailrelay_dnsbl_query_errors_total{zone="refusing.test"} 3',
        'mailrelay_dnsbl_query_errors_total{zone="zen.test"} 0',
      ]);
      const lastCheck = Number(/^mailrelay_dnsbl_last_check_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
      expect(Math.abs(lastCheck - Date.now() / 1000)).toBeLessThan(120);

      const open = `127.0.0.1:${mta.openPort}`;
      const closed = `127.0.0.1:${mta.closedPort}`;
      const hanging = `127.0.0.1:${peer.port}`;
      expect(metricLines(text, 'mailrelay_open_relay_probe_accepted').sort()).toEqual(
        [
          `mailrelay_open_relay_probe_accepted{target="${open}"} 1`,
          `mailrelay_open_relay_probe_accepted{target="${closed}"} 0`,
          `mailrelay_open_relay_probe_accepted{target="${hanging}"} 0`,
        ].sort(),
      );
      expect(metricLines(text, 'mailrelay_open_relay_probe_success').sort()).toEqual(
        [
          `mailrelay_open_relay_probe_success{target="${open}"} 1`,
          `mailrelay_open_relay_probe_success{target="${closed}"} 1`,
          `mailrelay_open_relay_probe_success{target="${hanging}"} 0`,
        ].sort(),
      );
      const durations = metricLines(text, 'mailrelay_open_relay_probe_duration_seconds');
      expect(durations).toHaveLength(3);
      for (const line of durations) expect(Number(line.split(' ')[1])).toBeGreaterThan(0);
      // A failed query or probe makes the round's collector_success 0.
      expect(text).toMatch(/^mailrelay_collector_success\{collector="dnsbl"\} 0$/m);
      expect(text).toMatch(/^mailrelay_collector_success\{collector="relay_probe"\} 0$/m);
      expect(text).toMatch(/^mailrelay_collector_duration_seconds\{collector="dnsbl"\} [0-9.e-]+$/m);

      // promtool prints lint findings and exits non-zero on problems: the output must be empty.
      const lint = await runWithInput('promtool', ['check', 'metrics'], text);
      expect(lint).toBe('');

      const page = await fetchText(`${base}/`);
      // The incident console says it first, then lists each target's answer.
      expect(page).toContain(`The relay probe was accepted by ${open}.`);
      expect(page).toContain('<td>192.0.2.1</td><td>zen.test</td><td>127.0.0.2,127.0.0.4</td>');
      expect(page).toMatch(new RegExp(`<tr class="dominant"><td>${open}</td><td>OPEN RELAY: 250 `));
      expect(page).toMatch(new RegExp(`<tr><td>${closed}</td><td>closed: 554 5\\.7\\.1 .*Relay access denied</td></tr>`));

      expect(logs.join('')).toMatch(/level=error msg="open relay: the server accepted a recipient in an external domain without AUTH" target=127\.0\.0\.1:\d+/);
      expect(logs.join('')).toMatch(/level=warn msg="dnsbl: listed" ip=192\.0\.2\.1 zone=zen\.test answer="127\.0\.0\.2,127\.0\.0\.4"/);
      expect(logs.join('')).toMatch(/level=warn msg="relay probe failed" target=127\.0\.0\.1:\d+ err="greeting: no reply within 1s"/);
      expect(disconnectLines(mta.maillog()).filter((l) => /\bdata=|\bbdat=/.test(l))).toEqual([]);
    } finally {
      await app.stop();
    }
  });

  it('answers a scrape while a DNSBL round is still waiting for DNS, and stop() cancels it', async () => {
    const silent = await silentResolver();
    const configFile = join(dir, 'config-silent.yml');
    await writeFile(
      configFile,
      `dnsbl:
  ips: ["192.0.2.1"]
  zones: [zen.test]
  resolver: 127.0.0.1:${silent.port}
  timeout: 10m
`,
    );
    const app = new App({ configFile, listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', logger: silentLogger, version: 'test' }, [dnsblCollector]);
    const { port } = await app.start();
    try {
      await waitFor(async () => silent.queries() >= 1, { what: 'the DNSBL query to reach the silent resolver' });
      const text = await fetchText(`http://127.0.0.1:${port}/metrics`);
      // The query is pending for 10 minutes; the scrape has what is known: no round yet, so no last-check time (not 0, 1970).
      expect(text).toContain('mailrelay_dnsbl_query_errors_total{zone="zen.test"} 0');
      expect(text).toContain('# TYPE mailrelay_dnsbl_last_check_timestamp_seconds gauge');
      expect(text).not.toMatch(/^mailrelay_dnsbl_last_check_timestamp_seconds /m);
      expect(text).not.toMatch(/^mailrelay_dnsbl_listed\{/m);
      expect(text).not.toMatch(/collector="dnsbl"/);
      expect(await fetchText(`http://127.0.0.1:${port}/-/ready`)).toBe('Ready.\n');
    } finally {
      await app.stop();
      silent.socket.close();
    }
  });
});
