// The Grafana dashboards, as code (Grafana Foundation SDK). `generate.ts`
// writes them to dashboards/*.json; a test fails when the JSON is stale.
// Queries use raw metrics, so the dashboards work without alerts/ loaded;
// the one exception, the account drill-down's comparison with the account's
// usual hour, reads the baselines recorded by alerts/mailrelay.rules.yml (and
// is empty without them). Every selector of a raw metric carries the job and
// instance variables, every range is $__rate_interval (see dashboards.test.ts).
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { LATEST_BASELINE, RECORDED } from '../alerts/rules.js';
import { parseDuration } from '../src/config/duration.js';
import { DEFAULT_THRESHOLDS } from '../src/detection/thresholds.js';

export const UIDS = {
  overview: 'mailrelay-overview',
  account: 'mailrelay-account',
  exporter: 'mailrelay-exporter',
} as const;

/** Same base as alerts/rules.ts: runbook pages are `<base>/<AlertName>.md`. */
export const RUNBOOK_BASE_URL = 'https://github.com/mailrelay-exporter/mailrelay-exporter/blob/main/docs/runbooks';

/** The alerts' own default thresholds (src/detection/thresholds.ts), shown as colours and dashed lines. */
const T = DEFAULT_THRESHOLDS;
/** The slow window's page: external recipients in an hour. */
const EXTERNAL_RECIPIENTS_PER_HOUR = T.accountExternalRecipientsPerHour;
/** The fast window's page, as a pace: burstRecipients in burstRange, per hour. */
const BURST_PER_HOUR = (T.burstRecipients * 3600) / parseDuration(T.burstRange)!;
const CLIENT_IPS = T.accountClientIps;
const BOTNET_CLIENT_IPS = T.botnetClientIps;
const RECIPIENT_DOMAINS = T.accountRecipientDomains;
const FOREIGN_SENDER_SHARE = T.foreignSenderRatio;
const AUTH_FAILURES_PER_SECOND = T.authFailuresPerSecond;
const STUCK_SECONDS = T.queueStuckAgeSeconds;

const TAGS = ['mailrelay', 'icewarp', 'spam'];
const DATASOURCE: dashboard.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
const RI = '$__rate_interval';
const TOP = 20;

/** `name{job=~"$job", instance=~"$instance", extra...}` */
function m(name: string, ...extra: string[]): string {
  return `${name}{${['job=~"$job"', 'instance=~"$instance"', ...extra].join(', ')}}`;
}

/** Per-hour rate of a counter: the detection thresholds are per hour. */
function perHour(by: string, name: string, ...extra: string[]): string {
  return `3600 * sum${by ? ` by (${by})` : ''} (rate(${m(name, ...extra)}[${RI}]))`;
}

const ACCOUNT = 'account=~"$account"';
const EXTERNAL = 'destination="external"';
const OUTGOING = 'queue="outgoing"';

// ---------------------------------------------------------------- builders

/** A Grafana link object ({title, url}); the SDK types links as DashboardLink, whose extra fields Grafana ignores. */
function link(title: string, url: string, targetBlank = false): cog.Builder<dashboard.DashboardLink> {
  return { build: () => ({ title, url, ...(targetBlank ? { targetBlank } : {}) }) as dashboard.DashboardLink };
}

function runbookLink(alert: string): cog.Builder<dashboard.DashboardLink> {
  return link(`Runbook: ${alert}`, `${RUNBOOK_BASE_URL}/${alert}.md`, true);
}

/** One click from an account (or queued sender) to the drill-down, keeping datasource, job, instance and time. */
function drillDownUrl(accountValue: string): string {
  return `/d/${UIDS.account}/mailrelay-account?\${datasource:queryparam}&\${job:queryparam}&\${instance:queryparam}&var-account=${accountValue}&\${__url_time_range}`;
}

function query(expr: string, legend = '__auto'): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().expr(expr).legendFormat(legend).datasource(DATASOURCE);
}

function instant(expr: string): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder()
    .expr(expr)
    .instant()
    .format(prometheus.PromQueryFormat.Table)
    .legendFormat('__auto')
    .datasource(DATASOURCE);
}

function thresholds(...steps: [number | null, string][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

const OK_RED = (from: number): dashboard.ThresholdsConfigBuilder => thresholds([null, 'green'], [from, 'red']);

function valueMap(entries: Record<string, [string, string]>): dashboard.ValueMapping {
  const options: Record<string, dashboard.ValueMappingResult> = {};
  Object.entries(entries).forEach(([value, [text, color]], index) => (options[value] = { text, color, index }));
  return { type: dashboard.MappingType.ValueToText, options };
}

interface Common {
  title: string;
  description: string;
  unit: string;
  w: number;
  h: number;
}

function statPanel(p: Common & { expr: string; thresholds?: dashboard.ThresholdsConfigBuilder; mappings?: dashboard.ValueMapping[] }): stat.PanelBuilder {
  const b = new stat.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .unit(p.unit)
    .span(p.w)
    .height(p.h)
    .datasource(DATASOURCE)
    .withTarget(instant(p.expr).format(prometheus.PromQueryFormat.TimeSeries))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(p.thresholds ?? thresholds([null, 'blue']));
  if (p.mappings) b.mappings(p.mappings);
  return b;
}

function seriesPanel(p: Common & { queries: prometheus.DataqueryBuilder[]; thresholds?: dashboard.ThresholdsConfigBuilder; stack?: boolean }): timeseries.PanelBuilder {
  const b = new timeseries.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .unit(p.unit)
    .span(p.w)
    .height(p.h)
    .datasource(DATASOURCE)
    .targets(p.queries)
    .min(0)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .showLegend(true)
        .calcs(['lastNotNull', 'max'])
        .sortBy('Last *')
        .sortDesc(true),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (p.thresholds) {
    b.thresholds(p.thresholds).thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  }
  if (p.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return b;
}

interface Column {
  /** Column title. */
  name: string;
  expr: string;
  unit: string;
  thresholds?: dashboard.ThresholdsConfigBuilder;
  mappings?: dashboard.ValueMapping[];
}

/**
 * Instant queries merged into one table on their labels: the columns are
 * `labels` (in order) then one per query. The first query sorts the table.
 */
function tablePanel(p: Common & { labels: string[]; columns: Column[]; linkLabel?: string }): table.PanelBuilder {
  const refIds = p.columns.map((_, i) => String.fromCharCode(65 + i));
  const renameByName: Record<string, string> = {};
  const indexByName: Record<string, number> = {};
  p.labels.forEach((label, i) => (indexByName[label] = i));
  p.columns.forEach((c, i) => {
    // A single query's value column is "Value"; with several, "Value #<refId>".
    const field = p.columns.length === 1 ? 'Value' : `Value #${refIds[i]}`;
    renameByName[field] = c.name;
    indexByName[field] = p.labels.length + i;
  });
  const excludeByName: Record<string, boolean> = { Time: true };
  const b = new table.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .unit('short')
    .span(p.w)
    .height(p.h)
    .datasource(DATASOURCE)
    .targets(p.columns.map((c, i) => instant(c.expr).refId(refIds[i]!)))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName, indexByName, renameByName } })
    .sortBy([new common.TableSortByFieldStateBuilder().displayName(p.columns[0]!.name).desc(true)])
    .filterable(true);
  for (const c of p.columns) {
    const props: dashboard.DynamicConfigValue[] = [{ id: 'unit', value: c.unit }];
    if (c.thresholds) {
      props.push({ id: 'thresholds', value: c.thresholds.build() });
      props.push({ id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } });
    }
    if (c.mappings) props.push({ id: 'mappings', value: c.mappings });
    b.overrideByName(c.name, props);
  }
  if (p.linkLabel) {
    b.overrideByName(p.linkLabel, [
      { id: 'links', value: [link('Account drill-down', drillDownUrl('${__value.raw:percentencode}')).build()] },
    ]);
  }
  return b;
}

/** Prometheus annotation (the SDK's AnnotationQuery lacks the Prometheus fields). */
function alertAnnotations(): cog.Builder<dashboard.AnnotationQuery> {
  return {
    build: () =>
      ({
        name: 'Firing mailrelay alerts',
        datasource: DATASOURCE,
        enable: true,
        iconColor: 'red',
        // Account alerts aggregate by account and lose job/instance: `|` also matches an absent label.
        expr: 'ALERTS{alertstate="firing", alertname=~"Mailrelay.+", job=~"$job|", instance=~"$instance|"}',
        step: '1m',
        titleFormat: '{{alertname}}',
        textFormat: '{{severity}} {{account}}{{folder}}{{sender}}{{zone}}{{target}}',
        tagKeys: 'severity,account',
        useValueForTime: false,
      }) as dashboard.AnnotationQuery,
  };
}

function base(title: string, uid: string, description: string, from: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(TAGS)
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from, to: 'now' })
    .refresh('1m')
    .timezone('browser')
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new dashboard.QueryVariableBuilder('job')
        .label('Job')
        .datasource(DATASOURCE)
        .query({ query: 'label_values(mailrelay_build_info, job)', refId: 'job' })
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc),
    )
    .withVariable(
      new dashboard.QueryVariableBuilder('instance')
        .label('Instance')
        .datasource(DATASOURCE)
        .query({ query: 'label_values(mailrelay_build_info{job=~"$job"}, instance)', refId: 'instance' })
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Mailrelay dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['mailrelay'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Runbooks')
        .type(dashboard.DashboardLinkType.Link)
        .url(RUNBOOK_BASE_URL)
        .icon('doc')
        .tooltip('What to do when a mailrelay alert fires')
        .targetBlank(true),
    );
}

// ---------------------------------------------------------------- dashboards

export function overviewDashboard(): dashboard.Dashboard {
  const topExternal = `topk(${TOP}, ${perHour('account', 'mailrelay_account_recipients_total', EXTERNAL)})`;
  const topSenders = `topk(${TOP}, max by (sender) (${m('mailrelay_spool_sender_messages')}))`;
  const outgoing = `sum(${m('mailrelay_spool_messages', OUTGOING)})`;
  const accountLink = link('Account drill-down', drillDownUrl('${__field.labels.account:percentencode}'));
  const S = 3;
  return base(
    'Mailrelay / Overview',
    UIDS.overview,
    'Is the mail server relaying spam now, and which account? From mailrelay-exporter (IceWarp SMTP logs, queues, DNSBL and relay probes).',
    'now-3h',
  )
    .annotation(alertAnnotations())
    .withRow(new dashboard.RowBuilder('Now'))
    .withPanel(
      statPanel({
        title: 'Open-relay recipients',
        description:
          'External recipients accepted in sessions without a successful AUTH, per hour. Anything above 0 means the server relays for anyone: close relay mode now.',
        unit: 'suffix: /h',
        w: S,
        h: 4,
        expr: `sum(rate(${m('mailrelay_unauthenticated_relay_recipients_total')}[${RI}])) * 3600`,
        thresholds: OK_RED(0.000001),
      }).links([runbookLink('MailrelayOpenRelay')]),
    )
    .withPanel(
      statPanel({
        title: 'Accounts above send threshold',
        description: `Accounts sending to more than ${EXTERNAL_RECIPIENTS_PER_HOUR} external recipients per hour, the hourly page's threshold (an account with a week of history pages only above ${T.accountExternalRecipientsUsualFactor}× its usual hour). A stolen account shows up here first.`,
        unit: 'short',
        w: S,
        h: 4,
        expr: `count(${perHour('account', 'mailrelay_account_recipients_total', EXTERNAL)} > ${EXTERNAL_RECIPIENTS_PER_HOUR}) or vector(0)`,
        thresholds: OK_RED(1),
      }).links([runbookLink('MailrelayAccountExternalRecipientsHigh'), runbookLink('MailrelayAccountExternalRecipientsBurst')]),
    )
    .withPanel(
      statPanel({
        title: 'Outgoing queue',
        description: 'Messages waiting in the outgoing queue (_outgoing and its retry and priority folders).',
        unit: 'short',
        w: S,
        h: 4,
        expr: outgoing,
        thresholds: thresholds([null, 'green'], [100, 'orange'], [500, 'red']),
      }).links([runbookLink('MailrelayQueueRetryGrowing')]),
    )
    .withPanel(
      statPanel({
        title: 'Oldest outgoing message',
        description: 'Age of the oldest message in the outgoing queue. IceWarp gives up after 4 days; old mail means delivery is blocked (blacklisted IP, spam refused).',
        unit: 's',
        w: S,
        h: 4,
        expr: `max(${m('mailrelay_spool_oldest_message_age_seconds', OUTGOING)})`,
        thresholds: thresholds([null, 'green'], [3600, 'orange'], [STUCK_SECONDS, 'red']),
      }).links([runbookLink('MailrelayQueueStuckMessages')]),
    )
    .withPanel(
      statPanel({
        title: 'Auth failures',
        description: `Failed SMTP AUTH per second, server-wide. Above ${AUTH_FAILURES_PER_SECOND}/s for 10 minutes is a password attack.`,
        unit: 'cps',
        w: S,
        h: 4,
        expr: `sum(rate(${m('mailrelay_smtp_auth_failures_total')}[${RI}]))`,
        thresholds: thresholds([null, 'green'], [AUTH_FAILURES_PER_SECOND, 'red']),
      }).links([runbookLink('MailrelayAuthFailuresHigh')]),
    )
    .withPanel(
      statPanel({
        title: 'Same-size messages queued',
        description: 'Messages in the largest group of identical byte size in the outgoing queue: a spam run is many copies of one message.',
        unit: 'short',
        w: S,
        h: 4,
        expr: `max(${m('mailrelay_spool_largest_same_size_messages', OUTGOING)})`,
        thresholds: thresholds([null, 'green'], [100, 'orange'], [500, 'red']),
      }),
    )
    .withPanel(
      statPanel({
        title: 'DNSBL listings',
        description: 'Server IPs listed on a DNS blacklist (ip × zone pairs). Any listing means mail is being refused: stop the spam, then request delisting.',
        unit: 'short',
        w: S,
        h: 4,
        expr: `sum(max by (ip, zone) (${m('mailrelay_dnsbl_listed')}))`,
        thresholds: OK_RED(1),
      }).links([runbookLink('MailrelayDnsblListed')]),
    )
    .withPanel(
      statPanel({
        title: 'Open-relay probe',
        description: 'Whether the active probe got an external recipient accepted without AUTH on any target (1 = the server is an open relay).',
        unit: 'none',
        w: S,
        h: 4,
        expr: `max(${m('mailrelay_open_relay_probe_accepted')})`,
        thresholds: OK_RED(1),
        mappings: [valueMap({ '0': ['closed', 'green'], '1': ['OPEN RELAY', 'red'] })],
      }).links([runbookLink('MailrelayRelayProbeAccepted')]),
    )
    .withRow(new dashboard.RowBuilder('Who is sending'))
    .withPanel(
      seriesPanel({
        title: 'External recipients per account (top 10)',
        description:
          `Recipients outside the local domains, per hour, for the 10 busiest accounts. The dashed lines are the pages' thresholds: ` +
          `${EXTERNAL_RECIPIENTS_PER_HOUR}/h for ${T.accountExternalRecipientsFor} (the hourly window) and ${BURST_PER_HOUR}/h, ${T.burstRecipients} in ${T.burstRange} (a burst, paged within minutes). ` +
          `An account with a week of history pages only above ${T.accountExternalRecipientsUsualFactor}× (a burst: ${T.burstUsualFactor}×) its usual hour. Click a series for the account drill-down.`,
        unit: 'suffix: /h',
        w: 12,
        h: 9,
        queries: [query(`topk(10, ${perHour('account', 'mailrelay_account_recipients_total', EXTERNAL)})`, '{{account}}')],
        thresholds: thresholds([null, 'transparent'], [EXTERNAL_RECIPIENTS_PER_HOUR, 'orange'], [BURST_PER_HOUR, 'red']),
      }).dataLinks([accountLink]),
    )
    .withPanel(
      seriesPanel({
        title: 'Client IPs per account (top 10)',
        description: `Distinct client IPs that logged in as the account within the exporter's detection window. People use one to three. The dashed lines: above ${CLIENT_IPS}, a sign of a stolen account; above ${BOTNET_CLIENT_IPS}, the botnet page (for an account with history, above ${T.accountClientIpsUsualFactor}× and ${T.botnetUsualFactor}× its usual peak).`,
        unit: 'short',
        w: 12,
        h: 9,
        queries: [query(`topk(10, max by (account) (${m('mailrelay_account_client_ips')}))`, '{{account}}')],
        thresholds: thresholds([null, 'transparent'], [CLIENT_IPS, 'orange'], [BOTNET_CLIENT_IPS, 'red']),
      }).dataLinks([accountLink]),
    )
    .withPanel(
      tablePanel({
        title: 'Top accounts',
        description: `The ${TOP} accounts sending to the most external recipients now, with their client IPs and external recipient domains (within the detection window) and the share of their messages whose envelope sender is not the account. Click an account for its drill-down.`,
        unit: 'short',
        w: 14,
        h: 10,
        labels: ['account'],
        linkLabel: 'account',
        columns: [
          {
            name: 'External recipients /h',
            expr: topExternal,
            unit: 'short',
            thresholds: thresholds([null, 'green'], [EXTERNAL_RECIPIENTS_PER_HOUR, 'orange'], [BURST_PER_HOUR, 'red']),
          },
          {
            name: 'Client IPs',
            expr: `max by (account) (${m('mailrelay_account_client_ips')}) and on (account) ${topExternal}`,
            unit: 'short',
            thresholds: thresholds([null, 'green'], [CLIENT_IPS + 1, 'orange'], [BOTNET_CLIENT_IPS + 1, 'red']),
          },
          {
            name: 'Recipient domains',
            expr: `max by (account) (${m('mailrelay_account_recipient_domains')}) and on (account) ${topExternal}`,
            unit: 'short',
            thresholds: thresholds([null, 'green'], [RECIPIENT_DOMAINS + 1, 'red']),
          },
          {
            name: 'Foreign-sender share',
            expr: `(sum by (account) (rate(${m('mailrelay_account_foreign_sender_messages_total')}[${RI}])) / sum by (account) (rate(${m('mailrelay_account_messages_total')}[${RI}]))) and on (account) ${topExternal}`,
            unit: 'percentunit',
            thresholds: thresholds([null, 'green'], [FOREIGN_SENDER_SHARE, 'red']),
          },
        ],
      }),
    )
    .withPanel(
      tablePanel({
        title: 'Top queued senders',
        description: `Original senders with the most messages in the outgoing queue (the exporter keeps the ${TOP} largest), and their share of it. One sender above half the queue is a spam run. Click a sender for the account drill-down.`,
        unit: 'short',
        w: 10,
        h: 10,
        labels: ['sender'],
        linkLabel: 'sender',
        columns: [
          { name: 'Queued messages', expr: topSenders, unit: 'short' },
          {
            name: 'Share of queue',
            expr: `${topSenders} / on () group_left () ${outgoing}`,
            unit: 'percentunit',
            thresholds: thresholds([null, 'green'], [0.5, 'red']),
          },
        ],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Relaying without login',
        description: 'Per hour: external recipients accepted without AUTH (must stay 0), and relay attempts the server correctly refused (5.7.1) — probes looking for an open relay.',
        unit: 'suffix: /h',
        w: 12,
        h: 8,
        queries: [
          query(perHour('', 'mailrelay_unauthenticated_relay_recipients_total'), 'accepted without AUTH'),
          query(perHour('', 'mailrelay_relay_denied_total'), 'refused (relay denied)'),
        ],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Auth failures by mechanism',
        description: `Failed SMTP AUTH per second, by mechanism. The dashed line is the ${AUTH_FAILURES_PER_SECOND}/s password-attack threshold.`,
        unit: 'cps',
        w: 12,
        h: 8,
        queries: [query(`sum by (mechanism) (rate(${m('mailrelay_smtp_auth_failures_total')}[${RI}]))`, '{{mechanism}}')],
        thresholds: thresholds([null, 'transparent'], [AUTH_FAILURES_PER_SECOND, 'red']),
        stack: true,
      }),
    )
    .withRow(new dashboard.RowBuilder('Queue'))
    .withPanel(
      seriesPanel({
        title: 'Queue depth per folder',
        description: 'Messages per queue folder. Spam that cannot be delivered piles up in the messages waiting for a retry (IceWarp: _outgoing/retry; Postfix: deferred).',
        unit: 'short',
        w: 12,
        h: 8,
        queries: [query(`sum by (queue, folder) (${m('mailrelay_spool_messages')})`, '{{folder}}')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Oldest message per folder',
        description: 'Age of the oldest message in each queue folder. The dashed line is 4 days, when IceWarp stops retrying.',
        unit: 's',
        w: 12,
        h: 8,
        queries: [query(`max by (queue, folder) (${m('mailrelay_spool_oldest_message_age_seconds')})`, '{{folder}}')],
        thresholds: thresholds([null, 'transparent'], [STUCK_SECONDS, 'red']),
      }),
    )
    .withRow(new dashboard.RowBuilder('Blacklists and relay probe'))
    .withPanel(
      tablePanel({
        title: 'DNSBL status',
        description: 'Each server IP on each DNS blacklist zone: LISTED with the DNSBL answer, or not listed.',
        unit: 'short',
        w: 8,
        h: 8,
        labels: ['ip', 'zone', 'answer'],
        columns: [
          {
            name: 'Listed',
            expr: `max by (ip, zone, answer) (${m('mailrelay_dnsbl_listed')})`,
            unit: 'none',
            thresholds: thresholds([null, 'green'], [1, 'red']),
            mappings: [valueMap({ '0': ['not listed', 'green'], '1': ['LISTED', 'red'] })],
          },
        ],
      }).links([runbookLink('MailrelayDnsblListed')]),
    )
    .withPanel(
      seriesPanel({
        title: 'DNSBL query errors',
        description: 'Failed DNSBL lookups per second, by zone: a failing resolver or a zone that refuses the queries (then the listings above are unknown).',
        unit: 'cps',
        w: 8,
        h: 8,
        queries: [query(`sum by (zone) (rate(${m('mailrelay_dnsbl_query_errors_total')}[${RI}]))`, '{{zone}}')],
      }).links([runbookLink('MailrelayDnsblQueryErrors')]),
    )
    .withPanel(
      statPanel({
        title: 'Since last DNSBL check',
        description: 'Time since the last completed DNSBL check. Much older than the check interval means the checks stopped.',
        unit: 's',
        w: 8,
        h: 8,
        expr: `time() - max(${m('mailrelay_dnsbl_last_check_timestamp_seconds')})`,
        thresholds: thresholds([null, 'green'], [3600, 'orange'], [6 * 3600, 'red']),
      }),
    )
    .withPanel(
      tablePanel({
        title: 'Open-relay probe per target',
        description: 'Per probed target: whether it accepted an external recipient without AUTH (an open relay), whether the probe itself worked, and how long it took.',
        unit: 'short',
        w: 12,
        h: 8,
        labels: ['target'],
        columns: [
          {
            name: 'Relay accepted',
            expr: `max by (target) (${m('mailrelay_open_relay_probe_accepted')})`,
            unit: 'none',
            thresholds: thresholds([null, 'green'], [1, 'red']),
            mappings: [valueMap({ '0': ['refused', 'green'], '1': ['ACCEPTED', 'red'] })],
          },
          {
            name: 'Probe worked',
            expr: `min by (target) (${m('mailrelay_open_relay_probe_success')})`,
            unit: 'none',
            thresholds: thresholds([null, 'red'], [1, 'green']),
            mappings: [valueMap({ '0': ['failed', 'red'], '1': ['ok', 'green'] })],
          },
          { name: 'Duration', expr: `max by (target) (${m('mailrelay_open_relay_probe_duration_seconds')})`, unit: 's' },
        ],
      }).links([runbookLink('MailrelayRelayProbeAccepted'), runbookLink('MailrelayRelayProbeFailing')]),
    )
    .withPanel(
      seriesPanel({
        title: 'Open-relay probe duration',
        description: 'How long each relay probe took, by target. A probe that times out shows as failed in the table.',
        unit: 's',
        w: 12,
        h: 8,
        queries: [query(`max by (target) (${m('mailrelay_open_relay_probe_duration_seconds')})`, '{{target}}')],
      }),
    )
    .build();
}

export function accountDashboard(): dashboard.Dashboard {
  const a = (name: string, ...extra: string[]): string => m(name, ACCOUNT, ...extra);
  const R = RECORDED;
  // The recorded series are summed over instances: keep them to accounts the selected job and instances know.
  const known = `on () count(${a('mailrelay_account_logins_total')}) > 0`;
  const recorded = (expr: string): string => `${expr} and ${known}`;
  const share = `sum(rate(${a('mailrelay_account_foreign_sender_messages_total')}[${RI}])) / sum(rate(${a('mailrelay_account_messages_total')}[${RI}]))`;
  const S = 4;
  return base(
    'Mailrelay / Account',
    UIDS.account,
    'One account (or a regex of accounts): logins, client IPs, recipients, envelope senders, auth failures and its messages in the queue.',
    'now-24h',
  )
    .withVariable(
      new dashboard.QueryVariableBuilder('account')
        .label('Account')
        .description('The account (SMTP AUTH username); a regex is accepted.')
        .datasource(DATASOURCE)
        .query({ query: 'label_values(mailrelay_account_logins_total{job=~"$job", instance=~"$instance"}, account)', refId: 'account' })
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalCaseInsensitiveAsc)
        .allowCustomValue(true),
    )
    .withRow(new dashboard.RowBuilder('$account now'))
    .withPanel(
      statPanel({
        title: 'External recipients',
        description: `Recipients outside the local domains, per hour. Above ${EXTERNAL_RECIPIENTS_PER_HOUR}/h (orange) the account is sending like a spammer; at ${BURST_PER_HOUR}/h (red) it bursts. Compare with its usual hour below.`,
        unit: 'suffix: /h',
        w: S,
        h: 4,
        expr: perHour('', 'mailrelay_account_recipients_total', ACCOUNT, EXTERNAL),
        thresholds: thresholds([null, 'green'], [EXTERNAL_RECIPIENTS_PER_HOUR, 'orange'], [BURST_PER_HOUR, 'red']),
      }).links([runbookLink('MailrelayAccountExternalRecipientsHigh'), runbookLink('MailrelayAccountExternalRecipientsBurst')]),
    )
    .withPanel(
      statPanel({
        title: 'Client IPs',
        description: `Distinct client IPs that logged in as the account within the detection window. Above ${CLIENT_IPS} (orange): stolen credentials used from many machines; above ${BOTNET_CLIENT_IPS} (red): a botnet.`,
        unit: 'short',
        w: S,
        h: 4,
        expr: `max(${a('mailrelay_account_client_ips')})`,
        thresholds: thresholds([null, 'green'], [CLIENT_IPS + 1, 'orange'], [BOTNET_CLIENT_IPS + 1, 'red']),
      }).links([runbookLink('MailrelayAccountManyClientIPs'), runbookLink('MailrelayAccountBotnetLogins')]),
    )
    .withPanel(
      statPanel({
        title: 'Recipient domains',
        description: `Distinct external recipient domains within the detection window. Above ${RECIPIENT_DOMAINS} and ${T.accountRecipientDomainsUsualFactor}× its usual peak: mail to unrelated recipients (a newsletter reaches many domains every day).`,
        unit: 'short',
        w: S,
        h: 4,
        expr: `max(${a('mailrelay_account_recipient_domains')})`,
        thresholds: thresholds([null, 'green'], [RECIPIENT_DOMAINS + 1, 'red']),
      }).links([runbookLink('MailrelayAccountManyRecipientDomains')]),
    )
    .withPanel(
      statPanel({
        title: 'Foreign-sender share',
        description: 'Share of the account\'s accepted messages whose envelope sender (MAIL FROM) is not the account: the "doubtful, repetitive sender" of a spam run.',
        unit: 'percentunit',
        w: S,
        h: 4,
        expr: share,
        thresholds: thresholds([null, 'green'], [FOREIGN_SENDER_SHARE, 'red']),
      }).links([runbookLink('MailrelayAccountForeignSender')]),
    )
    .withPanel(
      statPanel({
        title: 'Auth failures',
        description: 'Failed AUTH per hour with this username. Many failures followed by a success: the password was guessed.',
        unit: 'suffix: /h',
        w: S,
        h: 4,
        expr: perHour('', 'mailrelay_account_auth_failures_total', ACCOUNT),
        thresholds: thresholds([null, 'green'], [10, 'red']),
      }).links([runbookLink('MailrelayAccountBruteForceSucceeded')]),
    )
    .withPanel(
      statPanel({
        title: 'Messages in the queue',
        description: 'Outgoing messages (all folders) whose original sender is the account. Only the largest senders are tracked (limits.spool_top_senders).',
        unit: 'short',
        w: S,
        h: 4,
        expr: `sum(${m('mailrelay_spool_sender_messages', 'sender=~"$account"')})`,
        thresholds: thresholds([null, 'green'], [100, 'red']),
      }).links([runbookLink('MailrelayQueueDominatedBySender')]),
    )
    .withRow(new dashboard.RowBuilder('$account over time'))
    .withPanel(
      seriesPanel({
        title: 'Recipients: external vs local',
        description: `Recipients of the account's accepted messages per hour, by destination: external (outside the local domains) or local. The dashed lines are the external pages' thresholds: ${EXTERNAL_RECIPIENTS_PER_HOUR}/h for ${T.accountExternalRecipientsFor}, and a burst's ${BURST_PER_HOUR}/h (${T.burstRecipients} in ${T.burstRange}).`,
        unit: 'suffix: /h',
        w: 12,
        h: 8,
        queries: [query(perHour('destination', 'mailrelay_account_recipients_total', ACCOUNT), '{{destination}}')],
        thresholds: thresholds([null, 'transparent'], [EXTERNAL_RECIPIENTS_PER_HOUR, 'orange'], [BURST_PER_HOUR, 'red']),
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Logins',
        description: 'Successful AUTH per hour as the account. A person logs in a few times an hour; a spam run logs in for every batch.',
        unit: 'suffix: /h',
        w: 12,
        h: 8,
        queries: [query(perHour('', 'mailrelay_account_logins_total', ACCOUNT), 'logins')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Client IPs and recipient domains',
        description: `Distinct client IPs that logged in as the account, and distinct external recipient domains it sent to, within the detection window. The dashed lines are the client IPs' thresholds: a sign above ${CLIENT_IPS}, the botnet page above ${BOTNET_CLIENT_IPS}.`,
        unit: 'short',
        w: 12,
        h: 8,
        queries: [
          query(`max(${a('mailrelay_account_client_ips')})`, 'client IPs'),
          query(`max(${a('mailrelay_account_recipient_domains')})`, 'recipient domains'),
        ],
        thresholds: thresholds([null, 'transparent'], [CLIENT_IPS, 'orange'], [BOTNET_CLIENT_IPS, 'red']),
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Foreign-sender share over time',
        description: 'Share of the account\'s accepted messages whose envelope sender is not the account. The dashed line is the 50% alert threshold.',
        unit: 'percentunit',
        w: 12,
        h: 8,
        queries: [query(share, 'foreign sender share')],
        thresholds: thresholds([null, 'transparent'], [FOREIGN_SENDER_SHARE, 'red']),
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Auth failures over time',
        description: 'Failed AUTH per hour with this username (password guessing).',
        unit: 'suffix: /h',
        w: 12,
        h: 8,
        queries: [query(perHour('', 'mailrelay_account_auth_failures_total', ACCOUNT), 'auth failures')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Messages in the outgoing queue',
        description: 'Outgoing messages whose original sender matches the account. Spam that cannot be delivered keeps this high after the account is blocked: move it out of _outgoing.',
        unit: 'short',
        w: 12,
        h: 8,
        queries: [query(`sum by (sender) (${m('mailrelay_spool_sender_messages', 'sender=~"$account"')})`, '{{sender}}')],
      }),
    )
    .withRow(new dashboard.RowBuilder('$account against its own history (from the recording rules of alerts/mailrelay.rules.yml)'))
    .withPanel(
      statPanel({
        title: 'Signs of a stolen account',
        description:
          `How many of the four signs are above their thresholds now (volume above its usual hour, many client IPs, foreign senders, recipient domains above their usual peak). ` +
          `${T.compromisedSigns} or more for ${T.compromisedFor} page as MailrelayAccountCompromised. Needs the project's recording rules.`,
        unit: 'short',
        w: 4,
        h: 8,
        expr: `${recorded(`count(${R.signs}{${ACCOUNT}})`)} or vector(0)`,
        thresholds: thresholds([null, 'green'], [1, 'orange'], [T.compromisedSigns, 'red']),
      }).links([runbookLink('MailrelayAccountCompromised')]),
    )
    .withPanel(
      seriesPanel({
        title: 'External recipients against its usual hour',
        description:
          `External recipients in the last hour, and the account's usual hour (the median, over its last 7 complete days, of each day's busiest hour) ` +
          `times ${T.signExternalRecipientsUsualFactor} (a sign, above ${T.signExternalRecipients}) and times ${T.accountExternalRecipientsUsualFactor} (the page, above ${EXTERNAL_RECIPIENTS_PER_HOUR}). ` +
          `No usual hour for a new account (less than a complete day): only the absolute thresholds apply to it. Needs the project's recording rules.`,
        unit: 'short',
        w: 10,
        h: 8,
        queries: [
          query(recorded(`sum(${R.externalRecipients}{${ACCOUNT}})`), 'last hour'),
          query(recorded(`${T.signExternalRecipientsUsualFactor} * sum(last_over_time(${R.externalRecipientsBaseline}{${ACCOUNT}}[${LATEST_BASELINE}]))`), `${T.signExternalRecipientsUsualFactor}× usual hour (sign)`),
          query(recorded(`${T.accountExternalRecipientsUsualFactor} * sum(last_over_time(${R.externalRecipientsBaseline}{${ACCOUNT}}[${LATEST_BASELINE}]))`), `${T.accountExternalRecipientsUsualFactor}× usual hour (page)`),
        ],
      }).links([runbookLink('MailrelayAccountExternalRecipientsAboveUsual')]),
    )
    .withPanel(
      seriesPanel({
        title: 'Client IPs and recipient domains against their usual peak',
        description:
          `Client IPs and recipient domains within the detection window, and the account's usual peak of each (the median, over its last 7 complete days, of each day's highest) ` +
          `times ${T.accountClientIpsUsualFactor} (client IPs: a sign), ${T.botnetUsualFactor} (client IPs: the botnet page) and ${T.accountRecipientDomainsUsualFactor} (domains: a sign). Needs the project's recording rules.`,
        unit: 'short',
        w: 10,
        h: 8,
        queries: [
          query(recorded(`sum(${R.clientIps}{${ACCOUNT}})`), 'client IPs'),
          query(recorded(`${T.accountClientIpsUsualFactor} * sum(last_over_time(${R.clientIpsBaseline}{${ACCOUNT}}[${LATEST_BASELINE}]))`), `${T.accountClientIpsUsualFactor}× usual client IPs (sign)`),
          query(recorded(`${T.botnetUsualFactor} * sum(last_over_time(${R.clientIpsBaseline}{${ACCOUNT}}[${LATEST_BASELINE}]))`), `${T.botnetUsualFactor}× usual client IPs (botnet page)`),
          query(recorded(`sum(${R.recipientDomains}{${ACCOUNT}})`), 'recipient domains'),
          query(recorded(`${T.accountRecipientDomainsUsualFactor} * sum(last_over_time(${R.recipientDomainsBaseline}{${ACCOUNT}}[${LATEST_BASELINE}]))`), `${T.accountRecipientDomainsUsualFactor}× usual recipient domains (sign)`),
        ],
      }).links([runbookLink('MailrelayAccountManyClientIPs'), runbookLink('MailrelayAccountManyRecipientDomains')]),
    )
    .build();
}

export function exporterDashboard(): dashboard.Dashboard {
  const S = 4;
  return base(
    'Mailrelay / Exporter health',
    UIDS.exporter,
    'Is mailrelay-exporter itself working: reading the logs, keeping up, scanning the queue, within its limits? A detector that silently stops is worse than none.',
    'now-6h',
  )
    .withRow(new dashboard.RowBuilder('Status'))
    .withPanel(
      statPanel({
        title: 'Exporter up',
        description: 'Whether Prometheus can scrape the exporter (lowest of the selected instances).',
        unit: 'none',
        w: S,
        h: 4,
        expr: `min(${m('up')})`,
        thresholds: thresholds([null, 'red'], [1, 'green']),
        mappings: [valueMap({ '0': ['DOWN', 'red'], '1': ['up', 'green'] })],
      }).links([runbookLink('MailrelayExporterDown')]),
    )
    .withPanel(
      statPanel({
        title: 'Failing collectors',
        description: 'Collectors whose last run failed (mailrelay_collector_success = 0).',
        unit: 'short',
        w: S,
        h: 4,
        expr: `count(${m('mailrelay_collector_success')} == 0) or vector(0)`,
        thresholds: OK_RED(1),
      }).links([runbookLink('MailrelayCollectorFailing')]),
    )
    .withPanel(
      statPanel({
        title: 'Config reload',
        description: 'Whether the config in use is the file\'s current content (0 after a failed reload: the old config is kept).',
        unit: 'none',
        w: S,
        h: 4,
        expr: `min(${m('mailrelay_config_last_reload_successful')})`,
        thresholds: thresholds([null, 'red'], [1, 'green']),
        mappings: [valueMap({ '0': ['FAILED', 'red'], '1': ['ok', 'green'] })],
      }),
    )
    .withPanel(
      statPanel({
        title: 'Log lag',
        description: 'Bytes written to the SMTP log files and not read yet. Growing lag: the exporter cannot keep up.',
        unit: 'bytes',
        w: S,
        h: 4,
        expr: `sum(${m('mailrelay_log_lag_bytes')})`,
        thresholds: thresholds([null, 'green'], [1 << 20, 'orange'], [64 << 20, 'red']),
      }).links([runbookLink('MailrelayLogLagGrowing')]),
    )
    .withPanel(
      statPanel({
        title: 'Since last log line',
        description: 'Wall-clock time minus the log time of the last line read. On a busy server more than a few minutes means the logs stopped or moved.',
        unit: 's',
        w: S,
        h: 4,
        expr: `time() - max(${m('mailrelay_log_last_line_timestamp_seconds')})`,
        thresholds: thresholds([null, 'green'], [300, 'orange'], [900, 'red']),
      }).links([runbookLink('MailrelayLogSilent')]),
    )
    .withPanel(
      statPanel({
        title: 'Accounts tracked',
        description: 'Accounts with their own series. Near limits.max_accounts, new accounts go to __overflow__.',
        unit: 'short',
        w: S,
        h: 4,
        expr: `sum(${m('mailrelay_accounts_tracked')})`,
      }),
    )
    .withRow(new dashboard.RowBuilder('Log pipeline'))
    .withPanel(
      seriesPanel({
        title: 'Log lines read',
        description: 'SMTP log lines read per second, parsed or not.',
        unit: 'cps',
        w: 8,
        h: 8,
        queries: [query(`sum by (instance) (rate(${m('mailrelay_log_lines_total')}[${RI}]))`, '{{instance}}')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Log bytes read',
        description: 'SMTP log bytes read per second.',
        unit: 'Bps',
        w: 8,
        h: 8,
        queries: [query(`sum by (instance) (rate(${m('mailrelay_log_bytes_total')}[${RI}]))`, '{{instance}}')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Log lag per instance',
        description: 'Bytes written to the log files and not read yet, per instance.',
        unit: 'bytes',
        w: 8,
        h: 8,
        queries: [query(`sum by (instance) (${m('mailrelay_log_lag_bytes')})`, '{{instance}}')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Unparsed lines',
        description: 'Share of log lines that are not in the IceWarp line layout. A jump means the log format changed and detection is going blind.',
        unit: 'percentunit',
        w: 8,
        h: 8,
        queries: [
          query(
            `sum by (instance) (rate(${m('mailrelay_log_unparsed_lines_total')}[${RI}])) / sum by (instance) (rate(${m('mailrelay_log_lines_total')}[${RI}]))`,
            '{{instance}}',
          ),
        ],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Log files opened and truncated',
        description: 'Log files opened (rotation) and files found shorter than the saved offset (truncated or replaced), per second.',
        unit: 'cps',
        w: 8,
        h: 8,
        queries: [
          query(`sum by (instance) (rate(${m('mailrelay_log_files_opened_total')}[${RI}]))`, 'opened {{instance}}'),
          query(`sum by (instance) (rate(${m('mailrelay_log_truncations_total')}[${RI}]))`, 'truncated {{instance}}'),
        ],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Account overflow',
        description: 'Events counted under account="__overflow__" per second because the account limits were full. Non-zero: raise limits.max_accounts or the per-account panels miss accounts.',
        unit: 'cps',
        w: 8,
        h: 8,
        queries: [query(`sum by (instance) (rate(${m('mailrelay_accounts_overflow_total')}[${RI}]))`, '{{instance}}')],
      }).links([runbookLink('MailrelayAccountsOverflow')]),
    )
    .withRow(new dashboard.RowBuilder('Collectors and config'))
    .withPanel(
      seriesPanel({
        title: 'Collector success',
        description: 'Per collector, 1 when its last run worked, 0 when it failed (the scrape still answers).',
        unit: 'none',
        w: 8,
        h: 8,
        queries: [query(`min by (collector) (${m('mailrelay_collector_success')})`, '{{collector}}')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Collector duration',
        description: 'Duration of each collector\'s last run. The spool scan grows with the queue.',
        unit: 's',
        w: 8,
        h: 8,
        queries: [query(`max by (collector) (${m('mailrelay_collector_duration_seconds')})`, '{{collector}}')],
      }),
    )
    .withPanel(
      seriesPanel({
        title: 'Config reload successful',
        description: '1 when the config in use is the file\'s current content, 0 after a failed reload (the old config stays in use).',
        unit: 'none',
        w: 8,
        h: 8,
        queries: [query(`min by (instance) (${m('mailrelay_config_last_reload_successful')})`, '{{instance}}')],
      }),
    )
    .withPanel(
      tablePanel({
        title: 'Versions',
        description: 'The exporter and Node.js versions running on each instance.',
        unit: 'short',
        w: 24,
        h: 5,
        labels: ['instance', 'version', 'nodejs_version'],
        columns: [{ name: 'Running', expr: `max by (instance, version, nodejs_version) (${m('mailrelay_build_info')})`, unit: 'none' }],
      }),
    )
    .build();
}

/** Every dashboard, by file name, with panel ids and refIds filled in (stable: by position). */
export function buildDashboards(): Record<string, dashboard.Dashboard> {
  return {
    'mailrelay-overview.json': finish(overviewDashboard()),
    'mailrelay-account.json': finish(accountDashboard()),
    'mailrelay-exporter.json': finish(exporterDashboard()),
  };
}

interface BuiltPanel {
  id?: number;
  type?: string;
  targets?: { refId?: string }[];
  panels?: BuiltPanel[];
}

function finish(d: dashboard.Dashboard): dashboard.Dashboard {
  let id = 1;
  const visit = (p: BuiltPanel): void => {
    p.id = id++;
    p.targets?.forEach((t, i) => {
      if (!t.refId) t.refId = String.fromCharCode(65 + i);
    });
    p.panels?.forEach(visit);
  };
  ((d.panels ?? []) as BuiltPanel[]).forEach(visit);
  return d;
}

/** The committed JSON text of a dashboard: 2-space indent, trailing newline. */
export function renderDashboard(d: dashboard.Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
