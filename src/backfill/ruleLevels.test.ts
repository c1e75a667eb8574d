import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildRules, DEFAULT_THRESHOLDS, recordingLevels as rulesLevels } from '../../alerts/rules.js';
import { forHourlyEvaluation, readRecordingRules, recordingLevels, RuleFileError, SHIPPED_RULES_FILE, writeRuleLevels } from './ruleLevels.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-rule-levels-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rule levels from a rule file', () => {
  it('splits the shipped rule file as the rules module splits its own rules', () => {
    const fromFile = recordingLevels(readRecordingRules(SHIPPED_RULES_FILE)).map((l) => l.map((r) => r.record));
    const fromCode = rulesLevels(buildRules(DEFAULT_THRESHOLDS).groups).map((l) => l.map((r) => r.record));
    expect(fromFile).toEqual(fromCode);
    expect(fromFile.length).toBeGreaterThanOrEqual(4);
  });

  it('writes one file per level, each reading only the levels below it', () => {
    const out = join(dir, 'levels');
    const written = writeRuleLevels(SHIPPED_RULES_FILE, out);
    expect(written.map((w) => w.file)).toEqual(written.map((_, i) => join(out, `${i + 1}.yml`)));
    const seen = new Set<string>();
    const all = readRecordingRules(SHIPPED_RULES_FILE).map((r) => r.record);
    for (const w of written) {
      const rules = (parse(readFileSync(w.file, 'utf8')) as { groups: { rules: { record: string; expr: string }[] }[] }).groups[0]!.rules;
      expect(rules).toHaveLength(w.rules);
      for (const r of rules) for (const name of all.filter((n) => n !== r.record && r.expr.includes(n))) expect(seen.has(name), `${r.record} reads ${name}`).toBe(true);
      for (const r of rules) seen.add(r.record);
    }
    expect([...seen].sort()).toEqual([...all].sort());
  });

  it('writes the levels for one evaluation an hour: no minute test, which an hourly evaluation at its offset would never pass', () => {
    const written = writeRuleLevels(SHIPPED_RULES_FILE, join(dir, 'hourly'));
    const exprs = written.flatMap((w) => (parse(readFileSync(w.file, 'utf8')) as { groups: { rules: { expr: string }[] }[] }).groups[0]!.rules.map((r) => r.expr));
    expect(exprs.filter((e) => /minute\(\)/.test(e))).toEqual([]);
    // The daily samples keep their hour test.
    expect(exprs.filter((e) => e.includes('and on () (hour() == 0)')).length).toBeGreaterThanOrEqual(4);
    // Each file is valid PromQL for promtool.
    for (const w of written) expect(execFileSync('promtool', ['check', 'rules', w.file], { encoding: 'utf8' })).toContain('SUCCESS');
    // The shipped baselines are a group of their own, once an hour; a rule file of an older release picked the hourly evaluation with a minute test.
    expect(readFileSync(SHIPPED_RULES_FILE, 'utf8')).toMatch(/name: mailrelay\.accounts\.baselines\n\s+interval: 1h\n/);
    expect(forHourlyEvaluation('a:b:c\nand on () (hour() == 0 and minute() == 0)')).toBe('a:b:c\nand on () (hour() == 0)');
    expect(forHourlyEvaluation('x:y:z and on () (minute() == 0)')).toBe('x:y:z');
    expect(forHourlyEvaluation('sum(rate(x[5m]))')).toBe('sum(rate(x[5m]))');
    // Instant reads of another level reach back an hour; range reads and other names stay.
    const names = new Set(['a:b:c', 'x:y:z']);
    expect(forHourlyEvaluation('max_over_time(a:b:c[23h59m]) and on (account) a:b:c offset 1d', names)).toBe(
      'max_over_time(a:b:c[23h59m]) and on (account) last_over_time(a:b:c[1h] offset 1d)',
    );
    expect(forHourlyEvaluation('(x:y:z > 100) > 3 * a:b:c{sign="v"} or q:r:s', names)).toBe('(last_over_time(x:y:z[1h]) > 100) > 3 * last_over_time(a:b:c{sign="v"}[1h]) or q:r:s');
  });

  it('names the file and what is wrong with it', () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'rules: []\n');
    expect(() => readRecordingRules(file)).toThrow(new RuleFileError(`${file}: not a Prometheus rule file (no "groups" list)`));
    writeFileSync(file, 'groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up == 0\n');
    expect(() => readRecordingRules(file)).toThrow(`${file}: no recording rules`);
    writeFileSync(file, 'groups: [\n');
    expect(() => readRecordingRules(file)).toThrow(file);
    expect(() => recordingLevels([{ record: 'a:x:sum', expr: 'b:x:sum' }, { record: 'b:x:sum', expr: 'a:x:sum + 1' }])).toThrow(/depends on itself/);
  });
});
