import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  ACCOUNT_GROUPS,
  DEFAULT_THRESHOLDS,
  FAST_THRESHOLDS,
  buildRules,
  recordingLevels,
  renderPromtoolTestRulesYaml,
  renderRulesYaml,
  type AlertingRule,
  type RecordingRule,
  type Thresholds,
} from './rules.js';

const run = promisify(execFile);
const alertsDir = fileURLToPath(new URL('.', import.meta.url));
const rulesFile = join(alertsDir, 'mailrelay.rules.yml');
const testsDir = join(alertsDir, 'tests');
// mailrelay.rules.yml there is the rule file they test, as promtool must see it (renderPromtoolTestRulesYaml).
const testFiles = readdirSync(testsDir).filter((f) => f.endsWith('.yml') && f !== 'mailrelay.rules.yml').sort();
const scratch = mkdtempSync(join(tmpdir(), 'mailrelay-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs promtool; a failure (or a missing promtool) fails the test with promtool's own output. */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: alertsDir, maxBuffer: 16 * 1024 * 1024 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`, { cause: err });
  }
}

function alertsOf(groups: { rules: (RecordingRule | AlertingRule)[] }[]): AlertingRule[] {
  return groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r));
}

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

const defaults = buildRules(DEFAULT_THRESHOLDS);
const alerts = alertsOf(defaults.groups);

describe('generated rules', () => {
  it('the committed alerts/mailrelay.rules.yml is what rules.ts generates (run `node dist/alerts/generate.js` after a change)', () => {
    expect(readFileSync(rulesFile, 'utf8')).toBe(renderRulesYaml(DEFAULT_THRESHOLDS));
    expect(readFileSync(join(testsDir, 'mailrelay.rules.yml'), 'utf8')).toBe(renderPromtoolTestRulesYaml(DEFAULT_THRESHOLDS));
  });

  it('passes promtool check rules, with default and with fast thresholds', async () => {
    expect(await promtool('check', 'rules', rulesFile)).toMatch(/SUCCESS: \d+ rules found/);
    const fast = join(scratch, 'fast.rules.yml');
    writeFileSync(fast, renderRulesYaml(FAST_THRESHOLDS));
    expect(await promtool('check', 'rules', fast)).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('interpolates every threshold, so a Helm chart can substitute each one', () => {
    const placeholders = Object.fromEntries(
      Object.keys(DEFAULT_THRESHOLDS).map((k) => [k, `{{ .Values.prometheusRule.thresholds.${k} }}`]),
    ) as unknown as Thresholds;
    const text = stringsOf(buildRules(placeholders, { helmEscape: true, smallest: (values) => `min(${values.join(', ')})` })).join('\n');
    // Without a way to take the lowest of placeholders, building fails rather than writing nonsense.
    expect(() => buildRules(placeholders)).toThrow(/needs RuleOptions.smallest/);
    for (const key of Object.keys(DEFAULT_THRESHOLDS)) {
      expect(text, key).toContain(`{{ .Values.prometheusRule.thresholds.${key} }}`);
    }
    // Prometheus' own templates are escaped for Helm; no bare `{{ $` is left.
    expect(text).not.toMatch(/\{\{ \$/);
    expect(text).toContain('{{ "{{" }} $labels.account {{ "}}" }}');
  });

  it('uses the given runbook base URL', () => {
    const rules = alertsOf(buildRules(DEFAULT_THRESHOLDS, { runbookBaseUrl: 'https://wiki.example.org/runbooks/' }).groups);
    for (const a of rules) expect(a.annotations.runbook_url).toBe(`https://wiki.example.org/runbooks/${a.alert}.md`);
  });

  it('gives every alert a severity, a summary and a description naming what it is about', () => {
    expect(alerts.length).toBeGreaterThan(15);
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels.severity);
      expect(a.annotations.summary, a.alert).not.toBe('');
      // Per-account alerts name the account; the others name the server, folder, sender, zone or target.
      const named = a.expr.includes('(account)') ? '$labels.account' : '$labels.';
      expect(a.annotations.description, a.alert).toContain(named);
      expect(a.annotations.runbook_url, a.alert).toBe(
        `https://github.com/mailrelay-exporter/mailrelay-exporter/blob/main/docs/runbooks/${a.alert}.md`,
      );
    }
  });

  it('pages for a spamming account, an open relay, a queue held by one sender, a blind exporter and a blacklisting', () => {
    const critical = alerts.filter((a) => a.labels.severity === 'critical').map((a) => a.alert).sort();
    expect(critical).toEqual([
      'MailrelayAccountBotnetLogins',
      'MailrelayAccountCompromised',
      'MailrelayAccountExternalRecipientsBurst',
      'MailrelayAccountExternalRecipientsHigh',
      'MailrelayDnsblListed',
      'MailrelayExporterDown',
      'MailrelayLogLagGrowing',
      'MailrelayLogSilent',
      'MailrelayOpenRelay',
      'MailrelayQueueDominatedBySender',
      'MailrelayRelayProbeAccepted',
    ]);
  });

  it('aggregates per-account signs across instances: every rule that reads an exporter metric sums it by account', () => {
    const recording = defaults.groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r));
    const account = recording.filter((r) => r.record.startsWith('account:'));
    const raw = account.filter((r) => /(?<![:\w])mailrelay_account_\w+/.test(r.expr));
    expect(raw.length).toBe(7);
    for (const r of raw) expect(r.expr, r.record).toMatch(/^sum by \(account\) \([^()]*(\([^()]*\))?[^()]*\)$/);
    // The rest is built from those, so it keeps the account label and nothing else.
    for (const r of account.filter((r) => !raw.includes(r))) expect(r.expr, r.record).not.toMatch(/(?<![:\w])mailrelay_/);
  });

  it('splits the recording rules into dependency levels for create-blocks-from rules: each reads only lower levels', async () => {
    const levels = recordingLevels(defaults.groups);
    const all = defaults.groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r));
    expect(levels.flat().map((r) => r.record).sort()).toEqual(all.map((r) => r.record).sort());
    expect(levels.length).toBeGreaterThanOrEqual(4);
    levels.forEach((rules, i) => {
      const below = new Set(levels.slice(0, i).flat().map((r) => r.record));
      for (const r of rules) {
        for (const name of all.map((x) => x.record).filter((n) => n !== r.record && r.expr.includes(n))) expect(below.has(name), `${r.record} reads ${name}`).toBe(true);
      }
    });
    // The raw windows first, the hourly samples next, then the day's count, the daily samples, the baselines.
    expect(levels[0]!.map((r) => r.record)).toContain('account:mailrelay_external_recipients:increase1h');
    expect(levels[1]!.map((r) => r.record)).toContain('account:mailrelay_external_recipients:increase1h_hourly');
    const file = join(scratch, 'level.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'l', rules: levels.flat() }] }));
    expect(await promtool('check', 'rules', file)).toMatch(/SUCCESS/);
  });

  it('stays affordable at 10,000 accounts: no window over more than an hour of raw samples, nor over days of a series recorded every evaluation', () => {
    const rules = defaults.groups.flatMap((g) => g.rules);
    const everyEvaluation = new Set(
      defaults.groups.filter((g) => g.interval === undefined).flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r).map((r) => r.record)),
    );
    // What changes once an hour is computed once an hour: the history and the baselines.
    const hourly = defaults.groups.find((g) => g.interval === '1h');
    expect(hourly?.rules.map((r) => ('record' in r ? r.record : r.alert))).toEqual(
      expect.arrayContaining(['account:mailrelay_external_recipients:increase1h_hourly', 'account:mailrelay_external_recipients:increase1h_max1d_median7d']),
    );
    expect(hourly!.rules.every((r) => 'record' in r)).toBe(true);
    const seconds = (d: string) => [...d.matchAll(/(\d+)([smhd])/g)].reduce((t, m) => t + Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's']!, 0);
    const windows = rules.flatMap((r) => [...r.expr.matchAll(/([a-z_:]+)(?:\{[^}]*\})?\[(\w+)(?::\w+)?\]/g)].map((m) => ({ rule: 'record' in r ? r.record : r.alert, series: m[1]!, range: m[2]! })));
    expect(windows.length).toBeGreaterThan(10);
    for (const w of windows) {
      if (w.series.startsWith('mailrelay_') || everyEvaluation.has(w.series)) expect(seconds(w.range), `${w.rule}: ${w.series}[${w.range}]`).toBeLessThanOrEqual(3600);
    }
    // No subquery anywhere.
    for (const r of rules) expect(r.expr, 'record' in r ? r.record : r.alert).not.toMatch(/\[\w+:\w*\]/);
  });
});

describe('runbooks', () => {
  const runbooksDir = fileURLToPath(new URL('../docs/runbooks/', import.meta.url));

  it('has one page per alert, with the four sections', () => {
    for (const a of alerts) {
      const page = join(runbooksDir, `${a.alert}.md`);
      expect(existsSync(page), page).toBe(true);
      const text = readFileSync(page, 'utf8');
      expect(text.startsWith(`# ${a.alert}\n`), page).toBe(true);
      expect(text, page).toContain(`Severity: **${a.labels.severity}**`);
      for (const section of ['## What it means', '## How to confirm', '## What to do', '## How to check it is over']) {
        expect(text, `${page}: ${section}`).toContain(section);
      }
    }
    expect(readdirSync(runbooksDir).filter((f) => f.endsWith('.md')).sort()).toEqual(alerts.map((a) => `${a.alert}.md`).sort());
  });

  it('gives PromQL that Prometheus parses', async () => {
    // Each query of a ```promql block becomes a recording rule that promtool parses.
    const queries = readdirSync(runbooksDir)
      .filter((f) => f.endsWith('.md'))
      .flatMap((f) => [...readFileSync(join(runbooksDir, f), 'utf8').matchAll(/```promql\n([\s\S]*?)```/g)])
      .flatMap((m) => (m[1] ?? '').split('\n'))
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(queries.length).toBeGreaterThan(40);
    const file = join(scratch, 'runbook-queries.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'runbooks', rules: queries.map((expr, i) => ({ record: `runbook:query${i}`, expr })) }] }));
    expect(await promtool('check', 'rules', file)).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it('never tells the reader to decode the password line', () => {
    for (const f of readdirSync(runbooksDir)) {
      const text = readFileSync(join(runbooksDir, f), 'utf8');
      // The only base64 decoded is the sample username; the sample password never appears.
      expect(text, f).not.toContain('ZG9tYWluZTIwMTI=');
      for (const m of text.matchAll(/echo (\S+) \| base64 -d/g)) expect(m[1], f).toBe('aW5mb0Bkb21haW5lLmNvbQ==');
    }
  });
});

describe('promtool test rules', () => {
  it('runs the account groups in the order the rules need, in every test file (promtool picks a random one otherwise)', () => {
    for (const file of testFiles) {
      const doc = parse(readFileSync(join(testsDir, file), 'utf8')) as { group_eval_order?: string[] };
      expect(doc.group_eval_order, file).toEqual([...ACCOUNT_GROUPS]);
    }
    expect(buildRules(DEFAULT_THRESHOLDS).groups.slice(0, 3).map((g) => g.name)).toEqual([...ACCOUNT_GROUPS]);
  });

  it('has a test file that sees every alert fire', () => {
    const fired = new Set<string>();
    for (const file of testFiles) {
      const doc = parse(readFileSync(join(testsDir, file), 'utf8')) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[]; promql_expr_test?: { exp_samples: { labels: string }[] }[] }[];
      };
      for (const t of doc.tests) {
        for (const a of t.alert_rule_test ?? []) if (a.exp_alerts.length > 0) fired.add(a.alertname);
        for (const e of t.promql_expr_test ?? []) {
          for (const s of e.exp_samples) for (const m of s.labels.matchAll(/alertname="(\w+)"/g)) fired.add(m[1] ?? '');
        }
      }
    }
    expect([...fired].sort()).toEqual(alerts.map((a) => a.alert).sort());
  });

  it.each(testFiles)('%s', async (file) => {
    expect(await promtool('test', 'rules', join(testsDir, file))).toContain('SUCCESS');
  }, 180_000);
});
