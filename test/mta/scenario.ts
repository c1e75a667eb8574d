// One mail server's day in words that do not depend on the MTA, and what the
// exporter must count from it. Each MTA has a writer that turns these
// sessions into its own log lines (test/mta/<mta>.ts); the shared case test
// feeds each MTA's lines through its real parser and expects the same
// account metrics. The truth here follows the counting rules of
// ../shared/spec/metrics.md and never looks at a parser's output.

export const LOCAL_DOMAINS = ['domaine.com'];

export interface Recipient {
  address: string;
  /** The server's reply: accepted, refused (an unknown user), or refused as relaying (5.7.1). */
  reply: 'accept' | 'unknown' | 'relay';
}

export interface Transaction {
  mailFrom: string;
  recipients: Recipient[];
  /** The final reply to DATA. A transaction without an accepted recipient never reaches DATA. */
  accepted: boolean;
}

export interface Auth {
  mechanism: 'login' | 'plain';
  username: string;
  success: boolean;
}

export interface SessionScript {
  /** Unix seconds of the connection; every session lasts under a minute. */
  at: number;
  ip: string;
  helo: string;
  auths: Auth[];
  transactions: Transaction[];
}

/** 2026-11-28 08:00:00 UTC. */
export const DAY_START = Date.UTC(2026, 10, 28, 8, 0, 0) / 1000;

const rcpt = (address: string, reply: Recipient['reply'] = 'accept'): Recipient => ({ address, reply });

/**
 * A stolen account relaying from three IPs with forged senders, two honest
 * users, a password guess that fails twice, a user who mistypes once, inbound
 * mail, a refused relay attempt and a trusted host relaying without AUTH.
 */
export function sharedScenario(): SessionScript[] {
  const s: SessionScript[] = [];
  let t = DAY_START;
  const next = (step = 60) => (t += step);
  s.push({
    at: next(),
    ip: '192.0.2.10',
    helo: 'laptop-marie',
    auths: [{ mechanism: 'login', username: 'Marie.Martin@domaine.com', success: true }],
    transactions: [
      { mailFrom: 'marie.martin@domaine.com', recipients: [rcpt('client@gmail.com'), rcpt('compta@domaine.com')], accepted: true },
    ],
  });
  s.push({ at: next(), ip: '203.0.113.50', helo: 'scanner', auths: [{ mechanism: 'login', username: 'admin@domaine.com', success: false }], transactions: [] });
  s.push({ at: next(), ip: '203.0.113.51', helo: 'scanner', auths: [{ mechanism: 'plain', username: 'admin@domaine.com', success: false }], transactions: [] });
  s.push({
    at: next(),
    ip: '198.51.100.7',
    helo: 'mx.partner.example',
    auths: [],
    transactions: [{ mailFrom: 'news@partner.example', recipients: [rcpt('info@domaine.com'), rcpt('nobody@domaine.com', 'unknown')], accepted: true }],
  });
  const spamTargets = ['bmyerd@yahoo.com', 'arlett33@yahoo.com', 'kevin.k@gmail.com', 'linda77@hotmail.com', 'sarah@orange.fr', 'mike.b@gmx.de'];
  for (const [i, ip] of ['178.122.118.159', '41.77.12.9', '186.4.22.130'].entries()) {
    s.push({
      at: next(),
      ip,
      helo: 'orange.fr',
      auths: [{ mechanism: 'login', username: 'info@domaine.com', success: true }],
      transactions: [
        { mailFrom: 'willm.b@orange.fr', recipients: [rcpt(spamTargets[i]!), rcpt(spamTargets[i + 3]!), rcpt('bounce@nowhere.invalid', 'unknown')], accepted: true },
        { mailFrom: `promo${i}@orange.fr`, recipients: [rcpt(spamTargets[(i + 1) % 6]!)], accepted: true },
      ],
    });
  }
  s.push({
    at: next(),
    ip: '192.0.2.11',
    helo: 'pc-contact',
    auths: [
      { mechanism: 'plain', username: 'contact@domaine.com', success: false },
      { mechanism: 'plain', username: 'contact@domaine.com', success: true },
    ],
    transactions: [{ mailFrom: 'contact@domaine.com', recipients: [rcpt('supplier@fournisseur-bois.fr'), rcpt('rh@domaine.com')], accepted: true }],
  });
  s.push({
    at: next(),
    ip: '185.220.101.4',
    helo: 'relay-test',
    auths: [],
    transactions: [{ mailFrom: 'spammer@example.net', recipients: [rcpt('victim@example.org', 'relay')], accepted: false }],
  });
  // A trusted host (a copier, a script) relaying without AUTH: the server relays for someone who did not log in.
  s.push({
    at: next(),
    ip: '192.0.2.200',
    helo: 'copier',
    auths: [],
    transactions: [{ mailFrom: 'copier@domaine.com', recipients: [rcpt('someone@gmail.com'), rcpt('direction@domaine.com')], accepted: true }],
  });
  s.push({
    at: next(),
    ip: '192.0.2.10',
    helo: 'laptop-marie',
    auths: [{ mechanism: 'login', username: 'marie.martin@domaine.com', success: true }],
    transactions: [{ mailFrom: 'marie.martin@domaine.com', recipients: [rcpt('accueil@domaine.com')], accepted: true }],
  });
  return s;
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();
const isLocal = (address: string) => LOCAL_DOMAINS.includes(domainOf(address));

/**
 * The account metrics the scenario must give, by series, for a window that
 * covers the whole scenario. Every MTA's parser must produce exactly these.
 */
export function expectedAccountSeries(sessions: readonly SessionScript[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (series: string, n: number) => out.set(series, (out.get(series) ?? 0) + n);
  const ips = new Map<string, Set<string>>();
  const domains = new Map<string, Set<string>>();
  for (const session of sessions) {
    let account: string | undefined;
    for (const a of session.auths) {
      if (!a.success) continue;
      account = a.username.toLowerCase();
      add(`mailrelay_account_logins_total{account="${account}"}`, 1);
      (ips.get(account) ?? ips.set(account, new Set()).get(account)!).add(session.ip);
    }
    for (const tx of session.transactions) {
      const accepted = tx.recipients.filter((r) => r.reply === 'accept');
      if (account === undefined) add('mailrelay_relay_denied_total', tx.recipients.filter((r) => r.reply === 'relay').length);
      if (!tx.accepted || accepted.length === 0) continue;
      const external = accepted.filter((r) => !isLocal(r.address));
      if (account === undefined) {
        add('mailrelay_unauthenticated_relay_recipients_total', external.length);
        continue;
      }
      add(`mailrelay_account_messages_total{account="${account}"}`, 1);
      add(`mailrelay_account_recipients_total{account="${account}",destination="external"}`, external.length);
      add(`mailrelay_account_recipients_total{account="${account}",destination="local"}`, accepted.length - external.length);
      add(`mailrelay_account_foreign_sender_messages_total{account="${account}"}`, tx.mailFrom.toLowerCase() === account ? 0 : 1);
      add(`mailrelay_account_sender_recipients_total{account="${account}",sender="${tx.mailFrom.toLowerCase() || '<>'}"}`, accepted.length);
      const set = domains.get(account) ?? domains.set(account, new Set()).get(account)!;
      for (const r of external) set.add(domainOf(r.address));
    }
  }
  for (const [account, set] of ips) add(`mailrelay_account_client_ips{account="${account}"}`, set.size);
  for (const account of ips.keys()) add(`mailrelay_account_recipient_domains{account="${account}"}`, domains.get(account)?.size ?? 0);
  for (const name of ['mailrelay_relay_denied_total', 'mailrelay_unauthenticated_relay_recipients_total']) add(name, 0);
  return out;
}
