// DNSBL checks: is one of our public IPs on a public blocklist? The pure
// parts (query names, reading an answer) are separate from the checker that
// asks a resolver, so they get table-driven tests without DNS.
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostPort } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { forEachLimited } from './schedule.js';

export class DnsblError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DnsblError';
  }
}

/** The eight 16-bit groups of an IPv6 address (embedded IPv4 and zone ids allowed). */
export function ipv6Groups(ip: string): number[] {
  let text = ip.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = text.slice(0, v4.index) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<number>(zeros).fill(0), ...right];
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) {
    throw new DnsblError(`"${ip}" is not an IPv6 address`);
  }
  return groups;
}

/**
 * The name under a DNSBL zone for an IP (RFC 5782): IPv4 octets reversed,
 * IPv6 as 32 reversed nibbles. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * is the IPv4 address it carries, which is what the lists hold.
 */
export function reverseName(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return ip.split('.').map(Number).reverse().join('.');
  if (family === 6) {
    const groups = ipv6Groups(ip);
    if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
      const [hi = 0, lo = 0] = groups.slice(6);
      return [lo & 0xff, lo >> 8, hi & 0xff, hi >> 8].join('.');
    }
    const hex = groups.map((g) => g.toString(16).padStart(4, '0')).join('');
    return [...hex].reverse().join('.');
  }
  throw new DnsblError(`"${ip}" is not an IP address`);
}

export function queryName(ip: string, zone: string): string {
  return `${reverseName(ip)}.${zone.replace(/\.$/, '')}`;
}

/** What one lookup says about one IP in one zone. */
export type Verdict =
  | { kind: 'listed'; answer: string }
  | { kind: 'not_listed' }
  | { kind: 'error'; reason: string };

function ipv4Number(address: string): number | undefined {
  if (isIP(address) !== 4) return undefined;
  return address.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

const LOOPBACK_BASE = ipv4Number('127.0.0.0')!;

/**
 * Reads the A records a zone returned. Listing codes are 127.0.0.2–127.0.0.254
 * (the zone says why in the last octet); several codes at once are kept,
 * sorted and joined with ",". 127.255.255.x is how Spamhaus refuses a query
 * (public or unregistered resolver, over quota, typo in the query), 127.0.0.1
 * is never a listing (RFC 5782) and some lists use it for "blocked"; anything
 * outside 127.0.0.0/8 means a resolver rewrote the answer. All those are
 * query errors, not listings: they say nothing about our IP.
 */
export function classifyAnswers(addresses: readonly string[]): Verdict {
  if (addresses.length === 0) return { kind: 'not_listed' };
  const codes: number[] = [];
  for (const address of addresses) {
    const n = ipv4Number(address);
    if (n === undefined || n >>> 24 !== 127) {
      return { kind: 'error', reason: `unexpected answer ${address} (not a DNSBL return code; does the resolver rewrite NXDOMAIN?)` };
    }
    if (n >>> 8 === 0x7fffff) return { kind: 'error', reason: `query refused by the zone (answer ${address}; use a resolver of your own)` };
    const offset = n - LOOPBACK_BASE;
    if (offset < 2 || offset > 254) return { kind: 'error', reason: `answer ${address} is not a listing code (127.0.0.2-127.0.0.254)` };
    codes.push(offset);
  }
  const answer = [...new Set(codes)]
    .sort((a, b) => a - b)
    .map((c) => `127.0.0.${c}`)
    .join(',');
  return { kind: 'listed', answer };
}

/** NXDOMAIN and NODATA mean "not listed"; every other resolver failure is an error. */
export function classifyFailure(err: unknown): Verdict {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'ENOTFOUND' || code === 'ENODATA') return { kind: 'not_listed' };
  return { kind: 'error', reason: typeof code === 'string' ? code : (err as Error)?.message ?? String(err) };
}

export interface DnsblSettings {
  ips: string[];
  zones: string[];
  /** Seconds per query. */
  timeout: number;
  /** Default: the system's resolvers. */
  resolver?: HostPort | undefined;
  concurrency: number;
}

/** The last known state of one IP in one zone. */
export interface DnsblListing {
  ip: string;
  zone: string;
  listed: boolean;
  /** The listing codes, "" when not listed. */
  answer: string;
}

export interface DnsblRound {
  /** Unix seconds when the round ended. */
  finishedAt: number;
  durationSeconds: number;
  queries: number;
  errors: number;
}

/**
 * Looks every IP up in every zone, a round at a time. Results live in plain
 * objects for the collector: a failed lookup keeps the pair's previous state
 * (a timeout does not clear a listing) and counts as a query error of its zone.
 */
export class DnsblChecker {
  private readonly state = new Map<string, DnsblListing>();
  private readonly errorCounts = new Map<string, number>();
  private last: DnsblRound | undefined;
  private readonly resolver: Resolver;
  private stopped = false;

  constructor(
    private readonly settings: DnsblSettings,
    private readonly log: Logger,
  ) {
    // One try: the interval is the retry, and a round must end in bounded time.
    this.resolver = new Resolver({ timeout: Math.max(1, Math.round(settings.timeout * 1000)), tries: 1 });
    for (const zone of settings.zones) this.errorCounts.set(zone, 0);
  }

  listings(): DnsblListing[] {
    return [...this.state.values()];
  }

  /** Query errors so far, by zone (every configured zone, from 0). */
  queryErrors(): ReadonlyMap<string, number> {
    return this.errorCounts;
  }

  lastRound(): DnsblRound | undefined {
    return this.last;
  }

  /** One lookup of every (ip, zone) pair. Never throws: failures are counted and logged. */
  async runRound(): Promise<DnsblRound> {
    const started = performance.now();
    let errors = 0;
    const pairs = this.settings.ips.flatMap((ip) => this.settings.zones.map((zone) => ({ ip, zone })));
    try {
      await this.useConfiguredResolver();
    } catch (err) {
      this.log.warn('dnsbl: cannot use the configured resolver', { err: (err as Error).message });
      for (const { zone } of pairs) this.countError(zone);
      return this.finish(started, pairs.length, pairs.length);
    }
    await forEachLimited(pairs, this.settings.concurrency, async ({ ip, zone }) => {
      const verdict = await this.check(ip, zone);
      if (this.stopped) return;
      const key = `${ip} ${zone}`;
      if (verdict.kind === 'error') {
        errors++;
        this.countError(zone);
        this.log.debug('dnsbl query failed', { ip, zone, reason: verdict.reason });
        return;
      }
      const next: DnsblListing =
        verdict.kind === 'listed' ? { ip, zone, listed: true, answer: verdict.answer } : { ip, zone, listed: false, answer: '' };
      const previous = this.state.get(key);
      if (next.listed && (!previous?.listed || previous.answer !== next.answer)) {
        this.log.warn('dnsbl: listed', { ip, zone, answer: next.answer });
      } else if (!next.listed && previous?.listed) {
        this.log.info('dnsbl: no longer listed', { ip, zone });
      }
      this.state.set(key, next);
    });
    if (errors > 0) this.log.warn('dnsbl: some queries failed', { errors, queries: pairs.length });
    return this.finish(started, pairs.length, errors);
  }

  /** Aborts queries in flight; their results are dropped. */
  stop(): void {
    this.stopped = true;
    this.resolver.cancel();
  }

  private async check(ip: string, zone: string): Promise<Verdict> {
    try {
      return classifyAnswers(await this.resolver.resolve4(queryName(ip, zone)));
    } catch (err) {
      return classifyFailure(err);
    }
  }

  private countError(zone: string): void {
    this.errorCounts.set(zone, (this.errorCounts.get(zone) ?? 0) + 1);
  }

  private finish(started: number, queries: number, errors: number): DnsblRound {
    const round = { finishedAt: Date.now() / 1000, durationSeconds: (performance.now() - started) / 1000, queries, errors };
    if (!this.stopped) this.last = round;
    return round;
  }

  /** setServers takes addresses only: a host name is looked up each round, so a changed record is followed. */
  private async useConfiguredResolver(): Promise<void> {
    const r = this.settings.resolver;
    if (!r) return;
    let address = r.host;
    if (!isIP(address)) {
      try {
        address = (await lookup(r.host)).address;
      } catch (err) {
        throw new DnsblError(`dnsbl.resolver: cannot resolve host "${r.host}"`, { cause: err });
      }
    }
    this.resolver.setServers([isIP(address) === 6 ? `[${address}]:${r.port}` : `${address}:${r.port}`]);
  }
}
