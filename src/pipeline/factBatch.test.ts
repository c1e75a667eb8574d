import { describe, expect, it } from 'vitest';
import { domainKey, type SmtpFact } from '../smtp/facts.js';
import { applyFacts, FactBatchWriter } from './factBatch.js';

const FACTS: SmtpFact[] = [
  { type: 'session', time: 1_764_000_000, peer: '203.0.113.7' },
  { type: 'auth', time: 1_764_000_001.5, peer: '203.0.113.7', mechanism: 'login', username: 'info@domaine.com', success: true },
  { type: 'auth', time: 1_764_000_002, peer: '2001:db8::1', mechanism: 'other', username: undefined, success: false },
  {
    type: 'message',
    time: 1_764_000_003,
    peer: '203.0.113.7',
    account: 'info@domaine.com',
    mailFrom: 'ceo@bank.example',
    recipients: [
      { domainKey: domainKey('spam-target.example'), external: true },
      { domainKey: domainKey('exämple.de'), external: true },
      { domainKey: domainKey(''), external: false },
      // A parser may name a domain that is not the address's end (never seen, but the batch keeps it).
      { domainKey: domainKey('other.example'), external: true },
      { domainKey: domainKey(''), external: false },
    ],
  },
  { type: 'message', time: 1_764_000_004, peer: '198.51.100.9', account: undefined, authenticated: true, mailFrom: '', recipients: [] },
  { type: 'message', time: 1_764_000_005, peer: '198.51.100.9', account: undefined, authenticated: false, mailFrom: 'x@y.example', recipients: [{ domainKey: domainKey('far.example'), external: true }] },
  { type: 'relay_denied', time: 1_764_000_006, peer: '198.51.100.9' },
];

/** Facts through a batch and back, as the main thread gets them, `max` at a time. */
function roundTrip(facts: SmtpFact[], max: number): SmtpFact[] {
  const writer = new FactBatchWriter();
  for (const f of facts) writer.add(f);
  // A structured clone, as postMessage makes it.
  const batch = structuredClone(writer.take());
  const out: SmtpFact[] = [];
  for (let at = 0; at < batch.numbers.length; ) at = applyFacts(batch, at, max, (f) => out.push(f));
  return out;
}

describe('FactBatch', () => {
  it('gives back the facts as written, strings and all, whatever the slice size', () => {
    expect(roundTrip(FACTS, Infinity)).toEqual(FACTS);
    expect(roundTrip(FACTS, 1)).toEqual(FACTS);
  });

  it('starts afresh after take: a second batch carries only its own facts and strings', () => {
    const writer = new FactBatchWriter();
    for (const f of FACTS) writer.add(f);
    writer.take();
    writer.add(FACTS[1]!);
    const batch = writer.take();
    const out: SmtpFact[] = [];
    applyFacts(batch, 0, Infinity, (f) => out.push(f));
    expect(out).toEqual([FACTS[1]]);
    expect(batch.strings).toEqual([FACTS[1]!.peer, "info@domaine.com"]);
  });

  it('grows past its first buffers: thousands of recipients and long strings', () => {
    const recipients = Array.from({ length: 5000 }, (_, i) => ({ domainKey: domainKey(`domain${i % 97}.example`), external: i % 3 !== 0 }));
    const big: SmtpFact = { type: 'message', time: 1, peer: 'p'.repeat(64), account: 'ä'.repeat(254), mailFrom: 'm'.repeat(320), recipients };
    expect(roundTrip([big, ...FACTS, big], 7)).toEqual([big, ...FACTS, big]);
  });
});
