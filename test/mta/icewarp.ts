// The shared scenario as IceWarp writes it: `peer [thread] HH:MM:SS` lines in
// a day file, the AUTH exchange in base64 (passwords included, as IceWarp
// logs them: the parser must drop them), replies by code.
import type { SessionScript } from './scenario.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const clock = (unix: number) => new Date(unix * 1000).toISOString().slice(11, 19);

export function icewarpLog(sessions: readonly SessionScript[]): { name: string; text: string }[] {
  const lines: string[] = [];
  for (const [n, s] of sessions.entries()) {
    let at = s.at;
    const say = (rest: string) => lines.push(`${s.ip} [${(0x0a00 + n).toString(16).toUpperCase()}] ${clock(at)} ${rest}`);
    say('Connected');
    say('>>> 220 mail.domaine.com ESMTP IceWarp 13.0.2');
    say(`<<< EHLO ${s.helo}`);
    say('>>> 250-mail.domaine.com Hello, pleased to meet you.');
    say('>>> 250 AUTH LOGIN PLAIN CRAM-MD5');
    for (const a of s.auths) {
      at++;
      if (a.mechanism === 'login') {
        say('<<< AUTH LOGIN');
        say('>>> 334 VXNlcm5hbWU6');
        say(`<<< ${b64(a.username)}`);
        say('>>> 334 UGFzc3dvcmQ6');
        say(`<<< ${b64('S3cret-password!')}`);
      } else {
        say(`<<< AUTH PLAIN ${b64(`\0${a.username}\0S3cret-password!`)}`);
      }
      say(a.success ? '>>> 235 2.0.0 Authentication successful' : '>>> 535 5.7.8 Authentication credentials invalid');
    }
    for (const tx of s.transactions) {
      at++;
      say(`<<< MAIL FROM:<${tx.mailFrom}>`);
      say(`>>> 250 2.1.0 <${tx.mailFrom}>... Sender ok`);
      for (const r of tx.recipients) {
        say(`<<< RCPT TO:<${r.address}>`);
        if (r.reply === 'accept') say(`>>> 250 2.1.5 <${r.address}>... Recipient ok${r.address.endsWith('@domaine.com') ? '' : '; will forward'}`);
        else if (r.reply === 'unknown') say(`>>> 550 5.1.1 <${r.address}>... User unknown`);
        else say(`>>> 550 5.7.1 <${r.address}>... We do not relay`);
      }
      if (!tx.recipients.some((r) => r.reply === 'accept')) {
        say('<<< RSET');
        say('>>> 250 2.0.0 Reset state');
        continue;
      }
      say('<<< DATA');
      say('>>> 354 Enter mail, end with "." on a line by itself');
      say(tx.accepted ? '>>> 250 2.6.0 2048 bytes received; Message accepted for delivery' : '>>> 554 5.7.1 Message refused');
    }
    say('<<< QUIT');
    say('>>> 221 2.0.0 mail.domaine.com closing connection');
    say('Disconnected');
  }
  const day = new Date((sessions[0]?.at ?? 0) * 1000).toISOString().slice(0, 10).replace(/-/g, '');
  return [{ name: `s${day}.log`, text: lines.join('\r\n') + '\r\n' }];
}
