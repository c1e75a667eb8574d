// A test-owned Postfix (Debian's 3.7) with Dovecot SASL on 127.0.0.1: its
// own configuration, queue, data and Dovecot directories under one temp
// folder, logging through maillog_file, started once per test file and
// stopped (Postfix master and Dovecot both gone) before the folder is removed.
//
//   port 25-like `smtpPort`      inbound mail and mynetworks (127.0.0.200) relaying; SASL offered
//   `submissionPort`             SASL clients, through a content filter that re-injects with
//                                XFORWARD on `reinjectPort` (amavis' setup, without amavis)
// Mail for other domains goes to a relayhost on a closed port: it piles up
// deferred, as on a server whose network is down; nothing leaves 127.0.0.1.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnChild, waitFor, type Child } from './processes.js';

const run = promisify(execFile);
export const POSTFIX = '/usr/sbin/postfix';
export const POSTQUEUE = '/usr/sbin/postqueue';
export const POSTSUPER = '/usr/sbin/postsuper';
export const DOVECOT = '/usr/sbin/dovecot';
export const SWAKS = '/usr/bin/swaks';

export interface PostfixOptions {
  /** Domains whose mailboxes Postfix holds (virtual_mailbox_domains). */
  localDomains: string[];
  /** Mailboxes, and the SASL users among them with their passwords (Dovecot passwd-file). */
  mailboxes: string[];
  users: Record<string, string>;
  /** Clients trusted to relay without AUTH (mynetworks). */
  mynetworks: string[];
}

export interface RunningPostfix {
  dir: string;
  configDir: string;
  queueDir: string;
  /** Postfix's maillog_file. */
  maillog: string;
  smtpPort: number;
  submissionPort: number;
  reinjectPort: number;
  readLog(): string;
  /** `postqueue -j`, parsed. */
  queue(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** Starts Postfix and Dovecot; on failure, stops what started and says why, with the logs. */
export async function startPostfix(opts: PostfixOptions): Promise<RunningPostfix> {
  const dir = await mkdtemp(join(tmpdir(), 'mailrelay-postfix-e2e-'));
  await chmod(dir, 0o755); // the postfix user must reach the queue below it
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const dataDir = join(dir, 'data');
  const vmail = join(dir, 'vmail');
  const dovecotDir = join(dir, 'dovecot');
  const maillog = join(dir, 'maillog');
  for (const d of [configDir, queueDir, dataDir, vmail, dovecotDir]) await mkdir(d);
  const id = async (flag: string, user: string) => Number((await run('id', [flag, user])).stdout);
  await chown(dataDir, await id('-u', 'postfix'), await id('-g', 'postfix'));
  await chmod(dataDir, 0o700);
  await chown(vmail, 65534, 65534);
  const [smtpPort, submissionPort, reinjectPort, deadPort] = [await freePort(), await freePort(), await freePort(), await freePort()];

  await writeFile(join(configDir, 'vmailbox'), opts.mailboxes.map((m) => `${m} ${m.replace('@', '/')}/\n`).join(''));
  await writeFile(
    join(configDir, 'main.cf'),
    `compatibility_level = 3.6
queue_directory = ${queueDir}
data_directory = ${dataDir}
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.${opts.localDomains[0]}
mydestination =
virtual_mailbox_domains = ${opts.localDomains.join(' ')}
virtual_mailbox_maps = texthash:${join(configDir, 'vmailbox')}
virtual_mailbox_base = ${vmail}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = ${opts.mynetworks.join(' ')} 127.0.0.1/32
relayhost = [127.0.0.1]:${deadPort}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
queue_run_delay = 1h
minimal_backoff_time = 1h
maximal_backoff_time = 2h
maillog_file = ${maillog}
maillog_file_prefixes = ${dir}
biff = no
`,
  );
  await writeFile(
    join(configDir, 'master.cf'),
    `127.0.0.1:${smtpPort} inet n - n - - smtpd
127.0.0.1:${submissionPort} inet n - n - - smtpd -o syslog_name=postfix/submission -o content_filter=scan:[127.0.0.1]:${reinjectPort}
127.0.0.1:${reinjectPort} inet n - n - - smtpd -o content_filter= -o smtpd_authorized_xforward_hosts=127.0.0.0/8 -o receive_override_options=no_unknown_recipient_checks -o smtpd_sasl_auth_enable=no
scan unix - - n - 4 smtp -o smtp_send_xforward_command=yes -o relayhost=
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`,
  );
  await writeFile(join(dovecotDir, 'users'), Object.entries(opts.users).map(([u, p]) => `${u}:{PLAIN}${p}\n`).join(''));
  await chmod(join(dovecotDir, 'users'), 0o644);
  const dovecotConf = join(dovecotDir, 'dovecot.conf');
  await writeFile(
    dovecotConf,
    `base_dir = ${join(dovecotDir, 'run')}
state_dir = ${join(dovecotDir, 'state')}
protocols =
listen = 127.0.0.1
log_path = ${join(dovecotDir, 'dovecot.log')}
auth_mechanisms = plain login
auth_verbose = yes
# A spray of failed logins in a test should not wait 2 s each.
auth_failure_delay = 0
disable_plaintext_auth = no
ssl = no
default_login_user = dovenull
default_internal_user = dovecot
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${join(dovecotDir, 'users')}
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}
# Nor grow into 15 s for an address that failed before (Dovecot's anvil penalty); Postfix would time out on it.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener ${join(queueDir, 'private', 'auth')} {
    mode = 0660
    user = postfix
    group = postfix
  }
}
`,
  );

  let dovecot: Child | undefined;
  const readLog = () => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  const stop = async (): Promise<void> => {
    const pidFile = join(queueDir, 'pid', 'master.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
    await run(POSTFIX, ['-c', configDir, 'stop']).catch(() => undefined);
    // postfix stop only signals the master: wait until it is gone before removing its files.
    if (pid) await waitFor(async () => !isRunning(pid), { what: `postfix master ${pid} to exit`, timeoutMs: 30_000 }).catch(() => undefined);
    await dovecot?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run(POSTFIX, ['-c', configDir, 'start'], { timeout: 30_000 });
    // Dovecot creates its auth socket in Postfix's queue (private/ exists once Postfix has started).
    dovecot = spawnChild(DOVECOT, ['-F', '-c', dovecotConf]);
    await waitFor(async () => existsSync(join(queueDir, 'private', 'auth')), { what: 'the Dovecot auth socket' });
    for (const port of [smtpPort, submissionPort, reinjectPort]) {
      await waitFor(async () => (await greeting(port)).startsWith('220 '), { what: `postfix smtpd on port ${port}` });
    }
  } catch (err) {
    const logs = `maillog:\n${readLog()}\ndovecot:\n${dovecot?.output() ?? ''}`;
    await stop();
    throw new Error(`postfix or dovecot did not start (${(err as Error).message})\n${logs}`, { cause: err });
  }
  return {
    dir,
    configDir,
    queueDir,
    maillog,
    smtpPort,
    submissionPort,
    reinjectPort,
    readLog,
    async queue() {
      const { stdout } = await run(POSTQUEUE, ['-c', configDir, '-j'], { maxBuffer: 256 << 20 });
      return stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    stop,
  };
}

export interface SwaksSession {
  port: number;
  /** The client's address, 127.x. */
  from: string;
  helo: string;
  auth?: { mechanism: 'LOGIN' | 'PLAIN'; user: string; password: string };
  mailFrom?: string;
  to?: string[];
  /** Stop after AUTH (a login attempt without mail). */
  quitAfterAuth?: boolean;
}

/** One SMTP session with swaks; resolves with swaks' exit code (0: every step accepted) and its transcript. */
export async function swaks(s: SwaksSession): Promise<{ code: number; output: string }> {
  const args = ['--server', `127.0.0.1:${s.port}`, '--local-interface', s.from, '--helo', s.helo, '--timeout', '30'];
  if (s.auth) args.push('--auth', s.auth.mechanism, '--auth-user', s.auth.user, '--auth-password', s.auth.password);
  if (s.quitAfterAuth) args.push('--quit-after', 'AUTH');
  if (s.mailFrom !== undefined) args.push('--from', s.mailFrom);
  if (s.to) args.push('--to', s.to.join(','));
  try {
    const { stdout, stderr } = await run(SWAKS, args, { timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
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
function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
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
