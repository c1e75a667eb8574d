import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { domainKey, LocalDomains, type SmtpFact } from '../smtp/facts.js';
import { scenarioLines } from '../demo/scenario.js';
import { scanLines } from './line.js';
import { IcewarpSessions } from './sessions.js';

// The real samples of ../shared/samples/, committed under the daily names IceWarp gives its logs
// (the repository must test on its own, wherever it is checked out).
const SAMPLES = new URL('../collectors/testdata/smtp/', import.meta.url);
const SAMPLE_FILE: Record<string, string> = { 'icewarp-kb-attack.log': 's20130715.log', 'icewarp-docs-session.log': 's20040422.log' };
const FILE = 's20130715.log';
const DAY = Date.UTC(2013, 6, 15) / 1000;

/** Unix seconds of `HH:MM:SS` on the day of FILE. */
function at(hms: string): number {
  const [h, m, s] = hms.split(':').map(Number);
  return DAY + (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** Lines of an inline log excerpt (indentation and blank lines dropped). */
function lines(excerpt: string): string[] {
  return excerpt
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function run(excerpt: string | string[], localDomains: string[] = [], file = FILE): { facts: SmtpFact[]; parser: IcewarpSessions } {
  const facts: SmtpFact[] = [];
  const parser = new IcewarpSessions({ localDomains: new LocalDomains(localDomains), emit: (f) => facts.push(f) });
  parser.feedLines(file, typeof excerpt === 'string' ? lines(excerpt) : excerpt);
  return { facts, parser };
}

const P = '203.0.113.7';

describe('IcewarpSessions: the real samples', () => {
  it('KB attack sample: a session and a successful LOGIN as info@domaine.com; cut before DATA, so no message', () => {
    const text = readFileSync(new URL(SAMPLE_FILE['icewarp-kb-attack.log']!, SAMPLES), 'utf8');
    const { facts, parser } = run(text.split(/\r?\n/).filter((l) => l !== ''));
    expect(facts).toEqual([
      { type: 'session', time: at('06:51:31'), peer: '178.122.118.159' },
      { type: 'auth', time: at('06:51:33'), peer: '178.122.118.159', mechanism: 'login', username: 'info@domaine.com', success: true },
    ]);
    expect(parser.stats).toEqual({ lines: 16, unparsed: 0, lastLineTime: at('06:51:33'), openSessions: 1 });
  });

  it('docs sample: an unauthenticated message to an external recipient (accepted by its OK summary line)', () => {
    const text = readFileSync(new URL(SAMPLE_FILE['icewarp-docs-session.log']!, SAMPLES), 'utf8');
    const { facts, parser } = run(text.split(/\r?\n/).filter((l) => l !== ''));
    const t = Date.UTC(2004, 3, 22, 20, 1, 42) / 1000;
    expect(facts).toEqual([
      { type: 'session', time: t, peer: '127.0.0.1' },
      {
        type: 'message',
        time: t + 1,
        peer: '127.0.0.1',
        account: undefined,
        authenticated: false,
        mailFrom: 'admin@icewarpdemo.com',
        recipients: [{ domainKey: domainKey('seznam.cz'), external: true }],
      },
    ]);
    // The SYSTEM line is recognised, not unparsed; its HH:MM:SS time takes the file's date.
    expect(parser.stats).toEqual({ lines: 12, unparsed: 0, lastLineTime: at('00:03:52'), openSessions: 1 });
  });
});

describe('IcewarpSessions: AUTH', () => {
  const head = `
    ${P} [0A01] 10:00:00 Connected
    ${P} [0A01] 10:00:00 >>> 220 mail.domaine.com ESMTP IceWarp 13.0.2; Mon, 15 Jul 2013 10:00:00 +0000
    ${P} [0A01] 10:00:01 <<< EHLO client.example
    ${P} [0A01] 10:00:01 >>> 250-mail.domaine.com Hello client.example [${P}], pleased to meet you.
    ${P} [0A01] 10:00:01 >>> 250-AUTH LOGIN PLAIN CRAM-MD5
    ${P} [0A01] 10:00:01 >>> 250 SIZE 10485760`;
  const session = { type: 'session', time: at('10:00:00'), peer: P };
  const auth = (mechanism: string, username: string | undefined, success: boolean, time = at('10:00:03')) => ({
    type: 'auth',
    time,
    peer: P,
    mechanism,
    username,
    success,
  });

  it('LOGIN success, then a message counted for the account', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:02 <<< AUTH LOGIN
      ${P} [0A01] 10:00:02 >>> 334 VXNlcm5hbWU6
      ${P} [0A01] 10:00:02 <<< ${b64('Compta@Domaine.com')}
      ${P} [0A01] 10:00:02 >>> 334 UGFzc3dvcmQ6
      ${P} [0A01] 10:00:03 <<< ${b64('s3cret!')}
      ${P} [0A01] 10:00:03 >>> 235 2.0.0 Authentication successful
      ${P} [0A01] 10:00:04 <<< MAIL FROM:<compta@domaine.com> SIZE=2048
      ${P} [0A01] 10:00:04 >>> 250 2.1.0 <compta@domaine.com>... Sender ok
      ${P} [0A01] 10:00:04 <<< RCPT TO:<paul@gmail.com>
      ${P} [0A01] 10:00:04 >>> 250 2.1.5 <paul@gmail.com>... Recipient ok; will forward
      ${P} [0A01] 10:00:04 <<< RCPT TO:<info@domaine.com>
      ${P} [0A01] 10:00:04 >>> 250 2.1.5 <info@domaine.com>... Recipient ok
      ${P} [0A01] 10:00:04 <<< DATA
      ${P} [0A01] 10:00:04 >>> 354 Enter mail, end with '.' on a line by itself
      ${P} [0A01] 10:00:05 *** <compta@domaine.com> <paul@gmail.com> <info@domaine.com> 1 2048 00:00:01 OK
      ${P} [0A01] 10:00:05 >>> 250 2.6.0 2048 bytes received in 00:00:01; Message accepted for delivery
      ${P} [0A01] 10:00:06 <<< QUIT
      ${P} [0A01] 10:00:06 >>> 221 2.0.0 mail.domaine.com closing connection
      ${P} [0A01] 10:00:06 Disconnected`);
    expect(facts).toEqual([
      session,
      auth('login', 'compta@domaine.com', true),
      {
        type: 'message',
        time: at('10:00:05'),
        peer: P,
        account: 'compta@domaine.com',
        authenticated: true,
        mailFrom: 'compta@domaine.com',
        recipients: [
          { domainKey: domainKey('gmail.com'), external: true },
          { domainKey: domainKey('domaine.com'), external: false },
        ],
      },
    ]);
  });

  it('LOGIN with the username as initial response', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:02 <<< AUTH LOGIN ${b64('info@domaine.com')}
      ${P} [0A01] 10:00:02 >>> 334 UGFzc3dvcmQ6
      ${P} [0A01] 10:00:03 <<< ${b64('pw')}
      ${P} [0A01] 10:00:03 >>> 235 2.0.0 Authentication successful`);
    expect(facts).toEqual([session, auth('login', 'info@domaine.com', true)]);
  });

  it('PLAIN inline, with and without authzid', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:03 <<< AUTH PLAIN ${b64('\0contact@domaine.com\0pw1')}
      ${P} [0A01] 10:00:03 >>> 535 5.7.8 Authentication credentials invalid
      ${P} [0A01] 10:00:03 <<< AUTH PLAIN ${b64('admin@domaine.com\0contact@domaine.com\0pw2')}
      ${P} [0A01] 10:00:03 >>> 235 2.0.0 Authentication successful`);
    expect(facts).toEqual([session, auth('plain', 'contact@domaine.com', false), auth('plain', 'contact@domaine.com', true)]);
  });

  it('PLAIN continued after an empty 334', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:02 <<< AUTH PLAIN
      ${P} [0A01] 10:00:02 >>> 334 
      ${P} [0A01] 10:00:03 <<< ${b64('\0rh@domaine.com\0pw')}
      ${P} [0A01] 10:00:03 >>> 235 2.0.0 Authentication successful`);
    expect(facts).toEqual([session, auth('plain', 'rh@domaine.com', true)]);
  });

  it('PLAIN without two NULs yields no username (the bytes could be the password)', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:03 <<< AUTH PLAIN ${b64('user\0pw')}
      ${P} [0A01] 10:00:03 >>> 501 5.5.2 Syntax error`);
    expect(facts).toEqual([session, auth('plain', undefined, false)]);
  });

  it('CRAM-MD5: the user is before the last space of the response', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:02 <<< AUTH CRAM-MD5
      ${P} [0A01] 10:00:02 >>> 334 ${b64('<1896.697170952@mail.domaine.com>')}
      ${P} [0A01] 10:00:03 <<< ${b64('ventes@domaine.com b913a602c7eda7a495b4e6e7334d3890')}
      ${P} [0A01] 10:00:03 >>> 235 2.0.0 Authentication successful`);
    expect(facts).toEqual([session, auth('cram_md5', 'ventes@domaine.com', true)]);
  });

  it('cancel with `*` is a failed attempt, with or without a username sent', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:03 <<< AUTH LOGIN
      ${P} [0A01] 10:00:03 >>> 334 VXNlcm5hbWU6
      ${P} [0A01] 10:00:03 <<< *
      ${P} [0A01] 10:00:03 >>> 501 5.7.0 Authentication cancelled
      ${P} [0A01] 10:00:03 <<< AUTH LOGIN
      ${P} [0A01] 10:00:03 >>> 334 VXNlcm5hbWU6
      ${P} [0A01] 10:00:03 <<< ${b64('info@domaine.com')}
      ${P} [0A01] 10:00:03 >>> 334 UGFzc3dvcmQ6
      ${P} [0A01] 10:00:03 <<< *
      ${P} [0A01] 10:00:03 >>> 501 5.7.0 Authentication failed`);
    expect(facts).toEqual([session, auth('login', undefined, false), auth('login', 'info@domaine.com', false)]);
  });

  it('535 and 454 are failures; a message after them is unauthenticated', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:02 <<< AUTH LOGIN
      ${P} [0A01] 10:00:02 >>> 334 VXNlcm5hbWU6
      ${P} [0A01] 10:00:02 <<< ${b64('INFO@domaine.com ')}
      ${P} [0A01] 10:00:02 >>> 334 UGFzc3dvcmQ6
      ${P} [0A01] 10:00:03 <<< ${b64('wrong')}
      ${P} [0A01] 10:00:03 >>> 535 5.7.8 Authentication credentials invalid
      ${P} [0A01] 10:00:03 <<< AUTH LOGIN
      ${P} [0A01] 10:00:03 >>> 334 VXNlcm5hbWU6
      ${P} [0A01] 10:00:03 <<< ${b64('info@domaine.com')}
      ${P} [0A01] 10:00:03 >>> 334 UGFzc3dvcmQ6
      ${P} [0A01] 10:00:03 <<< ${b64('again')}
      ${P} [0A01] 10:00:03 >>> 454 4.7.0 Temporary authentication failure
      ${P} [0A01] 10:00:04 <<< MAIL FROM:<x@y.org>
      ${P} [0A01] 10:00:04 >>> 250 2.1.0 <x@y.org>... Sender ok
      ${P} [0A01] 10:00:04 <<< RCPT TO:<info@domaine.com>
      ${P} [0A01] 10:00:04 >>> 250 2.1.5 <info@domaine.com>... Recipient ok
      ${P} [0A01] 10:00:04 <<< DATA
      ${P} [0A01] 10:00:04 >>> 354 Enter mail
      ${P} [0A01] 10:00:05 >>> 250 2.6.0 Message accepted`);
    expect(facts).toEqual([
      session,
      auth('login', 'info@domaine.com', false),
      auth('login', 'info@domaine.com', false),
      {
        type: 'message',
        time: at('10:00:05'),
        peer: P,
        account: undefined,
        authenticated: false,
        mailFrom: 'x@y.org',
        recipients: [{ domainKey: domainKey('domaine.com'), external: false }],
      },
    ]);
  });

  it('LOGIN follows the prompts: a lost or trimmed username line never turns the password into a username', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:02 <<< AUTH LOGIN
      ${P} [0A01] 10:00:02 >>> 334 VXNlcm5hbWU6
      ${P} [0A01] 10:00:02 >>> 334 UGFzc3dvcmQ6
      ${P} [0A01] 10:00:03 <<< ${b64('hunter2')}
      ${P} [0A01] 10:00:03 >>> 535 5.7.8 Authentication credentials invalid
      ${P} [0A01] 10:00:04 <<< AUTH LOGIN
      ${P} [0A01] 10:00:04 >>> 334 VXNlcm5hbWU6
      ${P} [0A01] 10:00:04 <<<
      ${P} [0A01] 10:00:04 >>> 334 UGFzc3dvcmQ6
      ${P} [0A01] 10:00:04 <<< ${b64('hunter3')}
      ${P} [0A01] 10:00:04 >>> 535 5.7.8 Authentication credentials invalid`);
    expect(facts).toEqual([session, auth('login', undefined, false), auth('login', undefined, false, at('10:00:04'))]);
  });

  it('a successful AUTH of another mechanism has no account, but the session is authenticated', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:03 <<< AUTH NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=
      ${P} [0A01] 10:00:03 >>> 334 TlRMTVNTUAACAAAADAAMADAAAAA=
      ${P} [0A01] 10:00:03 <<< TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAA==
      ${P} [0A01] 10:00:03 >>> 235 2.7.0 Authentication successful
      ${P} [0A01] 10:00:04 <<< MAIL FROM:<rh@domaine.com>
      ${P} [0A01] 10:00:04 >>> 250 2.1.0 Sender ok
      ${P} [0A01] 10:00:04 <<< RCPT TO:<x@yahoo.com>
      ${P} [0A01] 10:00:04 >>> 250 2.1.5 <x@yahoo.com>... Recipient ok; will forward
      ${P} [0A01] 10:00:04 <<< RCPT TO:<y@yahoo.com>
      ${P} [0A01] 10:00:04 >>> 550 5.7.1 <y@yahoo.com>... Relay access denied
      ${P} [0A01] 10:00:04 <<< DATA
      ${P} [0A01] 10:00:04 >>> 354 go
      ${P} [0A01] 10:00:05 >>> 250 2.6.0 Message accepted`);
    expect(facts).toEqual([
      session,
      auth('other', undefined, true),
      {
        type: 'message',
        time: at('10:00:05'),
        peer: P,
        account: undefined,
        authenticated: true,
        mailFrom: 'rh@domaine.com',
        recipients: [{ domainKey: domainKey('yahoo.com'), external: true }],
      },
    ]);
  });

  it('other mechanisms count as `other` with no username', () => {
    const { facts } = run(`${head}
      ${P} [0A01] 10:00:03 <<< AUTH NTLM
      ${P} [0A01] 10:00:03 >>> 334 
      ${P} [0A01] 10:00:03 <<< TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=
      ${P} [0A01] 10:00:03 >>> 334 TlRMTVNTUAACAAAADAAMADAAAAA=
      ${P} [0A01] 10:00:03 <<< TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAA==
      ${P} [0A01] 10:00:03 >>> 535 5.7.8 Authentication failed
      ${P} [0A01] 10:00:03 <<< auth xoauth2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB2RjlkZnQ0cU1UYzJOekF6WkdNM09EVTFNemcyTlRnMk1EazJOalUxTVRrNE1qZ3lPREkzTmpjPQEB
      ${P} [0A01] 10:00:03 >>> 535 5.7.8 Authentication failed`);
    expect(facts).toEqual([session, auth('other', undefined, false), auth('other', undefined, false)]);
  });
});

describe('IcewarpSessions: mail transactions', () => {
  const open = (thread: string, peer = P) => `
    ${peer} [${thread}] 11:00:00 Connected
    ${peer} [${thread}] 11:00:00 >>> 220 mail.domaine.com ESMTP IceWarp 13.0.2
    ${peer} [${thread}] 11:00:00 <<< EHLO relay.example
    ${peer} [${thread}] 11:00:00 >>> 250-mail.domaine.com Hello relay.example`;
  const msg = (from: string, rcpts: string[], time: string, peer = P) => ({
    type: 'message',
    time: at(time),
    peer,
    account: undefined,
    authenticated: false,
    mailFrom: from,
    recipients: rcpts.map((r) => ({ domainKey: domainKey(r.slice(r.indexOf('@') + 1)), external: !r.endsWith('@domaine.com') })),
  });

  it('several messages per session, each with its own recipients; case and spacing vary; null sender', () => {
    const { facts } = run(`${open('0B01')}
      ${P} [0B01] 11:00:01 <<< MAIL From:<Alice@Example.ORG> SIZE=123 BODY=8BITMIME
      ${P} [0B01] 11:00:01 >>> 250 2.1.0 <alice@example.org>... Sender ok
      ${P} [0B01] 11:00:01 <<< RCPT To:<Info@Domaine.com>
      ${P} [0B01] 11:00:01 >>> 250 2.1.5 <info@domaine.com>... Recipient ok
      ${P} [0B01] 11:00:01 <<< DATA
      ${P} [0B01] 11:00:01 >>> 354 Enter mail
      ${P} [0B01] 11:00:02 >>> 250 2.6.0 Message accepted
      ${P} [0B01] 11:00:03 <<< mail from: <>
      ${P} [0B01] 11:00:03 >>> 250 2.1.0 <>... Sender ok
      ${P} [0B01] 11:00:03 <<< rcpt to: <contact@domaine.com> NOTIFY=NEVER
      ${P} [0B01] 11:00:03 >>> 250 2.1.5 <contact@domaine.com>... Recipient ok
      ${P} [0B01] 11:00:03 <<< RCPT TO:<compta@domaine.com>
      ${P} [0B01] 11:00:03 >>> 250 2.1.5 <compta@domaine.com>... Recipient ok
      ${P} [0B01] 11:00:03 <<< data
      ${P} [0B01] 11:00:03 >>> 354 Enter mail
      ${P} [0B01] 11:00:04 >>> 250 2.6.0 Message accepted`);
    expect(facts).toEqual([
      { type: 'session', time: at('11:00:00'), peer: P },
      msg('alice@example.org', ['info@domaine.com'], '11:00:02'),
      msg('', ['contact@domaine.com', 'compta@domaine.com'], '11:00:04'),
    ]);
  });

  it('RSET and a new MAIL FROM end a transaction; rejected RCPTs are not recipients', () => {
    const { facts } = run(`${open('0B02')}
      ${P} [0B02] 11:00:01 <<< MAIL FROM:<a@example.org>
      ${P} [0B02] 11:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0B02] 11:00:01 <<< RCPT TO:<info@domaine.com>
      ${P} [0B02] 11:00:01 >>> 250 2.1.5 Recipient ok
      ${P} [0B02] 11:00:01 <<< RSET
      ${P} [0B02] 11:00:01 >>> 250 2.0.0 Reset state
      ${P} [0B02] 11:00:02 <<< MAIL FROM:<b@example.org>
      ${P} [0B02] 11:00:02 >>> 250 2.1.0 Sender ok
      ${P} [0B02] 11:00:02 <<< RCPT TO:<old@domaine.com>
      ${P} [0B02] 11:00:02 >>> 250 2.1.5 Recipient ok
      ${P} [0B02] 11:00:02 <<< MAIL FROM:<c@example.org>
      ${P} [0B02] 11:00:02 >>> 250 2.1.0 Sender ok
      ${P} [0B02] 11:00:02 <<< RCPT TO:<nobody@domaine.com>
      ${P} [0B02] 11:00:02 >>> 550 5.1.1 <nobody@domaine.com>... User unknown
      ${P} [0B02] 11:00:02 <<< RCPT TO:<busy@domaine.com>
      ${P} [0B02] 11:00:02 >>> 452 4.2.2 Mailbox full
      ${P} [0B02] 11:00:02 <<< RCPT TO:<contact@domaine.com>
      ${P} [0B02] 11:00:02 >>> 250 2.1.5 Recipient ok
      ${P} [0B02] 11:00:02 <<< DATA
      ${P} [0B02] 11:00:02 >>> 354 Enter mail
      ${P} [0B02] 11:00:03 >>> 250 2.6.0 Message accepted`);
    expect(facts).toEqual([{ type: 'session', time: at('11:00:00'), peer: P }, msg('c@example.org', ['contact@domaine.com'], '11:00:03')]);
  });

  it('DATA refused (5xx after 354, or 5xx/4xx instead of 354) yields no message', () => {
    const { facts } = run(`${open('0B03')}
      ${P} [0B03] 11:00:01 <<< MAIL FROM:<a@example.org>
      ${P} [0B03] 11:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0B03] 11:00:01 <<< RCPT TO:<info@domaine.com>
      ${P} [0B03] 11:00:01 >>> 250 2.1.5 Recipient ok
      ${P} [0B03] 11:00:01 <<< DATA
      ${P} [0B03] 11:00:01 >>> 354 Enter mail
      ${P} [0B03] 11:00:02 >>> 554 5.7.1 Message rejected: spam
      ${P} [0B03] 11:00:02 <<< MAIL FROM:<a@example.org>
      ${P} [0B03] 11:00:02 >>> 250 2.1.0 Sender ok
      ${P} [0B03] 11:00:02 <<< RCPT TO:<info@domaine.com>
      ${P} [0B03] 11:00:02 >>> 250 2.1.5 Recipient ok
      ${P} [0B03] 11:00:02 <<< DATA
      ${P} [0B03] 11:00:02 >>> 451 4.3.0 Try again later
      ${P} [0B03] 11:00:03 <<< QUIT
      ${P} [0B03] 11:00:03 >>> 221 2.0.0 Bye`);
    expect(facts).toEqual([{ type: 'session', time: at('11:00:00'), peer: P }]);
  });

  it('BDAT chunks: the message counts at the 2xx reply to BDAT … LAST; STARTTLS ends a transaction', () => {
    const { facts } = run(`${open('0B08')}
      ${P} [0B08] 11:00:01 <<< MAIL FROM:<a@example.org>
      ${P} [0B08] 11:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0B08] 11:00:01 <<< STARTTLS
      ${P} [0B08] 11:00:01 >>> 220 2.0.0 Ready to start TLS
      ${P} [0B08] 11:00:01 <<< RCPT TO:<info@domaine.com>
      ${P} [0B08] 11:00:01 >>> 503 5.5.1 Need MAIL first
      ${P} [0B08] 11:00:01 <<< BDAT 100 LAST
      ${P} [0B08] 11:00:01 >>> 503 5.5.1 No valid recipients
      ${P} [0B08] 11:00:02 <<< MAIL FROM:<b@example.org>
      ${P} [0B08] 11:00:02 >>> 250 2.1.0 Sender ok
      ${P} [0B08] 11:00:02 <<< RCPT TO:<info@domaine.com>
      ${P} [0B08] 11:00:02 >>> 250 2.1.5 Recipient ok
      ${P} [0B08] 11:00:02 <<< BDAT 65536
      ${P} [0B08] 11:00:02 >>> 250 2.0.0 65536 bytes received
      ${P} [0B08] 11:00:03 <<< BDAT 1200 last
      ${P} [0B08] 11:00:03 >>> 250 2.6.0 Message accepted`);
    expect(facts).toEqual([{ type: 'session', time: at('11:00:00'), peer: P }, msg('b@example.org', ['info@domaine.com'], '11:00:03')]);
  });

  it('an OK summary then the final 250 count one message', () => {
    const { facts } = run(`${open('0B04')}
      ${P} [0B04] 11:00:01 <<< MAIL FROM:<a@example.org>
      ${P} [0B04] 11:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0B04] 11:00:01 <<< RCPT TO:<info@domaine.com>
      ${P} [0B04] 11:00:01 >>> 250 2.1.5 Recipient ok
      ${P} [0B04] 11:00:01 <<< DATA
      ${P} [0B04] 11:00:01 >>> 354 Enter mail
      ${P} [0B04] 11:00:02 *** <a@example.org> <info@domaine.com> 1 512 00:00:01 OK
      ${P} [0B04] 11:00:02 >>> 250 2.6.0 Message accepted`);
    expect(facts.filter((f) => f.type === 'message')).toEqual([msg('a@example.org', ['info@domaine.com'], '11:00:02')]);
  });

  it('pipelined commands are answered in order; multi-line replies logged in full', () => {
    const { facts } = run(`
      ${P} [0B05] 11:00:00 Connected
      ${P} [0B05] 11:00:00 >>> 220-mail.domaine.com ESMTP IceWarp 13.0.2
      ${P} [0B05] 11:00:00 >>> 220 no UCE
      ${P} [0B05] 11:00:00 <<< EHLO relay.example
      ${P} [0B05] 11:00:00 >>> 250-mail.domaine.com Hello relay.example
      ${P} [0B05] 11:00:00 >>> 250-PIPELINING
      ${P} [0B05] 11:00:00 >>> 250-SIZE 10485760
      ${P} [0B05] 11:00:00 >>> 250 8BITMIME
      ${P} [0B05] 11:00:01 <<< MAIL FROM:<a@example.org>
      ${P} [0B05] 11:00:01 <<< RCPT TO:<info@domaine.com>
      ${P} [0B05] 11:00:01 <<< RCPT TO:<ghost@domaine.com>
      ${P} [0B05] 11:00:01 <<< RCPT TO:<compta@domaine.com>
      ${P} [0B05] 11:00:01 <<< DATA
      ${P} [0B05] 11:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0B05] 11:00:01 >>> 250 2.1.5 Recipient ok
      ${P} [0B05] 11:00:01 >>> 550 5.1.1 User unknown
      ${P} [0B05] 11:00:01 >>> 250 2.1.5 Recipient ok
      ${P} [0B05] 11:00:01 >>> 354 Enter mail
      ${P} [0B05] 11:00:02 >>> 250 2.6.0 Message accepted`);
    expect(facts).toEqual([
      { type: 'session', time: at('11:00:00'), peer: P },
      msg('a@example.org', ['info@domaine.com', 'compta@domaine.com'], '11:00:02'),
    ]);
  });

  it('external recipients: IceWarp\'s "will forward" without local_domains, the configured domains with them', () => {
    const excerpt = `${open('0B06')}
      ${P} [0B06] 11:00:01 <<< MAIL FROM:<a@example.org>
      ${P} [0B06] 11:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0B06] 11:00:01 <<< RCPT TO:<x@sub.domaine.com>
      ${P} [0B06] 11:00:01 >>> 250 2.1.5 <x@sub.domaine.com>... Recipient ok; will forward
      ${P} [0B06] 11:00:01 <<< RCPT TO:<y@gmail.com>
      ${P} [0B06] 11:00:01 >>> 250 2.1.5 <y@gmail.com>... Recipient ok
      ${P} [0B06] 11:00:01 <<< DATA
      ${P} [0B06] 11:00:01 >>> 354 Enter mail
      ${P} [0B06] 11:00:02 >>> 250 2.6.0 Message accepted`;
    const recipients = (localDomains: string[]) => {
      const m = run(excerpt, localDomains).facts.find((f) => f.type === 'message');
      return m?.type === 'message' ? m.recipients.map((r) => [r.domainKey, r.external]) : undefined;
    };
    const sub = domainKey('sub.domaine.com');
    const gmail = domainKey('gmail.com');
    expect(recipients([])).toEqual([[sub, true], [gmail, false]]);
    expect(recipients(['domaine.com', '*.domaine.com'])).toEqual([[sub, false], [gmail, true]]);
    expect(recipients(['domaine.com'])).toEqual([[sub, true], [gmail, true]]);
  });

  it('setLocalDomains applies to the lines after it', () => {
    const facts: SmtpFact[] = [];
    const parser = new IcewarpSessions({ localDomains: new LocalDomains([]), emit: (f) => facts.push(f) });
    const all = lines(`${open('0B07')}
      ${P} [0B07] 11:00:01 <<< MAIL FROM:<a@example.org>
      ${P} [0B07] 11:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0B07] 11:00:01 <<< RCPT TO:<y@gmail.com>
      ${P} [0B07] 11:00:01 >>> 250 2.1.5 <y@gmail.com>... Recipient ok
      ${P} [0B07] 11:00:01 <<< DATA`);
    parser.feedLines(FILE, all.slice(0, -2));
    parser.setLocalDomains(new LocalDomains(['domaine.com']));
    parser.feedLines(FILE, all.slice(-2));
    parser.feedLines(FILE, [`${P} [0B07] 11:00:01 >>> 354 go`, `${P} [0B07] 11:00:02 >>> 250 ok`]);
    const m = facts.find((f) => f.type === 'message');
    expect(m?.type === 'message' && m.recipients).toEqual([{ domainKey: domainKey('gmail.com'), external: true }]);
  });
});

describe('IcewarpSessions: sessions', () => {
  const Q = '2001:db8::42';

  it('interleaved sessions of different peers and threads keep their own state', () => {
    const { facts } = run(`
      ${P} [0C01] 12:00:00 Connected
      ${Q} [0C01] 12:00:00 Connected
      ${P} [0C02] 12:00:00 Connected
      ${Q} [0C01] 12:00:00 >>> 220 mail.domaine.com ESMTP
      ${P} [0C01] 12:00:00 >>> 220 mail.domaine.com ESMTP
      ${P} [0C02] 12:00:00 >>> 220 mail.domaine.com ESMTP
      ${P} [0C01] 12:00:01 <<< AUTH LOGIN
      ${Q} [0C01] 12:00:01 <<< AUTH LOGIN
      ${P} [0C01] 12:00:01 >>> 334 VXNlcm5hbWU6
      ${Q} [0C01] 12:00:01 >>> 334 VXNlcm5hbWU6
      ${Q} [0C01] 12:00:01 <<< ${b64('qq@domaine.com')}
      ${P} [0C01] 12:00:01 <<< ${b64('pp@domaine.com')}
      ${P} [0C02] 12:00:01 <<< MAIL FROM:<z@example.org>
      ${P} [0C01] 12:00:01 >>> 334 UGFzc3dvcmQ6
      ${Q} [0C01] 12:00:01 >>> 334 UGFzc3dvcmQ6
      ${P} [0C02] 12:00:01 >>> 250 2.1.0 Sender ok
      ${Q} [0C01] 12:00:02 <<< ${b64('pw-q')}
      ${P} [0C01] 12:00:02 <<< ${b64('pw-p')}
      ${P} [0C02] 12:00:02 <<< RCPT TO:<rcpt@domaine.com>
      ${P} [0C01] 12:00:02 >>> 235 2.0.0 Authentication successful
      ${Q} [0C01] 12:00:02 >>> 535 5.7.8 Authentication credentials invalid
      ${P} [0C02] 12:00:02 >>> 250 2.1.5 Recipient ok
      ${P} [0C02] 12:00:02 <<< DATA
      ${P} [0C02] 12:00:02 >>> 354 go
      ${P} [0C01] 12:00:03 <<< MAIL FROM:<pp@domaine.com>
      ${P} [0C02] 12:00:03 >>> 250 2.6.0 accepted
      ${P} [0C01] 12:00:03 >>> 250 2.1.0 Sender ok`);
    expect(facts).toEqual([
      { type: 'session', time: at('12:00:00'), peer: Q },
      { type: 'session', time: at('12:00:00'), peer: P },
      { type: 'session', time: at('12:00:00'), peer: P },
      { type: 'auth', time: at('12:00:02'), peer: P, mechanism: 'login', username: 'pp@domaine.com', success: true },
      { type: 'auth', time: at('12:00:02'), peer: Q, mechanism: 'login', username: 'qq@domaine.com', success: false },
      {
        type: 'message',
        time: at('12:00:03'),
        peer: P,
        account: undefined,
        authenticated: false,
        mailFrom: 'z@example.org',
        recipients: [{ domainKey: domainKey('domaine.com'), external: false }],
      },
    ]);
  });

  const authOk = (thread: string, t: string) => `
      ${P} [${thread}] ${t} <<< AUTH PLAIN ${b64('\0info@domaine.com\0pw')}
      ${P} [${thread}] ${t} >>> 235 2.0.0 Authentication successful`;
  const message = (thread: string, t: string) => `
      ${P} [${thread}] ${t} <<< MAIL FROM:<info@domaine.com>
      ${P} [${thread}] ${t} >>> 250 2.1.0 Sender ok
      ${P} [${thread}] ${t} <<< RCPT TO:<someone@gmail.com>
      ${P} [${thread}] ${t} >>> 250 2.1.5 Recipient ok; will forward
      ${P} [${thread}] ${t} <<< DATA
      ${P} [${thread}] ${t} >>> 354 go
      ${P} [${thread}] ${t} >>> 250 2.6.0 accepted`;
  const accounts = (facts: SmtpFact[]) => facts.flatMap((f) => (f.type === 'message' ? [f.account ?? '(none)'] : f.type === 'session' ? ['session'] : []));

  it('a thread id reused after Disconnected starts a fresh, unauthenticated session', () => {
    const { facts, parser } = run(`
      ${P} [0D01] 13:00:00 Connected
      ${P} [0D01] 13:00:00 >>> 220 mail.domaine.com ESMTP
      ${authOk('0D01', '13:00:01')}
      ${message('0D01', '13:00:02')}
      ${P} [0D01] 13:00:03 Disconnected
      ${P} [0D01] 13:00:04 Connected
      ${P} [0D01] 13:00:04 >>> 220 mail.domaine.com ESMTP
      ${message('0D01', '13:00:05')}
      ${P} [0D01] 13:00:06 Disconnected`);
    expect(accounts(facts)).toEqual(['session', 'info@domaine.com', 'session', '(none)']);
    expect(parser.stats.openSessions).toBe(0);
  });

  it('a new Connected without Disconnected also starts afresh', () => {
    const { facts, parser } = run(`
      ${P} [0D02] 13:00:00 Connected
      ${P} [0D02] 13:00:00 >>> 220 mail.domaine.com ESMTP
      ${authOk('0D02', '13:00:01')}
      ${P} [0D02] 13:00:02 <<< MAIL FROM:<info@domaine.com>
      ${P} [0D02] 13:00:02 >>> 250 2.1.0 Sender ok
      ${P} [0D02] 13:00:04 Connected
      ${P} [0D02] 13:00:04 >>> 220 mail.domaine.com ESMTP
      ${P} [0D02] 13:00:05 <<< DATA
      ${P} [0D02] 13:00:05 >>> 503 5.5.1 No recipients
      ${message('0D02', '13:00:05')}`);
    expect(accounts(facts)).toEqual(['session', 'session', '(none)']);
    expect(parser.stats.openSessions).toBe(1);
  });

  it('client sessions (IceWarp delivering) never yield facts', () => {
    const { facts, parser } = run(`
      198.51.100.25 [0E01] 14:00:00 Connected
      198.51.100.25 [0E01] 14:00:00 <<< 220 mx.gmail.com ESMTP ready
      198.51.100.25 [0E01] 14:00:00 >>> EHLO mail.domaine.com
      198.51.100.25 [0E01] 14:00:00 <<< 250-mx.gmail.com at your service
      198.51.100.25 [0E01] 14:00:00 >>> AUTH PLAIN ${b64('\0relay@domaine.com\0pw')}
      198.51.100.25 [0E01] 14:00:00 <<< 235 2.7.0 Accepted
      198.51.100.25 [0E01] 14:00:01 >>> MAIL FROM:<info@domaine.com>
      198.51.100.25 [0E01] 14:00:01 <<< 250 2.1.0 OK
      198.51.100.25 [0E01] 14:00:01 >>> RCPT TO:<someone@gmail.com>
      198.51.100.25 [0E01] 14:00:01 <<< 250 2.1.5 OK
      198.51.100.25 [0E01] 14:00:01 >>> DATA
      198.51.100.25 [0E01] 14:00:01 <<< 354 Go ahead
      198.51.100.25 [0E01] 14:00:02 *** <info@domaine.com> <someone@gmail.com> 1 900 00:00:01 OK
      198.51.100.25 [0E01] 14:00:02 <<< 250 2.0.0 OK queued
      198.51.100.25 [0E01] 14:00:02 >>> QUIT
      198.51.100.25 [0E01] 14:00:02 <<< 221 2.0.0 closing connection
      198.51.100.25 [0E01] 14:00:02 Disconnected`);
    expect(facts).toEqual([]);
    expect(parser.stats).toMatchObject({ lines: 17, unparsed: 0, openSessions: 0 });
  });

  it('relay denied: 5xx with 5.7.1 or naming relaying, only without successful AUTH', () => {
    const { facts } = run(`
      ${P} [0F01] 15:00:00 Connected
      ${P} [0F01] 15:00:00 >>> 220 mail.domaine.com ESMTP
      ${P} [0F01] 15:00:01 <<< MAIL FROM:<spam@example.org>
      ${P} [0F01] 15:00:01 >>> 250 2.1.0 Sender ok
      ${P} [0F01] 15:00:01 <<< RCPT TO:<a@yahoo.com>
      ${P} [0F01] 15:00:01 >>> 550 5.7.1 <a@yahoo.com>... Relay access denied
      ${P} [0F01] 15:00:01 <<< RCPT TO:<b@yahoo.com>
      ${P} [0F01] 15:00:01 >>> 554 Relaying not allowed
      ${P} [0F01] 15:00:01 <<< RCPT TO:<c@yahoo.com>
      ${P} [0F01] 15:00:01 >>> 450 4.7.1 Relaying temporarily refused
      ${P} [0F01] 15:00:01 <<< RCPT TO:<d@domaine.com>
      ${P} [0F01] 15:00:01 >>> 550 5.1.1 User unknown
      ${authOk('0F01', '15:00:02')}
      ${P} [0F01] 15:00:03 <<< RCPT TO:<e@yahoo.com>
      ${P} [0F01] 15:00:03 >>> 550 5.7.1 Sender not allowed to relay`);
    expect(facts).toEqual([
      { type: 'session', time: at('15:00:00'), peer: P },
      { type: 'relay_denied', time: at('15:00:01'), peer: P },
      { type: 'relay_denied', time: at('15:00:01'), peer: P },
      { type: 'auth', time: at('15:00:02'), peer: P, mechanism: 'plain', username: 'info@domaine.com', success: true },
    ]);
  });

  it('a session joined midway (no Connected seen) is followed but not counted as started', () => {
    const { facts } = run(`
      ${P} [0F02] 15:00:00 <<< AUTH LOGIN
      ${P} [0F02] 15:00:00 >>> 334 VXNlcm5hbWU6
      ${P} [0F02] 15:00:00 <<< ${b64('info@domaine.com')}
      ${P} [0F02] 15:00:00 >>> 334 UGFzc3dvcmQ6
      ${P} [0F02] 15:00:00 <<< ${b64('pw')}
      ${P} [0F02] 15:00:00 >>> 235 2.0.0 Authentication successful
      ${message('0F02', '15:00:01')}`);
    expect(accounts(facts)).toEqual(['info@domaine.com']);
    expect(facts.filter((f) => f.type === 'auth')).toHaveLength(1);
  });

  it('caps open sessions, dropping the oldest', () => {
    const facts: SmtpFact[] = [];
    const parser = new IcewarpSessions({ localDomains: new LocalDomains([]), emit: (f) => facts.push(f), maxOpenSessions: 3 });
    for (let i = 0; i < 10; i++) parser.feed(FILE, `10.0.0.${i} [0001] 16:00:00 Connected`);
    expect(parser.stats.openSessions).toBe(3);
    // The newest are still open: their greetings start server sessions.
    for (let i = 7; i < 10; i++) parser.feed(FILE, `10.0.0.${i} [0001] 16:00:00 >>> 220 hi`);
    expect(facts).toHaveLength(3);
  });

  it('counts lines and unparsed lines; SYSTEM and *** lines are not unparsed; unknown times take the last known time', () => {
    const { facts, parser } = run([
      `${P} [0F03] 17:00:00 Connected`,
      'garbage',
      '',
      `SYSTEM [0000] 17:00:01 Forwarded mails older than 20 days`,
      `${P} [0F03] 17:00:02 *** <a@b.c> <d@e.f> 1 348 00:00:00 OK`,
      `${P} [0F03] ??? >>> 220 mail.domaine.com ESMTP`,
      `${P} [0F03] 17:00:03 Some service text`,
      'another garbage line\r',
    ]);
    expect(parser.stats).toEqual({ lines: 8, unparsed: 3, lastLineTime: at('17:00:03'), openSessions: 1 });
    expect(facts).toEqual([{ type: 'session', time: at('17:00:02'), peer: P }]);
  });

  it('HH:MM:SS takes the date of the file name (size-rotated names too)', () => {
    const { facts } = run([`${P} [0F04] 01:02:03 Connected`, `${P} [0F04] 01:02:03 >>> 220 hi`], [], '/logs/smtp/s120261128-03.log');
    expect(facts).toEqual([{ type: 'session', time: Date.UTC(2026, 10, 28, 1, 2, 3) / 1000, peer: P }]);
  });
});

describe('IcewarpSessions: passwords are never kept', () => {
  const passwords = ['Tr0ub4dor&3', 'correct horse battery staple', 'P@ssw0rd-2024!', 'mot de passe été'];

  /** Every string reachable from `root` (own properties, Map/Set entries, arrays). */
  function strings(root: unknown): string[] {
    const out: string[] = [];
    const seen = new Set<unknown>();
    const walk = (v: unknown): void => {
      if (typeof v === 'string') out.push(v);
      if (typeof v !== 'object' || v === null || seen.has(v)) return;
      seen.add(v);
      if (v instanceof Map) for (const [k, x] of v) (walk(k), walk(x));
      else if (v instanceof Set) for (const x of v) walk(x);
      for (const key of Object.getOwnPropertyNames(v)) walk((v as Record<string, unknown>)[key]);
    };
    walk(root);
    return out;
  }

  it('neither the base64 nor the decoded password is in any fact or in the parser state', () => {
    const facts: SmtpFact[] = [];
    const parser = new IcewarpSessions({ localDomains: new LocalDomains([]), emit: (f) => facts.push(f) });
    const needles: string[] = [];
    const states: unknown[] = [];
    passwords.forEach((pw, i) => {
      const thread = `00A${i}`;
      const plain = b64(`\0user${i}@domaine.com\0${pw}`);
      const digest = Buffer.from(pw).toString('hex'); // stands in for the HMAC digest, which must not be kept either
      const cram = b64(`user${i}@domaine.com ${digest}`);
      needles.push(pw, b64(pw), plain, cram, digest);
      const excerpt = lines(`
        ${P} [${thread}] 18:00:00 Connected
        ${P} [${thread}] 18:00:00 >>> 220 mail.domaine.com ESMTP
        ${P} [${thread}] 18:00:01 <<< AUTH LOGIN
        ${P} [${thread}] 18:00:01 >>> 334 VXNlcm5hbWU6
        ${P} [${thread}] 18:00:01 <<< ${b64(`user${i}@domaine.com`)}
        ${P} [${thread}] 18:00:01 >>> 334 UGFzc3dvcmQ6
        ${P} [${thread}] 18:00:01 <<< ${b64(pw)}
        ${P} [${thread}] 18:00:01 >>> 535 5.7.8 Authentication credentials invalid
        ${P} [${thread}] 18:00:02 <<< AUTH PLAIN ${plain}
        ${P} [${thread}] 18:00:02 >>> 535 5.7.8 Authentication credentials invalid
        ${P} [${thread}] 18:00:03 <<< AUTH PLAIN
        ${P} [${thread}] 18:00:03 >>> 334 
        ${P} [${thread}] 18:00:03 <<< ${plain}
        ${P} [${thread}] 18:00:03 >>> 535 5.7.8 Authentication credentials invalid
        ${P} [${thread}] 18:00:04 <<< AUTH CRAM-MD5
        ${P} [${thread}] 18:00:04 >>> 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
        ${P} [${thread}] 18:00:04 <<< ${cram}
        ${P} [${thread}] 18:00:05 >>> 235 2.0.0 Authentication successful`);
      // Inspect the state in the middle of each exchange too, right after the password line.
      for (const line of excerpt) {
        parser.feed(FILE, line);
        states.push(...strings(parser));
      }
    });
    // Midway-joined session whose first line is a password.
    parser.feed(FILE, `${P} [00FF] 18:00:06 <<< ${b64(passwords[0] ?? '')}`);
    states.push(...strings(parser));

    expect(facts.filter((f) => f.type === 'auth')).toHaveLength(passwords.length * 4);
    expect(facts.filter((f) => f.type === 'auth' && f.success).map((f) => (f.type === 'auth' ? f.username : ''))).toEqual(
      passwords.map((_, i) => `user${i}@domaine.com`),
    );
    const factText = JSON.stringify(facts);
    const stateText = JSON.stringify(states);
    for (const needle of needles) {
      expect(factText).not.toContain(needle);
      expect(stateText).not.toContain(needle);
    }
    // The walk did see the state: usernames are there.
    expect(stateText).toContain('user0@domaine.com');
  });
});

describe('IcewarpSessions: lines scanned in another thread (scanLines, then feedScanned)', () => {
  /** The facts and counts of a chunk fed whole, and the same chunk scanned first, in pieces cut anywhere between lines. */
  function both(text: string, pieces: number): { whole: unknown; scanned: unknown } {
    const chunk = Buffer.from(text, 'utf8');
    const feed = (scanned: boolean): unknown => {
      const facts: SmtpFact[] = [];
      const parser = new IcewarpSessions({ localDomains: new LocalDomains([]), emit: (f) => facts.push(f) });
      let lines = 0;
      const cuts = [0];
      for (let i = 1; i < pieces; i++) {
        const nl = chunk.indexOf(0x0a, Math.floor((chunk.length * i) / pieces));
        if (nl >= 0 && nl + 1 > cuts[cuts.length - 1]!) cuts.push(nl + 1);
      }
      cuts.push(chunk.length);
      let reuse: ReturnType<typeof scanLines> | undefined;
      for (let i = 0; i + 1 < cuts.length; i++) {
        const piece = chunk.subarray(cuts[i], cuts[i + 1]);
        if (scanned) {
          // The arrays of a piece are reused for the next, as the threads hand them back.
          reuse = scanLines(piece, reuse);
          lines += parser.feedScanned(FILE, piece, reuse);
        } else lines += parser.feedChunk(FILE, piece);
      }
      return { facts, lines, stats: parser.stats };
    };
    return { whole: feed(false), scanned: feed(true) };
  }

  it('gives the facts and counts of feedChunk: the real samples, CRLF, lines out of the layout, a last line without LF', () => {
    const samples = Object.values(SAMPLE_FILE).map((f) => readFileSync(new URL(f, SAMPLES), 'utf8')).join('\n');
    const text = samples.replaceAll('\n', '\r\n') + '\ngarbage without layout\n\n127.0.0.1 [0a1b] 10:00:00 Connected';
    for (const pieces of [1, 3, 17]) {
      const { whole, scanned } = both(text, pieces);
      expect(scanned).toEqual(whole);
      expect((whole as { facts: SmtpFact[] }).facts.length).toBeGreaterThanOrEqual(4);
    }
  });

  it('scans a chunk a piece at a time (from, to) as in one go, into arrays handed back with lines of another chunk', () => {
    const text = Object.values(SAMPLE_FILE).map((f) => readFileSync(new URL(f, SAMPLES), 'utf8')).join('\n') + '\n\n' + 'x [1] 00:00:01 Connected\n'.repeat(2000) + 'last line without LF';
    const chunk = Buffer.from(text, 'utf8');
    const whole = scanLines(chunk);
    // Each line's fields: its start and end, and the layout's fields when it has the layout (-1 when not, the rest unwritten).
    const fields = (lines: ReturnType<typeof scanLines>): number[][] =>
      Array.from({ length: lines.count }, (_, i) => {
        const f = [...lines.ints.subarray(i * 11, i * 11 + 11)];
        return f[2]! < 0 ? f.slice(0, 3) : [...f, lines.times[i]!];
      });
    // Handed back full of another chunk's lines: scanning from 0 starts afresh in them.
    let pieces = scanLines(Buffer.from('a [1] 00:00:01 Connected\n'.repeat(9000)));
    const used = pieces.ints;
    for (let at = 0; at < chunk.length; ) {
      const cut = chunk.indexOf(0x0a, at + 700) + 1 || chunk.length;
      pieces = scanLines(chunk, pieces, at, cut);
      at = cut;
    }
    expect(pieces.ints).toBe(used);
    expect(pieces.count).toBe(whole.count);
    expect(pieces.count).toBe(text.split('\n').length);
    expect(fields(pieces)).toEqual(fields(whole));
    const facts = (lines: ReturnType<typeof scanLines>): SmtpFact[] => {
      const out: SmtpFact[] = [];
      new IcewarpSessions({ localDomains: new LocalDomains([]), emit: (f) => out.push(f) }).feedScanned(FILE, chunk, lines);
      return out;
    };
    expect(facts(pieces)).toEqual(facts(whole));
    expect(facts(whole).length).toBeGreaterThanOrEqual(4);
    // Appending past the arrays' room grows them.
    let grown = scanLines(chunk, undefined, 0, chunk.indexOf(0x0a) + 1);
    grown = scanLines(chunk, grown, chunk.indexOf(0x0a) + 1);
    expect(grown.count).toBe(whole.count);
    expect(fields(grown)).toEqual(fields(whole));
  });

  it('grows its arrays for a chunk of short lines, and agrees on a generated attack day', () => {
    const { whole, scanned } = both('\n'.repeat(5000) + 'x [1] 00:00:01 Connected\n'.repeat(3000), 2);
    expect(scanned).toEqual(whole);
    const day = [...scenarioLines({ seed: 3, start: new Date(DAY * 1000), durationSeconds: 3600, legitimateUsers: 20, attack: { account: 'info@domaine.com', startSecond: 600, messagesPerMinute: 30, recipientsPerMessage: 5, ips: 20, foreignSender: true } })]
      .map((l) => l.line)
      .join('\n');
    const generated = both(day, 9);
    expect(generated.scanned).toEqual(generated.whole);
    expect((generated.whole as { facts: SmtpFact[] }).facts.filter((f) => f.type === 'message').length).toBeGreaterThan(100);
  });
});
