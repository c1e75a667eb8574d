// The shared scenario as Postfix 3.7 with Dovecot SASL logs it through
// rsyslog (Debian 12's default RFC 3339 times), in the line formats the real
// Postfix in src/postfix/*.test.ts wrote: port 25 for inbound mail and the
// trusted copier, the submission service with a content filter (re-injected
// with XFORWARD) for logged-in users, Dovecot's auth_verbose lines beside
// Postfix's own. Postfix names the SASL user only on a queued message's
// `client=` line, so every login in the scenario sends mail. Logrotate
// rotated the log in the middle of the day: mail.log.1, then mail.log.
import type { SessionScript } from './scenario.js';

const LOCAL = 'domaine.com';
const isLocal = (address: string) => address.toLowerCase().endsWith(`@${LOCAL}`);

export function postfixLog(sessions: readonly SessionScript[]): { name: string; text: string }[] {
  const lines: string[] = [];
  let pid = 20_000;
  let queue = 0xa3600b4;
  const nextId = () => (queue += 0x1f3).toString(16).toUpperCase().padStart(11, 'C');
  const stamp = (unix: number) => `${new Date(unix * 1000).toISOString().slice(0, 19)}.${String((lines.length * 7919) % 1_000_000).padStart(6, '0')}+00:00`;
  let clock = 0;
  // A log's times never go back: a step scheduled earlier than the last line is written at the last line's time.
  const log = (unix: number, tag: string, message: string) => lines.push(`${stamp((clock = Math.max(clock, unix)))} mail ${tag}: ${message}`);
  const knownUsers = new Set(sessions.flatMap((s) => s.auths.filter((a) => a.success).map((a) => a.username.toLowerCase())));
  /** Deferred messages, retried at the end of the day. */
  const deferred: { id: string; from: string; size: number; nrcpt: number; rcpts: string[] }[] = [];

  for (const s of sessions) {
    // Logged-in users send through submission; the rest arrives on port 25.
    const submission = s.auths.length > 0;
    const smtpd = `${submission ? 'postfix/submission/smtpd' : 'postfix/smtpd'}[${++pid}]`;
    const peer = `unknown[${s.ip}]`;
    let at = s.at;
    log(at, smtpd, `connect from ${peer}`);
    let login: { method: string; username: string } | undefined;
    let authTried = 0;
    for (const a of s.auths) {
      at++;
      authTried++;
      const method = a.mechanism === 'login' ? 'LOGIN' : 'PLAIN';
      // Dovecot canonicalises usernames to lower case (auth_username_format = %Lu).
      const username = a.username.toLowerCase();
      if (a.success) {
        login = { method, username };
        continue; // Postfix says nothing until a message is queued
      }
      log(at, 'dovecot', `auth: passwd-file(${username},${s.ip}): ${knownUsers.has(username) ? 'Password mismatch' : 'unknown user'}`);
      log(at + 2, smtpd, `warning: ${peer}: SASL ${method} authentication failed: (reason unavailable), sasl_username=${username}`);
      at += 2;
    }
    let mails = 0;
    let rcpts = 0;
    let rcptsOk = 0;
    let datas = 0;
    const delivered: (() => void)[] = [];
    for (const tx of s.transactions) {
      at++;
      mails++;
      let id: string | undefined;
      const accepted: string[] = [];
      const envelope = `from=<${tx.mailFrom}> to=<%s> proto=ESMTP helo=<${s.helo}>`;
      for (const r of tx.recipients) {
        rcpts++;
        const tail = envelope.replace('%s', r.address);
        if (r.reply === 'accept') {
          rcptsOk++;
          if (id === undefined) {
            id = nextId();
            log(at, smtpd, `${id}: client=${peer}${login ? `, sasl_method=${login.method}, sasl_username=${login.username}` : ''}`);
          }
          accepted.push(r.address);
          continue;
        }
        const reply =
          r.reply === 'relay'
            ? `554 5.7.1 <${r.address}>: Relay access denied`
            : isLocal(r.address)
              ? `550 5.1.1 <${r.address}>: Recipient address rejected: User unknown in virtual mailbox table`
              : `550 5.1.1 <${r.address}>: Recipient address rejected: User unknown`;
        log(at, smtpd, `${id ?? 'NOQUEUE'}: reject: RCPT from ${peer}: ${reply}; ${tail}`);
      }
      if (id === undefined) continue; // RSET: nothing was queued
      datas++;
      log(at, `postfix/cleanup[${pid + 500}]`, `${id}: message-id=<${at}.${id}@${s.helo}>`);
      if (!tx.accepted) {
        log(at, `postfix/cleanup[${pid + 500}]`, `${id}: milter-reject: END-OF-MESSAGE from ${peer}: 5.7.1 Message refused; ${envelope.replace('%s', accepted[0]!)}`);
        continue;
      }
      const size = 2048 + accepted.length;
      const queueId = id;
      log(at, 'postfix/qmgr[1207]', `${queueId}: from=<${tx.mailFrom}>, size=${size}, nrcpt=${accepted.length} (queue active)`);
      delivered.push(() => {
        if (submission) {
          // amavis on 10024 scans it and re-injects it on 10025 with XFORWARD: a second queue ID for the same message.
          const second = nextId();
          log(at + 1, `postfix/smtpd[${pid + 700}]`, `connect from localhost[127.0.0.1]`);
          log(at + 1, `postfix/smtpd[${pid + 700}]`, `${second}: client=localhost[127.0.0.1], orig_queue_id=${queueId}, orig_client=${peer}`);
          log(at + 1, `postfix/cleanup[${pid + 500}]`, `${second}: message-id=<${at}.${queueId}@${s.helo}>`);
          log(at + 1, 'postfix/qmgr[1207]', `${second}: from=<${tx.mailFrom}>, size=${size + 612}, nrcpt=${accepted.length} (queue active)`);
          for (const r of accepted) {
            log(at + 1, `postfix/smtp[${pid + 800}]`, `${queueId}: to=<${r}>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.9, delays=0.02/0.01/0.01/0.86, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as ${second})`);
          }
          log(at + 1, `postfix/smtpd[${pid + 700}]`, `disconnect from localhost[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt=${accepted.length} data=1 quit=1 commands=${5 + accepted.length}`);
          log(at + 1, 'postfix/qmgr[1207]', `${queueId}: removed`);
          deliver(at + 2, second, tx.mailFrom, size + 612, accepted);
        } else {
          deliver(at + 1, queueId, tx.mailFrom, size, accepted);
        }
      });
    }
    const auth = s.auths.length === 0 ? '' : ` auth=${login ? 1 : 0}${login && authTried === 1 ? '' : `/${authTried}`}`;
    const commands = 2 + authTried + mails + rcpts + datas + (mails - datas);
    const ok = 2 + (login ? 1 : 0) + mails + rcptsOk + datas + (mails - datas);
    log(at, smtpd, `disconnect from ${peer} ehlo=1${auth}${mails ? ` mail=${mails}` : ''}${rcpts ? ` rcpt=${rcptsOk === rcpts ? rcpts : `${rcptsOk}/${rcpts}`}` : ''}${datas ? ` data=${datas}` : ''}${mails - datas ? ` rset=${mails - datas}` : ''} quit=1 commands=${ok === commands ? commands : `${ok}/${commands}`}`);
    for (const d of delivered) d();
  }

  function deliver(at: number, id: string, from: string, size: number, rcpts: string[]): void {
    const external: string[] = [];
    for (const r of rcpts) {
      if (isLocal(r)) log(at, 'postfix/virtual[1311]', `${id}: to=<${r}>, relay=virtual, delay=0.05, delays=0.03/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)`);
      else {
        external.push(r);
        const domain = r.slice(r.lastIndexOf('@') + 1);
        log(at, 'postfix/smtp[1312]', `${id}: to=<${r}>, relay=none, delay=0.2, delays=0.03/0.01/0.16/0, dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for name=${domain} type=MX: Host not found, try again)`);
      }
    }
    if (external.length === 0) log(at, 'postfix/qmgr[1207]', `${id}: removed`);
    else deferred.push({ id, from, size, nrcpt: rcpts.length, rcpts: external });
  }

  // The queue manager's first retry: the same recipients deferred again, still one message each.
  const retryAt = (sessions[sessions.length - 1]?.at ?? 0) + 300;
  for (const d of deferred) {
    log(retryAt, 'postfix/qmgr[1207]', `${d.id}: from=<${d.from}>, size=${d.size}, nrcpt=${d.nrcpt} (queue active)`);
    for (const r of d.rcpts) {
      log(retryAt, 'postfix/error[1320]', `${d.id}: to=<${r}>, relay=none, delay=310, delays=310/0.01/0/0, dsn=4.4.3, status=deferred (delivery temporarily suspended: Host or domain name not found. Name service error for name=${r.slice(r.indexOf('@') + 1)} type=MX: Host not found, try again)`);
    }
  }

  // logrotate ran once, between two sessions: the older half is mail.log.1.
  const at = lines.findIndex((l, i) => i >= lines.length / 2 && / postfix\/(?:submission\/)?smtpd\[\d+\]: connect from unknown/.test(l));
  const split = at < 0 ? lines.length : at;
  return [
    { name: 'mail.log.1', text: lines.slice(0, split).join('\n') + '\n' },
    { name: 'mail.log', text: lines.slice(split).join('\n') + '\n' },
  ];
}
