// The time-to-page suite: how long each attack takes to page, and that a busy
// legitimate week pages nothing, with the real rule file and promtool.
//
// A seeded IceWarp log (src/demo/scenario.ts): 8 days of 30 office users and
// a newsletter sending 150 external recipients an hour to about 80 domains an
// hour, then a day of attacks, one after the other, each on its own account
// (which was a legitimate user until then). The logs are replayed into series
// by the backfill (the exporter's own pipeline, one sample a minute), a queue
// model adds the spool series of a queue flood, and `promtool test rules`
// evaluates the rules over the whole of it at the default 1-minute interval.
//
// `node dist/alerts/timeToPage.js [--rules FILE] [--write]` measures instead of
// asserting: it prints, for each attack, every alert that fired and how many
// minutes after the attack's start, and for the legitimate week how many hours
// each alert fired; --write records the measurement as the suite's expectation.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { ACCOUNT_GROUPS, forPromtoolTest, type RuleGroup } from './rules.js';
import { backfill } from '../src/backfill/backfill.js';
import { readOpenMetricsSamples } from '../src/backfill/openMetrics.js';
import { loadConfig } from '../src/config/config.js';
import { writeScenario, type Incident, type ScenarioOptions } from '../src/demo/scenario.js';
import { spoolSeries, type QueueFlood } from '../src/demo/spoolSeries.js';
import { silentLogger } from '../src/logger.js';

const H = 3600;
const STEP = 60;
/** Monday 2 November 2026, 00:00 UTC: promtool's time 0. */
export const ORIGIN = Date.UTC(2026, 10, 2) / 1000;
/** The legitimate week (and a day), before the first attack. */
export const LEGITIMATE_HOURS = 192;
export const DURATION_HOURS = 208;
const LABELS = { job: 'mailrelay', instance: 'mx1:10025' };

// This file runs as TypeScript (vitest) from alerts/ and compiled from dist/alerts/.
const ALERTS_DIR = new URL(import.meta.url.includes('/dist/alerts/') ? '../../alerts/' : './', import.meta.url);
export const DEFAULT_RULES_FILE = fileURLToPath(new URL('mailrelay.rules.yml', ALERTS_DIR));
export const EXPECTED_FILE = fileURLToPath(new URL('time-to-page.json', ALERTS_DIR));

/** One attack of the day after the legitimate week, what it must page, and how fast. */
export interface Attack {
  name: string;
  /** As the issue's table words it. */
  title: string;
  startSecond: number;
  /** Minutes after the start in which its alerts are measured. */
  windowMinutes: number;
  /** The account its alerts name; none for a server-wide attack. */
  account?: string;
  /** Server-wide attacks: the alerts it is measured by. */
  alerts?: string[];
  /** Alerts it must raise, each within so many minutes of its start (the issue's needs). */
  budgets: { alert: string; withinMinutes: number }[];
  incident?: Incident;
  flood?: QueueFlood;
}

const day9 = (hour: number, minute = 0) => (LEGITIMATE_HOURS + hour) * H + minute * 60;

export const ATTACKS: Attack[] = [
  {
    name: 'burst',
    title: 'burst: a stolen account sends 500 external recipients in 5 min, then keeps going',
    account: 'compta@domaine.com',
    startSecond: day9(1, 0) + 20,
    windowMinutes: 120,
    budgets: [{ alert: 'MailrelayAccountExternalRecipientsBurst', withinMinutes: 3 }],
    incident: {
      kind: 'sending',
      account: 'compta@domaine.com',
      startSecond: day9(1, 0) + 20,
      endSecond: day9(2, 30),
      messagesPerMinute: 10,
      recipientsPerMessage: 10,
      ips: 20,
      foreignSender: true,
    },
  },
  {
    name: 'trickle',
    title: 'trickle: 250 external recipients per hour, one message a minute, own MAIL FROM, one IP',
    account: 'rh@domaine.com',
    startSecond: day9(3),
    windowMinutes: 120,
    budgets: [{ alert: 'MailrelayAccountExternalRecipientsHigh', withinMinutes: 70 }],
    incident: {
      kind: 'sending',
      account: 'rh@domaine.com',
      startSecond: day9(3),
      endSecond: day9(5),
      messagesPerMinute: 1,
      recipientsPerMessage: 250 / 60,
      ips: 1,
      foreignSender: false,
    },
  },
  {
    name: 'botnet',
    title: 'botnet login: one account authenticates from 30 different client IPs within 10 min, sends little',
    account: 'accueil@domaine.com',
    startSecond: day9(6),
    windowMinutes: 60,
    budgets: [{ alert: 'MailrelayAccountBotnetLogins', withinMinutes: 15 }],
    incident: { kind: 'logins', account: 'accueil@domaine.com', startSecond: day9(6), endSecond: day9(7), loginsPerMinute: 3, ips: 30 },
  },
  {
    name: 'stolen newsletter',
    title: 'stolen busy account: the newsletter sends 4× its usual hour from 10 new IPs with foreign senders',
    account: 'newsletter@domaine.com',
    startSecond: day9(8),
    windowMinutes: 120,
    budgets: [{ alert: 'MailrelayAccountCompromised', withinMinutes: 60 }],
    incident: {
      kind: 'sending',
      account: 'newsletter@domaine.com',
      startSecond: day9(8),
      endSecond: day9(10),
      messagesPerMinute: 2.5,
      recipientsPerMessage: 3,
      ips: 10,
      foreignSender: true,
    },
  },
  {
    name: 'open relay',
    title: 'open relay: a handful of external→external recipients without AUTH',
    alerts: ['MailrelayOpenRelay'],
    startSecond: day9(11),
    windowMinutes: 40,
    budgets: [{ alert: 'MailrelayOpenRelay', withinMinutes: 1 }],
    incident: { kind: 'open_relay', startSecond: day9(11), endSecond: day9(11, 5), recipientsPerMinute: 1 },
  },
  {
    name: 'spray',
    title: 'password spray: about two failed AUTH a second with guessed usernames, for 30 min',
    alerts: ['MailrelayAuthFailuresHigh', 'MailrelayAccountBruteForceSucceeded'],
    startSecond: day9(12),
    windowMinutes: 60,
    budgets: [{ alert: 'MailrelayAuthFailuresHigh', withinMinutes: 15 }],
    incident: { kind: 'spray', startSecond: day9(12), endSecond: day9(12, 30), perMinute: 60, usernames: 300 },
  },
  {
    name: 'queue flood',
    title: "queue flood: 40 spam messages a minute of one original sender fill the outgoing queue and its retry folder",
    alerts: ['MailrelayQueueDominatedBySender', 'MailrelayQueueRetryGrowing'],
    startSecond: day9(14),
    windowMinutes: 90,
    budgets: [{ alert: 'MailrelayQueueDominatedBySender', withinMinutes: 10 }],
    flood: { startSecond: day9(14), endSecond: day9(15), sender: 'willm.b@orange.fr', messagesPerMinute: 40 },
  },
];

/** The log of the week: 30 office users, a newsletter, little else; then the attacks. */
export const DETECTION_WEEK: ScenarioOptions = {
  seed: 2026,
  start: new Date(ORIGIN * 1000),
  durationSeconds: DURATION_HOURS * H,
  localDomain: 'domaine.com',
  legitimateUsers: 30,
  // Inbound mail and IceWarp's own deliveries count for no account: a trickle of them keeps the log realistic and short.
  inboundPerMinute: 2,
  outboundDeliveriesPerMinute: 1,
  busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2, recipientDomains: 105 },
  incidents: ATTACKS.flatMap((a) => (a.incident ? [a.incident] : [])),
};

/** Every series of the week, one value a minute from ORIGIN (NaN where it has none). */
export type SeriesTable = Map<string, Float64Array>;

/** Writes the week's log into `dir`, replays it with the backfill, and adds the spool series and `up`. */
export async function detectionSeries(dir: string): Promise<SeriesTable> {
  const steps = (DURATION_HOURS * H) / STEP + 1;
  const table: SeriesTable = new Map();
  const put = (series: string, time: number, value: number): void => {
    const i = (time - ORIGIN) / STEP;
    if (!Number.isInteger(i) || i < 0 || i >= steps) throw new Error(`sample of ${series} at ${time} is not on a step of the week`);
    let values = table.get(series);
    if (values === undefined) table.set(series, (values = new Float64Array(steps).fill(NaN)));
    // promtool's clock starts at 0: a gauge holding a unix time is shifted with it.
    values[i] = series.includes('_timestamp_seconds') ? value - ORIGIN : value;
  };

  const logs = join(dir, 'smtp');
  await writeScenario(logs, DETECTION_WEEK);
  const config = loadConfig(`icewarp:\n  log_directory: ${JSON.stringify(logs)}\nlocal_domains: [domaine.com]\n`, 'time-to-page');
  await backfill({
    config,
    stepSeconds: STEP,
    from: ORIGIN,
    to: ORIGIN + DURATION_HOURS * H,
    labels: LABELS,
    logger: silentLogger,
    write(text) {
      for (const s of readOpenMetricsSamples(text)) put(s.series, s.time, s.value);
    },
  });

  const targetLabels = `instance="${LABELS.instance}",job="${LABELS.job}"`;
  const flood = ATTACKS.find((a) => a.flood)?.flood;
  for (const { time, samples } of spoolSeries({
    seed: 2026,
    start: ORIGIN,
    durationSeconds: DURATION_HOURS * H,
    stepSeconds: STEP,
    ...(flood ? { flood } : {}),
  })) {
    for (const s of samples) put(`${s.name}{${s.labels === '' ? targetLabels : `${s.labels},${targetLabels}`}}`, time, s.value);
  }
  for (let i = 0; i < steps; i++) put(`up{${targetLabels}}`, ORIGIN + i * STEP, 1);
  return table;
}

/** promtool's expanding notation, compressed: `_xN` for N gaps, `a+dxN` for an arithmetic run of N+1 values. */
export function encodeValues(values: Float64Array): string {
  const out: string[] = [];
  let i = 0;
  while (i < values.length) {
    const a = values[i]!;
    if (Number.isNaN(a)) {
      let j = i;
      while (j < values.length && Number.isNaN(values[j]!)) j++;
      out.push(j - i === 1 ? '_' : `_x${j - i}`);
      i = j;
      continue;
    }
    // The longest arithmetic run from here; two values are shorter written out.
    const d = i + 1 < values.length ? values[i + 1]! - a : NaN;
    let j = i + 1;
    while (j + 1 < values.length && values[j + 1]! - values[j]! === d) j++;
    const n = j - i;
    if (n >= 2) {
      out.push(d === 0 ? `${a}x${n}` : `${a}${d > 0 ? '+' : '-'}${Math.abs(d)}x${n}`);
      i = j + 1;
    } else {
      out.push(String(a));
      i++;
    }
  }
  return out.join(' ');
}

/** One alert's first firing, in seconds after an attack's start. */
export interface FirstFiring {
  alert: string;
  severity: string;
  seconds: number;
}

/** What the suite expects (alerts/time-to-page.json), or what a measurement found. */
export interface TimeToPage {
  /** Per attack, every warning or critical that fired in its window, naming its account (or one of its alerts). */
  attacks: Record<string, FirstFiring[]>;
  /** Hours of the legitimate week during which an alert fired, per alert and account (the suite expects none). */
  legitimateWeek: { alert: string; account: string; hours: number }[];
}

interface Check {
  key: string;
  expr: string;
  evalMinutes: number;
  expected: { labels: string; value: number }[];
}

function attackSelector(a: Attack): string {
  return a.account !== undefined ? `account="${a.account}"` : `alertname=~"${(a.alerts ?? []).join('|')}"`;
}

function checks(expected: TimeToPage | undefined): Check[] {
  const legit = LEGITIMATE_HOURS * 60;
  const out: Check[] = [
    {
      key: 'legitimate week',
      expr: `count by (alertname, account) (count_over_time(ALERTS{alertstate="firing", severity=~"warning|critical"}[${LEGITIMATE_HOURS}h])) / 60`,
      evalMinutes: legit,
      expected: (expected?.legitimateWeek ?? []).map((l) => ({ labels: `{alertname="${l.alert}", account="${l.account}"}`, value: l.hours })),
    },
  ];
  for (const a of ATTACKS) {
    const start = a.startSecond / 60;
    if (!Number.isInteger(start) && a.account === undefined) throw new Error(`${a.name}: a server-wide attack starts on a whole minute`);
    // Nothing about the account (or these alerts) fired before the attack, the legitimate week included.
    out.push({
      key: `${a.name}: before`,
      expr: `count by (alertname) (count_over_time(ALERTS{alertstate="firing", severity=~"warning|critical", ${attackSelector(a)}}[${Math.floor(start)}m]))`,
      evalMinutes: Math.floor(start),
      expected: [],
    });
    out.push({
      key: a.name,
      expr:
        `min by (alertname, severity) (min_over_time(timestamp(ALERTS{alertstate="firing", severity=~"warning|critical", ${attackSelector(a)}})[${a.windowMinutes}m:1m]))` +
        ` - ${a.startSecond}`,
      evalMinutes: Math.floor(start) + a.windowMinutes,
      expected: (expected?.attacks[a.name] ?? []).map((f) => ({ labels: `{alertname="${f.alert}", severity="${f.severity}"}`, value: f.seconds })),
    });
  }
  return out;
}

/**
 * Where in its interval the suite runs a slower group. Prometheus picks a
 * group's offset from a hash of its name and file, so it differs between
 * installations: half past the hour is one of them.
 */
export const SLOW_GROUP_OFFSET_SECONDS = 1800;

/** Writes the rule file as promtool must test it (see forPromtoolTest) into `dir`; its path. */
export async function writePromtoolRules(rulesFile: string, dir: string): Promise<string> {
  const file = join(dir, 'rules-for-promtool.yml');
  const rules = forPromtoolTest(parse(await readFile(rulesFile, 'utf8')) as { groups: RuleGroup[] }, STEP, SLOW_GROUP_OFFSET_SECONDS);
  await writeFile(file, stringify(rules, { lineWidth: 0 }));
  return file;
}

/**
 * The promtool test file: the series of the week that the rules read (the
 * others cannot change what fires, and promtool loads every one of them),
 * and the checks against `expected` (none: measure).
 */
export function testFileYaml(rulesFile: string, table: SeriesTable, expected: TimeToPage | undefined): string {
  const rules = readFileSync(rulesFile, 'utf8');
  const read = (series: string) => new RegExp(`\\b${series.slice(0, series.search(/[{]|$/))}\\b`).test(rules);
  const input_series = [...table].filter(([series]) => read(series)).map(([series, values]) => ({ series, values: encodeValues(values) }));
  return stringify(
    {
      rule_files: [resolve(rulesFile)],
      evaluation_interval: '1m',
      group_eval_order: [...ACCOUNT_GROUPS],
      tests: [
        {
          name: 'time to page',
          interval: '1m',
          input_series,
          promql_expr_test: checks(expected).map((c) => ({ expr: c.expr, eval_time: `${c.evalMinutes}m`, exp_samples: c.expected })),
        },
      ],
    },
    { lineWidth: 0 },
  );
}

const run = promisify(execFile);

/** Runs `promtool test rules`; its exit status and output. A missing promtool throws. */
export async function promtoolTest(file: string): Promise<{ ok: boolean; output: string }> {
  try {
    // A week of evaluations allocates a lot; collecting less often saves about a tenth of promtool's CPU.
    const env = { ...process.env, GOGC: process.env.GOGC ?? '400' };
    const { stdout, stderr } = await run('promtool', ['test', 'rules', file], { maxBuffer: 64 * 1024 * 1024, env });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { ok: false, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/**
 * The values promtool got for each check, from its failure report (a check
 * expecting nothing fails with what it got). Keyed like the checks.
 */
export function parseGot(output: string, expected: TimeToPage | undefined): Map<string, { labels: Record<string, string>; value: number }[]> {
  // Each check's expression is its own (promtool prints it Go-quoted, which JSON quoting matches for these).
  const byExpr = new Map(checks(expected).map((c) => [JSON.stringify(c.expr), c.key]));
  const got = new Map<string, { labels: Record<string, string>; value: number }[]>();
  const re = /expr: ("(?:[^"\\]|\\.)*"), time: \S+,\s*\n\s*exp: .*\n\s*got: (.*)/g;
  for (const m of output.matchAll(re)) {
    const key = byExpr.get(m[1]!);
    if (key === undefined) continue;
    const samples = [...(m[2] ?? '').matchAll(/\{([^}]*)\} (\S+?)(?:,|$)/g)].map((s) => ({
      labels: Object.fromEntries([...(s[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!])),
      value: Number(s[2]),
    }));
    got.set(key, samples);
  }
  return got;
}

/** Evaluates `rulesFile` over the week and reports what fired, when. */
export async function measure(rulesFile: string, table: SeriesTable, dir: string): Promise<TimeToPage> {
  const file = join(dir, 'measure.yml');
  await writeFile(file, testFileYaml(await writePromtoolRules(rulesFile, dir), table, undefined));
  const { ok, output } = await promtoolTest(file);
  const got = parseGot(output, undefined);
  if (ok) return { attacks: Object.fromEntries(ATTACKS.map((a) => [a.name, []])), legitimateWeek: [] };
  if (!/FAILED/.test(output)) throw new Error(`promtool failed:\n${output}`);
  const firings = (key: string): FirstFiring[] =>
    (got.get(key) ?? [])
      .map((s) => ({ alert: s.labels.alertname ?? '', severity: s.labels.severity ?? '', seconds: s.value }))
      .sort((a, b) => a.seconds - b.seconds || a.alert.localeCompare(b.alert));
  const before = ATTACKS.flatMap((a) => (got.get(`${a.name}: before`) ?? []).map((s) => `${a.name}: ${s.labels.alertname} fired before the attack`));
  if (before.length > 0) process.stderr.write(`${before.join('\n')}\n`);
  return {
    attacks: Object.fromEntries(ATTACKS.map((a) => [a.name, firings(a.name)])),
    legitimateWeek: (got.get('legitimate week') ?? [])
      .map((s) => ({ alert: s.labels.alertname ?? '', account: s.labels.account ?? '', hours: Math.round(s.value * 10) / 10 }))
      .sort((a, b) => b.hours - a.hours),
  };
}

/** 160 → `2 min 40 s`. */
function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return s === 0 ? `${m} min` : `${m} min ${s} s`;
}

/** The measurement as a Markdown table, the issue's rows first. */
export function formatTable(t: TimeToPage): string {
  const rows = ATTACKS.map((a) => {
    const fired = t.attacks[a.name] ?? [];
    const page = fired.find((f) => f.severity === 'critical');
    const list = fired.map((f) => `${f.alert} (${f.severity}) ${clock(f.seconds)}`).join('; ') || 'nothing';
    return `| ${a.title} | ${page ? `page after ${clock(page.seconds)}` : 'no page'} | ${list} |`;
  });
  const legit = t.legitimateWeek.length === 0 ? 'nothing' : t.legitimateWeek.map((l) => `${l.alert} ${l.account}: ${l.hours} h`).join('; ');
  return [
    '| scenario | page | every alert naming it, minutes after the start |',
    '|---|---|---|',
    ...rows,
    `| legitimate week (${LEGITIMATE_HOURS} hours): hours with a warning or critical firing | | ${legit} |`,
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const rulesAt = argv.indexOf('--rules');
  const rulesFile = rulesAt >= 0 ? argv[rulesAt + 1] : DEFAULT_RULES_FILE;
  if (rulesFile === undefined) throw new Error('--rules needs a file');
  const dir = await mkdtemp(join(tmpdir(), 'mailrelay-time-to-page-'));
  try {
    process.stderr.write('time to page: replaying the week…\n');
    const table = await detectionSeries(dir);
    process.stderr.write(`time to page: ${table.size} series; promtool test rules over ${DURATION_HOURS} hours…\n`);
    const t = await measure(rulesFile, table, dir);
    process.stdout.write(`${formatTable(t)}\n`);
    if (argv.includes('--write')) {
      await writeFile(EXPECTED_FILE, `${JSON.stringify(t, null, 2)}\n`);
      process.stdout.write(`wrote ${EXPECTED_FILE}\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The recorded expectation. */
export async function readExpected(): Promise<TimeToPage> {
  return JSON.parse(await readFile(EXPECTED_FILE, 'utf8')) as TimeToPage;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`time to page: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
