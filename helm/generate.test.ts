// The chart's generated files are current: rerun with `npx vitest run helm -u`
// after changing alerts/rules.ts or dashboards/.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CHART_DASHBOARDS,
  CHART_DIR,
  RULE_TEMPLATE,
  prometheusRuleTemplate,
  schemaWithThresholds,
  sourceDashboards,
  valuesWithThresholds,
} from './generate.js';

const path = (url: URL): string => fileURLToPath(url);
const read = (url: URL): string => readFileSync(url, 'utf8');

describe('generated chart files', () => {
  it('the PrometheusRule template is built from alerts/rules.ts', async () => {
    await expect(prometheusRuleTemplate()).toMatchFileSnapshot(path(RULE_TEMPLATE));
  });

  it("values.yaml's thresholds are alerts/rules.ts DEFAULT_THRESHOLDS", async () => {
    const file = new URL('values.yaml', CHART_DIR);
    await expect(valuesWithThresholds(read(file))).toMatchFileSnapshot(path(file));
  });

  it('values.schema.json requires every threshold, with its type', async () => {
    const file = new URL('values.schema.json', CHART_DIR);
    await expect(schemaWithThresholds(read(file))).toMatchFileSnapshot(path(file));
  });

  it('the chart carries the dashboards of dashboards/, and no others', async () => {
    const source = sourceDashboards();
    expect(source.size).toBeGreaterThan(0);
    for (const [name, text] of source) await expect(text).toMatchFileSnapshot(path(new URL(name, CHART_DASHBOARDS)));
    expect(readdirSync(CHART_DASHBOARDS).sort()).toEqual([...source.keys()]);
  });
});
