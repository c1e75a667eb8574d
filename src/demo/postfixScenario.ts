// A made-up Postfix + Dovecot server's mail log, with the truth about it, for
// the demo (`npm run demo -- --mta postfix`) and the benchmark: legitimate
// users sending through submission, inbound mail on port 25, now and then a
// refused relay attempt, a password spray, and a stolen account sending spam
// under forged envelope senders from many addresses. Lines come lazily, in
// log-time order. The truth is the generator's own bookkeeping of what it
// wrote (the counting rules of the README's Postfix section), never the
// parser's output.
import { PostfixLogWriter, type DeferredMessage, type PostfixLine, type PostfixRecipient, type PostfixSession } from './postfixLog.js';
import { seededRandom } from './random.js';

export interface PostfixScenarioOptions {
  seed: number;
  start: Date;
  durationSeconds: number;
  localDomain?: string;
  legitimateUsers?: number;
  inboundPerMinute?: number;
  /** Sessions that try a password and fail. */
  spray?: { perMinute: number; usernames: number };
  attack?: {
    account: string;
    startSecond: number;
    messagesPerMinute: number;
    recipientsPerMessage: number;
    ips: number;
    /** The forged MAIL FROMs, the first for most messages. */
    senders: string[];
    /** From this second on the attacker's logins fail (its password changed, or it was refused): read as each minute is written. */
    stoppedSecond?: number;
  };
  format?: 'rfc3339' | 'traditional';
}

export interface PostfixAccountTruth {
  logins: number;
  messages: number;
  externalRecipients: number;
  localRecipients: number;
  foreignSenderMessages: number;
}

export interface PostfixScenarioTruth {
  sessions: number;
  accounts: Record<string, PostfixAccountTruth>;
  /** Failed logins by the username tried. */
  failedUsernames: Record<string, number>;
  relayDenied: number;
  lines: number;
}

const FIRST = ['jean', 'marie', 'paul', 'anne', 'luc', 'emma', 'hugo', 'lina', 'tom', 'zoe', 'kevin', 'sarah', 'mike', 'linda'];
const EXTERNAL_DOMAINS = ['yahoo.com', 'gmail.com', 'orange.fr', 'hotmail.com', 'free.fr', 'laposte.net', 'outlook.com', 'gmx.de', 'web.de', 'aol.com', 'icloud.com', 'mail.ru'];
const LOCAL_NAMES = ['contact', 'compta', 'direction', 'commercial', 'rh', 'accueil', 'ventes', 'support', 'jean.dupont', 'marie.martin', 'pierre.durand', 'sophie.bernard', 'luc.petit', 'claire.moreau'];
const SPRAY_WORDS = ['admin', 'test', 'webmaster', 'postmaster', 'sales', 'office', 'user', 'mail', 'root', 'info', 'backup', 'noreply'];

export interface PostfixScenario {
  /** The lines, in log-time order, written lazily. */
  lines: Generator<PostfixLine>;
  /** What was written so far, by the counting rules. */
  truth: PostfixScenarioTruth;
  /** The messages deferred so far (their recipients are outside, and nothing leaves): the queue `postqueue -j` would list. */
  deferred: readonly DeferredMessage[];
}

export function postfixScenario(opts: PostfixScenarioOptions): PostfixScenario {
  const truth = emptyPostfixTruth();
  const writer = new PostfixLogWriter({ localDomains: [(opts.localDomain ?? 'domaine.com').toLowerCase()], format: opts.format });
  return { lines: scenarioLines(opts, truth, writer), truth, deferred: writer.deferred };
}

function* scenarioLines(opts: PostfixScenarioOptions, truth: PostfixScenarioTruth, writer: PostfixLogWriter): Generator<PostfixLine> {
  const rand = seededRandom(opts.seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;
  const domain = (opts.localDomain ?? 'domaine.com').toLowerCase();
  const ipv4 = () => `${1 + Math.floor(rand() * 222)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
  const users = Array.from({ length: opts.legitimateUsers ?? 12 }, (_, i) => ({
    address: `${LOCAL_NAMES[i % LOCAL_NAMES.length]}${i < LOCAL_NAMES.length ? '' : i}@${domain}`,
    ip: ipv4(),
  })).filter((u) => u.address !== opts.attack?.account);
  const attackIps = Array.from({ length: Math.max(1, opts.attack?.ips ?? 1) }, ipv4);
  const sprayNames = Array.from({ length: opts.spray?.usernames ?? 0 }, () => `${pick(SPRAY_WORDS)}${Math.floor(rand() * 1000)}@${domain}`);
  writer.setKnownUsers(new Set([...users.map((u) => u.address), opts.attack?.account ?? ''].filter((a) => a !== '')));
  const startUnix = Math.floor(opts.start.getTime() / 1000);
  const external = () => `${pick(FIRST)}${Math.floor(rand() * 100)}@${pick(EXTERNAL_DOMAINS)}`;
  const count = (perMinute: number) => Math.floor(perMinute) + (rand() < perMinute - Math.floor(perMinute) ? 1 : 0);

  const book = (account: string): PostfixAccountTruth => (truth.accounts[account] ??= { logins: 0, messages: 0, externalRecipients: 0, localRecipients: 0, foreignSenderMessages: 0 });
  /** Books what Postfix will log of a session: its login, its messages and their recipients, its failures. */
  const record = (s: PostfixSession): PostfixSession => {
    truth.sessions++;
    let account: string | undefined;
    for (const a of s.auths) {
      if (a.success) account = a.username.toLowerCase();
      else truth.failedUsernames[a.username.toLowerCase()] = (truth.failedUsernames[a.username.toLowerCase()] ?? 0) + 1;
    }
    let sent = false;
    for (const tx of s.transactions) {
      if (account === undefined) truth.relayDenied += tx.recipients.filter((r) => r.reply === 'relay').length;
      const accepted = tx.recipients.filter((r) => r.reply === 'accept');
      if (!tx.accepted || accepted.length === 0 || account === undefined) continue;
      const b = book(account);
      sent = true;
      b.messages++;
      if (tx.mailFrom.toLowerCase() !== account) b.foreignSenderMessages++;
      for (const r of accepted) {
        if (writer.isLocal(r.address)) b.localRecipients++;
        else b.externalRecipients++;
      }
    }
    // Postfix names the SASL user only with a queued message: a login that sent nothing has no account.
    if (account !== undefined && sent) book(account).logins++;
    return s;
  };

  let pending: PostfixLine[] = [];
  const minutes = Math.ceil(opts.durationSeconds / 60);
  for (let m = 0; m < minutes; m++) {
    const minuteStart = startUnix + m * 60;
    const at = () => minuteStart + rand() * 60;
    const sessions: PostfixSession[] = [];
    for (const u of users) {
      if (rand() >= 3 / 60) continue;
      const recipients = distinct(Array.from({ length: 1 + Math.floor(rand() * 3) }, () => (rand() < 0.5 ? pick(users).address : external())));
      sessions.push(record({ at: at(), ip: u.ip, helo: 'laptop', auths: [{ mechanism: rand() < 0.7 ? 'LOGIN' : 'PLAIN', username: u.address, success: true }], transactions: [{ mailFrom: u.address, recipients, accepted: true }] }));
    }
    for (let i = count(opts.inboundPerMinute ?? 10); i > 0; i--) {
      const recipients: PostfixRecipient[] = [{ address: pick(users).address, reply: 'accept' }];
      if (rand() < 0.1) recipients.push({ address: `nobody${Math.floor(rand() * 100)}@${domain}`, reply: 'unknown' });
      sessions.push(record({ at: at(), ip: ipv4(), helo: `mx${Math.floor(rand() * 9)}.${pick(EXTERNAL_DOMAINS)}`, auths: [], transactions: [{ mailFrom: external(), recipients, accepted: true }] }));
    }
    if (rand() < 0.1) {
      sessions.push(record({ at: at(), ip: ipv4(), helo: 'relay-test', auths: [], transactions: [{ mailFrom: external(), recipients: [{ address: external(), reply: 'relay' }], accepted: false }] }));
    }
    if (opts.spray && sprayNames.length) {
      for (let i = count(opts.spray.perMinute); i > 0; i--) {
        sessions.push(record({ at: at(), ip: ipv4(), helo: 'scanner', auths: [{ mechanism: rand() < 0.5 ? 'LOGIN' : 'PLAIN', username: pick(sprayNames), success: false }], transactions: [] }));
      }
    }
    const attack = opts.attack;
    const second = m * 60;
    if (attack && second >= attack.startSecond) {
      const stopped = attack.stoppedSecond !== undefined && second >= attack.stoppedSecond;
      // Three messages a session, each to recipientsPerMessage outside.
      for (let i = count(attack.messagesPerMinute / 3); i > 0; i--) {
        const ip = pick(attackIps);
        if (stopped) {
          sessions.push(record({ at: at(), ip, helo: 'orange.fr', auths: [{ mechanism: 'LOGIN', username: attack.account, success: false }], transactions: [] }));
          continue;
        }
        const transactions = Array.from({ length: 3 }, () => ({
          mailFrom: rand() < 0.8 ? attack.senders[0]! : pick(attack.senders),
          recipients: distinct(Array.from({ length: attack.recipientsPerMessage }, external)),
          accepted: true,
        }));
        sessions.push(record({ at: at(), ip, helo: 'orange.fr', auths: [{ mechanism: 'LOGIN', username: attack.account, success: true }], transactions }));
      }
    }
    sessions.sort((a, b) => a.at - b.at);
    for (const s of sessions) pending.push(...writer.session(s));
    // Lines of sessions that run past the minute wait for the next one: the log's times never go back.
    pending.sort((a, b) => a.time - b.time);
    const end = minuteStart + 60;
    let n = 0;
    while (n < pending.length && pending[n]!.time < end) n++;
    for (let i = 0; i < n; i++) {
      truth.lines++;
      yield pending[i]!;
    }
    pending = pending.slice(n);
  }
  for (const line of pending) {
    truth.lines++;
    yield line;
  }
}

/**
 * Each address once: Postfix's cleanup drops a repeated recipient, so the log
 * could never show it twice (the counting rules count RCPTs accepted).
 */
function distinct(addresses: string[]): PostfixRecipient[] {
  return [...new Set(addresses)].map((address) => ({ address, reply: 'accept' }));
}

export function emptyPostfixTruth(): PostfixScenarioTruth {
  return { sessions: 0, accounts: {}, failedUsernames: {}, relayDenied: 0, lines: 0 };
}
