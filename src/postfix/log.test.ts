import { describe, expect, it } from 'vitest';
import { domainKey, LocalDomains, type SmtpFact } from '../smtp/facts.js';
import { PostfixLog, type PostfixLogOptions } from './log.js';

// Real lines from Postfix 3.7.11 + Dovecot 2.3.19.1 (Debian 12) on 127.0.0.1,
// written by maillog_file, driven by swaks from 127.x addresses.
const NOW = Date.UTC(2026, 10, 30, 12) ;

function run(text: string, opts: Partial<PostfixLogOptions> = {}): { facts: SmtpFact[]; log: PostfixLog } {
  const facts: SmtpFact[] = [];
  const log = new PostfixLog({ localDomains: new LocalDomains(['domaine.com']), emit: (f) => facts.push(f), timeZone: 'UTC', now: () => NOW, ...opts });
  log.feedLines('mail.log', text.trim().split('\n'));
  return { facts, log };
}

const ofType = <T extends SmtpFact['type']>(facts: SmtpFact[], type: T) => facts.filter((f): f is Extract<SmtpFact, { type: T }> => f.type === type);
const at = (iso: string) => Date.parse(`${iso}Z`) / 1000;

const STOLEN_ACCOUNT = `
Nov 29 21:41:10 mail postfix/smtpd[19086]: connect from unknown[127.0.0.159]
Nov 29 21:41:10 mail postfix/smtpd[19086]: 22881A360E5: client=unknown[127.0.0.159], sasl_method=LOGIN, sasl_username=info@domaine.com
Nov 29 21:41:10 mail postfix/smtpd[19086]: 22881A360E5: reject: RCPT from unknown[127.0.0.159]: 550 5.1.1 <bounce@nowhere.invalid>: Recipient address rejected: User unknown; from=<willm.b@orange.fr> to=<bounce@nowhere.invalid> proto=ESMTP helo=<orange.fr>
Nov 29 21:41:10 mail postfix/cleanup[19104]: 22881A360E5: message-id=<20261129214110.019147@vm>
Nov 29 21:41:10 mail postfix/qmgr[10389]: 22881A360E5: from=<willm.b@orange.fr>, size=454, nrcpt=2 (queue active)
Nov 29 21:41:10 mail postfix/smtp[19106]: connect to 127.0.0.1[127.0.0.1]:12999: Connection refused
Nov 29 21:41:10 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.159] ehlo=1 auth=1 mail=1 rcpt=2/3 data=1 quit=1 commands=7/8
Nov 29 21:41:10 mail postfix/smtp[19106]: 22881A360E5: to=<linda77@hotmail.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
Nov 29 21:41:10 mail postfix/smtp[19106]: 22881A360E5: to=<bmyerd@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
`;

// The same message retried later (postqueue -f): qmgr takes it again, the recipients are deferred again.
const RETRY = `
Nov 29 21:52:47 mail postfix/qmgr[314]: 22881A360E5: from=<willm.b@orange.fr>, size=454, nrcpt=2 (queue active)
Nov 29 21:52:47 mail postfix/error[4036]: 22881A360E5: to=<linda77@hotmail.com>, relay=none, delay=106, delays=106/0.13/0/0.01, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
Nov 29 21:52:47 mail postfix/error[4036]: 22881A360E5: to=<bmyerd@yahoo.com>, relay=none, delay=106, delays=106/0.13/0/0.01, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
`;

describe('PostfixLog: a message by queue ID', () => {
  it('counts the login, then the message once all its recipients were tried', () => {
    const { facts } = run(STOLEN_ACCOUNT);
    expect(facts).toEqual([
      { type: 'session', time: at('2026-11-29T21:41:10'), peer: '127.0.0.159' },
      { type: 'auth', time: at('2026-11-29T21:41:10'), peer: '127.0.0.159', mechanism: 'login', username: 'info@domaine.com', success: true },
      {
        type: 'message',
        time: at('2026-11-29T21:41:10'),
        peer: '127.0.0.159',
        account: 'info@domaine.com',
        authenticated: true,
        mailFrom: 'willm.b@orange.fr',
        recipients: [
          { domainKey: domainKey('hotmail.com'), external: true },
          { domainKey: domainKey('yahoo.com'), external: true },
        ],
      },
    ]);
  });

  it('counts a deferred recipient once, however often it is retried', () => {
    const { facts } = run(STOLEN_ACCOUNT + RETRY + RETRY);
    expect(ofType(facts, 'message')).toHaveLength(1);
    expect(ofType(facts, 'message')[0]!.recipients).toHaveLength(2);
  });

  it('counts a message at `removed` when not every recipient was logged', () => {
    const { facts } = run(`
Nov 29 21:41:02 mail postfix/smtpd[19086]: connect from unknown[127.0.0.10]
Nov 29 21:41:02 mail postfix/smtpd[19086]: CD74AA360B4: client=unknown[127.0.0.10], sasl_method=LOGIN, sasl_username=marie.martin@domaine.com
Nov 29 21:41:02 mail postfix/qmgr[10389]: CD74AA360B4: from=<marie.martin@domaine.com>, size=439, nrcpt=2 (queue active)
Nov 29 21:41:02 mail postfix/virtual[19107]: CD74AA360B4: to=<compta@domaine.com>, relay=virtual, delay=0.2, delays=0.09/0.11/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 29 21:41:09 mail postfix/qmgr[10389]: CD74AA360B4: removed
`);
    expect(ofType(facts, 'message')).toEqual([expect.objectContaining({ account: 'marie.martin@domaine.com', recipients: [{ domainKey: domainKey('domaine.com'), external: false }] })]);
  });

  it('counts an alias expanded into several mailboxes as the one recipient the client gave', () => {
    const { facts } = run(`
Nov 29 21:51:06 mail postfix/smtpd[366]: connect from unknown[127.0.0.23]
Nov 29 21:51:06 mail postfix/smtpd[366]: NOQUEUE: reject: RCPT from unknown[127.0.0.23]: 550 5.1.2 <x@bounce.example>: Recipient address rejected: no such domain; from=<info@domaine.com> to=<x@bounce.example> proto=ESMTP helo=<cram>
Nov 29 21:51:06 mail postfix/smtpd[366]: A98D2A3620A: client=unknown[127.0.0.23], sasl_method=CRAM-MD5, sasl_username=info@domaine.com
Nov 29 21:51:06 mail postfix/cleanup[378]: A98D2A3620A: message-id=<20261129215106.000692@vm>
Nov 29 21:51:06 mail postfix/qmgr[314]: A98D2A3620A: from=<info@domaine.com>, size=451, nrcpt=4 (queue active)
Nov 29 21:51:06 mail postfix/smtpd[366]: disconnect from unknown[127.0.0.23] ehlo=1 auth=1 mail=1 rcpt=3/4 data=1 quit=1 commands=8/9
Nov 29 21:51:06 mail postfix/virtual[380]: A98D2A3620A: to=<compta@domaine.com>, orig_to=<team@domaine.com>, relay=virtual, delay=0.02, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 29 21:51:06 mail postfix/virtual[380]: A98D2A3620A: to=<rh@domaine.com>, orig_to=<team@domaine.com>, relay=virtual, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 29 21:51:06 mail postfix/local[702]: A98D2A3620A: to=<list@localhost>, relay=local, delay=0.05, delays=0.01/0.01/0/0.02, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 29 21:51:06 mail postfix/lmtp[703]: A98D2A3620A: to=<y@lmtp.example>, relay=none, delay=0.05, delays=0.01/0.03/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12998: Connection refused)
`);
    const [message] = ofType(facts, 'message');
    // One recipient per RCPT (the alias team@ expanded to rh@ is one), by domain.
    expect(message!.recipients.map((r) => r.domainKey)).toEqual(['domaine.com', 'localhost', 'lmtp.example'].map(domainKey));
    expect(ofType(facts, 'auth')).toEqual([expect.objectContaining({ mechanism: 'cram_md5', username: 'info@domaine.com', success: true })]);
    // A refused recipient is no relay attempt.
    expect(ofType(facts, 'relay_denied')).toEqual([]);
  });

  it('without local_domains, the delivery agent says local (virtual, local, lmtp, pipe) or external', () => {
    const { facts } = run(STOLEN_ACCOUNT.replaceAll('hotmail.com', 'domaine.com') + `
Nov 29 21:52:00 mail postfix/smtpd[19086]: connect from unknown[127.0.0.10]
Nov 29 21:52:00 mail postfix/smtpd[19086]: CD74AA360B4: client=unknown[127.0.0.10], sasl_method=LOGIN, sasl_username=marie.martin@domaine.com
Nov 29 21:52:00 mail postfix/qmgr[10389]: CD74AA360B4: from=<marie.martin@domaine.com>, size=439, nrcpt=1 (queue active)
Nov 29 21:52:00 mail postfix/virtual[19107]: CD74AA360B4: to=<compta@domaine.com>, relay=virtual, delay=0.2, delays=0.09/0.11/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
`, { localDomains: new LocalDomains([]) });
    expect(ofType(facts, 'message').map((m) => m.recipients.map((r) => r.external))).toEqual([[true, true], [false]]);
  });
});

describe('PostfixLog: content filters', () => {
  // Submission with content_filter = scan:[127.0.0.1]:12026, the filter's smtp client sending XFORWARD.
  const WITH_XFORWARD = `
Nov 29 21:41:54 mail postfix/submission/smtpd[19593]: connect from unknown[127.0.0.11]
Nov 29 21:41:54 mail postfix/submission/smtpd[19593]: EDBADA360E2: client=unknown[127.0.0.11], sasl_method=PLAIN, sasl_username=contact@domaine.com
Nov 29 21:41:54 mail postfix/cleanup[19104]: EDBADA360E2: message-id=<20261129214154.019592@vm>
Nov 29 21:41:54 mail postfix/qmgr[10389]: EDBADA360E2: from=<contact@domaine.com>, size=441, nrcpt=2 (queue active)
Nov 29 21:41:54 mail postfix/submission/smtpd[19593]: disconnect from unknown[127.0.0.11] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9
Nov 29 21:41:55 mail postfix/smtpd[19595]: connect from unknown[127.0.0.1]
Nov 29 21:41:55 mail postfix/smtpd[19595]: 22F00A3612F: client=unknown[127.0.0.1], orig_queue_id=EDBADA360E2, orig_client=unknown[127.0.0.11]
Nov 29 21:41:55 mail postfix/cleanup[19104]: 22F00A3612F: message-id=<20261129214154.019592@vm>
Nov 29 21:41:55 mail postfix/qmgr[10389]: 22F00A3612F: from=<contact@domaine.com>, size=595, nrcpt=2 (queue active)
Nov 29 21:41:55 mail postfix/smtp[19594]: EDBADA360E2: to=<rh@domaine.com>, relay=127.0.0.1[127.0.0.1]:12026, delay=0.19, delays=0.02/0.01/0.14/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 22F00A3612F)
Nov 29 21:41:55 mail postfix/smtpd[19595]: disconnect from unknown[127.0.0.1] ehlo=1 xforward=2 mail=1 rcpt=2 data=1 quit=1 commands=8
Nov 29 21:41:55 mail postfix/smtp[19594]: EDBADA360E2: to=<supplier@fournisseur-bois.fr>, relay=127.0.0.1[127.0.0.1]:12026, delay=0.19, delays=0.02/0.01/0.14/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 22F00A3612F)
Nov 29 21:41:55 mail postfix/qmgr[10389]: EDBADA360E2: removed
Nov 29 21:41:55 mail postfix/smtp[19106]: 22F00A3612F: to=<supplier@fournisseur-bois.fr>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
Nov 29 21:41:55 mail postfix/virtual[19107]: 22F00A3612F: to=<rh@domaine.com>, relay=virtual, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
`;
  // The same through a filter without XFORWARD: only the `queued as` reply links the second queue ID.
  const WITHOUT_XFORWARD = `
Nov 29 21:51:04 mail postfix/submission/smtpd[613]: connect from unknown[127.0.0.21]
Nov 29 21:51:04 mail postfix/submission/smtpd[613]: A5FBBA36203: client=unknown[127.0.0.21], sasl_method=PLAIN, sasl_username=contact@domaine.com
Nov 29 21:51:04 mail postfix/cleanup[378]: A5FBBA36203: message-id=<20261129215104.000604@vm>
Nov 29 21:51:04 mail postfix/qmgr[314]: A5FBBA36203: from=<contact@domaine.com>, size=436, nrcpt=3 (queue active)
Nov 29 21:51:04 mail postfix/submission/smtpd[613]: disconnect from unknown[127.0.0.21] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9
Nov 29 21:51:04 mail postfix/smtpd[569]: connect from unknown[127.0.0.1]
Nov 29 21:51:04 mail postfix/smtpd[569]: C962EA36205: client=unknown[127.0.0.1]
Nov 29 21:51:04 mail postfix/cleanup[378]: C962EA36205: message-id=<20261129215104.000604@vm>
Nov 29 21:51:04 mail postfix/qmgr[314]: C962EA36205: from=<contact@domaine.com>, size=590, nrcpt=3 (queue active)
Nov 29 21:51:04 mail postfix/smtpd[569]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=3 data=1 quit=1 commands=7
Nov 29 21:51:04 mail postfix/smtp[633]: A5FBBA36203: to=<compta@domaine.com>, orig_to=<team@domaine.com>, relay=127.0.0.1[127.0.0.1]:12026, delay=0.16, delays=0.03/0.11/0/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as C962EA36205)
Nov 29 21:51:04 mail postfix/smtp[633]: A5FBBA36203: to=<rh@domaine.com>, orig_to=<team@domaine.com>, relay=127.0.0.1[127.0.0.1]:12026, delay=0.16, delays=0.03/0.11/0/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as C962EA36205)
Nov 29 21:51:04 mail postfix/smtp[633]: A5FBBA36203: to=<supplier@fournisseur-bois.fr>, relay=127.0.0.1[127.0.0.1]:12026, delay=0.16, delays=0.03/0.11/0/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as C962EA36205)
Nov 29 21:51:04 mail postfix/qmgr[314]: A5FBBA36203: removed
Nov 29 21:51:04 mail postfix/virtual[380]: C962EA36205: to=<compta@domaine.com>, relay=virtual, delay=0.02, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 29 21:51:04 mail postfix/smtp[379]: C962EA36205: to=<supplier@fournisseur-bois.fr>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
Nov 29 21:51:04 mail postfix/virtual[380]: C962EA36205: to=<rh@domaine.com>, relay=virtual, delay=0.02, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
`;

  it.each([
    ['linked by orig_queue_id (XFORWARD)', WITH_XFORWARD, ['rh@domaine.com', 'supplier@fournisseur-bois.fr']],
    ['linked by the queued-as reply', WITHOUT_XFORWARD, ['team@domaine.com', 'supplier@fournisseur-bois.fr']],
  ])('counts the message once, as the account sent it: %s', (_name, text, recipients) => {
    const { facts, log } = run(text);
    const messages = ofType(facts, 'message');
    expect(messages).toEqual([expect.objectContaining({ account: 'contact@domaine.com', authenticated: true, mailFrom: 'contact@domaine.com' })]);
    expect(messages[0]!.recipients.map((r) => r.domainKey)).toEqual(recipients.map((a) => domainKey(a.slice(a.lastIndexOf('@') + 1))));
    expect(log.stats.openMessages).toBe(0);
  });

  it('links a re-injection whose `queued as` came before its own smtpd line', () => {
    const lines = WITHOUT_XFORWARD.trim().split('\n');
    const reinjection = lines.filter((l) => l.includes('C962EA36205: client=') || l.includes('C962EA36205: from=') || l.includes(': C962EA36205: to='));
    const first = lines.filter((l) => !reinjection.includes(l));
    const { facts } = run([...first, ...reinjection].join('\n'));
    expect(ofType(facts, 'message')).toHaveLength(1);
    expect(ofType(facts, 'message')[0]!.account).toBe('contact@domaine.com');
  });
});

describe('PostfixLog: sessions, logins and refusals', () => {
  it('counts AUTH failures by mechanism and username, and a login without mail as mechanism other', () => {
    const { facts } = run(`
Nov 29 21:41:03 mail postfix/smtpd[19086]: connect from unknown[127.0.0.50]
Nov 29 21:41:05 mail postfix/smtpd[19086]: warning: unknown[127.0.0.50]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=Admin@Domaine.com
Nov 29 21:41:05 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.50] ehlo=1 auth=0/1 quit=1 commands=2/3
Nov 29 21:41:12 mail postfix/smtpd[19086]: connect from unknown[127.0.0.13]
Nov 29 21:41:12 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.13] ehlo=1 auth=1 quit=1 commands=3
Nov 29 21:51:07 mail postfix/smtpd[366]: connect from unknown[127.0.0.24]
Nov 29 21:51:07 mail postfix/smtpd[366]: warning: unknown[127.0.0.24]: SASL LOGIN authentication aborted
Nov 29 21:51:07 mail postfix/smtpd[366]: disconnect from unknown[127.0.0.24] ehlo=1 auth=0/1 quit=1 commands=2/3
`);
    expect(ofType(facts, 'auth')).toEqual([
      { type: 'auth', time: at('2026-11-29T21:41:05'), peer: '127.0.0.50', mechanism: 'login', username: 'admin@domaine.com', success: false },
      { type: 'auth', time: at('2026-11-29T21:41:12'), peer: '127.0.0.13', mechanism: 'other', username: undefined, success: true },
      { type: 'auth', time: at('2026-11-29T21:51:07'), peer: '127.0.0.24', mechanism: 'login', username: undefined, success: false },
    ]);
    expect(ofType(facts, 'session')).toHaveLength(3);
  });

  it('counts one login per session however many messages it queues', () => {
    const client = (id: string) => `Nov 29 21:41:12 mail postfix/smtpd[19086]: ${id}: client=unknown[127.0.0.14], sasl_method=LOGIN, sasl_username=info@domaine.com`;
    const { facts } = run(['Nov 29 21:41:12 mail postfix/smtpd[19086]: connect from unknown[127.0.0.14]', client('4F908A360E7'), client('4F908A360E8'), 'Nov 29 21:41:12 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.14] ehlo=1 auth=1 mail=2 rcpt=2 data=2 quit=1 commands=9'].join('\n'));
    expect(ofType(facts, 'auth')).toHaveLength(1);
  });

  it('follows a session joined midway without counting it as started', () => {
    const { facts } = run(STOLEN_ACCOUNT.split('\n').slice(2).join('\n'));
    expect(ofType(facts, 'session')).toEqual([]);
    expect(ofType(facts, 'auth')).toEqual([expect.objectContaining({ username: 'info@domaine.com', peer: '127.0.0.159', success: true })]);
    expect(ofType(facts, 'message')).toHaveLength(1);
  });

  it('counts `Relay access denied` with a 5xx reply, not a temporary one', () => {
    const denied = 'Nov 29 21:41:10 mail postfix/smtpd[19086]: NOQUEUE: reject: RCPT from unknown[127.0.0.4]: 554 5.7.1 <victim@example.org>: Relay access denied; from=<spammer@example.net> to=<victim@example.org> proto=ESMTP helo=<relay-test>';
    const { facts } = run([denied, denied.replace('554 5.7.1', '454 4.7.1')].join('\n'));
    expect(ofType(facts, 'relay_denied')).toEqual([{ type: 'relay_denied', time: at('2026-11-29T21:41:10'), peer: '127.0.0.4' }]);
  });

  it('counts mail relayed for a mynetworks client without AUTH as unauthenticated', () => {
    const { facts } = run(`
Nov 29 21:41:10 mail postfix/smtpd[19086]: connect from unknown[127.0.0.200]
Nov 29 21:41:10 mail postfix/smtpd[19086]: C33C8A3611D: client=unknown[127.0.0.200]
Nov 29 21:41:10 mail postfix/cleanup[19104]: C33C8A3611D: message-id=<20261129214110.019150@vm>
Nov 29 21:41:10 mail postfix/qmgr[10389]: C33C8A3611D: from=<copier@domaine.com>, size=431, nrcpt=2 (queue active)
Nov 29 21:41:10 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.200] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6
Nov 29 21:41:10 mail postfix/smtp[19106]: C33C8A3611D: to=<someone@gmail.com>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
Nov 29 21:41:10 mail postfix/virtual[19107]: C33C8A3611D: to=<direction@domaine.com>, relay=virtual, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
`);
    expect(ofType(facts, 'message')).toEqual([
      expect.objectContaining({ account: undefined, authenticated: false, recipients: [expect.objectContaining({ external: true }), expect.objectContaining({ external: false })] }),
    ]);
  });

  it('ignores mail that no smtpd session brought (pickup, bounces)', () => {
    const { facts } = run(`
Nov 29 21:51:07 mail postfix/pickup[313]: 81889A3620F: uid=0 from=<root@localhost>
Nov 29 21:51:07 mail postfix/cleanup[378]: 81889A3620F: message-id=<20261129215107.81889A3620F@mail.domaine.com>
Nov 29 21:51:07 mail postfix/qmgr[314]: 81889A3620F: from=<root@localhost>, size=260, nrcpt=1 (queue active)
Nov 29 21:51:07 mail postfix/virtual[380]: 81889A3620F: to=<info@domaine.com>, relay=virtual, delay=0.05, delays=0.04/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 29 21:51:07 mail postfix/qmgr[314]: 81889A3620F: removed
`);
    expect(facts).toEqual([]);
  });
});

describe('PostfixLog: times and lines', () => {
  const line = 'Nov 29 21:41:02 mail postfix/smtpd[19086]: connect from unknown[127.0.0.10]';

  it('reads traditional times in log_time_zone, RFC 3339 times with their own offset', () => {
    const paris = run([line, '2026-11-29T21:42:35.558348+00:00 vm postfix/smtpd[20471]: connect from unknown[127.0.0.11]'].join('\n'), { timeZone: 'Europe/Paris' });
    expect(ofType(paris.facts, 'session').map((f) => f.time)).toEqual([at('2026-11-29T20:41:02'), at('2026-11-29T21:42:35')]);
    expect(paris.log.stats.lastLineTime).toBe(at('2026-11-29T21:42:35'));
  });

  it('places December lines read on New Year in the year before', () => {
    const { facts } = run(
      ['Dec 31 23:59:58 mail postfix/smtpd[1]: connect from unknown[192.0.2.1]', 'Jan  1 00:00:01 mail postfix/smtpd[2]: connect from unknown[192.0.2.2]'].join('\n'),
      { now: () => Date.UTC(2027, 0, 1, 0, 0, 30) },
    );
    expect(facts.map((f) => f.time)).toEqual([at('2026-12-31T23:59:58'), at('2027-01-01T00:00:01')]);
  });

  it('counts lines not in the syslog layout, skips blank lines and other programs', () => {
    const { log } = run(['garbage', '', line, '2026-11-29T21:42:27.901522+00:00 vm dovecot: auth: passwd-file(admin@domaine.com,127.0.0.50): unknown user'].join('\n'));
    expect(log.stats).toMatchObject({ lines: 4, unparsed: 1 });
  });
});

describe('PostfixLog: memory under a flood of queue IDs that never finish', () => {
  it('keeps at most maxOpenMessages and counts what the evicted ones knew', () => {
    const facts: SmtpFact[] = [];
    const log = new PostfixLog({ localDomains: new LocalDomains(['domaine.com']), emit: (f) => facts.push(f), timeZone: 'UTC', now: () => NOW, maxOpenMessages: 100 });
    const lines: string[] = ['Nov 29 21:41:10 mail postfix/smtpd[19086]: connect from unknown[127.0.0.159]'];
    for (let i = 0; i < 10_000; i++) {
      const id = (0x100000 + i).toString(16).toUpperCase() + 'A';
      lines.push(`Nov 29 21:41:10 mail postfix/smtpd[19086]: ${id}: client=unknown[127.0.0.159], sasl_method=LOGIN, sasl_username=info@domaine.com`);
      lines.push(`Nov 29 21:41:10 mail postfix/qmgr[10389]: ${id}: from=<willm.b@orange.fr>, size=454, nrcpt=3 (queue active)`);
      lines.push(`Nov 29 21:41:10 mail postfix/smtp[19106]: ${id}: to=<r${i}@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)`);
    }
    log.feedLines('mail.log', lines);
    expect(log.stats.openMessages).toBe(100);
    expect(log.stats.evictedMessages).toBe(9_900);
    expect(ofType(facts, 'message')).toHaveLength(9_900);
  });

  it('keeps at most maxHeldRecipients addresses over all open messages', () => {
    const facts: SmtpFact[] = [];
    const log = new PostfixLog({ localDomains: new LocalDomains([]), emit: (f) => facts.push(f), timeZone: 'UTC', now: () => NOW, maxHeldRecipients: 1000 });
    const lines: string[] = [];
    for (let i = 0; i < 50; i++) {
      const id = (0x200000 + i).toString(16).toUpperCase() + 'B';
      lines.push(`Nov 29 21:41:10 mail postfix/smtpd[${i}]: ${id}: client=unknown[192.0.2.9]`);
      lines.push(`Nov 29 21:41:10 mail postfix/qmgr[10389]: ${id}: from=<x@example.org>, size=454, nrcpt=1000 (queue active)`);
      for (let r = 0; r < 100; r++) {
        lines.push(`Nov 29 21:41:10 mail postfix/smtp[19106]: ${id}: to=<r${r}@example.net>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (x)`);
      }
    }
    log.feedLines('mail.log', lines);
    // Each open message holds 2 addresses a recipient (as tried, as given): 5 fit in 1000, plus the one being read.
    expect(log.stats.openMessages).toBeLessThanOrEqual(6);
    const counted = ofType(facts, 'message');
    expect(counted).toHaveLength(50 - log.stats.openMessages);
    expect(counted.every((m) => m.recipients.length === 100)).toBe(true);
  });
});
