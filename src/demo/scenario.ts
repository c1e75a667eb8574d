// A made-up IceWarp server's SMTP log, with the truth about it: legitimate
// users, inbound mail, IceWarp's own deliveries (client sessions), a
// password spray, a stolen account relaying spam and a busy but honest
// account. Lines look like ../shared/samples/ and come lazily, in log-time
// order, sessions interleaved like a real server's threads. The truth is the
// generator's own bookkeeping of what it wrote, per the counting rules of
// ../shared/spec/metrics.md, never the parser's output.
//
// Times: `HH:MM:SS` of UTC, files named after the UTC day (the exporter
// reads `HH:MM:SS` as UTC on the file's date).

import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from './random.js';

export interface ScenarioOptions {
  seed: number;
  start: Date;
  durationSeconds: number;
  localDomain?: string;
  legitimateUsers?: number;
  /** Sessions an hour of each legitimate user (default 3). */
  userSessionsPerHour?: number;
  inboundPerMinute?: number;
  outboundDeliveriesPerMinute?: number;
  spray?: { perMinute: number; usernames: number };
  attack?: {
    account: string;
    startSecond: number;
    messagesPerMinute: number;
    recipientsPerMessage: number;
    ips: number;
    foreignSender: boolean;
    /** The forged MAIL FROMs a foreign-sender attack uses, the first for most sessions (default: a new made-up address per session). */
    senders?: string[];
    /**
     * From this second on, the attacker's logins fail: its password was
     * changed. Read as each minute is generated, so a live demo may set it
     * while it runs.
     */
    passwordChangedSecond?: number;
  };
  /** An honest account sending all day (a newsletter); `recipientDomains` subscriber domains (default: 7 partners). */
  busyAccount?: { account: string; externalRecipientsPerHour: number; ips: number; recipientDomains?: number };
  /** Attacks with a start and an end, on accounts that may be legitimate users until then. */
  incidents?: Incident[];
}

/** One attack, from `startSecond` to `endSecond` (default: the end) of the scenario. */
export type Incident = { startSecond: number; endSecond?: number } & (
  | {
      /** A stolen account sending from the attacker's IPs (new to it), to many domains. */
      kind: 'sending';
      account: string;
      messagesPerMinute: number;
      /** May be fractional: 250/h at one message a minute is 4.17 a message. */
      recipientsPerMessage: number;
      ips: number;
      foreignSender: boolean;
    }
  | {
      /** A botnet logging in as the account, each login from the next of `ips` IPs; it sends little. */
      kind: 'logins';
      account: string;
      loginsPerMinute: number;
      ips: number;
    }
  | {
      /** The server relaying for clients that did not log in: external senders to external recipients. */
      kind: 'open_relay';
      recipientsPerMinute: number;
    }
  | {
      /** Failed AUTH with guessed usernames, none of them real accounts. */
      kind: 'spray';
      perMinute: number;
      usernames: number;
    }
);

type Mechanism = 'login' | 'plain' | 'cram_md5' | 'other';

export interface AccountTruth {
  logins: number;
  messages: number;
  externalRecipients: number;
  localRecipients: number;
  foreignSenderMessages: number;
  /** Distinct IPs with a successful AUTH, over the whole scenario, sorted. */
  clientIps: string[];
  /** Distinct external recipient domains of accepted messages, over the whole scenario, sorted. */
  recipientDomains: string[];
  /** Accepted recipients by envelope sender (lowercased MAIL FROM, `<>` for the null sender). */
  senders: Record<string, number>;
}

export interface ScenarioTruth {
  /** Server sessions started (client sessions excluded). */
  sessions: number;
  authAttempts: Record<Mechanism, number>;
  authFailures: Record<Mechanism, number>;
  /** Accounts with at least one successful AUTH. */
  accounts: Record<string, AccountTruth>;
  /** Failed AUTH by the username tried (every failure that sent a username, real accounts included). */
  failedUsernames: Record<string, number>;
  unauthenticatedRelayRecipients: number;
  relayDenied: number;
  lines: number;
}


const LOCAL_NAMES = [
  'info', 'contact', 'compta', 'direction', 'commercial', 'rh', 'secretariat', 'accueil', 'ventes', 'support',
  'jean.dupont', 'marie.martin', 'pierre.durand', 'sophie.bernard', 'luc.petit', 'claire.moreau', 'paul.laurent',
  'julie.simon', 'nicolas.michel', 'isabelle.lefebvre', 'thomas.leroy', 'camille.roux', 'antoine.david', 'lea.bertrand',
];
const EXTERNAL_DOMAINS = [
  'yahoo.com', 'gmail.com', 'orange.fr', 'hotmail.com', 'free.fr', 'laposte.net', 'outlook.com', 'sfr.fr', 'wanadoo.fr',
  'yahoo.fr', 'aol.com', 'gmx.de', 'web.de', 'seznam.cz', 'libero.it', 'mail.ru', 'icloud.com', 'live.fr', 'bbox.fr', 'neuf.fr',
];
const PARTNER_DOMAINS = ['fournisseur-bois.fr', 'cabinet-expert.fr', 'banque-populaire.fr', 'transports-martin.fr', 'imprimerie-centrale.fr', 'gmail.com', 'orange.fr'];
const FIRST = ['jean', 'marie', 'paul', 'anne', 'luc', 'emma', 'hugo', 'lina', 'tom', 'zoe', 'willm', 'bmyerd', 'arlett', 'kevin', 'sarah', 'mike', 'linda'];
const LAST = ['b', 'smith', 'martin', 'durand', 'jones', 'petit', 'brown', 'garcia', 'miller', 'roux', '33', '77', 'k'];
const SPRAY_WORDS = ['admin', 'test', 'webmaster', 'postmaster', 'sales', 'office', 'user', 'mail', 'root', 'guest', 'scanner', 'backup', 'noreply', 'abuse', 'marketing', 'hr', 'billing', 'it'];
const HELO = ['orange.fr', 'PC-BUREAU', 'laptop-marie', 'WIN-7Q2K1', '[192.168.1.20]', 'smtp.gmail.com', 'mail.example.org', 'User'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const SYSTEM_TEXTS = [
  "Forwarded mails older than 20 days from 'vendas@testdomain.com.br' to 'test@gmail.com'",
  'Antispam: bayes database reloaded',
  'Mail queue processed: 0 messages',
  'Statistics saved',
];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function rfc822(unix: number): string {
  const d = new Date(unix * 1000);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** One session's lines, with times in milliseconds since the scenario start. */
interface Script {
  peer: string;
  thread: string;
  times: number[];
  rests: string[];
}

interface Pending {
  at: number;
  seq: number;
  script: Script;
  index: number;
}

/** Min-heap on (at, seq). */
class LineQueue {
  private readonly items: Pending[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Pending | undefined {
    return this.items[0];
  }
  push(p: Pending): void {
    const a = this.items;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i] as Pending, a[parent] as Pending)) break;
      [a[i], a[parent]] = [a[parent] as Pending, a[i] as Pending];
      i = parent;
    }
  }
  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l] as Pending, a[m] as Pending)) m = l;
        if (r < a.length && before(a[r] as Pending, a[m] as Pending)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Pending, a[i] as Pending];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Pending, y: Pending): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/** A truth with nothing counted yet. */
export function emptyTruth(): ScenarioTruth {
  return {
    sessions: 0,
    authAttempts: { login: 0, plain: 0, cram_md5: 0, other: 0 },
    authFailures: { login: 0, plain: 0, cram_md5: 0, other: 0 },
    accounts: {},
    failedUsernames: {},
    unauthenticatedRelayRecipients: 0,
    relayDenied: 0,
    lines: 0,
  };
}

interface AccountBook {
  logins: number;
  messages: number;
  externalRecipients: number;
  localRecipients: number;
  foreignSenderMessages: number;
  clientIps: Set<string>;
  recipientDomains: Set<string>;
  senders: Map<string, number>;
}

/** Builds one session's lines and books its facts as it writes them. */
class SessionWriter {
  readonly script: Script;
  private t: number;
  /** The account of a successful AUTH in this session. */
  private account: string | undefined;

  constructor(
    private readonly gen: ScenarioGenerator,
    peer: string,
    thread: string,
    startMs: number,
  ) {
    this.script = { peer, thread, times: [], rests: [] };
    this.t = startMs;
  }

  get endMs(): number {
    return this.t;
  }

  line(rest: string, delayMs = 0): void {
    this.t += delayMs;
    this.script.times.push(this.t);
    this.script.rests.push(rest);
  }

  /** Client → server, then a pause of up to `maxMs`. */
  in(rest: string, maxMs = 400): void {
    this.line(`<<< ${rest}`, Math.floor(this.gen.rand() * maxMs));
  }

  out(rest: string, maxMs = 150): void {
    this.line(`>>> ${rest}`, Math.floor(this.gen.rand() * maxMs));
  }

  serverOpen(helo: string): void {
    const g = this.gen;
    this.line('Connected');
    g.truth.sessions++;
    const host = `mail.${g.localDomain}`;
    const dash = g.rand() < 0.5 ? '-' : ' ';
    const delay = Math.floor(g.rand() * 150);
    this.line(`>>> 220${dash}${host} ESMTP IceWarp 13.0.2; ${rfc822(Math.floor(g.startUnix + (this.t + delay) / 1000))}`, delay);
    if (dash === '-' && g.rand() < 0.5) this.out('220 No UCE');
    const ehlo = g.rand() < 0.9;
    this.in(`${ehlo ? 'EHLO' : 'HELO'} ${helo}`, 1200);
    this.out(`250${ehlo ? '-' : ' '}${host} Hello ${helo} [${this.script.peer}], pleased to meet you.`);
    // IceWarp often logs only the first line of a multi-line reply; sometimes all of them.
    if (ehlo && g.rand() < 0.5) {
      this.out('250-SIZE 52428800', 0);
      this.out('250-AUTH LOGIN PLAIN CRAM-MD5', 0);
      this.out('250-8BITMIME', 0);
      this.out('250 HELP', 0);
    }
  }

  close(dropped = false): void {
    if (dropped) return; // the connection died: no QUIT, no Disconnected; the thread id is reused later
    this.in('QUIT', 300);
    this.out(`221 2.0.0 mail.${this.gen.localDomain} closing connection`);
    this.line('Disconnected', 5);
  }

  /** An AUTH exchange; the password is random and only ever base64-encoded here. */
  auth(mechanism: Mechanism, username: string, success: boolean, style: 'inline' | 'continued' | 'cancel' = 'continued'): void {
    const g = this.gen;
    const password = g.password();
    let sentUser: string | undefined = username;
    if (mechanism === 'login') {
      if (style === 'inline') {
        this.in(`AUTH LOGIN ${b64(username)}`);
      } else {
        this.in('AUTH LOGIN');
        this.out('334 VXNlcm5hbWU6');
        if (style === 'cancel') {
          this.in('*', 3000);
          sentUser = undefined;
          success = false;
        } else this.in(b64(username), 1500);
      }
      if (style !== 'cancel') {
        this.out('334 UGFzc3dvcmQ6');
        this.in(b64(password), 2500);
      }
    } else if (mechanism === 'plain') {
      const response = b64(`\0${username}\0${password}`);
      if (style === 'inline') this.in(`AUTH PLAIN ${response}`);
      else {
        this.in('AUTH PLAIN');
        this.out('334 ');
        this.in(response);
      }
    } else if (mechanism === 'cram_md5') {
      this.in('AUTH CRAM-MD5');
      this.out(`334 ${b64(`<${Math.floor(g.rand() * 1e9)}.${Math.floor(g.startUnix + this.t / 1000)}@mail.${g.localDomain}>`)}`);
      this.in(b64(`${username} ${g.hex(32)}`));
    } else {
      this.in(g.pick(['AUTH NTLM', 'AUTH GSSAPI', 'AUTH DIGEST-MD5']));
      this.out('504 5.5.4 Unrecognized authentication type');
      sentUser = undefined;
      success = false;
      g.truth.authAttempts.other++;
      g.truth.authFailures.other++;
      return;
    }
    if (success) this.out('235 2.0.0 Authentication successful', 300);
    else if (style === 'cancel') this.out('501 5.7.0 Authentication cancelled');
    else this.out(g.rand() < 0.9 ? '535 5.7.8 Authentication credentials invalid' : '454 4.7.0 Temporary authentication failure', 1500);
    g.truth.authAttempts[mechanism]++;
    const account = sentUser?.trim().toLowerCase();
    if (success && account !== undefined) {
      this.account = account;
      const book = g.book(account);
      book.logins++;
      book.clientIps.add(this.script.peer);
    } else if (!success) {
      g.truth.authFailures[mechanism]++;
      if (account !== undefined && account !== '') g.truth.failedUsernames[account] = (g.truth.failedUsernames[account] ?? 0) + 1;
    }
  }

  /**
   * One mail transaction. Recipients are [address, local?, accepted?]; the
   * message counts when `accepted` (else DATA is refused after 354).
   */
  message(mailFrom: string, recipients: Array<[string, boolean, boolean]>, accepted = true, relayDenied: string[] = []): void {
    const g = this.gen;
    const sizeParam = g.rand() < 0.5 ? ` SIZE=${1000 + Math.floor(g.rand() * 90000)}` : '';
    const from = g.rand() < 0.3 ? `MAIL From:<${mailFrom}>` : `MAIL FROM: <${mailFrom}>`;
    this.in(`${from}${sizeParam}`, 600);
    this.out(`250 2.1.0 <${mailFrom}>... Sender ok`);
    const ok: Array<[string, boolean]> = [];
    for (const [address, local, acceptedRcpt] of recipients) {
      this.in(g.rand() < 0.3 ? `RCPT To:<${address}>` : `RCPT TO: <${address}>`, 300);
      if (!acceptedRcpt) this.out(`550 5.1.1 <${address}>... User unknown`);
      else {
        this.out(`250 2.1.5 <${address}>... Recipient ok${local ? '' : '; will forward'}`);
        ok.push([address, local]);
      }
    }
    for (const address of relayDenied) {
      this.in(`RCPT TO: <${address}>`, 300);
      this.out(g.rand() < 0.7 ? `550 5.7.1 <${address}>... Relay access denied` : `554 <${address}>... Relaying denied, authenticate first`);
      g.truth.relayDenied++;
    }
    if (ok.length === 0) {
      this.in('RSET', 300);
      this.out('250 2.0.0 Reset state');
      return;
    }
    this.in('DATA', 300);
    this.out("354 Enter mail, end with '.' on a line by itself");
    const size = 800 + Math.floor(g.rand() * 60000);
    const seconds = Math.floor(g.rand() * 3);
    if (!accepted) {
      this.out('554 5.7.1 Message rejected as spam', 800 + seconds * 1000);
      return;
    }
    this.line(`*** <${mailFrom}> ${ok.map(([a]) => `<${a}>`).join(' ')} 1 ${size} 00:00:${two(seconds)} OK`, 500 + seconds * 1000);
    this.out(`250 2.6.0 ${size} bytes received in 00:00:${two(seconds)}; Message accepted for delivery`, 50);
    const from822 = mailFrom.toLowerCase();
    if (this.account !== undefined) {
      const book = g.book(this.account);
      book.messages++;
      if (this.account.includes('@') ? from822 !== this.account : from822.split('@')[0] !== this.account) book.foreignSenderMessages++;
      book.senders.set(from822 || '<>', (book.senders.get(from822 || '<>') ?? 0) + ok.length);
      for (const [address, local] of ok) {
        if (local) book.localRecipients++;
        else {
          book.externalRecipients++;
          book.recipientDomains.add(address.slice(address.lastIndexOf('@') + 1).toLowerCase());
        }
      }
    } else {
      for (const [, local] of ok) if (!local) g.truth.unauthenticatedRelayRecipients++;
    }
  }
}

class ScenarioGenerator {
  readonly rand: () => number;
  readonly truth = emptyTruth();
  readonly localDomain: string;
  readonly startUnix: number;
  private readonly books = new Map<string, AccountBook>();
  private readonly threadBusyUntil: number[] = [];
  private readonly users: Array<{ address: string; ips: string[] }>;
  private readonly sprayNames: string[];
  private readonly attackIps: string[];
  private readonly busyIps: string[];
  private readonly outboundIps: string[];
  /** The busy account's recipient domains. */
  private readonly busyDomains: readonly string[];
  /** Per incident: its IPs (sending, logins) or usernames (spray). */
  private readonly incidentPools: string[][];
  /** Per incident: logins so far (a botnet takes its IPs in turn). */
  private readonly incidentLogins: number[];

  constructor(readonly opts: ScenarioOptions) {
    this.rand = seededRandom(opts.seed);
    this.localDomain = (opts.localDomain ?? 'domaine.com').toLowerCase();
    this.startUnix = Math.floor(opts.start.getTime() / 1000);
    const reserved = new Set([opts.attack?.account, opts.busyAccount?.account].filter((a): a is string => a !== undefined).map((a) => a.toLowerCase()));
    const n = opts.legitimateUsers ?? 20;
    this.users = [];
    for (let i = 0; this.users.length < n; i++) {
      const base = LOCAL_NAMES[i % LOCAL_NAMES.length] ?? 'user';
      const address = `${i < LOCAL_NAMES.length ? base : `${base}${Math.floor(i / LOCAL_NAMES.length) + 1}`}@${this.localDomain}`;
      if (reserved.has(address)) continue;
      const ips = [this.ipv4()];
      if (this.rand() < 0.5) ips.push(this.ipv4());
      this.users.push({ address, ips });
    }
    this.sprayNames = this.sprayUsernames(opts.spray?.usernames ?? 0, reserved);
    this.attackIps = Array.from({ length: Math.max(1, opts.attack?.ips ?? 1) }, () => (this.rand() < 0.15 ? this.ipv6() : this.ipv4()));
    this.busyIps = Array.from({ length: Math.max(1, opts.busyAccount?.ips ?? 1) }, () => this.ipv4());
    this.outboundIps = Array.from({ length: 40 }, () => this.ipv4());
    // Drawn only when asked for, so scenarios without them keep their lines.
    const subscribers = opts.busyAccount?.recipientDomains;
    this.busyDomains = subscribers === undefined ? PARTNER_DOMAINS : this.domainNames(subscribers);
    this.incidentPools = (opts.incidents ?? []).map((incident) => {
      if (incident.kind === 'sending' || incident.kind === 'logins') {
        return Array.from({ length: Math.max(1, incident.ips) }, () => (this.rand() < 0.15 ? this.ipv6() : this.ipv4()));
      }
      if (incident.kind === 'spray') return this.sprayUsernames(incident.usernames, reserved);
      return [];
    });
    this.incidentLogins = (opts.incidents ?? []).map(() => 0);
  }

  /** `n` distinct made-up domains, such as `marie-3fa1.fr`. */
  private domainNames(n: number): string[] {
    const names = new Set<string>();
    while (names.size < n) names.add(`${this.pick(FIRST)}-${this.hex(4)}.${this.pick(['fr', 'com', 'net', 'de', 'be', 'eu'])}`);
    return [...names];
  }

  /** Usernames a spray guesses: none is a user of the scenario. */
  private sprayUsernames(count: number, reserved: ReadonlySet<string>): string[] {
    const names = new Set<string>();
    // Bounded tries: the name space is finite, a huge `usernames` gets what exists.
    for (let tries = 0; names.size < count && tries < count * 20; tries++) {
      const r = this.rand();
      const local = r < 0.4 ? this.pick(SPRAY_WORDS) : r < 0.8 ? `${this.pick(FIRST)}.${this.pick(LAST)}` : `${this.pick(SPRAY_WORDS)}${Math.floor(this.rand() * 10000)}`;
      const name = this.rand() < 0.85 ? `${local}@${this.localDomain}` : local;
      // Real accounts are left out: a spray on them would be another story (and alert).
      if (!this.users.some((u) => u.address === name) && !reserved.has(name)) names.add(name);
    }
    return [...names];
  }

  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.rand() * a.length)] as T;
  }

  ipv4(): string {
    return `${1 + Math.floor(this.rand() * 222)}.${Math.floor(this.rand() * 256)}.${Math.floor(this.rand() * 256)}.${1 + Math.floor(this.rand() * 254)}`;
  }

  ipv6(): string {
    const h = () => Math.floor(this.rand() * 0x10000).toString(16);
    return `2a01:${h()}:${h()}::${h()}`;
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.rand() * 16).toString(16);
    return s;
  }

  password(): string {
    const chars = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!@#$%&*';
    let s = '';
    const n = 8 + Math.floor(this.rand() * 8);
    for (let i = 0; i < n; i++) s += chars[Math.floor(this.rand() * chars.length)];
    return s;
  }

  book(account: string): AccountBook {
    let b = this.books.get(account);
    if (b === undefined) {
      b = { logins: 0, messages: 0, externalRecipients: 0, localRecipients: 0, foreignSenderMessages: 0, clientIps: new Set(), recipientDomains: new Set(), senders: new Map() };
      this.books.set(account, b);
    }
    return b;
  }

  finalTruth(): ScenarioTruth {
    const accounts: Record<string, AccountTruth> = {};
    for (const [name, b] of [...this.books].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0))) {
      accounts[name] = {
        logins: b.logins,
        messages: b.messages,
        externalRecipients: b.externalRecipients,
        localRecipients: b.localRecipients,
        foreignSenderMessages: b.foreignSenderMessages,
        clientIps: [...b.clientIps].sort(),
        recipientDomains: [...b.recipientDomains].sort(),
        senders: Object.fromEntries([...b.senders].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))),
      };
    }
    return { ...this.truth, accounts };
  }

  /** A free thread id at `startMs` (busy until its session's last line): ids are reused, never shared by open sessions. */
  private thread(startMs: number): number {
    for (let i = 0; i < this.threadBusyUntil.length; i++) if ((this.threadBusyUntil[i] as number) < startMs) return i;
    this.threadBusyUntil.push(0);
    return this.threadBusyUntil.length - 1;
  }

  private writer(peer: string, startMs: number): [SessionWriter, number] {
    const id = this.thread(startMs);
    const thread = (0x0b00 + id * 7 + (id > 300 ? 0x10000 : 0)).toString(16).toUpperCase().padStart(4, '0');
    this.threadBusyUntil[id] = Number.MAX_SAFE_INTEGER;
    return [new SessionWriter(this, peer, thread.length > 4 ? thread.padStart(8, '0') : thread, startMs), id];
  }

  private finish(w: SessionWriter, id: number, out: Script[]): void {
    this.threadBusyUntil[id] = w.endMs;
    out.push(w.script);
  }

  /** How many events of `perMinute` fall in one minute: the integer part, plus one with the fraction's probability. */
  private count(perMinute: number): number {
    const whole = Math.floor(perMinute);
    return whole + (this.rand() < perMinute - whole ? 1 : 0);
  }

  private localRecipient(): string {
    return this.pick(this.users.length > 0 ? this.users : [{ address: `info@${this.localDomain}`, ips: [] }]).address;
  }

  private externalAddress(domains: readonly string[] = EXTERNAL_DOMAINS): string {
    return `${this.pick(FIRST)}${this.rand() < 0.5 ? '.' + this.pick(LAST) : Math.floor(this.rand() * 100)}@${this.pick(domains)}`;
  }

  /** The sessions that start within minute `m` (ms offsets from the scenario start), in start order. */
  minute(m: number, endMs: number): Script[] {
    const o = this.opts;
    const starts: Array<[number, (start: number, out: Script[]) => void]> = [];
    const at = () => m * 60_000 + Math.floor(this.rand() * 60_000);
    const add = (f: (start: number, out: Script[]) => void) => {
      const s = at();
      if (s < endMs) starts.push([s, f]);
    };
    // Legitimate users: about 3 sessions an hour each, unless told otherwise.
    const userRate = (o.userSessionsPerHour ?? 3) / 60;
    for (const user of this.users) if (this.rand() < userRate) add((s, out) => this.userSession(user, s, out));
    for (let i = this.count(o.inboundPerMinute ?? 20); i > 0; i--) add((s, out) => this.inboundSession(s, out));
    for (let i = this.count(o.outboundDeliveriesPerMinute ?? 10); i > 0; i--) add((s, out) => this.outboundSession(s, out));
    if (o.spray && this.sprayNames.length > 0) for (let i = this.count(o.spray.perMinute); i > 0; i--) add((s, out) => this.spraySession(s, out));
    if (o.attack && (m + 1) * 60 > o.attack.startSecond) {
      const attack = o.attack;
      let messages = this.count(attack.messagesPerMinute);
      while (messages > 0) {
        const n = Math.min(messages, 1 + Math.floor(this.rand() * 3));
        messages -= n;
        const s = Math.max(attack.startSecond * 1000, at());
        if (s < endMs) starts.push([s, (st, out) => this.attackSession(st, n, out)]);
      }
    }
    if (o.busyAccount) {
      let recipients = this.count(o.busyAccount.externalRecipientsPerHour / 60);
      while (recipients > 0) {
        const n = Math.min(recipients, 1 + Math.floor(this.rand() * 4));
        recipients -= n;
        add((s, out) => this.busySession(s, n, out));
      }
    }
    (o.incidents ?? []).forEach((incident, i) => this.incidentMinute(incident, i, m, endMs, starts));
    if (m % 10 === 3) add((s, out) => out.push({ peer: 'SYSTEM', thread: '0000', times: [s], rests: [this.pick(SYSTEM_TEXTS)] }));
    starts.sort((a, b) => a[0] - b[0]);
    // `start` is the log time of the first line.
    const first = starts[0];
    if (m === 0 && first !== undefined) first[0] = 0;
    const out: Script[] = [];
    for (const [s, f] of starts) f(s, out);
    return out;
  }

  /** The sessions of one incident that start within minute `m`: its rates scaled to the part of the minute it covers. */
  private incidentMinute(incident: Incident, index: number, m: number, endMs: number, starts: Array<[number, (start: number, out: Script[]) => void]>): void {
    const from = Math.max(m * 60, incident.startSecond);
    const to = Math.min((m + 1) * 60, incident.endSecond ?? Infinity, endMs / 1000);
    if (to <= from) return;
    const share = (to - from) / 60;
    const at = () => Math.floor(from * 1000 + this.rand() * (to - from) * 1000);
    const pool = this.incidentPools[index] ?? [];
    switch (incident.kind) {
      case 'sending': {
        let messages = this.count(incident.messagesPerMinute * share);
        while (messages > 0) {
          const n = Math.min(messages, 1 + Math.floor(this.rand() * 3));
          messages -= n;
          starts.push([at(), (s, out) => this.stolenSession(incident, pool, s, n, out)]);
        }
        return;
      }
      case 'logins':
        for (let i = this.count(incident.loginsPerMinute * share); i > 0; i--) {
          const ip = pool[this.incidentLogins[index]!++ % pool.length]!;
          starts.push([at(), (s, out) => this.botnetSession(incident.account, ip, s, out)]);
        }
        return;
      case 'open_relay': {
        let recipients = this.count(incident.recipientsPerMinute * share);
        while (recipients > 0) {
          const n = Math.min(recipients, 1 + Math.floor(this.rand() * 2));
          recipients -= n;
          starts.push([at(), (s, out) => this.relaySession(s, n, out)]);
        }
        return;
      }
      case 'spray':
        for (let i = this.count(incident.perMinute * share); i > 0; i--) starts.push([at(), (s, out) => this.spraySession(s, out, pool)]);
        return;
    }
  }

  private userSession(user: { address: string; ips: string[] }, start: number, out: Script[]): void {
    const [w, id] = this.writer(this.pick(user.ips), start);
    w.serverOpen(this.pick(HELO));
    const r = this.rand();
    const login = this.rand() < 0.2 ? user.address.charAt(0).toUpperCase() + user.address.slice(1) : user.address;
    if (this.rand() < 0.05) w.auth('login', login, false); // a mistyped password first
    if (this.rand() < 0.03) w.auth('login', login, false, 'cancel');
    if (r < 0.75) w.auth('login', login, true, this.rand() < 0.1 ? 'inline' : 'continued');
    else if (r < 0.95) w.auth('plain', login, true, this.rand() < 0.6 ? 'inline' : 'continued');
    else w.auth('cram_md5', login, true);
    for (let k = 1 + Math.floor(this.rand() * 2); k > 0; k--) {
      const rcpts: Array<[string, boolean, boolean]> = [];
      for (let j = 1 + Math.floor(this.rand() * 3); j > 0; j--) {
        const local = this.rand() < 0.4;
        rcpts.push(local ? [this.localRecipient(), true, true] : [this.externalAddress(), false, true]);
      }
      if (this.rand() < 0.05) {
        // Changed their mind: RSET before DATA.
        w.in(`MAIL FROM: <${user.address}>`);
        w.out(`250 2.1.0 <${user.address}>... Sender ok`);
        w.in('RSET');
        w.out('250 2.0.0 Reset state');
      }
      w.message(this.rand() < 0.1 ? user.address.toUpperCase() : user.address, rcpts);
    }
    w.close();
    this.finish(w, id, out);
  }

  private inboundSession(start: number, out: Script[]): void {
    const [w, id] = this.writer(this.rand() < 0.1 ? this.ipv6() : this.ipv4(), start);
    w.serverOpen(`mail-${this.hex(4)}.${this.pick(EXTERNAL_DOMAINS)}`);
    const sender = this.rand() < 0.05 ? '' : this.externalAddress();
    for (let k = this.rand() < 0.1 ? 2 : 1; k > 0; k--) {
      const rcpts: Array<[string, boolean, boolean]> = [[this.localRecipient(), true, true]];
      if (this.rand() < 0.2) rcpts.push([this.localRecipient(), true, true]);
      if (this.rand() < 0.05) rcpts.push([`nobody${Math.floor(this.rand() * 100)}@${this.localDomain}`, true, false]);
      const relay = this.rand() < 0.05 ? [this.externalAddress()] : [];
      w.message(sender, rcpts, this.rand() >= 0.03, relay);
    }
    w.close(this.rand() < 0.02);
    this.finish(w, id, out);
  }

  private outboundSession(start: number, out: Script[]): void {
    // IceWarp delivering to a remote MX: the greeting comes in, commands go out. Never counted.
    const [w, id] = this.writer(this.pick(this.outboundIps), start);
    const mx = `mx${Math.floor(this.rand() * 4)}.${this.pick(EXTERNAL_DOMAINS)}`;
    w.line('Connected');
    w.in(`220 ${mx} ESMTP ready`, 200);
    w.out(`EHLO mail.${this.localDomain}`);
    w.in(`250-${mx} Hello mail.${this.localDomain}`, 200);
    w.in('250 PIPELINING', 0);
    const from = this.localRecipient();
    const to = this.externalAddress();
    w.out(`MAIL FROM:<${from}>`);
    w.in('250 2.1.0 OK', 200);
    w.out(`RCPT TO:<${to}>`);
    w.in('250 2.1.5 OK', 200);
    w.out('DATA');
    w.in('354 Go ahead', 200);
    w.line(`*** <${from}> <${to}> 1 ${1000 + Math.floor(this.rand() * 50000)} 00:00:01 OK`, 800);
    w.in('250 2.0.0 OK queued as ' + this.hex(10), 200);
    w.out('QUIT');
    w.in('221 2.0.0 closing connection', 100);
    w.line('Disconnected', 5);
    this.finish(w, id, out);
  }

  private spraySession(start: number, out: Script[], names: readonly string[] = this.sprayNames): void {
    const [w, id] = this.writer(this.rand() < 0.1 ? this.ipv6() : this.ipv4(), start);
    w.serverOpen(this.pick(['User', 'ylmf-pc', 'WIN-' + this.hex(6).toUpperCase(), '[127.0.0.1]']));
    for (let k = 1 + Math.floor(this.rand() * 3); k > 0; k--) {
      const r = this.rand();
      const name = this.pick(names);
      if (r < 0.7) w.auth('login', name, false);
      else if (r < 0.93) w.auth('plain', name, false, this.rand() < 0.5 ? 'inline' : 'continued');
      else if (r < 0.97) w.auth('cram_md5', name, false);
      else w.auth('other', name, false);
    }
    w.close(this.rand() < 0.1);
    this.finish(w, id, out);
  }

  private attackSession(start: number, messages: number, out: Script[]): void {
    const a = this.opts.attack;
    if (a === undefined) return;
    const [w, id] = this.writer(this.pick(this.attackIps), start);
    w.serverOpen(this.pick(['orange.fr', 'User', 'localhost']));
    if (a.passwordChangedSecond !== undefined && start >= a.passwordChangedSecond * 1000) {
      // The old password no longer works: the attacker tries, fails and leaves.
      w.auth('login', a.account, false);
      w.close();
      this.finish(w, id, out);
      return;
    }
    w.auth('login', a.account, true);
    const sender = !a.foreignSender ? a.account : a.senders?.length ? this.forgedSender(a.senders) : this.externalAddress(['orange.fr', 'yahoo.com', 'gmail.com']);
    for (let k = 0; k < messages; k++) {
      const rcpts: Array<[string, boolean, boolean]> = [];
      for (let j = 0; j < a.recipientsPerMessage; j++) {
        // Many domains: the big ones and random small ones.
        const domain = this.rand() < 0.7 ? this.pick(EXTERNAL_DOMAINS) : `${this.pick(FIRST)}${this.hex(3)}.${this.pick(['com', 'net', 'fr', 'de', 'ru'])}`;
        rcpts.push([this.externalAddress([domain]), false, true]);
      }
      w.message(sender, rcpts);
    }
    w.close();
    this.finish(w, id, out);
  }

  /** One of an attack's forged senders: the first for four sessions in five, the others in turn. */
  private forgedSender(senders: readonly string[]): string {
    return senders.length === 1 || this.rand() < 0.8 ? senders[0]! : this.pick(senders.slice(1));
  }

  /** A stolen account's spam session (an incident): like the attack, from the incident's IPs. */
  private stolenSession(incident: Extract<Incident, { kind: 'sending' }>, ips: readonly string[], start: number, messages: number, out: Script[]): void {
    const [w, id] = this.writer(this.pick(ips), start);
    w.serverOpen(this.pick(['orange.fr', 'User', 'localhost']));
    w.auth('login', incident.account, true);
    for (let k = 0; k < messages; k++) {
      const sender = incident.foreignSender ? this.externalAddress(['orange.fr', 'yahoo.com', 'gmail.com']) : incident.account;
      const rcpts: Array<[string, boolean, boolean]> = [];
      for (let j = this.count(incident.recipientsPerMessage); j > 0; j--) {
        const domain = this.rand() < 0.7 ? this.pick(EXTERNAL_DOMAINS) : `${this.pick(FIRST)}${this.hex(3)}.${this.pick(['com', 'net', 'fr', 'de', 'ru'])}`;
        rcpts.push([this.externalAddress([domain]), false, true]);
      }
      if (rcpts.length > 0) w.message(sender, rcpts);
    }
    w.close();
    this.finish(w, id, out);
  }

  /** A botnet's login: AUTH succeeds; now and then one message with a foreign sender. */
  private botnetSession(account: string, ip: string, start: number, out: Script[]): void {
    const [w, id] = this.writer(ip, start);
    w.serverOpen(this.pick(['User', 'ylmf-pc', 'WIN-' + this.hex(6).toUpperCase()]));
    w.auth(this.rand() < 0.7 ? 'login' : 'plain', account, true, 'inline');
    if (this.rand() < 0.2) w.message(this.externalAddress(['yahoo.com', 'gmail.com']), [[this.externalAddress(), false, true]]);
    w.close(this.rand() < 0.3);
    this.finish(w, id, out);
  }

  /** An open relay at work: no AUTH, an external sender, external recipients accepted. */
  private relaySession(start: number, recipients: number, out: Script[]): void {
    const [w, id] = this.writer(this.ipv4(), start);
    w.serverOpen(this.pick(['User', 'mail.example.org', '[127.0.0.1]']));
    const rcpts: Array<[string, boolean, boolean]> = [];
    for (let j = 0; j < recipients; j++) rcpts.push([this.externalAddress(), false, true]);
    w.message(this.externalAddress(['yahoo.com', 'mail.ru']), rcpts);
    w.close();
    this.finish(w, id, out);
  }

  private busySession(start: number, recipients: number, out: Script[]): void {
    const b = this.opts.busyAccount;
    if (b === undefined) return;
    const [w, id] = this.writer(this.pick(this.busyIps), start);
    w.serverOpen('newsletter-host');
    w.auth(this.rand() < 0.5 ? 'login' : 'plain', b.account, true, 'inline');
    const rcpts: Array<[string, boolean, boolean]> = [];
    for (let j = 0; j < recipients; j++) rcpts.push([this.externalAddress(this.busyDomains), false, true]);
    if (this.rand() < 0.2) rcpts.push([this.localRecipient(), true, true]);
    w.message(b.account, rcpts);
    w.close();
    this.finish(w, id, out);
  }

  format(script: Script, index: number): { time: number; line: string } {
    const ms = script.times[index] as number;
    const time = this.startUnix + Math.floor(ms / 1000);
    const sod = ((time % 86400) + 86400) % 86400;
    const hms = `${two(Math.floor(sod / 3600))}:${two(Math.floor(sod / 60) % 60)}:${two(sod % 60)}`;
    return { time, line: `${script.peer} [${script.thread}] ${hms} ${script.rests[index]}` };
  }
}

function* generate(gen: ScenarioGenerator): Generator<{ time: number; line: string }> {
  const endMs = gen.opts.durationSeconds * 1000;
  const minutes = Math.ceil(gen.opts.durationSeconds / 60);
  const queue = new LineQueue();
  let seq = 0;
  for (let m = 0; m < minutes; m++) {
    for (const script of gen.minute(m, endMs)) queue.push({ at: script.times[0] as number, seq: seq++, script, index: 0 });
    const until = (m + 1) * 60_000;
    for (let top = queue.peek(); top !== undefined && top.at < until; top = queue.peek()) {
      queue.pop();
      gen.truth.lines++;
      yield gen.format(top.script, top.index);
      const next = top.index + 1;
      if (next < top.script.times.length) queue.push({ at: top.script.times[next] as number, seq: seq++, script: top.script, index: next });
    }
  }
  // Sessions that began before the end finish after it.
  for (let top = queue.pop(); top !== undefined; top = queue.pop()) {
    gen.truth.lines++;
    yield gen.format(top.script, top.index);
    const next = top.index + 1;
    if (next < top.script.times.length) queue.push({ at: top.script.times[next] as number, seq: seq++, script: top.script, index: next });
  }
}

/** Yields lines in log-time order, interleaving sessions like a real server (several threads at once). */
export function* scenarioLines(opts: ScenarioOptions): Generator<{ time: number; line: string }> {
  yield* generate(new ScenarioGenerator(opts));
}

/** What a correct exporter counts for `scenarioLines(opts)`: the generator's own bookkeeping, not a parse. */
export function scenarioTruth(opts: ScenarioOptions): ScenarioTruth {
  const gen = new ScenarioGenerator(opts);
  for (const _ of generate(gen)) void _;
  return gen.finalTruth();
}

function dayFile(time: number): string {
  const d = new Date(time * 1000);
  return `s${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}.log`;
}

/** Writes daily files `sYYYYMMDD.log` (by the UTC day of each line) into dir; returns the truth. */
export async function writeScenario(dir: string, opts: ScenarioOptions, format: { crlf?: boolean } = {}): Promise<ScenarioTruth> {
  await mkdir(dir, { recursive: true });
  const eol = format.crlf ? '\r\n' : '\n';
  const gen = new ScenarioGenerator(opts);
  let file = '';
  let handle: FileHandle | undefined;
  let chunk: string[] = [];
  const flush = async () => {
    if (handle !== undefined && chunk.length > 0) await handle.write(chunk.join(''));
    chunk = [];
  };
  try {
    for (const { time, line } of generate(gen)) {
      const name = dayFile(time);
      if (name !== file) {
        await flush();
        await handle?.close();
        file = name;
        handle = await open(join(dir, name), 'a');
      }
      chunk.push(line + eol);
      if (chunk.length >= 20_000) await flush();
    }
    await flush();
  } finally {
    await handle?.close();
  }
  return gen.finalTruth();
}
