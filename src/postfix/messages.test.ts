import { describe, expect, it } from 'vitest';
import { isQueueId, parsePostfixMessage, type PostfixEvent } from './messages.js';
import { parseSyslogHeader, postfixDaemon } from './syslog.js';

// Real lines: Postfix 3.7.11 and Dovecot 2.3.19.1 (Debian 12) on 127.0.0.1,
// driven by swaks from 127.x addresses, logged through maillog_file (short
// queue IDs) and through rsyslog (long queue IDs, the instance postfix-out).
function event(line: string): PostfixEvent | undefined {
  const h = parseSyslogHeader(line);
  if (!h) throw new Error(`not a syslog line: ${line}`);
  const daemon = postfixDaemon(h.tag);
  return daemon === undefined ? undefined : parsePostfixMessage(daemon, line, h.messageStart);
}

describe('parsePostfixMessage', () => {
  const rows: [string, string, PostfixEvent | undefined][] = [
    ['smtpd connect', 'Nov 29 21:41:02 mail postfix/smtpd[19086]: connect from unknown[127.0.0.10]', { kind: 'connect', peer: '127.0.0.10' }],
    [
      'smtpd disconnect after a successful AUTH',
      'Nov 29 21:41:02 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.10] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7',
      { kind: 'disconnect', peer: '127.0.0.10', authOk: 1 },
    ],
    [
      'smtpd disconnect after a failed AUTH',
      'Nov 29 21:41:05 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.50] ehlo=1 auth=0/1 quit=1 commands=2/3',
      { kind: 'disconnect', peer: '127.0.0.50', authOk: 0 },
    ],
    [
      'smtpd disconnect without AUTH',
      'Nov 29 21:41:10 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.4] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4',
      { kind: 'disconnect', peer: '127.0.0.4', authOk: 0 },
    ],
    [
      'client with SASL LOGIN (short queue ID)',
      'Nov 29 21:41:02 mail postfix/smtpd[19086]: CD74AA360B4: client=unknown[127.0.0.10], sasl_method=LOGIN, sasl_username=marie.martin@domaine.com',
      { kind: 'client', queueId: 'CD74AA360B4', peer: '127.0.0.10', saslMethod: 'LOGIN', saslUsername: 'marie.martin@domaine.com', origQueueId: undefined },
    ],
    [
      'client with SASL PLAIN on the submission service (long queue ID)',
      '2026-11-29T21:42:35.855607+00:00 vm postfix/submission/smtpd[20471]: 4jd0xR64Mhz1YhTr: client=unknown[127.0.0.11], sasl_method=PLAIN, sasl_username=contact@domaine.com',
      { kind: 'client', queueId: '4jd0xR64Mhz1YhTr', peer: '127.0.0.11', saslMethod: 'PLAIN', saslUsername: 'contact@domaine.com', origQueueId: undefined },
    ],
    [
      'client on smtps',
      'Nov 29 21:41:56 mail postfix/smtps/smtpd[19602]: 3C590A36132: client=unknown[127.0.0.12], sasl_method=LOGIN, sasl_username=marie.martin@domaine.com',
      { kind: 'client', queueId: '3C590A36132', peer: '127.0.0.12', saslMethod: 'LOGIN', saslUsername: 'marie.martin@domaine.com', origQueueId: undefined },
    ],
    [
      'client with CRAM-MD5',
      'Nov 29 21:51:06 mail postfix/smtpd[366]: A98D2A3620A: client=unknown[127.0.0.23], sasl_method=CRAM-MD5, sasl_username=info@domaine.com',
      { kind: 'client', queueId: 'A98D2A3620A', peer: '127.0.0.23', saslMethod: 'CRAM-MD5', saslUsername: 'info@domaine.com', origQueueId: undefined },
    ],
    [
      'client without SASL (inbound, or mynetworks)',
      'Nov 29 21:41:10 mail postfix/smtpd[19086]: C33C8A3611D: client=unknown[127.0.0.200]',
      { kind: 'client', queueId: 'C33C8A3611D', peer: '127.0.0.200', saslMethod: undefined, saslUsername: undefined, origQueueId: undefined },
    ],
    [
      'content-filter re-injection with XFORWARD',
      'Nov 29 21:41:55 mail postfix/smtpd[19595]: 22F00A3612F: client=unknown[127.0.0.1], orig_queue_id=EDBADA360E2, orig_client=unknown[127.0.0.11]',
      { kind: 'client', queueId: '22F00A3612F', peer: '127.0.0.1', saslMethod: undefined, saslUsername: undefined, origQueueId: 'EDBADA360E2' },
    ],
    [
      're-injection in another instance (long IDs)',
      '2026-11-29T21:42:35.975905+00:00 vm postfix-out/smtpd[20535]: 4jd0xR6wslz1YhTv: client=unknown[127.0.0.1], orig_queue_id=4jd0xR64Mhz1YhTr, orig_client=unknown[127.0.0.11]',
      { kind: 'client', queueId: '4jd0xR6wslz1YhTv', peer: '127.0.0.1', saslMethod: undefined, saslUsername: undefined, origQueueId: '4jd0xR64Mhz1YhTr' },
    ],
    [
      'SASL LOGIN failure with the username (Debian 3.7.11, upstream 3.9)',
      'Nov 29 21:41:05 mail postfix/smtpd[19086]: warning: unknown[127.0.0.50]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=admin@domaine.com',
      { kind: 'sasl_failed', peer: '127.0.0.50', mechanism: 'LOGIN', username: 'admin@domaine.com' },
    ],
    [
      'SASL PLAIN failure',
      '2026-11-29T21:42:31.405504+00:00 vm postfix-out/smtpd[20266]: warning: unknown[127.0.0.51]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=admin@domaine.com',
      { kind: 'sasl_failed', peer: '127.0.0.51', mechanism: 'PLAIN', username: 'admin@domaine.com' },
    ],
    [
      'SASL CRAM-MD5 failure',
      'Nov 29 21:51:06 mail postfix/smtpd[366]: warning: unknown[127.0.0.22]: SASL CRAM-MD5 authentication failed: (reason unavailable), sasl_username=info@domaine.com',
      { kind: 'sasl_failed', peer: '127.0.0.22', mechanism: 'CRAM-MD5', username: 'info@domaine.com' },
    ],
    [
      // Postfix before 3.9 (and 3.7 before Debian's 3.7.11) logs the last server challenge, base64 "Password:", and no username.
      'SASL LOGIN failure of an older Postfix',
      'Nov 29 21:41:05 mail postfix/smtpd[19086]: warning: unknown[127.0.0.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6',
      { kind: 'sasl_failed', peer: '127.0.0.50', mechanism: 'LOGIN', username: undefined },
    ],
    [
      'SASL failure whose username the SASL server did not give',
      'Nov 29 21:41:05 mail postfix/smtpd[19086]: warning: unknown[127.0.0.50]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=(unavailable)',
      { kind: 'sasl_failed', peer: '127.0.0.50', mechanism: 'LOGIN', username: undefined },
    ],
    [
      'SASL aborted by the client (`*`)',
      'Nov 29 21:51:07 mail postfix/smtpd[366]: warning: unknown[127.0.0.24]: SASL LOGIN authentication aborted',
      { kind: 'sasl_failed', peer: '127.0.0.24', mechanism: 'LOGIN', username: undefined },
    ],
    [
      'relay refused before any queue ID',
      'Nov 29 21:41:10 mail postfix/smtpd[19086]: NOQUEUE: reject: RCPT from unknown[127.0.0.4]: 554 5.7.1 <victim@example.org>: Relay access denied; from=<spammer@example.net> to=<victim@example.org> proto=ESMTP helo=<relay-test>',
      { kind: 'rcpt_rejected', queueId: undefined, peer: '127.0.0.4', code: 554, relay: true },
    ],
    [
      'unknown local user refused within a transaction',
      'Nov 29 21:41:09 mail postfix/smtpd[19086]: C6158A36118: reject: RCPT from unknown[127.0.0.7]: 550 5.1.1 <nobody@domaine.com>: Recipient address rejected: User unknown in virtual mailbox table; from=<news@partner.example> to=<nobody@domaine.com> proto=ESMTP helo=<mx.partner.example>',
      { kind: 'rcpt_rejected', queueId: 'C6158A36118', peer: '127.0.0.7', code: 550, relay: false },
    ],
    [
      'refused by an access map',
      'Nov 29 21:51:06 mail postfix/smtpd[366]: NOQUEUE: reject: RCPT from unknown[127.0.0.23]: 550 5.1.2 <x@bounce.example>: Recipient address rejected: no such domain; from=<info@domaine.com> to=<x@bounce.example> proto=ESMTP helo=<cram>',
      { kind: 'rcpt_rejected', queueId: undefined, peer: '127.0.0.23', code: 550, relay: false },
    ],
    [
      'qmgr takes the message',
      'Nov 29 21:41:02 mail postfix/qmgr[10389]: CD74AA360B4: from=<marie.martin@domaine.com>, size=439, nrcpt=2 (queue active)',
      { kind: 'queued', queueId: 'CD74AA360B4', from: 'marie.martin@domaine.com', nrcpt: 2 },
    ],
    [
      'qmgr takes a bounce (null sender)',
      'Nov 29 21:51:12 mail postfix/qmgr[314]: EFC55A36216: from=<>, size=2578, nrcpt=1 (queue active)',
      { kind: 'queued', queueId: 'EFC55A36216', from: '', nrcpt: 1 },
    ],
    ['qmgr expires a message', 'Nov 29 21:51:12 mail postfix/qmgr[314]: 910BCA361FA: from=<contact@domaine.com>, status=force-expired, returned to sender', undefined],
    [
      'delivered to a local mailbox',
      'Nov 29 21:41:02 mail postfix/virtual[19107]: CD74AA360B4: to=<compta@domaine.com>, relay=virtual, delay=0.2, delays=0.09/0.11/0/0, dsn=2.0.0, status=sent (delivered to mailbox)',
      { kind: 'delivery', queueId: 'CD74AA360B4', to: 'compta@domaine.com', origTo: undefined, status: 'sent', queuedAs: undefined },
    ],
    [
      'deferred: no route out',
      'Nov 29 21:41:03 mail postfix/smtp[19106]: CD74AA360B4: to=<client@gmail.com>, relay=none, delay=0.2, delays=0.09/0.11/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)',
      { kind: 'delivery', queueId: 'CD74AA360B4', to: 'client@gmail.com', origTo: undefined, status: 'deferred', queuedAs: undefined },
    ],
    [
      'handed to a content filter, which re-injected it',
      'Nov 29 21:41:55 mail postfix/smtp[19594]: EDBADA360E2: to=<rh@domaine.com>, relay=127.0.0.1[127.0.0.1]:12026, delay=0.19, delays=0.02/0.01/0.14/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 22F00A3612F)',
      { kind: 'delivery', queueId: 'EDBADA360E2', to: 'rh@domaine.com', origTo: undefined, status: 'sent', queuedAs: '22F00A3612F' },
    ],
    [
      'a virtual alias expanded in cleanup',
      'Nov 29 21:51:06 mail postfix/virtual[380]: A98D2A3620A: to=<rh@domaine.com>, orig_to=<team@domaine.com>, relay=virtual, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)',
      { kind: 'delivery', queueId: 'A98D2A3620A', to: 'rh@domaine.com', origTo: 'team@domaine.com', status: 'sent', queuedAs: undefined },
    ],
    [
      'lmtp deferred',
      'Nov 29 21:51:06 mail postfix/lmtp[703]: A98D2A3620A: to=<y@lmtp.example>, relay=none, delay=0.05, delays=0.01/0.03/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12998: Connection refused)',
      { kind: 'delivery', queueId: 'A98D2A3620A', to: 'y@lmtp.example', origTo: undefined, status: 'deferred', queuedAs: undefined },
    ],
    [
      'local delivery',
      'Nov 29 21:51:06 mail postfix/local[702]: A98D2A3620A: to=<list@localhost>, relay=local, delay=0.05, delays=0.01/0.01/0/0.02, dsn=2.0.0, status=sent (delivered to mailbox)',
      { kind: 'delivery', queueId: 'A98D2A3620A', to: 'list@localhost', origTo: undefined, status: 'sent', queuedAs: undefined },
    ],
    ['qmgr removes it', 'Nov 29 21:41:09 mail postfix/qmgr[10389]: C6158A36118: removed', { kind: 'removed', queueId: 'C6158A36118' }],
    ['cleanup', 'Nov 29 21:41:02 mail postfix/cleanup[19104]: CD74AA360B4: message-id=<20261129214102.019082@vm>', undefined],
    ['pickup (no SMTP session)', 'Nov 29 21:51:07 mail postfix/pickup[313]: 81889A3620F: uid=0 from=<root@localhost>', undefined],
    ['bounce notice', 'Nov 29 21:51:12 mail postfix/bounce[381]: 910BCA361FA: sender non-delivery notification: EFC55A36216', undefined],
    ['postsuper hold', 'Nov 29 21:51:12 mail postfix/postsuper[1046]: 910BCA361FA: placed on hold', undefined],
    ['smtp connect failure', 'Nov 29 21:41:02 mail postfix/smtp[19106]: connect to 127.0.0.1[127.0.0.1]:12999: Connection refused', undefined],
    ['an smtpd warning', 'Nov 29 21:41:02 mail postfix/smtpd[19086]: warning: dict_nis_init: NIS domain name not set - NIS lookups disabled', undefined],
    ['master', 'Nov 29 21:30:53 mail postfix/master[10387]: daemon started -- version 3.7.11, configuration /tmp/pflab/run/etc', undefined],
    ['Dovecot in the same log', '2026-11-29T21:42:31.976142+00:00 vm dovecot: auth: passwd-file(info@domaine.com,127.0.0.52): Password mismatch', undefined],
  ];
  it.each(rows)('%s', (_name, line, expected) => {
    expect(event(line)).toEqual(expected);
  });

  it('keeps a username with commas whole up to the next field', () => {
    const line = 'Nov 29 21:41:02 mail postfix/smtpd[1]: CD74AA360B4: client=h[192.0.2.1], sasl_method=LOGIN, sasl_username=o, brien@x.example, sasl_sender=o@x.example';
    expect(event(line)).toMatchObject({ saslUsername: 'o, brien@x.example' });
  });

  it('bounds addresses', () => {
    const long = `${'a'.repeat(2000)}@example.com`;
    const e = event(`Nov 29 21:41:02 mail postfix/smtp[1]: CD74AA360B4: to=<${long}>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (x)`);
    expect(e).toMatchObject({ kind: 'delivery', status: 'deferred' });
    expect((e as { to: string }).to.length).toBe(320);
  });
});

describe('isQueueId', () => {
  it.each(['CD74AA360B4', '22F00A3612F', '4jd0xH3fCYz1YhTV', '4jd0xR6wslz1YhTv'])('%s is one', (id) => expect(isQueueId(id)).toBe(true));
  it.each(['warning', 'NOQUEUE', 'statistics', 'connect from x', 'ABC', 'Trusted'])('%s is not', (id) => expect(isQueueId(id)).toBe(false));
});
