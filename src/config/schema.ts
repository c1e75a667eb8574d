// A small schema language for the config file. Each node validates a parsed
// YAML value and reports problems by key path, so errors can name the key and
// (through the YAML document) its line. Defaults live here, in one place.
import { isIP } from 'node:net';
import { isTimeZone } from '../smtp/timezone.js';
import { compileFileNamePattern, FileNamePatternError } from '../tail/glob.js';
import { MAX_TIMER_MS, parseDuration } from './duration.js';

export interface Issue {
  path: (string | number)[];
  message: string;
}

export interface Node<T> {
  /** What the value should be, for messages ("a duration such as 15m"). */
  readonly expected: string;
  /** Returns the value, or pushes issues and returns undefined. */
  check(value: unknown, path: (string | number)[], issues: Issue[]): T | undefined;
  /** Value used when the key is absent; undefined means the key is optional without default. */
  readonly fallback?: () => T;
  /** The key must be present (in a section that is). */
  readonly required?: true;
}

function leaf<T>(expected: string, accept: (v: unknown) => T | undefined): Node<T> {
  return {
    expected,
    check(value, path, issues) {
      const out = accept(value);
      if (out === undefined) issues.push({ path, message: `must be ${expected}, got ${describe(value)}` });
      return out;
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

export const string = leaf('a string', (v) => (typeof v === 'string' && v !== '' ? v : undefined));
export const boolean = leaf('true or false', (v) => (typeof v === 'boolean' ? v : undefined));
export const positiveInt = leaf('a positive integer', (v) =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined,
);
/** Seconds. */
export const duration = leaf('a duration such as 30s, 15m or 1h', (v) => {
  const s = typeof v === 'string' ? parseDuration(v) : undefined;
  return s !== undefined && s > 0 ? s : undefined;
});

/** A bound of a duration: the text users read in the error, and why it is there. */
interface DurationBound {
  text: string;
  reason: string;
}

/** A duration between bounds; the error gives the bound and its reason ("must be at most 24d: …"). */
function durationWithin(bounds: { min?: DurationBound; max?: DurationBound }): Node<number> {
  const min = bounds.min && parseDuration(bounds.min.text)!;
  const max = bounds.max && parseDuration(bounds.max.text)!;
  return {
    expected: `a duration${bounds.min ? ` of at least ${bounds.min.text}` : ''}${bounds.max ? `${bounds.min ? ' and' : ' of'} at most ${bounds.max.text}` : ''}, such as 30s, 15m or 1h`,
    check(value, path, issues) {
      const s = duration.check(value, path, issues);
      if (s === undefined) return undefined;
      const got = `, got ${JSON.stringify(value)}`;
      if (min !== undefined && s < min) issues.push({ path, message: `must be at least ${bounds.min!.text}: ${bounds.min!.reason}${got}` });
      else if (max !== undefined && s > max) issues.push({ path, message: `must be at most ${bounds.max!.text}: ${bounds.max!.reason}${got}` });
      else return s;
      return undefined;
    },
  };
}

// 24d, not 24d20h31m: a round bound users can remember, below MAX_TIMER_MS.
const TIMER_MAX: DurationBound = { text: '24d', reason: 'Node timers cannot wait longer (2^31-1 ms, 24.8 days)' };
if (parseDuration(TIMER_MAX.text)! * 1000 > MAX_TIMER_MS) throw new Error('TIMER_MAX is beyond what a Node timer can wait');

/** How often something periodic runs (rescans, check rounds): a timer's period, so neither a busy loop nor past the timer range. */
export const interval = durationWithin({ min: { text: '1s', reason: 'a shorter period keeps a core busy' }, max: TIMER_MAX });
/** How long to wait for an answer (DNS, SMTP): a timer's delay. */
export const timeout = durationWithin({ max: TIMER_MAX });
/** A window of log time: log times have whole seconds. */
export const logWindow = durationWithin({ min: { text: '1s', reason: 'log times are counted in whole seconds' } });
export const timeZone = leaf('UTC, Local, an offset such as +02:00, or an IANA zone such as Europe/Paris', (v) =>
  typeof v === 'string' && isTimeZone(v) ? v : undefined,
);
/** A glob on a file name (`*`, `?`), compiled here so that a pattern the tailer cannot use is a config error. */
export const fileNamePattern: Node<string> = {
  expected: 'a file-name pattern such as s*.log',
  check(value, path, issues) {
    if (typeof value !== 'string') {
      issues.push({ path, message: `must be ${this.expected}, got ${describe(value)}` });
      return undefined;
    }
    try {
      compileFileNamePattern(value);
      return value;
    } catch (err) {
      if (!(err instanceof FileNamePatternError)) throw err;
      issues.push({ path, message: `${JSON.stringify(value)} ${err.reason}` });
      return undefined;
    }
  },
};
/**
 * A file path whose file name may be a glob (`/var/log/mail.log*`): the glob
 * is on the name only, so the folder must be written out (it is the folder followed).
 */
export const filePathPattern: Node<string> = {
  expected: 'a file path such as /var/log/mail.log or /var/log/mail.log*',
  check(value, path, issues) {
    if (typeof value !== 'string' || value === '') {
      issues.push({ path, message: `must be ${this.expected}, got ${describe(value)}` });
      return undefined;
    }
    const slash = Math.max(value.lastIndexOf('/'), value.lastIndexOf('\\'));
    const folder = value.slice(0, slash + 1);
    const name = value.slice(slash + 1);
    if (/[*?]/.test(folder)) {
      issues.push({ path, message: `${JSON.stringify(value)}: only the file name may hold * or ?, not the folder` });
      return undefined;
    }
    if (name === '') {
      issues.push({ path, message: `${JSON.stringify(value)} names a folder: add the file name (mail.log, or mail.log* for its rotations too)` });
      return undefined;
    }
    return value;
  },
};
export const ipAddress = leaf('an IPv4 or IPv6 address', (v) => (typeof v === 'string' && isIP(v) ? v : undefined));

export interface HostPort {
  host: string;
  port: number;
}
/** "host:port", "[v6]:port"; the port is required. */
export const hostPort = leaf('host:port', (v) => (typeof v === 'string' ? parseHostPort(v) : undefined));

export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

export function oneOf<const T extends string>(...values: T[]): Node<T> {
  return leaf(`one of ${values.join(', ')}`, (v) => (values.includes(v as T) ? (v as T) : undefined));
}

/** A domain name, or `*.domain` for all subdomains. */
export const domainPattern = leaf('a domain such as example.com or *.example.com', (v) =>
  typeof v === 'string' && /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(v)
    ? v.toLowerCase()
    : undefined,
);

/** An email address as used in an SMTP envelope. */
export const mailbox = leaf('an email address', (v) =>
  typeof v === 'string' && /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(v) ? v : undefined,
);

type Required<T> = Node<T> & { readonly fallback: () => T; readonly required: true };

/** A key that must be given; typed as always present. */
export function required<T>(node: Node<T>): Required<T> {
  return { ...node, required: true, fallback: () => { throw new Error('required key has no default'); } };
}

type Defaulted<T> = Node<T> & { readonly fallback: () => T };

export function withDefault<T>(node: Node<T>, value: T): Defaulted<T> {
  return { ...node, fallback: () => structuredClone(value) };
}

export function list<T>(item: Node<T>, opts: { nonEmpty?: boolean } = {}): Node<T[]> {
  return {
    expected: `a list of ${item.expected}`,
    check(value, path, issues) {
      if (!Array.isArray(value)) {
        issues.push({ path, message: `must be a list, got ${describe(value)}` });
        return undefined;
      }
      if (opts.nonEmpty && value.length === 0) {
        issues.push({ path, message: 'must not be empty' });
        return undefined;
      }
      const before = issues.length;
      const out = value.map((v, i) => item.check(v, [...path, i], issues));
      return issues.length === before ? (out as T[]) : undefined;
    },
  };
}

/** A mapping whose keys are data (user names), each value checked by `value`. */
export function record<T>(value: Node<T>): Node<Map<string, T>> {
  return {
    expected: `a mapping of names to ${value.expected}`,
    check(input, path, issues) {
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        issues.push({ path, message: `must be a mapping, got ${describe(input)}` });
        return undefined;
      }
      const before = issues.length;
      const out = new Map<string, T>();
      for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
        const checked = value.check(v, [...path, k], issues);
        if (checked !== undefined) out.set(k, checked);
      }
      return issues.length === before ? out : undefined;
    },
  };
}

/** A key of a known format that this program does not implement: an error that says so, never silently ignored. */
export function unsupported(why: string): Node<never> {
  return {
    expected: 'absent',
    check(_value, path, issues) {
      issues.push({ path, message: `not supported by mailrelay-exporter: ${why}` });
      return undefined;
    },
  };
}

type Shape = Record<string, Node<unknown>>;
type Out<S extends Shape> = {
  [K in keyof S as S[K] extends { fallback: () => unknown } ? K : never]: S[K] extends Node<infer T> ? T : never;
} & {
  [K in keyof S as S[K] extends { fallback: () => unknown } ? never : K]?: S[K] extends Node<infer T> ? T : never;
};

/** A mapping with known keys only: an unknown key is an error, never ignored. Absent, it takes its defaults. */
export function object<S extends Shape>(shape: S): Defaulted<Out<S>> & { shape: S } {
  const node: Defaulted<Out<S>> & { shape: S } = {
    shape,
    fallback: () => node.check({}, [], [])!,
    expected: 'a mapping',
    check(value, path, issues) {
      if (value === null || value === undefined) value = {};
      if (typeof value !== 'object' || Array.isArray(value)) {
        issues.push({ path, message: `must be a mapping, got ${describe(value)}` });
        return undefined;
      }
      const before = issues.length;
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!(key in shape)) issues.push({ path: [...path, key], message: `unknown key (known: ${Object.keys(shape).join(', ')})` });
      }
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(shape)) {
        const v = input[key];
        if (v === undefined || v === null) {
          if (child.required) issues.push({ path: [...path, key], message: `is required (${child.expected})` });
          else if (child.fallback) out[key] = child.fallback();
          continue;
        }
        out[key] = child.check(v, [...path, key], issues);
      }
      return issues.length === before ? (out as Out<S>) : undefined;
    },
  };
  return node;
}

/** A mapping in which at most one of `keys` may be present (one MTA section, say). */
export function atMostOneOf<T, N extends Node<T>>(keys: readonly string[], what: string, node: N): N {
  return {
    ...node,
    check(value, path, issues) {
      const out = node.check(value, path, issues);
      if (out === undefined) return undefined;
      const present = keys.filter((k) => (out as Record<string, unknown>)[k] !== undefined);
      for (const extra of present.slice(1)) issues.push({ path: [...path, extra], message: `only one ${what} may be set (also found: ${present[0]})` });
      return present.length > 1 ? undefined : out;
    },
  };
}

/** An optional section: absent means the feature is off; present gets its own defaults. */
export function section<S extends Shape>(shape: S): Node<Out<S>> & { shape: S } {
  const { fallback: _none, ...inner } = object(shape);
  return inner;
}

export type Infer<N> = N extends Node<infer T> ? T : never;
