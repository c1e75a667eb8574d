// HTTP basic auth against the web config's bcrypt hashes, as the
// exporter-toolkit does it (web/handler.go there), with two things made
// stricter: no plaintext password is kept (the result cache is keyed by an
// HMAC under a per-process key), and an unknown user is checked against the
// most expensive configured hash, so it costs the same as a known one.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { bcryptCost } from './webConfig.js';

export type AuthOutcome = 'allowed' | 'refused' | 'busy';

export interface BasicAuthOptions {
  /** bcrypt comparison; bcryptjs by default (tests count the calls). */
  compare?: (password: string, hash: string) => Promise<boolean>;
  /** Checks waiting for the one bcrypt that runs at a time before new ones are answered "busy" (default 32). */
  maxWaiting?: number;
  /** Remembered outcomes (default 100, as the toolkit). */
  cacheSize?: number;
}

export class BasicAuth {
  private readonly compare: (password: string, hash: string) => Promise<boolean>;
  private readonly maxWaiting: number;
  private readonly cacheSize: number;
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, boolean>();
  // bcrypt is meant to be slow: one at a time, so a burst of bad passwords cannot take both cores.
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(opts: BasicAuthOptions = {}) {
    this.compare = opts.compare ?? ((password, hash) => bcrypt.compare(password, hash));
    this.maxWaiting = opts.maxWaiting ?? 32;
    this.cacheSize = opts.cacheSize ?? 100;
  }

  /** Checks an Authorization header against `users` (name → bcrypt hash). With no users, everything is allowed. */
  async check(users: ReadonlyMap<string, string>, authorization: string | undefined): Promise<AuthOutcome> {
    if (users.size === 0) return 'allowed';
    const credentials = parseBasicAuth(authorization);
    if (!credentials) return 'refused';
    const { user, password } = credentials;
    const known = findUser(users, user);
    // An unknown user costs one bcrypt of the most expensive configured hash, as a known user would.
    const hash = known ?? mostExpensive(users);
    const key = createHmac('sha256', this.cacheKey).update(`${user}\0${hash}\0${password}`).digest('base64');
    let ok = this.cache.get(key);
    if (ok === undefined) {
      if (this.waiting >= this.maxWaiting) return 'busy';
      this.waiting++;
      const run = this.queue.then(() => this.compare(password, hash));
      this.queue = run.catch(() => undefined);
      try {
        ok = (await run) && known !== undefined;
      } finally {
        this.waiting--;
      }
      this.remember(key, ok);
    }
    return ok && known !== undefined ? 'allowed' : 'refused';
  }

  private remember(key: string, ok: boolean): void {
    if (this.cache.size >= this.cacheSize) {
      // Drop the oldest tenth at once rather than one entry per new request.
      let drop = Math.max(1, Math.floor(this.cacheSize / 10));
      for (const k of this.cache.keys()) {
        this.cache.delete(k);
        if (--drop === 0) break;
      }
    }
    this.cache.set(key, ok);
  }
}

/** "Basic base64(user:password)", the scheme name in any case; the password may contain colons. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header ?? '');
  if (!m) return undefined;
  const raw = Buffer.from(m[1]!, 'base64');
  const colon = raw.indexOf(0x3a);
  if (colon < 0) return undefined;
  return { user: raw.subarray(0, colon).toString('utf8'), password: raw.subarray(colon + 1).toString('utf8') };
}

/** The hash of `name`, comparing digests of every configured name in constant time, without stopping at a match. */
function findUser(users: ReadonlyMap<string, string>, name: string): string | undefined {
  const wanted = digest(name);
  let found: string | undefined;
  for (const [user, hash] of users) {
    if (timingSafeEqual(digest(user), wanted)) found = hash;
  }
  return found;
}

function mostExpensive(users: ReadonlyMap<string, string>): string {
  let best = '';
  for (const hash of users.values()) if (best === '' || bcryptCost(hash) > bcryptCost(best)) best = hash;
  return best;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
