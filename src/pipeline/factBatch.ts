// SMTP facts in a form that crosses from the parser's thread to the main
// thread cheaply: numbers in one Float64Array (its memory is moved, not
// copied) and the strings in one array. Cloning the fact objects themselves
// cost more per fact than parsing the lines that gave them (measured: 10-20
// µs a fact on the shared machine, a message fact with ten recipients the
// worst); this costs a few array reads.
import type { AuthMechanism, Recipient, SmtpFact } from '../smtp/facts.js';

export interface FactBatch {
  /** The facts' fields, in the layout FactBatchWriter.add writes. */
  numbers: Float64Array;
  /** Strings the numbers refer to by index. */
  strings: string[];
}

const SESSION = 0;
const RELAY_DENIED = 1;
const AUTH = 2;
const MESSAGE = 3;
const MECHANISMS: readonly AuthMechanism[] = ['login', 'plain', 'cram_md5', 'other'];
/** An absent string or flag. */
const NONE = -1;

/** Collects facts (in the parser's thread) until take(). */
export class FactBatchWriter {
  private numbers = new Float64Array(4096);
  private used = 0;
  private strings: string[] = [];
  /** The last string added, and its index: a session's facts repeat its peer. */
  private last = '';
  private lastIndex = -1;

  get count(): number {
    return this.used;
  }

  add(fact: SmtpFact): void {
    switch (fact.type) {
      case 'session':
        this.push3(SESSION, fact.time, this.string(fact.peer));
        return;
      case 'relay_denied':
        this.push3(RELAY_DENIED, fact.time, this.string(fact.peer));
        return;
      case 'auth':
        this.push3(AUTH, fact.time, this.string(fact.peer));
        this.push3(MECHANISMS.indexOf(fact.mechanism), fact.username === undefined ? NONE : this.string(fact.username), fact.success ? 1 : 0);
        return;
      case 'message': {
        this.push3(MESSAGE, fact.time, this.string(fact.peer));
        const authenticated = fact.authenticated === undefined ? NONE : fact.authenticated ? 1 : 0;
        this.push3(fact.account === undefined ? NONE : this.string(fact.account), authenticated, this.string(fact.mailFrom));
        const recipients = fact.recipients;
        this.room(1 + 2 * recipients.length);
        const n = this.numbers;
        n[this.used++] = recipients.length;
        // A domainKey is below 2^53: a Float64Array holds it exactly.
        for (let i = 0; i < recipients.length; i++) {
          const { domainKey, external } = recipients[i]!;
          n[this.used++] = domainKey;
          n[this.used++] = external ? 1 : 0;
        }
        return;
      }
    }
  }

  /** The facts so far; the writer starts afresh. */
  take(): FactBatch {
    const batch = { numbers: this.numbers.slice(0, this.used), strings: this.strings };
    this.used = 0;
    this.strings = [];
    this.lastIndex = -1;
    return batch;
  }

  /**
   * Strings are not looked up in a Map to share them: hashing each fresh
   * string cost more than cloning it again (profiled). Only a string
   * repeated at once (the same object, or equal) is shared.
   */
  private string(s: string): number {
    if (this.lastIndex >= 0 && s === this.last) return this.lastIndex;
    this.last = s;
    this.lastIndex = this.strings.length;
    this.strings.push(s);
    return this.lastIndex;
  }

  private push3(a: number, b: number, c: number): void {
    this.room(3);
    const n = this.numbers;
    n[this.used] = a;
    n[this.used + 1] = b;
    n[this.used + 2] = c;
    this.used += 3;
  }

  private room(more: number): void {
    if (this.used + more <= this.numbers.length) return;
    const grown = new Float64Array(Math.max(this.numbers.length * 2, this.used + more));
    grown.set(this.numbers.subarray(0, this.used));
    this.numbers = grown;
  }
}

/**
 * Calls `apply` with the facts of a batch, in order, as the parser emitted
 * them: from offset `at` (0 for the first),
 * at most `max` of them, in order. Returns the offset of the next fact: the
 * batch's `numbers.length` once all are applied.
 */
export function applyFacts(batch: FactBatch, at: number, max: number, apply: (fact: SmtpFact) => void): number {
  const { numbers: n, strings: s } = batch;
  const str = (i: number): string => s[i] as string;
  for (let applied = 0; at < n.length && applied < max; applied++) {
    const type = n[at]!;
    const time = n[at + 1]!;
    const peer = str(n[at + 2]!);
    at += 3;
    if (type === SESSION) apply({ type: 'session', time, peer });
    else if (type === RELAY_DENIED) apply({ type: 'relay_denied', time, peer });
    else if (type === AUTH) {
      const username = n[at + 1]!;
      apply({ type: 'auth', time, peer, mechanism: MECHANISMS[n[at]!] ?? 'other', username: username === NONE ? undefined : str(username), success: n[at + 2] === 1 });
      at += 3;
    } else {
      const account = n[at]!;
      const authenticated = n[at + 1]!;
      const mailFrom = str(n[at + 2]!);
      const count = n[at + 3]!;
      at += 4;
      const recipients: Recipient[] = new Array(count);
      for (let r = 0; r < count; r++) {
        recipients[r] = { domainKey: n[at]!, external: n[at + 1] === 1 };
        at += 2;
      }
      const fact: SmtpFact = { type: 'message', time, peer, account: account === NONE ? undefined : str(account), mailFrom, recipients };
      if (authenticated !== NONE) fact.authenticated = authenticated === 1;
      apply(fact);
    }
  }
  return at;
}
