// Flags of the admin commands: `--name value` or `--name=value`, repeatable
// where a list is expected, booleans without a value. Unknown flags and
// stray words are usage errors (exit code 2), never silently ignored.

export class UsageError extends Error {}

export type FlagKind = 'string' | 'list' | 'boolean';

export interface ParsedFlags {
  string(name: string): string | undefined;
  list(name: string): string[];
  boolean(name: string): boolean;
}

export function parseCommandFlags(argv: string[], spec: Record<string, FlagKind>): ParsedFlags {
  const strings = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const booleans = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z][\w.-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`unexpected argument: ${arg}`);
    const name = m[1]!;
    const kind = name === 'help' ? 'boolean' : spec[name];
    if (!kind) throw new UsageError(`unknown flag: --${name}`);
    if (kind === 'boolean') {
      if (m[2] !== undefined) throw new UsageError(`--${name} takes no value`);
      booleans.add(name);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined || (m[2] === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (kind === 'string') {
      if (strings.has(name)) throw new UsageError(`--${name} given twice`);
      strings.set(name, value);
    } else {
      lists.set(name, [...(lists.get(name) ?? []), value]);
    }
  }
  return {
    string: (name) => strings.get(name),
    list: (name) => lists.get(name) ?? [],
    boolean: (name) => booleans.has(name),
  };
}

/** `--size`: exact byte counts, non-negative integers. */
export function parseSizes(values: string[]): number[] {
  return values.map((v) => {
    if (!/^\d+$/.test(v)) throw new UsageError(`--size ${v}: must be a byte count (a whole number)`);
    return Number(v);
  });
}

export function requireString(flags: ParsedFlags, name: string): string {
  const v = flags.string(name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}
