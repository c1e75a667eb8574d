// The shared scenario as Postfix 3.7 with Dovecot SASL logs it through
// rsyslog (Debian 12's default RFC 3339 times), written by the demo's
// PostfixLogWriter in the line formats the real Postfix wrote (see
// src/postfix/*.test.ts): port 25 for inbound mail and the trusted copier,
// the submission service with a content filter (re-injected with XFORWARD)
// for logged-in users, Dovecot's auth_verbose lines beside Postfix's own.
// Postfix names the SASL user only on a queued message's `client=` line, so
// every login in the scenario sends mail. The queue manager retries the
// deferred spam once, later the same day; logrotate rotated the log in the
// middle of the day: mail.log.1, then mail.log.
import { PostfixLogWriter, type PostfixLine } from '../../src/demo/postfixLog.js';
import { LOCAL_DOMAINS, type SessionScript } from './scenario.js';

export function postfixLog(sessions: readonly SessionScript[]): { name: string; text: string }[] {
  const knownUsers = new Set(sessions.flatMap((s) => s.auths.filter((a) => a.success).map((a) => a.username.toLowerCase())));
  const writer = new PostfixLogWriter({ localDomains: LOCAL_DOMAINS, format: 'rfc3339', knownUsers });
  const lines: PostfixLine[] = [];
  for (const s of sessions) {
    lines.push(
      ...writer.session({
        at: s.at,
        ip: s.ip,
        helo: s.helo,
        auths: s.auths.map((a) => ({ mechanism: a.mechanism === 'login' ? 'LOGIN' : 'PLAIN', username: a.username, success: a.success })),
        transactions: s.transactions,
      }),
    );
  }
  lines.push(...writer.retry((sessions[sessions.length - 1]?.at ?? 0) + 300));
  // A log's times never go back: sessions' deliveries interleave with the next session's lines.
  lines.sort((a, b) => a.time - b.time);
  const text = lines.map((l) => l.text);
  const at = text.findIndex((l, i) => i >= text.length / 2 && / postfix\/(?:submission\/)?smtpd\[\d+\]: connect from unknown/.test(l));
  const split = at < 0 ? text.length : at;
  return [
    { name: 'mail.log.1', text: text.slice(0, split).join('\n') + '\n' },
    { name: 'mail.log', text: text.slice(split).join('\n') + '\n' },
  ];
}
