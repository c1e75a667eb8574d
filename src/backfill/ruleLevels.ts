// `backfill --rule-levels DIR`: the recording rules of a rule file split by
// dependency level (DIR/1.yml, DIR/2.yml, …). `promtool tsdb create-blocks-from
// rules` evaluates a file against a running Prometheus, so a rule that reads
// another recording rule's series only gets history once the level below it
// has been recorded and its blocks loaded.
//
// The levels are written for `--eval-interval 1h`, which is the baseline
// group's own interval. Prometheus evaluates a group at an offset within its
// interval (a hash of the group's name and file), and promtool's backfill does
// the same: an hourly evaluation lands at, say, 45 minutes past every hour.
// The daily samples' `hour() == 0` holds at one of them a day. Rule files of
// earlier releases picked the hourly evaluation out of the 1-minute ones with
// `minute() == 0`, which such an evaluation never passes: that test is
// dropped, the day's stays.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export interface Recording {
  record: string;
  expr: string;
}

/** The rule file the package ships (dist/src/backfill/ → alerts/), or the source tree's. */
export const SHIPPED_RULES_FILE = fileURLToPath(
  new URL(import.meta.url.includes('/dist/src/') ? '../../../alerts/mailrelay.rules.yml' : '../../alerts/mailrelay.rules.yml', import.meta.url),
);

export class RuleFileError extends Error {}

/** Level 1 reads only scraped series; level n reads recordings of levels below n. */
export function recordingLevels<R extends Recording>(rules: readonly R[]): R[][] {
  const byName = new Map(rules.map((r) => [r.record, r]));
  const level = new Map<string, number>();
  const of = (r: R, seen: Set<string>): number => {
    const known = level.get(r.record);
    if (known !== undefined) return known;
    if (seen.has(r.record)) throw new RuleFileError(`recording rule ${r.record} depends on itself`);
    seen.add(r.record);
    // Recording names follow level:metric:operations; a plain metric name never has two colons.
    const reads = [...r.expr.matchAll(/[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*/g)].map((m) => byName.get(m[0])).filter((d): d is R => d !== undefined && d !== r);
    const n = 1 + Math.max(0, ...reads.map((d) => of(d, seen)));
    level.set(r.record, n);
    return n;
  };
  const out: R[][] = [];
  for (const r of rules) (out[of(r, new Set()) - 1] ??= []).push(r);
  return out;
}

/** The recording rules of a Prometheus rule file, as they are written there. */
export function readRecordingRules(file: string): Recording[] {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RuleFileError(`${file}: ${(err as Error).message}`);
  }
  const groups = (doc as { groups?: unknown } | null)?.groups;
  if (!Array.isArray(groups)) throw new RuleFileError(`${file}: not a Prometheus rule file (no "groups" list)`);
  const rules: Recording[] = [];
  for (const [i, g] of groups.entries()) {
    const list = (g as { rules?: unknown } | null)?.rules;
    if (!Array.isArray(list)) throw new RuleFileError(`${file}: groups[${i}] has no "rules" list`);
    for (const r of list as Record<string, unknown>[]) {
      if (typeof r?.record === 'string' && typeof r.expr === 'string') rules.push(r as unknown as Recording);
    }
  }
  if (rules.length === 0) throw new RuleFileError(`${file}: no recording rules`);
  return rules;
}

/**
 * A rule's expression for one evaluation an hour (see above): the minute test
 * dropped, and each instant read of another recording (`name`, `name offset 1d`)
 * made `last_over_time(name[1h])`: every level file is its own group at its own
 * offset, so a level's sample is up to an hour older than the evaluation that
 * reads it, where an instant read (5 minutes of lookback) would find nothing.
 */
export function forHourlyEvaluation(expr: string, recordings: ReadonlySet<string> = new Set()): string {
  let out = expr
    .replace(/\s+and\s+on\s*\(\)\s*\(minute\(\)\s*==\s*0\)/g, '')
    .replace(/\(hour\(\)\s*==\s*0\s+and\s+minute\(\)\s*==\s*0\)/g, '(hour() == 0)');
  out = out.replace(/([a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*)(\{[^}]*\})?(\s*\[)?(\s+offset\s+[0-9a-z]+)?/g, (whole, name: string, matchers = '', range?: string, offset = '') =>
    range !== undefined || !recordings.has(name) ? whole : `last_over_time(${name}${matchers}[1h]${offset})`,
  );
  return out;
}

/** Writes DIR/<level>.yml for each level, for --eval-interval 1h; returns the files and their rule counts. */
export function writeRuleLevels(rulesFile: string, dir: string): { file: string; rules: number }[] {
  const rules = readRecordingRules(rulesFile);
  const names = new Set(rules.map((r) => r.record));
  // Levels from the rules as written (the rewrite keeps every name it reads).
  const levels = recordingLevels(rules).map((level) => level.map((r) => ({ ...r, expr: forHourlyEvaluation(r.expr, names) })));
  mkdirSync(dir, { recursive: true });
  return levels.map((rules, i) => {
    const file = join(dir, `${i + 1}.yml`);
    writeFileSync(file, stringify({ groups: [{ name: `mailrelay.level${i + 1}`, rules }] }, { lineWidth: 0 }));
    return { file, rules: rules.length };
  });
}
