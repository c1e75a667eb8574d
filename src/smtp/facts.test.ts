import { describe, expect, it } from 'vitest';
import { domainKey, domainKeyOfBytes, LocalDomains } from './facts.js';

/** `text` as bytes inside a larger buffer, as a parser meets it inside a line. */
function inLine(text: string): [Buffer, number, number] {
  const before = 'RCPT TO:<x@';
  const buf = Buffer.from(`${before}${text}> SIZE=100`, 'utf8');
  const from = Buffer.byteLength(before);
  return [buf, from, from + Buffer.byteLength(text)];
}

describe('domainKey', () => {
  it('is the same number from the bytes of a line as from the string, whatever the case', () => {
    for (const d of ['gmail.com', 'GMail.COM', 'sub.domaine.com', '', 'xn--bcher-kva.example', 'bücher.example', 'BÜCHER.example']) {
      expect(domainKeyOfBytes(...inLine(d))).toBe(domainKey(d));
    }
    expect(domainKey('GMail.COM')).toBe(domainKey('gmail.com'));
    expect(domainKey('BÜCHER.example')).toBe(domainKey('bücher.example'));
  });

  it('is an exact integer below 2^53 (a Float64Array carries it across threads)', () => {
    for (const d of ['a', 'gmail.com', 'a-very-long-subdomain-name.of-some-domain.example.org']) {
      const k = domainKey(d);
      expect(Number.isSafeInteger(k)).toBe(true);
      expect(k).toBeGreaterThanOrEqual(0);
      expect(new Float64Array([k])[0]).toBe(k);
    }
  });

  it('gives 100,000 distinct domains 100,000 distinct numbers', () => {
    const keys = new Set<number>();
    for (let i = 0; i < 100_000; i++) keys.add(domainKey(`spam${i}.example${i % 7}.com`));
    expect(keys.size).toBe(100_000);
  });
});

describe('LocalDomains', () => {
  const local = new LocalDomains(['Domaine.com', '*.domaine.fr']);

  it('judges the bytes of a line as it judges the string', () => {
    const cases: [string, boolean][] = [
      ['domaine.com', true],
      ['DOMAINE.COM', true],
      ['xdomaine.com', false],
      ['sub.domaine.com', false],
      ['domaine.fr', false],
      ['mail.domaine.fr', true],
      ['a.b.DOMAINE.fr', true],
      ['maildomaine.fr', false],
      ['gmail.com', false],
      ['', false],
      ['bücher.domaine.fr', true],
    ];
    for (const [domain, isLocal] of cases) {
      expect([domain, local.isLocal(domain)]).toEqual([domain, isLocal]);
      expect([domain, local.isLocalBytes(...inLine(domain))]).toEqual([domain, isLocal]);
    }
  });

  it('gives the answer of a walk over every name with a hosting provider\'s 500 names and 20 wildcards', () => {
    const names = Array.from({ length: 500 }, (_, i) => `client${i}-hosting.fr`);
    const wildcards = Array.from({ length: 20 }, (_, i) => `tenant${i}.example.net`);
    const many = new LocalDomains([...names.map((n, i) => (i % 2 ? n.toUpperCase() : n)), ...wildcards.map((w) => `*.${w}`), 'bücher.example']);
    const walk = (domain: string): boolean => {
      const d = domain.toLowerCase();
      return d === 'bücher.example' || names.includes(d) || wildcards.some((w) => d.endsWith(`.${w}`));
    };
    const domains = [
      ...names,
      ...names.map((n) => `x${n}`),
      ...names.map((n) => `mail.${n.toUpperCase()}`),
      ...names.map((n) => `${n}.`),
      ...wildcards,
      ...wildcards.map((w) => `a.${w}`),
      ...wildcards.map((w) => `a.b.${w.toUpperCase()}`),
      ...wildcards.map((w) => `x${w}`),
      ...wildcards.map((w) => `.${w}`),
      'BÜCHER.example',
      'bücher.example.org',
      // A sender's RCPT of 1,280 bytes and 640 dots: only the dots within the longest suffix's length of the end are looked at.
      `${'a.'.repeat(620)}mail.tenant17.example.net`,
      `${'a.'.repeat(620)}mail.tenant17.example.nett`,
      `${'é.'.repeat(300)}tenant13.example.net`,
      `${'é.'.repeat(300)}client9-hosting.fr`,
      'gmail.com',
      '',
      '.',
    ];
    for (const domain of domains) {
      const want = walk(domain);
      const [buf, from, to] = inLine(domain);
      expect([domain, many.isLocal(domain)]).toEqual([domain, want]);
      expect([domain, many.isLocalBytes(buf, from, to)]).toEqual([domain, want]);
      // With the key the parser has already made for the recipient.
      expect([domain, many.isLocalBytes(buf, from, to, domainKeyOfBytes(buf, from, to))]).toEqual([domain, want]);
    }
    expect(domains.filter(walk)).toHaveLength(500 + 3 * 20 + 1 + 2);
  });
});
