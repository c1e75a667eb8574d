// The time-to-page suite (see timeToPage.ts): a replayed week of a busy
// legitimate server, then a day of attacks, evaluated by promtool with the
// real rule file at a 1-minute interval. The expected first firings are in
// alerts/time-to-page.json; after a change to the rules or the scenario,
// `npm run build && node dist/alerts/timeToPage.js --write` measures them again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  ATTACKS,
  DEFAULT_RULES_FILE,
  DETECTION_WEEK,
  detectionSeries,
  encodeValues,
  parseGot,
  promtoolTest,
  readExpected,
  SLOW_GROUP_OFFSET_SECONDS,
  testFileYaml,
  writePromtoolRules,
} from './timeToPage.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-time-to-page-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('promtool input', () => {
  it('encodes values in the expanding notation, compressed, and promtool reads back each value', async () => {
    const values = Float64Array.from([NaN, NaN, 3, 3, 3, 4, 6, 8, 10, 7, NaN, 1.5, 0, -2, -4]);
    const text = encodeValues(values);
    expect(text).toBe('_x2 3x2 4+2x3 7 _ 1.5 0-2x2');
    // One check per step, each naming the value promtool must see there.
    const file = join(dir, 'encode.yml');
    writeFileSync(
      file,
      stringify({
        rule_files: [],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [{ series: 'x', values: text }],
            promql_expr_test: [...values].map((v, i) => ({
              expr: `x and timestamp(x) == ${i * 60}`,
              eval_time: `${i}m`,
              exp_samples: Number.isNaN(v) ? [] : [{ labels: 'x', value: v }],
            })),
          },
        ],
      }),
    );
    const { ok, output } = await promtoolTest(file);
    expect(output).toContain('SUCCESS');
    expect(ok).toBe(true);
  });

  it('runs a group with a slower interval only where Prometheus would: once an hour, at the same offset', async () => {
    const rules = join(dir, 'slow.rules.yml');
    writeFileSync(
      rules,
      stringify({
        groups: [
          { name: 'fast', rules: [{ record: 'fast:time:value', expr: 'vector(time())' }] },
          { name: 'slow', interval: '1h', rules: [{ record: 'slow:time:value', expr: 'vector(time())' }] },
        ],
      }),
    );
    const gated = await writePromtoolRules(rules, dir);
    const file = join(dir, 'slow.yml');
    const at = SLOW_GROUP_OFFSET_SECONDS;
    writeFileSync(
      file,
      stringify({
        rule_files: [gated],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [],
            promql_expr_test: [
              // Over three hours: the fast group every minute, the slow one three times, an hour apart.
              { expr: 'count_over_time(fast:time:value[2h59m])', eval_time: '3h', exp_samples: [{ labels: '{}', value: 180 }] },
              { expr: 'count_over_time(slow:time:value[2h59m])', eval_time: '3h', exp_samples: [{ labels: '{}', value: 3 }] },
              { expr: 'last_over_time(slow:time:value[2h])', eval_time: '3h', exp_samples: [{ labels: 'slow:time:value', value: 2 * 3600 + at }] },
            ],
          },
        ],
      }),
    );
    const { ok, output } = await promtoolTest(file);
    expect(output).toContain('SUCCESS');
    expect(ok).toBe(true);
  });

  it("reads promtool's report of what it got for each check", () => {
    const output = `  FAILED:
    expr: "count by (alertname, account) (count_over_time(ALERTS{alertstate=\\"firing\\", severity=~\\"warning|critical\\"}[192h])) / 60", time: 1w1d,
        exp: nil
        got: {account="newsletter@domaine.com", alertname="MailrelayAccountManyRecipientDomains"} 1.95E+02, {account="x@domaine.com", alertname="MailrelayAccountForeignSender"} 5E-01
`;
    const got = parseGot(output, undefined);
    expect(got.get('legitimate week')).toEqual([
      { labels: { account: 'newsletter@domaine.com', alertname: 'MailrelayAccountManyRecipientDomains' }, value: 195 },
      { labels: { account: 'x@domaine.com', alertname: 'MailrelayAccountForeignSender' }, value: 0.5 },
    ]);
  });
});

describe('time to page', () => {
  it('the recorded expectation meets the issue: each attack pages in time, the legitimate week pages nothing', async () => {
    const expected = await readExpected();
    expect(expected.legitimateWeek).toEqual([]);
    for (const a of ATTACKS) {
      const fired = expected.attacks[a.name] ?? [];
      for (const b of a.budgets) {
        const f = fired.find((x) => x.alert === b.alert);
        expect(f, `${a.name}: ${b.alert}`).toBeDefined();
        expect(f!.seconds, `${a.name}: ${b.alert}`).toBeLessThanOrEqual(b.withinMinutes * 60);
        expect(f!.seconds, `${a.name}: ${b.alert}`).toBeGreaterThan(0);
      }
    }
    // Every attacked account was a legitimate user of the week before.
    const users = DETECTION_WEEK.legitimateUsers ?? 0;
    expect(users).toBe(30);
    expect(DETECTION_WEEK.busyAccount).toMatchObject({ externalRecipientsPerHour: 150 });
  });

  it(
    'promtool, over the replayed week and its attacks, sees exactly the recorded first firings and nothing on the legitimate week',
    async () => {
      const expected = await readExpected();
      const table = await detectionSeries(dir);
      // The week's traffic is really there: the newsletter's hourly volume and domains, every account's logins.
      const newsletter = [...table].find(([s]) => s.startsWith('mailrelay_account_recipients_total{account="newsletter@domaine.com",destination="external"'));
      expect(newsletter).toBeDefined();
      const perHour = newsletter![1][24 * 60 + 600]! - newsletter![1][23 * 60 + 600]!;
      expect(perHour).toBeGreaterThan(120);
      expect(perHour).toBeLessThan(180);
      expect([...table.keys()].filter((s) => s.startsWith('mailrelay_account_logins_total{')).length).toBeGreaterThanOrEqual(31);

      const file = join(dir, 'time-to-page.yml');
      writeFileSync(file, testFileYaml(await writePromtoolRules(DEFAULT_RULES_FILE, dir), table, expected));
      const { ok, output } = await promtoolTest(file);
      expect(ok, `promtool test rules failed; if the change is meant, measure again with \`node dist/alerts/timeToPage.js --write\`:\n${output}`).toBe(true);
    },
    20 * 60_000,
  );
});
