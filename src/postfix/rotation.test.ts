// Postfix's log across logrotate's renames, through the real tailer (which
// follows files by identity) and the Postfix file order: rsyslog keeps
// writing to the renamed file until it is told to reopen, then writes a new
// mail.log. A message whose lines straddle the rotation is counted once, and
// no line is read twice.
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { silentLogger } from '../logger.js';
import { LogPipeline, logSettings } from '../pipeline/logPipeline.js';

// Real lines (Postfix 3.7.11, maillog-style times) of one stolen-account message and one inbound message.
const SPAM_ACCEPTED = `Nov 29 21:41:10 mail postfix/smtpd[19086]: connect from unknown[127.0.0.159]
Nov 29 21:41:10 mail postfix/smtpd[19086]: 22881A360E5: client=unknown[127.0.0.159], sasl_method=LOGIN, sasl_username=info@domaine.com
Nov 29 21:41:10 mail postfix/cleanup[19104]: 22881A360E5: message-id=<20261129214110.019147@vm>
Nov 29 21:41:10 mail postfix/qmgr[10389]: 22881A360E5: from=<willm.b@orange.fr>, size=454, nrcpt=2 (queue active)
`;
const SPAM_WRITTEN_LATE = `Nov 29 21:41:10 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.159] ehlo=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=7
Nov 29 21:41:10 mail postfix/smtp[19106]: 22881A360E5: to=<linda77@hotmail.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
`;
const AFTER_ROTATION = `Nov 29 21:41:11 mail postfix/smtp[19106]: 22881A360E5: to=<bmyerd@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12999: Connection refused)
Nov 29 21:41:12 mail postfix/smtpd[19086]: connect from unknown[127.0.0.7]
Nov 29 21:41:12 mail postfix/smtpd[19086]: C6158A36118: client=unknown[127.0.0.7]
Nov 29 21:41:12 mail postfix/qmgr[10389]: C6158A36118: from=<news@partner.example>, size=462, nrcpt=1 (queue active)
Nov 29 21:41:12 mail postfix/smtpd[19086]: disconnect from unknown[127.0.0.7] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Nov 29 21:41:12 mail postfix/virtual[19107]: C6158A36118: to=<info@domaine.com>, relay=virtual, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 29 21:41:12 mail postfix/qmgr[10389]: C6158A36118: removed
`;
const LINES = (SPAM_ACCEPTED + SPAM_WRITTEN_LATE + AFTER_ROTATION).trim().split('\n').length;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('Postfix log rotation', () => {
  it.each([
    ['a glob, logrotate numbering', 'mail.log*', 'mail.log.1'],
    ['a glob, dateext', 'mail.log*', 'mail.log-20261129'],
    ['the plain path, which follows its rotations', 'mail.log', 'mail.log.1'],
  ])('%s: counts each message once across the rename', async (_name, fileName, rotated) => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-postfix-rotation-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'mail.log'), SPAM_ACCEPTED);
    const config = loadConfig(
      `postfix:\n  log_file: ${join(dir, fileName)}\n  log_time_zone: UTC\nlocal_domains: [domaine.com]\nstart_at: beginning\npositions_file: ${join(dir, 'positions.json')}\n`,
    );
    const pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false });
    try {
      await pipeline.ready;
      // logrotate renames; rsyslog writes on to the renamed file until it reopens, then to a new mail.log.
      renameSync(join(dir, 'mail.log'), join(dir, rotated));
      appendFileSync(join(dir, rotated), SPAM_WRITTEN_LATE);
      writeFileSync(join(dir, 'mail.log'), AFTER_ROTATION);
      await pipeline.tailer.poll();
      const book = pipeline.book;
      const info = [...book.accountEntries()].find(([a]) => a === 'info@domaine.com')?.[1];
      expect(info).toMatchObject({ logins: 1, messages: 1, externalRecipients: 2 });
      expect(book.sessions).toBe(2);
      expect(pipeline.tailer.stats.lines).toBe(LINES);
      expect(pipeline.parser.stats.unparsed).toBe(0);
    } finally {
      await pipeline.stop();
    }
  });

  it.each([
    ['numbered', ['mail.log.2', 'mail.log.1', 'mail.log']],
    ['dateext', ['mail.log-20261128', 'mail.log-20261129', 'mail.log']],
  ])('reads %s rotations oldest first at a first start, so a message split across them counts', async (_name, names) => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-postfix-rotation-'));
    dirs.push(dir);
    const [oldest, older, current] = names as [string, string, string];
    writeFileSync(join(dir, oldest), SPAM_ACCEPTED);
    writeFileSync(join(dir, older), SPAM_WRITTEN_LATE);
    writeFileSync(join(dir, current), AFTER_ROTATION);
    writeFileSync(join(dir, `${oldest}.gz`), 'compressed: never read');
    const config = loadConfig(`postfix:\n  log_file: ${join(dir, 'mail.log*')}\nlocal_domains: [domaine.com]\nstart_at: beginning\npositions_file: ${join(dir, 'positions.json')}\n`);
    const pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false });
    try {
      await pipeline.ready;
      expect([...pipeline.book.accountEntries()].find(([a]) => a === 'info@domaine.com')?.[1]).toMatchObject({ messages: 1, externalRecipients: 2 });
      expect(pipeline.tailer.stats.lines).toBe(LINES);
    } finally {
      await pipeline.stop();
    }
  });
});
