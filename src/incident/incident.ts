// What the incident console shows, as plain data (also served as JSON for
// scripts): which accounts look stolen now, by the exporter's own windows of
// log time and the alert rules' thresholds; the queued senders each account
// produced; the queue; the active checks; and, for a suspicious account, the
// runbook's commands filled in for the MTA. Built afresh for every request
// from the running features' state; never stored.
import type { AccountBook, AccountStats, AccountWindows } from '../accounts/book.js';
import { OVERFLOW } from '../accounts/book.js';
import type { SenderCount } from '../accounts/senders.js';
import { MTAS } from '../mtas.js';
import type { DnsblListing } from '../probes/dnsbl.js';
import type { RelayProbeResult } from '../probes/smtpProbe.js';
import type { RunbookStep } from '../runbook.js';
import type { SpoolSnapshot } from '../spool/summary.js';
import {
  accountSigns,
  HISTORY_NOTE,
  OPEN_RELAY_MINUTES,
  openRelaySign,
  QUEUE_DOMINATED_LIMIT,
  queueDominatedBy,
  THRESHOLDS_SOURCE,
  VERDICT_RULE,
  verdictOf,
  type SignCheck,
  type Verdict,
} from './thresholds.js';

/** The running features' state the console reads; a feature that is off is absent. */
export interface IncidentSources {
  log?: { book: AccountBook; mta: string };
  queue?: { snapshot: SpoolSnapshot; mta: string; location: string; kind: 'folder' | 'command'; instance?: string };
  dnsbl?: { listings: DnsblListing[]; lastCheck: number | undefined };
  relayProbe?: { results: RelayProbeResult[] };
}

export interface IncidentOptions {
  /** Wall-clock time of the request. */
  now: Date;
  /** How the runbook's commands run this exporter (`mailrelay-exporter`; the demo's `node …/main.js`). */
  exporterCommand: string;
  /** Most accounts listed (suspicious ones always are). */
  maxAccounts?: number;
  /** What keeps the exporter from seeing anything (a configured folder missing), each naming its config key. */
  problems?: string[];
}

export interface QueuedSender {
  sender: string;
  messages: number;
  /** How it links to the account: a MAIL FROM the account used, or the account's own address. */
  via: 'envelope_sender' | 'account';
}

export interface AccountIncident {
  account: string;
  /** suspicious (the runbook is filled in), watch (one warning sign), ok. */
  verdict: Verdict;
  suspicious: boolean;
  /** Every sign with its value and threshold; `above` marks the ones over it. */
  signs: SignCheck[];
  windows: AccountWindows;
  /** Share (0..1) of the last hour's messages with a foreign MAIL FROM; undefined without messages. */
  foreignSenderShare1h: number | undefined;
  /** ISO log time of its latest message (minute), if it sent in the last hour. */
  lastMessageMinute: string | undefined;
  totals: { logins: number; authFailures: number; messages: number; externalRecipients: number; localRecipients: number; foreignSenderMessages: number };
  /** The envelope senders it used, most recipients first, with their messages in the queue. */
  senders: (SenderCount & { queuedMessages: number | undefined })[];
  /** The queued senders it produced: its envelope senders in the queue, and its own address. */
  queuedSenders: QueuedSender[];
  /** For a suspicious account: the runbook, filled in. */
  response: RunbookStep[] | undefined;
}

export interface Incident {
  /** Wall clock of this answer, ISO 8601. */
  generatedAt: string;
  mta: string | undefined;
  /** What keeps the exporter from seeing anything now (a configured folder missing), naming the config key: shown first. */
  problems: string[];
  thresholds: { source: string; note: string; verdicts: string };
  /** undefined when no logs are read. */
  logs:
    | {
        /** Log time of the latest line: the end of every window. */
        asOf: string | undefined;
        /** Wall clock minus that, seconds (a clock or time-zone error shows here as well as a silent log). */
        behindSeconds: number | undefined;
        /** Accounts listed: those with a message or a login within the last hour of log time, suspicious first. */
        accounts: AccountIncident[];
        /** Accounts with recent activity left out of `accounts` (beyond maxAccounts). */
        accountsNotShown: number;
        openRelay: SignCheck;
        unauthenticatedRelayRecipientsTotal: number;
      }
    | undefined;
  queue:
    | {
        location: string;
        folders: { folder: string; queue: string; messages: number; bytes: number; oldestAgeSeconds: number }[];
        outgoingMessages: number;
        distinctSenders: number;
        largestSameSize: { outgoing: number; incoming: number };
        topSenders: { sender: string; messages: number; share: number; dominant: boolean; accounts: string[] }[];
        dominatedLimit: string;
      }
    | undefined;
  dnsbl: { lastCheck: string | undefined; checked: number; listed: DnsblListing[] } | undefined;
  relayProbe: { results: RelayProbeResult[] } | undefined;
}

const HOUR = 3600;
const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString();

export function buildIncident(src: IncidentSources, opts: IncidentOptions): Incident {
  const mtaName = src.log?.mta ?? src.queue?.mta;
  const mta = MTAS.find((m) => m.name === mtaName);
  const snapshot = src.queue?.snapshot;
  const outgoing = snapshot ? snapshot.folders.filter((f) => f.queue === 'outgoing').reduce((n, f) => n + f.messages, 0) : 0;
  const queued = new Map((snapshot?.topSenders ?? []).map((t) => [t.sender, t.messages]));

  let logs: Incident['logs'];
  /** Queued sender → the accounts it links to. */
  const accountsOf = new Map<string, string[]>();
  if (src.log) {
    const { book } = src.log;
    const listed: AccountIncident[] = [];
    for (const [account, stats] of book.accountEntries()) {
      const a = describeAccount(book, account, stats, queued);
      if (a) listed.push(a);
    }
    listed.sort(worstFirst);
    const max = opts.maxAccounts ?? 50;
    const shown = listed.filter((a, i) => a.verdict !== 'ok' || i < max);
    for (const a of shown) {
      for (const q of a.queuedSenders) accountsOf.set(q.sender, [...(accountsOf.get(q.sender) ?? []), a.account]);
      if (a.suspicious && mta && a.account !== OVERFLOW) {
        const forged = a.queuedSenders.filter((q) => q.via === 'envelope_sender' && q.sender !== a.account);
        const quarantine = forged.length > 0 ? forged : a.queuedSenders.filter((q) => q.sender === a.account);
        a.response = mta.stolenAccountSteps({
          account: a.account,
          quarantineSenders: quarantine.slice(0, 10).map((q) => q.sender),
          quarantinesAccountItself: quarantine.some((q) => q.sender === a.account),
          queue: src.queue ? { location: src.queue.location, kind: src.queue.kind, instance: src.queue.instance } : undefined,
          exporterCommand: opts.exporterCommand,
        });
      }
    }
    const now = book.now > 0 ? book.now : undefined;
    logs = {
      asOf: now === undefined ? undefined : iso(now),
      behindSeconds: now === undefined ? undefined : Math.round(opts.now.getTime() / 1000 - now),
      accounts: shown,
      accountsNotShown: listed.length - shown.length,
      openRelay: openRelaySign(book.unauthenticatedRelayRecent.lastMinutes(book.now, OPEN_RELAY_MINUTES).externalRecipients),
      unauthenticatedRelayRecipientsTotal: book.unauthenticatedRelayRecipients,
    };
  }

  return {
    generatedAt: opts.now.toISOString(),
    mta: mtaName,
    problems: opts.problems ?? [],
    thresholds: { source: THRESHOLDS_SOURCE, note: HISTORY_NOTE, verdicts: VERDICT_RULE },
    logs,
    queue:
      snapshot && src.queue
        ? {
            location: src.queue.location,
            folders: snapshot.folders.map((f) => ({ folder: f.folder, queue: f.queue, messages: f.messages, bytes: f.bytes, oldestAgeSeconds: f.oldestAgeSeconds })),
            outgoingMessages: outgoing,
            distinctSenders: snapshot.distinctSenders,
            largestSameSize: { ...snapshot.largestSameSize },
            topSenders: snapshot.topSenders.map((t) => ({
              sender: t.sender,
              messages: t.messages,
              share: outgoing > 0 ? t.messages / outgoing : 0,
              dominant: queueDominatedBy(t.messages, outgoing),
              accounts: accountsOf.get(t.sender) ?? [],
            })),
            dominatedLimit: QUEUE_DOMINATED_LIMIT,
          }
        : undefined,
    dnsbl: src.dnsbl
      ? {
          lastCheck: src.dnsbl.lastCheck === undefined ? undefined : iso(src.dnsbl.lastCheck),
          checked: src.dnsbl.listings.length,
          listed: src.dnsbl.listings.filter((l) => l.listed),
        }
      : undefined,
    relayProbe: src.relayProbe ? { results: src.relayProbe.results } : undefined,
  };
}

/** One account's part, or undefined when it had neither a message nor a login in the last hour. */
function describeAccount(book: AccountBook, account: string, stats: AccountStats, queued: ReadonlyMap<string, number>): AccountIncident | undefined {
  const windows = book.windows(stats);
  const lastMinute = stats.recent.lastMinute;
  const recentMessage = lastMinute !== undefined && lastMinute > book.now - HOUR;
  if (!recentMessage && windows.clientIps === 0) return undefined;
  const signs = accountSigns(windows);
  const verdict = verdictOf(signs);
  const senders = stats.senders.top().map((s) => ({ ...s, queuedMessages: queued.get(s.sender) }));
  const queuedSenders: QueuedSender[] = senders
    .filter((s) => s.queuedMessages !== undefined)
    .map((s) => ({ sender: s.sender, messages: s.queuedMessages!, via: 'envelope_sender' as const }));
  const own = queued.get(account);
  if (own !== undefined && !queuedSenders.some((q) => q.sender === account)) queuedSenders.push({ sender: account, messages: own, via: 'account' });
  queuedSenders.sort((a, b) => b.messages - a.messages);
  return {
    account,
    verdict,
    suspicious: verdict === 'suspicious',
    signs,
    windows,
    foreignSenderShare1h: windows.messages1h > 0 ? windows.foreignSenderMessages1h / windows.messages1h : undefined,
    lastMessageMinute: recentMessage ? iso(lastMinute) : undefined,
    totals: {
      logins: stats.logins,
      authFailures: stats.authFailures,
      messages: stats.messages,
      externalRecipients: stats.externalRecipients,
      localRecipients: stats.localRecipients,
      foreignSenderMessages: stats.foreignSenderMessages,
    },
    senders,
    queuedSenders,
    response: undefined,
  };
}

const SEVERITY = { critical: 2, warning: 1 } as const;

const RANK: Record<Verdict, number> = { suspicious: 2, watch: 1, ok: 0 };

/** Suspicious, then watch (critical signs, then more signs), then the most external recipients in the last 5 minutes, then the hour. */
export function worstFirst(a: AccountIncident, b: AccountIncident): number {
  const weight = (x: AccountIncident) => x.signs.reduce((n, s) => n + (s.above ? 10 * SEVERITY[s.severity] : 0), 0);
  return (
    RANK[b.verdict] - RANK[a.verdict] ||
    weight(b) - weight(a) ||
    b.windows.externalRecipients5m - a.windows.externalRecipients5m ||
    b.windows.externalRecipients1h - a.windows.externalRecipients1h ||
    (a.account < b.account ? -1 : a.account > b.account ? 1 : 0)
  );
}
