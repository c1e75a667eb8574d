// The envelope senders (MAIL FROM) one account used, with the accepted
// recipients of each: the link between a stolen account and the forged
// senders its spam sits under in the queue.
//
// Attackers choose MAIL FROM, so only a handful are kept per account: the
// Space-Saving algorithm (Metwally et al., 2005). With `capacity` slots, a
// sender not yet kept takes the slot of the sender with the smallest count
// and starts from that count (its `error`), so a sender that carried more
// than 1/capacity of the account's recipients is never missed, whatever the
// order. What a slot has counted since its sender took it (`count - error`)
// is exact, so that is what the counter exports.
import { MAX_ACCOUNT_LENGTH } from '../smtp/facts.js';

/** The null sender `<>` as a label value (as the queue labels it): an empty value would read as a missing label. */
export const NULL_SENDER = '<>';

/** A MAIL FROM as a label value: lowercased, control characters replaced, cut to 254 characters; '' is `<>`. */
export function senderLabel(mailFrom: string): string {
  if (mailFrom === '') return NULL_SENDER;
  // eslint-disable-next-line no-control-regex
  return mailFrom.toLowerCase().replace(/[\u0000-\u001f\u007f]/g, '\ufffd').slice(0, MAX_ACCOUNT_LENGTH);
}

export interface SenderCount {
  sender: string;
  /** Recipients counted since the sender took its slot: exact, a lower bound of its total. */
  recipients: number;
  /** The Space-Saving estimate (an upper bound of its total): the ranking. */
  estimate: number;
}

interface Slot {
  sender: string;
  count: number;
  error: number;
  /** The scrape's label text for this sender, made once while it holds the slot. */
  label: string | undefined;
}

export class SenderTally {
  private slots: Slot[] = [];

  constructor(private capacity: number) {}

  add(sender: string, recipients: number): void {
    const slots = this.slots;
    for (const slot of slots) {
      if (slot.sender === sender) {
        slot.count += recipients;
        return;
      }
    }
    if (slots.length < this.capacity) {
      slots.push({ sender, count: recipients, error: 0, label: undefined });
      return;
    }
    let min = slots[0]!;
    for (const slot of slots) if (slot.count < min.count) min = slot;
    min.sender = sender;
    min.label = undefined;
    min.error = min.count;
    min.count += recipients;
  }

  /** Most recipients first (by estimate), ties by name. */
  top(): SenderCount[] {
    return this.slots
      .map((s) => ({ sender: s.sender, recipients: s.count - s.error, estimate: s.count }))
      .sort((a, b) => b.estimate - a.estimate || (a.sender < b.sender ? -1 : a.sender > b.sender ? 1 : 0));
  }

  /**
   * Each kept sender's exact count, in slot order, with its label text:
   * `label(sender)` once while the sender holds its slot (for the scrape, at
   * 10,000 accounts: rendering each sender's label at every scrape was a tenth of it).
   */
  forEachLabelled(label: (sender: string) => string, each: (labelText: string, recipients: number) => void): void {
    for (const s of this.slots) each((s.label ??= label(s.sender)), s.count - s.error);
  }

  get size(): number {
    return this.slots.length;
  }

  /** A smaller capacity forgets the senders with the smallest counts. */
  setCapacity(capacity: number): void {
    this.capacity = capacity;
    if (this.slots.length > capacity) this.slots = [...this.slots].sort((a, b) => b.count - a.count).slice(0, capacity);
  }
}
