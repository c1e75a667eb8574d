// SMTP sessions written as Postfix 3.7 with Dovecot SASL logs them (the
// line formats the real Postfix of test/e2e wrote, see src/postfix/*.test.ts):
// smtpd's connect, client= (with the SASL user), rejects, warnings and
// disconnect with its command counts; Dovecot's auth_verbose line for a
// failed login; cleanup and qmgr; a content filter's re-injection (amavis on
// 10024/10025, XFORWARD) for mail from logged-in clients; delivery to local
// mailboxes (virtual) and deferral of everything else (no route out: the
// queue fills as on a server whose spam cannot leave). Used by the demo, the
// benchmark and the shared parser case suite.

export interface PostfixRecipient {
  address: string;
  /** accept, refuse as an unknown user, or refuse as relaying (Relay access denied). */
  reply: 'accept' | 'unknown' | 'relay';
}

export interface PostfixTransaction {
  mailFrom: string;
  recipients: PostfixRecipient[];
  /** false: a milter refused the message at end of data (it is never queued). */
  accepted: boolean;
}

export interface PostfixSession {
  /** Unix seconds of the connection. */
  at: number;
  ip: string;
  helo: string;
  auths: { mechanism: 'LOGIN' | 'PLAIN' | 'CRAM-MD5'; username: string; success: boolean }[];
  transactions: PostfixTransaction[];
}

export interface PostfixLine {
  /** Unix seconds, with a fraction. */
  time: number;
  text: string;
}

export interface PostfixLogOptions {
  /** Domains whose mailboxes this server holds: delivered by virtual; the rest is deferred. */
  localDomains: string[];
  /** rfc3339: rsyslog's default on Debian 12; traditional: `Nov 29 18:42:01` (UTC wall clock), as maillog_file writes. */
  format?: 'rfc3339' | 'traditional';
  host?: string;
  /** Usernames that exist in Dovecot's passdb: a failure is a password mismatch, not an unknown user. */
  knownUsers?: ReadonlySet<string>;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A message waiting in the deferred queue, for the queue manager's retries. */
export interface DeferredMessage {
  queueId: string;
  from: string;
  size: number;
  nrcpt: number;
  recipients: string[];
  /** Unix seconds of its arrival. */
  arrival: number;
}

export class PostfixLogWriter {
  private readonly local: Set<string>;
  private readonly host: string;
  private readonly format: 'rfc3339' | 'traditional';
  private pid = 20_000;
  private queue = 0xa3600b4;
  private micro = 0;
  private knownUsers: ReadonlySet<string>;
  /** Messages deferred so far (their recipients outside): what `postqueue -j` lists. */
  readonly deferred: DeferredMessage[] = [];

  constructor(opts: PostfixLogOptions) {
    this.local = new Set(opts.localDomains.map((d) => d.toLowerCase()));
    this.host = opts.host ?? 'mail';
    this.format = opts.format ?? 'rfc3339';
    this.knownUsers = opts.knownUsers ?? new Set();
  }

  setKnownUsers(users: ReadonlySet<string>): void {
    this.knownUsers = users;
  }

  isLocal(address: string): boolean {
    return this.local.has(address.slice(address.lastIndexOf('@') + 1).toLowerCase());
  }

  /** A queue ID as Postfix's short form (hex). */
  nextQueueId(): string {
    this.queue += 0x1f3;
    return this.queue.toString(16).toUpperCase().padStart(11, 'C');
  }

  /** The syslog line at `time` for `tag` (`postfix/smtpd[123]`, `dovecot`). */
  line(time: number, tag: string, message: string): PostfixLine {
    const d = new Date(Math.floor(time) * 1000);
    this.micro = (this.micro + 7919) % 1_000_000;
    const stamp =
      this.format === 'rfc3339'
        ? `${d.toISOString().slice(0, 19)}.${String(this.micro).padStart(6, '0')}+00:00`
        : `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;
    return { time, text: `${stamp} ${this.host} ${tag}: ${message}` };
  }

  /** Every line one session leaves in the log, its deliveries included, in time order. */
  session(s: PostfixSession): PostfixLine[] {
    const out: PostfixLine[] = [];
    const log = (time: number, tag: string, message: string) => out.push(this.line(time, tag, message));
    // Logged-in clients use submission; the rest comes in on port 25.
    const submission = s.auths.length > 0;
    const pid = ++this.pid;
    const smtpd = `${submission ? 'postfix/submission/smtpd' : 'postfix/smtpd'}[${pid}]`;
    const peer = `unknown[${s.ip}]`;
    let at = s.at;
    log(at, smtpd, `connect from ${peer}`);
    let login: { method: string; username: string } | undefined;
    for (const a of s.auths) {
      at += 0.2;
      // Dovecot canonicalises usernames to lower case (auth_username_format = %Lu).
      const username = a.username.toLowerCase();
      if (a.success) {
        login = { method: a.mechanism, username };
        continue; // Postfix says nothing until a message is queued
      }
      const known = this.knownUsers.has(username);
      log(at, 'dovecot', `auth: passwd-file(${username},${s.ip}): ${known ? 'Password mismatch' : 'unknown user'}`);
      at += 2; // Dovecot's failure delay
      log(at, smtpd, `warning: ${peer}: SASL ${a.mechanism} authentication failed: (reason unavailable), sasl_username=${username}`);
    }
    let mails = 0;
    let rcpts = 0;
    let rcptsOk = 0;
    let datas = 0;
    let rsets = 0;
    const queued: { id: string; from: string; size: number; accepted: string[]; at: number }[] = [];
    for (const tx of s.transactions) {
      at += 0.3;
      mails++;
      let id: string | undefined;
      const accepted: string[] = [];
      for (const r of tx.recipients) {
        rcpts++;
        const tail = `from=<${tx.mailFrom}> to=<${r.address}> proto=ESMTP helo=<${s.helo}>`;
        if (r.reply === 'accept') {
          rcptsOk++;
          if (id === undefined) {
            // The queue file is opened at the first accepted recipient.
            id = this.nextQueueId();
            log(at, smtpd, `${id}: client=${peer}${login ? `, sasl_method=${login.method}, sasl_username=${login.username}` : ''}`);
          }
          accepted.push(r.address);
          continue;
        }
        const reply =
          r.reply === 'relay'
            ? `554 5.7.1 <${r.address}>: Relay access denied`
            : this.isLocal(r.address)
              ? `550 5.1.1 <${r.address}>: Recipient address rejected: User unknown in virtual mailbox table`
              : `550 5.1.1 <${r.address}>: Recipient address rejected: User unknown`;
        log(at, smtpd, `${id ?? 'NOQUEUE'}: reject: RCPT from ${peer}: ${reply}; ${tail}`);
      }
      if (id === undefined) {
        rsets++;
        continue;
      }
      datas++;
      const cleanup = `postfix/cleanup[${pid + 500}]`;
      at += 0.1;
      log(at, cleanup, `${id}: message-id=<${Math.floor(at)}.${id}@${s.helo}>`);
      if (!tx.accepted) {
        log(at, cleanup, `${id}: milter-reject: END-OF-MESSAGE from ${peer}: 5.7.1 Message refused; from=<${tx.mailFrom}> to=<${accepted[0]}> proto=ESMTP helo=<${s.helo}>`);
        continue;
      }
      const size = 2048 + ((accepted.length * 37 + tx.mailFrom.length * 13) % 900);
      log(at, 'postfix/qmgr[1207]', `${id}: from=<${tx.mailFrom}>, size=${size}, nrcpt=${accepted.length} (queue active)`);
      queued.push({ id, from: tx.mailFrom, size, accepted, at });
    }
    at += 0.1;
    const auth = s.auths.length === 0 ? '' : ` auth=${login ? 1 : 0}${login && s.auths.length === 1 ? '' : `/${s.auths.length}`}`;
    const commands = 2 + s.auths.length + mails + rcpts + datas + rsets;
    const ok = 2 + (login ? 1 : 0) + mails + rcptsOk + datas + rsets;
    log(
      at,
      smtpd,
      `disconnect from ${peer} ehlo=1${auth}${mails ? ` mail=${mails}` : ''}${rcpts ? ` rcpt=${rcptsOk === rcpts ? rcpts : `${rcptsOk}/${rcpts}`}` : ''}${datas ? ` data=${datas}` : ''}${rsets ? ` rset=${rsets}` : ''} quit=1 commands=${ok === commands ? commands : `${ok}/${commands}`}`,
    );
    for (const m of queued) {
      at += 0.4;
      if (submission) {
        // amavis on 10024 scans it and re-injects it on 10025 with XFORWARD: a second queue ID for the same message.
        const second = this.nextQueueId();
        const reinject = `postfix/smtpd[${pid + 700}]`;
        log(at, reinject, 'connect from localhost[127.0.0.1]');
        log(at, reinject, `${second}: client=localhost[127.0.0.1], orig_queue_id=${m.id}, orig_client=${peer}`);
        log(at, `postfix/cleanup[${pid + 500}]`, `${second}: message-id=<${Math.floor(m.at)}.${m.id}@${s.helo}>`);
        log(at, 'postfix/qmgr[1207]', `${second}: from=<${m.from}>, size=${m.size + 612}, nrcpt=${m.accepted.length} (queue active)`);
        for (const r of m.accepted) {
          log(at, `postfix/smtp[${pid + 800}]`, `${m.id}: to=<${r}>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.9, delays=0.02/0.01/0.01/0.86, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as ${second})`);
        }
        log(at, reinject, `disconnect from localhost[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt=${m.accepted.length} data=1 quit=1 commands=${5 + m.accepted.length}`);
        log(at, 'postfix/qmgr[1207]', `${m.id}: removed`);
        at += 0.5;
        this.deliver(out, at, second, m.from, m.size + 612, m.accepted);
      } else {
        this.deliver(out, at, m.id, m.from, m.size, m.accepted);
      }
    }
    return out;
  }

  private deliver(out: PostfixLine[], at: number, id: string, from: string, size: number, rcpts: string[]): void {
    const external: string[] = [];
    for (const r of rcpts) {
      if (this.isLocal(r)) {
        out.push(this.line(at, 'postfix/virtual[1311]', `${id}: to=<${r}>, relay=virtual, delay=0.05, delays=0.03/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)`));
      } else {
        external.push(r);
        out.push(this.line(at, 'postfix/smtp[1312]', `${id}: to=<${r}>, relay=none, delay=0.2, delays=0.03/0.01/0.16/0, dsn=4.4.3, status=deferred (${unreachable(r)})`));
      }
    }
    if (external.length === 0) out.push(this.line(at, 'postfix/qmgr[1207]', `${id}: removed`));
    else this.deferred.push({ queueId: id, from, size, nrcpt: rcpts.length, recipients: external, arrival: at });
  }

  /** The queue manager's retry of every deferred message: the same recipients deferred again (qmgr logs the original nrcpt). */
  retry(at: number): PostfixLine[] {
    const out: PostfixLine[] = [];
    for (const d of this.deferred) {
      out.push(this.line(at, 'postfix/qmgr[1207]', `${d.queueId}: from=<${d.from}>, size=${d.size}, nrcpt=${d.nrcpt} (queue active)`));
      const delay = Math.max(1, Math.round(at - d.arrival));
      for (const r of d.recipients) {
        out.push(this.line(at, 'postfix/error[1320]', `${d.queueId}: to=<${r}>, relay=none, delay=${delay}, delays=${delay}/0.01/0/0, dsn=4.4.3, status=deferred (delivery temporarily suspended: ${unreachable(r)})`));
      }
    }
    return out;
  }
}

function unreachable(address: string): string {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  return `Host or domain name not found. Name service error for name=${domain} type=MX: Host not found, try again`;
}
