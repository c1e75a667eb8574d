import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { BasicAuth, parseBasicAuth } from './basicAuth.js';

const header = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
// Real hashes with different costs (4 and 5: cheap, but different).
const CHEAP = bcrypt.hashSync('prom-pass', 4);
const DEARER = bcrypt.hashSync('graf-pass', 5);
const USERS = new Map([
  ['prometheus', CHEAP],
  ['grafana', DEARER],
]);

/** bcryptjs, with every comparison recorded: which hash an attempt cost. */
function recording() {
  const calls: string[] = [];
  const auth = new BasicAuth({
    compare: (password, hash) => {
      calls.push(hash);
      return bcrypt.compare(password, hash);
    },
  });
  return { auth, calls };
}

describe('BasicAuth', () => {
  it('allows the right password, refuses a wrong one, an unknown user and a missing or malformed header', async () => {
    const { auth } = recording();
    expect(await auth.check(USERS, header('prometheus', 'prom-pass'))).toBe('allowed');
    expect(await auth.check(USERS, header('prometheus', 'graf-pass'))).toBe('refused');
    expect(await auth.check(USERS, header('nobody', 'prom-pass'))).toBe('refused');
    expect(await auth.check(USERS, undefined)).toBe('refused');
    expect(await auth.check(USERS, 'Bearer abc')).toBe('refused');
    expect(await auth.check(USERS, 'Basic !!!')).toBe('refused');
  });

  it('allows everything when no user is configured', async () => {
    expect(await new BasicAuth().check(new Map(), undefined)).toBe('allowed');
  });

  it('costs an unknown user one bcrypt of the most expensive configured hash, as a known user costs one of its own', async () => {
    const { auth, calls } = recording();
    await auth.check(USERS, header('grafana', 'wrong'));
    await auth.check(USERS, header('grafanb', 'wrong'));
    await auth.check(USERS, header('', 'wrong'));
    // The unknown names took as many bcrypt rounds as the dearest real user, never a cheaper path.
    expect(calls).toEqual([DEARER, DEARER, DEARER]);
  });

  it('still refuses an unknown user whose password matches the hash used for the comparison', async () => {
    const { auth, calls } = recording();
    expect(await auth.check(USERS, header('intruder', 'graf-pass'))).toBe('refused');
    expect(calls).toEqual([DEARER]);
  });

  it('remembers outcomes (by HMAC, not by password) so a scrape every 15 s does not pay bcrypt each time', async () => {
    const { auth, calls } = recording();
    for (let i = 0; i < 3; i++) expect(await auth.check(USERS, header('prometheus', 'prom-pass'))).toBe('allowed');
    for (let i = 0; i < 3; i++) expect(await auth.check(USERS, header('prometheus', 'nope'))).toBe('refused');
    expect(calls).toHaveLength(2);
    // A changed hash for the same user is a new entry: the old password no longer works.
    const changed = new Map([['prometheus', bcrypt.hashSync('new-pass', 4)]]);
    expect(await auth.check(changed, header('prometheus', 'prom-pass'))).toBe('refused');
    expect(await auth.check(changed, header('prometheus', 'new-pass'))).toBe('allowed');
  });

  it('runs one bcrypt at a time and answers "busy" past the waiting limit instead of queueing without end', async () => {
    let running = 0;
    let most = 0;
    const auth = new BasicAuth({
      maxWaiting: 3,
      compare: async (password, hash) => {
        most = Math.max(most, ++running);
        const ok = await bcrypt.compare(password, hash);
        running--;
        return ok;
      },
    });
    const outcomes = await Promise.all(Array.from({ length: 5 }, (_, i) => auth.check(USERS, header('prometheus', `guess-${i}`))));
    expect(most).toBe(1);
    expect(outcomes.filter((o) => o === 'busy')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(3);
  });
});

describe('parseBasicAuth', () => {
  it.each([
    [header('a', 'b'), { user: 'a', password: 'b' }],
    [header('a', 'pa:ss:word'), { user: 'a', password: 'pa:ss:word' }],
    [`basic ${Buffer.from('ü:é').toString('base64')}`, { user: 'ü', password: 'é' }],
    [`Basic ${Buffer.from('nocolon').toString('base64')}`, undefined],
    ['Digest x', undefined],
    ['', undefined],
  ])('%s', (h, expected) => {
    expect(parseBasicAuth(h)).toEqual(expected);
  });
});
