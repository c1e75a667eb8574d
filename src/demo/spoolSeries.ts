// The spool collector's series for a scenario, step by step, without writing a
// queue: a model of IceWarp's outgoing queue. Legitimate mail passes through
// `_outgoing` within minutes, a few undeliverable messages wait in `retry`;
// a queue flood (a stolen account's spam to dead addresses) fills `_outgoing`
// and then `retry` with copies of one size from one original sender. Names
// and labels are the spool collector's (../shared/spec/metrics.md), so the
// rules read them as they read a live exporter.
import { labelPair } from '../collectors/registry.js';
import { seededRandom } from './random.js';

export interface QueueFlood {
  startSecond: number;
  endSecond?: number;
  /** The spam's original sender, as the queue records it. */
  sender: string;
  messagesPerMinute: number;
}

export interface SpoolSeriesOptions {
  seed: number;
  /** Unix seconds of the first step. */
  start: number;
  durationSeconds: number;
  stepSeconds: number;
  flood?: QueueFlood;
}

export interface SpoolSample {
  name: string;
  /** Rendered label text without braces. */
  labels: string;
  value: number;
}

const LEGIT_SENDERS = ['info@domaine.com', 'compta@domaine.com', 'direction@domaine.com', 'newsletter@domaine.com'];
const OUTGOING = labelPair('queue', 'outgoing');

/** Yields the spool samples of every step: unix time and the samples at that time. */
export function* spoolSeries(opts: SpoolSeriesOptions): Generator<{ time: number; samples: SpoolSample[] }> {
  const rand = seededRandom(opts.seed);
  const step = opts.stepSeconds;
  // Legitimate mail: what waits in each folder, and since when (unix s), by sender.
  let outgoing = 2;
  let retry = 8;
  let retryOldest = opts.start - 6 * 3600;
  let spamOutgoing = 0;
  let spamRetry = 0;
  let spamOldest: number | undefined;
  for (let offset = 0; offset <= opts.durationSeconds; offset += step) {
    const time = opts.start + offset;
    // A random walk that stays small: mail comes and goes within minutes.
    outgoing = Math.max(0, Math.min(12, outgoing + Math.floor(rand() * 3) - 1));
    if (rand() < 0.02 * (step / 60)) retry = Math.max(3, Math.min(20, retry + (rand() < 0.5 ? 1 : -1)));
    if (rand() < 0.002 * (step / 60)) retryOldest = time - Math.floor(rand() * 12 * 3600);
    const f = opts.flood;
    if (f && offset >= f.startSecond && offset < (f.endSecond ?? Infinity)) {
      const arrived = Math.round((f.messagesPerMinute * step) / 60);
      // IceWarp tries each message at once; the dead addresses send it to retry a few minutes later.
      const toRetry = Math.round(spamOutgoing * 0.4);
      spamOutgoing += arrived - toRetry;
      spamRetry += toRetry;
      spamOldest ??= time;
    } else if (spamOutgoing > 0) {
      const toRetry = Math.ceil(spamOutgoing * 0.4);
      spamOutgoing -= toRetry;
      spamRetry += toRetry;
    }
    const legitBySender = LEGIT_SENDERS.map((_, i) => Math.floor((outgoing + retry) / LEGIT_SENDERS.length) + (i < (outgoing + retry) % LEGIT_SENDERS.length ? 1 : 0));
    const samples: SpoolSample[] = [
      { name: 'mailrelay_spool_messages', labels: `${OUTGOING},${labelPair('folder', '_outgoing')}`, value: outgoing + spamOutgoing },
      { name: 'mailrelay_spool_messages', labels: `${OUTGOING},${labelPair('folder', '_outgoing/retry')}`, value: retry + spamRetry },
      { name: 'mailrelay_spool_deferred_messages', labels: '', value: retry + spamRetry },
      {
        name: 'mailrelay_spool_oldest_message_age_seconds',
        labels: `${OUTGOING},${labelPair('folder', '_outgoing')}`,
        value: outgoing + spamOutgoing > 0 ? 60 + Math.floor(rand() * 240) : 0,
      },
      {
        name: 'mailrelay_spool_oldest_message_age_seconds',
        labels: `${OUTGOING},${labelPair('folder', '_outgoing/retry')}`,
        value: time - Math.min(retryOldest, spamOldest ?? Infinity),
      },
      { name: 'mailrelay_spool_senders', labels: '', value: LEGIT_SENDERS.length + (spamOutgoing + spamRetry > 0 ? 1 : 0) },
      {
        name: 'mailrelay_spool_largest_same_size_messages',
        labels: OUTGOING,
        value: Math.max(spamOutgoing + spamRetry, Math.min(2, outgoing + retry)),
      },
      ...LEGIT_SENDERS.map((sender, i) => ({ name: 'mailrelay_spool_sender_messages', labels: labelPair('sender', sender), value: legitBySender[i]! })),
    ];
    if (f && spamOutgoing + spamRetry > 0) {
      samples.push({ name: 'mailrelay_spool_sender_messages', labels: labelPair('sender', f.sender), value: spamOutgoing + spamRetry });
    }
    yield { time, samples };
  }
}
