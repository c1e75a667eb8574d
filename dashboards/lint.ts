// Checks the generated dashboard JSON against the Grafana conventions the
// dashboards promise (datasource/job/instance variables, $__rate_interval,
// unit and description on every panel), and lists every PromQL query with
// its template variables substituted, for promtool and a real Prometheus.

import { buildRules, DEFAULT_THRESHOLDS, LATEST_BASELINE } from '../alerts/rules.js';

/** The parts of Grafana's dashboard JSON these checks read. */
export interface DashboardJson {
  uid?: string;
  title?: string;
  time?: { from?: string; to?: string };
  refresh?: string;
  links?: { title?: string; url?: string; type?: string }[];
  templating?: { list?: VariableJson[] };
  annotations?: { list?: { name?: string; expr?: string }[] };
  panels?: PanelJson[];
}

export interface VariableJson {
  name: string;
  type: string;
  query?: string | { query?: string };
}

export interface PanelJson {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  fieldConfig?: {
    defaults?: { unit?: string; links?: { url?: string }[] };
    overrides?: { matcher?: { options?: unknown }; properties?: { id: string; value?: unknown }[] }[];
  };
  links?: { url?: string }[];
  targets?: { refId?: string; expr?: string; instant?: boolean; range?: boolean; format?: string; datasource?: { uid?: string } }[];
  panels?: PanelJson[];
}

export interface DashboardQuery {
  dashboard: string;
  /** "panel 13 (Top accounts) A", "variable instance", "annotation Firing…". */
  where: string;
  panelId?: number;
  panelType?: string;
  refId?: string;
  instant: boolean;
  expr: string;
}

/** Panels with queries (rows flattened, rows themselves left out). */
export function panelsOf(d: DashboardJson): PanelJson[] {
  return (d.panels ?? []).flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/** The PromQL selector inside `label_values(SELECTOR, label)`, or the query itself. */
function variableExpr(v: VariableJson): string | undefined {
  const q = typeof v.query === 'string' ? v.query : v.query?.query;
  if (q === undefined || v.type !== 'query') return undefined;
  const m = /^label_values\((.*),\s*\w+\)$/s.exec(q.trim());
  return m ? m[1]! : q;
}

export function queriesOf(d: DashboardJson): DashboardQuery[] {
  const dashboard = d.uid ?? '?';
  const out: DashboardQuery[] = [];
  for (const p of panelsOf(d)) {
    for (const t of p.targets ?? []) {
      out.push({
        dashboard,
        where: `panel ${p.id} (${p.title}) ${t.refId}`,
        panelId: p.id,
        panelType: p.type,
        refId: t.refId,
        instant: t.instant === true,
        expr: t.expr ?? '',
      });
    }
  }
  for (const v of d.templating?.list ?? []) {
    const expr = variableExpr(v);
    if (expr !== undefined) out.push({ dashboard, where: `variable ${v.name}`, instant: true, expr });
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.expr !== undefined) out.push({ dashboard, where: `annotation ${a.name}`, instant: false, expr: a.expr });
  }
  return out;
}

/** Metric names this project queries: its own, the scrape's `up`, and Prometheus' `ALERTS`. */
const METRIC = /(?<![:\w])(mailrelay_[a-z0-9_]+|up|ALERTS)\b(\{[^}]*\})?/g;
/** The per-account series recorded by alerts/mailrelay.rules.yml: summed over instances, they carry only `account`. */
const RECORDED_SERIES = /\b(account:mailrelay_[a-z0-9_]+:[a-z0-9_]+)\b(\{[^}]*\})?/g;

/** The series of the rules' slower groups (the baselines, once an hour). */
const HOURLY_SERIES = new Set(
  buildRules(DEFAULT_THRESHOLDS)
    .groups.filter((g) => g.interval !== undefined)
    .flatMap((g) => g.rules.map((r) => ('record' in r ? r.record : r.alert))),
);
const LATEST_HOURLY = new RegExp(`last_over_time\\((account:[a-z0-9_:]+)(\\{[^}]*\\})?\\[${LATEST_BASELINE}\\]\\)`, 'g');

/** Problems with one query; empty when it follows the conventions. */
export function lintQuery(q: Pick<DashboardQuery, 'expr' | 'where'>, variables: readonly string[]): string[] {
  const problems: string[] = [];
  const say = (what: string): void => void problems.push(`${q.where}: ${what}: ${q.expr}`);
  if (q.expr.trim() === '') say('empty query');
  let selectors = 0;
  for (const m of q.expr.matchAll(METRIC)) {
    selectors++;
    const matchers = m[2] ?? '';
    // The job variable lists jobs and cannot filter on itself; instance lists the job's instances.
    if (q.where !== 'variable job' && !/\bjob=~"\$job\|?"/.test(matchers)) say(`${m[1]} has no job=~"$job" matcher`);
    const scoped = q.where !== 'variable job' && q.where !== 'variable instance';
    if (scoped && !/\binstance=~"\$instance\|?"/.test(matchers)) say(`${m[1]} has no instance=~"$instance" matcher`);
  }
  for (const m of q.expr.matchAll(RECORDED_SERIES)) {
    selectors++;
    if (!/\baccount=~"\$account"/.test(m[2] ?? '')) say(`${m[1]} has no account=~"$account" matcher`);
  }
  if (selectors === 0) say('no metric selector');
  // A series the rules record once an hour is read as its latest sample, over LATEST_BASELINE, whatever the graph's step.
  const windowed = q.expr.replace(LATEST_HOURLY, (whole, name: string, matchers = '') => (HOURLY_SERIES.has(name) ? `${name}${matchers}` : whole));
  for (const m of windowed.matchAll(/\[([^\]]*)\]/g)) {
    if (m[1] !== '$__rate_interval') say(`range [${m[1]}] is not [$__rate_interval]`);
  }
  for (const m of windowed.matchAll(/\b(rate|irate|increase|delta|idelta|deriv|[a-z]+_over_time)\s*\(/g)) {
    const after = windowed.slice(m.index);
    if (!/^[a-z_]+\s*\([^()]*\[\$__rate_interval\]/.test(after)) say(`${m[1]}() without [$__rate_interval]`);
  }
  for (const m of q.expr.matchAll(/\$\{?(\w+)/g)) {
    if (!variables.includes(m[1]!) && !m[1]!.startsWith('__')) say(`unknown variable $${m[1]}`);
  }
  return problems;
}

/** Every convention problem of a dashboard; empty when it is fine. */
export function lintDashboard(d: DashboardJson): string[] {
  const problems: string[] = [];
  const uid = d.uid ?? '?';
  const say = (what: string): void => void problems.push(`${uid}: ${what}`);
  const variables = (d.templating?.list ?? []).map((v) => v.name);
  const byName = new Map((d.templating?.list ?? []).map((v) => [v.name, v]));
  if (byName.get('datasource')?.type !== 'datasource' || byName.get('datasource')?.query !== 'prometheus') {
    say('no "datasource" variable of type datasource for prometheus');
  }
  for (const name of ['job', 'instance']) if (byName.get(name)?.type !== 'query') say(`no "${name}" query variable`);
  if (!d.uid || !/^[a-z0-9-]{1,40}$/.test(d.uid)) say('no stable uid (lowercase, digits, dashes, at most 40)');
  if (!d.time?.from || !d.time.to) say('no default time range');
  if (!d.refresh || !/^\d+[smh]$/.test(d.refresh)) say('no default refresh');
  else if (/^\d+s$/.test(d.refresh) && Number.parseInt(d.refresh, 10) < 30) say(`refresh ${d.refresh} is below 30s`);

  const ids = new Set<number>();
  const placed: { where: string; x: number; y: number; w: number; h: number }[] = [];
  for (const p of d.panels ?? []) {
    const where = `panel ${p.id} (${p.title})`;
    if (p.id === undefined || ids.has(p.id)) say(`${where}: missing or duplicate panel id`);
    else ids.add(p.id);
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1) {
      say(`${where}: gridPos missing or wider than 24`);
      continue;
    }
    const hit = placed.find((o) => g.x < o.x + o.w && o.x < g.x + g.w && g.y < o.y + o.h && o.y < g.y + g.h);
    if (hit) say(`${where}: overlaps ${hit.where}`);
    placed.push({ where, ...g });
  }
  const titles = new Set<string>();
  for (const p of panelsOf(d)) {
    const where = `panel ${p.id} (${p.title})`;
    if (!p.title?.trim()) say(`${where}: no title`);
    else if (titles.has(p.title)) say(`${where}: another panel has the same title`);
    titles.add(p.title ?? '');
    if (!p.description?.trim()) say(`${where}: no description`);
    if (!p.fieldConfig?.defaults?.unit?.trim()) say(`${where}: no unit`);
    if (p.datasource?.uid !== '${datasource}') say(`${where}: datasource is not \${datasource}`);
    if (!p.targets?.length) say(`${where}: no query`);
    const refIds = new Set<string>();
    for (const t of p.targets ?? []) {
      if (!t.refId || refIds.has(t.refId)) say(`${where}: missing or duplicate refId`);
      refIds.add(t.refId ?? '');
      if (t.datasource?.uid !== '${datasource}') say(`${where} ${t.refId}: query datasource is not \${datasource}`);
    }
  }
  for (const q of queriesOf(d)) problems.push(...lintQuery(q, variables).map((p) => `${uid}: ${p}`));
  return problems;
}

/** Every URL of a panel's links: panel links, data links, and links set in overrides. */
export function panelLinkUrls(p: PanelJson): string[] {
  const urls = [...(p.links ?? []), ...(p.fieldConfig?.defaults?.links ?? [])].map((l) => l.url ?? '');
  for (const o of p.fieldConfig?.overrides ?? []) {
    for (const prop of o.properties ?? []) {
      if (prop.id === 'links' && Array.isArray(prop.value)) urls.push(...(prop.value as { url?: string }[]).map((l) => l.url ?? ''));
    }
  }
  return urls;
}

/** Concrete values for the template variables, as Grafana would substitute them. */
export const EXAMPLE_VALUES: Record<string, string> = { job: 'mailrelay', instance: '.*', __rate_interval: '1m', account: 'info@domaine.com' };

/**
 * A query with Grafana's template variables replaced by concrete values, as
 * Grafana would send it. Throws on a variable with no value given.
 */
export function substitute(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = values[name];
    if (value === undefined) throw new Error(`no value for template variable ${whole} in ${expr}`);
    return value;
  });
}
