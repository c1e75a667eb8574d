// The incident console: the landing page as HTML. One self-contained page (no
// external assets, works offline), one column that fits a phone, every value
// from the logs or the queue escaped (they are chosen by attackers), and a
// Content-Security-Policy that lets only this page's own style and script run.
import { createHash } from 'node:crypto';
import type { AccountIncident, Incident } from '../incident/incident.js';
import type { SignCheck } from '../incident/thresholds.js';

export const REFRESH_SECONDS = 30;

export interface ConsolePage {
  version: string;
  telemetryPath: string;
  apiPath: string;
  /** A line shown at the top (the demo says what it simulates). */
  notice?: string;
}

const STYLE = `
:root{color-scheme:light dark;--bad:#c62828;--warn:#b26a00;--good:#2e7d32;--line:#8884;--soft:#8881}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:.8em;max-width:60em;overflow-wrap:anywhere}
h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid var(--line)}h3{font-size:1.05em;margin:.2em 0 .5em}h4{font-size:.95em;margin:.9em 0 .3em}
p{margin:.4em 0}.muted{opacity:.75;font-size:.9em}
.notice{border:1px dashed var(--line);padding:.5em .7em;border-radius:6px}
.verdict{padding:.6em .8em;border-radius:6px;font-weight:600;color:#fff;background:var(--good)}.verdict.bad{background:var(--bad)}
.verdict a{color:#fff}
.account{border:1px solid var(--line);border-radius:8px;padding:.7em .8em;margin:.7em 0}
.account.suspicious{border:2px solid var(--bad)}
.account.watch{border:2px solid var(--warn)}
.badge{display:inline-block;background:var(--bad);color:#fff;border-radius:4px;padding:0 .4em;font-size:.8em;vertical-align:middle;margin-right:.3em}.badge.watch{background:var(--warn)}
.numbers{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5em,1fr));gap:.3em;margin:.4em 0}
.numbers div{background:var(--soft);border-radius:5px;padding:.25em .45em}
.numbers dt{font-size:.78em;opacity:.8}.numbers dd{margin:0;font-weight:600;font-size:1.05em}
.signs{list-style:none;padding:0;margin:.3em 0}.signs li{padding:.15em 0 .15em 1.4em;text-indent:-1.4em}
.signs .above b{color:var(--bad)}.signs .above::before{content:"▲ ";color:var(--bad)}.signs .below::before{content:"· ";opacity:.6}
.signs .alert{font-size:.8em;opacity:.8}
.quiet{list-style:none;padding:0;margin:.3em 0}.quiet li{border-bottom:1px solid var(--line);padding:.3em 0}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.3em 0}
th,td{border-bottom:1px solid var(--line);padding:.25em .35em;text-align:left;vertical-align:top}
th{font-size:.85em;font-weight:600;overflow-wrap:normal}td.n,th.n{text-align:right;width:6.2em}
tr.dominant td{color:var(--bad);font-weight:600}
ol.steps{padding-left:1.3em}ol.steps li{margin:.5em 0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--soft);border:1px solid var(--line);border-radius:5px;padding:.45em .6em;margin:.3em 0;font-size:.88em}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
button{font:inherit;font-size:.85em}
footer{margin-top:2em;border-top:1px solid var(--line);padding-top:.6em}
`;

// Reloads every REFRESH_SECONDS unless paused, or while text is selected (someone copying a command).
const SCRIPT = `(function(){var paused=false,b=document.getElementById("pause"),s=document.getElementById("refresh");if(!b||!s)return;b.hidden=false;b.addEventListener("click",function(){paused=!paused;b.textContent=paused?"resume":"pause";s.textContent=paused?"auto-refresh paused":"refreshes every ${REFRESH_SECONDS} s";});setInterval(function(){var sel=window.getSelection&&window.getSelection();if(!paused&&!(sel&&String(sel).length>0))location.reload();},${REFRESH_SECONDS * 1000});})();`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own style and script; nothing loads from anywhere, nothing frames it. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Text from logs and queues is chosen by attackers: always escape, in text and in attributes. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const num = (n: number): string => n.toLocaleString('en-US');
const pct = (x: number | undefined): string => (x === undefined ? '–' : `${Math.round(x * 100)}%`);

function clock(isoTime: string | undefined): string {
  return isoTime === undefined ? 'none yet' : `${isoTime.slice(0, 19).replace('T', ' ')} UTC`;
}

function ago(seconds: number): string {
  const s = Math.abs(seconds);
  const text = s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
  return seconds >= 0 ? `${text} behind the clock` : `${text} ahead of the clock`;
}

export function renderConsole(incident: Incident, page: ConsolePage): string {
  const logs = incident.logs;
  const suspicious = logs?.accounts.filter((a) => a.suspicious) ?? [];
  const ids = new Map(logs?.accounts.map((a, i) => [a.account, `account-${i + 1}`]) ?? []);
  const link = (account: string): string => {
    const id = ids.get(account);
    return id ? `<a href="#${id}">${esc(account)}</a>` : esc(account);
  };
  const title = suspicious.length > 0 ? `${suspicious.length} suspicious account${suspicious.length > 1 ? 's' : ''}` : 'no suspicious account';

  const parts: string[] = [];
  parts.push(`<header>
<h1>mailrelay-exporter: incident console</h1>
<p class="muted">Log time ${esc(clock(logs?.asOf))}${logs?.behindSeconds !== undefined ? ` (${esc(ago(logs.behindSeconds))})` : ''} · page at ${esc(clock(incident.generatedAt))}${incident.mta ? ` · ${esc(incident.mta)}` : ''} · <span id="refresh">refreshes every ${REFRESH_SECONDS} s</span> <button id="pause" type="button" hidden>pause</button></p>
${page.notice ? `<p class="notice">${esc(page.notice)}</p>` : ''}
</header>`);

  if (incident.problems.length > 0) {
    parts.push(`<div class="verdict bad"><p>The exporter cannot see everything:</p><ul>${incident.problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul></div>`);
  }
  parts.push(verdict(incident, suspicious, link));
  if (logs) parts.push(accountsSection(logs, ids));
  else parts.push('<h2>Accounts</h2>\n<p>The SMTP logs are not read: set the MTA\'s log folder in the config (e.g. <code>icewarp.log_directory</code>).</p>');
  parts.push(queueSection(incident, link));
  parts.push(checksSection(incident));
  parts.push(`<footer class="muted">
<p>Signs are judged against ${esc(incident.thresholds.source)}: the same numbers as the alert rules. ${esc(incident.thresholds.verdicts)} ${esc(incident.thresholds.note)}</p>
<p>Windows are in log time: the last 5 minutes are the current minute and the 4 before it.</p>
<p><a href="${esc(page.telemetryPath)}">Metrics</a> · <a href="${esc(page.apiPath)}">this page as JSON</a> · <a href="/-/ready">readiness</a> · mailrelay-exporter ${esc(page.version)}</p>
</footer>`);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="${REFRESH_SECONDS}"></noscript>
<title>${esc(title)} · mailrelay-exporter</title>
<style>${STYLE}</style>
</head>
<body>
${parts.join('\n')}
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function verdict(incident: Incident, suspicious: AccountIncident[], link: (a: string) => string): string {
  const alarms: string[] = [];
  if (suspicious.length > 0) alarms.push(`Looks stolen: ${suspicious.map((a) => link(a.account)).join(', ')}. Its commands are below.`);
  const relay = incident.logs?.openRelay;
  if (relay?.above) alarms.push(`Open relay: ${num(relay.value)} ${esc(relay.what)}.`);
  const listed = incident.dnsbl?.listed ?? [];
  if (listed.length > 0) alarms.push(`Blacklisted: ${listed.map((l) => `${esc(l.ip)} on ${esc(l.zone)}`).join(', ')}.`);
  const openProbe = incident.relayProbe?.results.filter((r) => r.accepted) ?? [];
  if (openProbe.length > 0) alarms.push(`The relay probe was accepted by ${openProbe.map((r) => esc(r.target)).join(', ')}.`);
  const dominant = incident.queue?.topSenders.filter((t) => t.dominant) ?? [];
  if (dominant.length > 0) alarms.push(`The outgoing queue is held by ${dominant.map((t) => `<a href="#queue">${esc(t.sender)}</a>`).join(', ')}.`);
  if (alarms.length === 0) return '<p class="verdict">No sign above its threshold.</p>';
  return `<div class="verdict bad">${alarms.map((a) => `<p>${a}</p>`).join('')}</div>`;
}

function accountsSection(logs: NonNullable<Incident['logs']>, ids: Map<string, string>): string {
  const out = ['<h2 id="accounts">Accounts active in the last hour</h2>'];
  if (logs.accounts.length === 0) out.push('<p>No account sent a message or logged in within the last hour of log time.</p>');
  const quiet = logs.accounts.filter((a) => a.verdict === 'ok');
  for (const a of logs.accounts.filter((x) => x.verdict !== 'ok')) out.push(accountCard(a, ids.get(a.account)!));
  if (quiet.length > 0) {
    out.push(`<h3>Below every threshold</h3>
<ul class="quiet">
${quiet
  .map(
    (a) =>
      `<li id="${ids.get(a.account)!}"><b>${esc(a.account)}</b><br><span class="muted">external recipients ${num(a.windows.externalRecipients5m)} in 5 min, ${num(a.windows.externalRecipients1h)} in 1 h · ${num(a.windows.clientIps)} IPs · ${num(a.windows.recipientDomains)} domains · foreign sender ${pct(a.foreignSenderShare1h)}</span>${queuedList(a)}</li>`,
  )
  .join('\n')}
</ul>`);
  }
  if (logs.accountsNotShown > 0) out.push(`<p class="muted">${num(logs.accountsNotShown)} more accounts with recent activity, all below every threshold, are not listed.</p>`);
  return out.join('\n');
}

/** For a quiet account: its queued senders, in a line. */
function queuedList(a: AccountIncident): string {
  if (a.queuedSenders.length === 0) return '';
  return `<br><span class="muted">queued: ${a.queuedSenders.map((q) => `${esc(q.sender)} (${num(q.messages)})`).join(', ')}</span>`;
}

function signItem(s: SignCheck): string {
  return `<li class="${s.above ? 'above' : 'below'}"><b>${num(s.value)}</b> ${esc(s.what)} (threshold ${esc(s.limit)}) <a class="alert" href="${esc(s.runbook)}">${esc(s.alert)}</a></li>`;
}

function accountCard(a: AccountIncident, id: string): string {
  const w = a.windows;
  const numbers: [string, string][] = [
    ['external recipients, 5 min', num(w.externalRecipients5m)],
    ['external recipients, 1 h', num(w.externalRecipients1h)],
    ['external recipients, 24 h', num(w.externalRecipients24h)],
    ['client IPs', num(w.clientIps)],
    ['recipient domains', num(w.recipientDomains)],
    ['foreign sender, 1 h', `${pct(a.foreignSenderShare1h)} of ${num(w.messages1h)}`],
  ];
  const queued =
    a.queuedSenders.length > 0
      ? `<table>
<tr><th>queued sender</th><th class="n">messages</th><th>link</th></tr>
${a.queuedSenders.map((q) => `<tr><td>${esc(q.sender)}</td><td class="n">${num(q.messages)}</td><td>${q.via === 'account' ? 'the account itself' : 'its MAIL FROM'}</td></tr>`).join('\n')}
</table>`
      : '<p>None of its senders is among the queue\'s top senders.</p>';
  const senders =
    a.senders.length > 0
      ? `<table>
<tr><th>MAIL FROM</th><th class="n">recipients</th><th class="n">queued</th></tr>
${a.senders.map((s) => `<tr><td>${esc(s.sender)}</td><td class="n">${num(s.recipients)}</td><td class="n">${s.queuedMessages === undefined ? '–' : num(s.queuedMessages)}</td></tr>`).join('\n')}
</table>`
      : '<p>No message yet.</p>';
  const steps = a.response
    ? `<h4>What to do, in this order</h4>
<ol class="steps">
${a.response
  .map(
    (s) =>
      `<li><p>${esc(s.title)}</p>${s.commands.map((c) => `<pre><code>${esc(c)}</code></pre>`).join('')}${s.note ? `<p class="muted">${esc(s.note)}</p>` : ''}</li>`,
  )
  .join('\n')}
</ol>`
    : '';
  return `<article class="account ${a.verdict}" id="${id}">
<h3><span class="badge ${a.verdict}">${a.verdict === 'suspicious' ? 'suspicious' : 'watch'}</span> <span class="name">${esc(a.account)}</span></h3>
<dl class="numbers">${numbers.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>
<ul class="signs">
${a.signs.map(signItem).join('\n')}
</ul>
<h4>Queued senders it produced</h4>
${queued}
<h4>Envelope senders it used</h4>
${senders}
<p class="muted">Since the exporter started: ${num(a.totals.logins)} logins, ${num(a.totals.authFailures)} failed, ${num(a.totals.messages)} messages, ${num(a.totals.externalRecipients)} external and ${num(a.totals.localRecipients)} local recipients.</p>
${steps}
</article>`;
}

function queueSection(incident: Incident, link: (a: string) => string): string {
  const q = incident.queue;
  if (!q) return '<h2 id="queue">Queue</h2>\n<p>The mail queue is not read: set the MTA\'s queue in the config (e.g. <code>icewarp.mail_directory</code>).</p>';
  const folders = q.folders
    .map((f) => `<tr><td>${esc(f.folder)}</td><td class="n">${num(f.messages)}</td><td class="n">${f.messages > 0 ? esc(age(f.oldestAgeSeconds)) : '–'}</td></tr>`)
    .join('\n');
  const senders = q.topSenders
    .map(
      (t) =>
        `<tr${t.dominant ? ' class="dominant"' : ''}><td>${esc(t.sender)}</td><td class="n">${num(t.messages)}</td><td class="n">${pct(t.share)}</td><td>${t.accounts.length > 0 ? t.accounts.map(link).join(', ') : '–'}</td></tr>`,
    )
    .join('\n');
  return `<h2 id="queue">Queue</h2>
<p class="muted">${esc(q.location)}: ${num(q.outgoingMessages)} outgoing messages from ${num(q.distinctSenders)} senders; the largest group of one size holds ${num(q.largestSameSize.outgoing)}.</p>
<h3>By folder</h3>
<table>
<tr><th>folder</th><th class="n">messages</th><th class="n">oldest</th></tr>
${folders}
</table>
<h3>By sender</h3>
<table>
<tr><th>original sender</th><th class="n">messages</th><th class="n">share</th><th>sent by</th></tr>
${senders || '<tr><td colspan="4">The outgoing queue is empty.</td></tr>'}
</table>
<p class="muted">"Sent by": the accounts listed above that used the sender as MAIL FROM, or whose own address it is. In red: a sender that holds the queue (${esc(q.dominatedLimit)}).</p>`;
}

function age(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

function checksSection(incident: Incident): string {
  const out = ['<h2 id="checks">Active checks</h2>'];
  const d = incident.dnsbl;
  if (!d) out.push('<p>DNSBL: not configured (<code>dnsbl.ips</code>).</p>');
  else if (d.lastCheck === undefined) out.push('<p>DNSBL: the first round is running.</p>');
  else if (d.listed.length === 0) out.push(`<p>DNSBL: not listed (${num(d.checked)} lookups, last at ${esc(clock(d.lastCheck))}).</p>`);
  else
    out.push(`<p>DNSBL, last at ${esc(clock(d.lastCheck))}:</p>
<table><tr><th>IP</th><th>zone</th><th>answer</th></tr>
${d.listed.map((l) => `<tr class="dominant"><td>${esc(l.ip)}</td><td>${esc(l.zone)}</td><td>${esc(l.answer)}</td></tr>`).join('\n')}
</table>`);
  const r = incident.relayProbe;
  if (!r) out.push('<p>Open-relay probe: not configured (<code>relay_probe.targets</code>).</p>');
  else if (r.results.length === 0) out.push('<p>Open-relay probe: the first round is running.</p>');
  else
    out.push(`<table><tr><th>relay probe target</th><th>result</th></tr>
${r.results
  .map(
    (x) =>
      `<tr${x.accepted ? ' class="dominant"' : ''}><td>${esc(x.target)}</td><td>${esc(!x.success ? `probe failed: ${x.error ?? ''}` : x.accepted ? `OPEN RELAY: ${x.rcptReply ?? ''}` : `closed: ${x.rcptReply ?? ''}`)}</td></tr>`,
  )
  .join('\n')}
</table>`);
  return out.join('\n');
}
