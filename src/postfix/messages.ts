// What one Postfix log message says, as an event: pure functions from the
// text after `tag[pid]: ` to the few events the exporter counts. Everything
// else Postfix writes (TLS, DNS, milters, statistics) is no event.
//
// Queue IDs: short ones are upper-case hex (`CD74AA360B4`); long ones
// (enable_long_queue_ids) use digits and consonants (`4jd0xH3fCYz1YhTV`).
// Neither alphabet can spell `warning`, `NOQUEUE` or `statistics`.

export type PostfixEvent =
  /** smtpd: a client connected (one SMTP session per smtpd process at a time). */
  | { kind: 'connect'; peer: string }
  /** smtpd: the session ended; `authOk` successful AUTH commands (`auth=1`, `auth=0/1`). */
  | { kind: 'disconnect'; peer: string; authOk: number }
  /**
   * smtpd: a queue file was opened for the session's mail transaction (at its
   * first accepted RCPT), with the SASL login when there was one, and the
   * queue ID of the message it re-injects when a content filter forwarded it
   * with XFORWARD.
   */
  | { kind: 'client'; queueId: string; peer: string; saslMethod: string | undefined; saslUsername: string | undefined; origQueueId: string | undefined }
  /** smtpd: `SASL LOGIN authentication failed` (with the username from Postfix 3.9 and in Debian's 3.7.11), or aborted by the client. */
  | { kind: 'sasl_failed'; peer: string; mechanism: string; username: string | undefined }
  /** smtpd: a RCPT refused; `relay` when the reply names relaying (Postfix's `Relay access denied`). */
  | { kind: 'rcpt_rejected'; queueId: string | undefined; peer: string; code: number; relay: boolean }
  /** qmgr: the message is in the queue manager's hands: its envelope sender and number of recipients. */
  | { kind: 'queued'; queueId: string; from: string; nrcpt: number }
  /** A delivery agent (smtp, lmtp, local, virtual, pipe, error) or qmgr on one recipient's attempt. */
  | { kind: 'delivery'; queueId: string; to: string; origTo: string | undefined; status: string; queuedAs: string | undefined }
  /** qmgr: the message left the queue. */
  | { kind: 'removed'; queueId: string };

/** Short IDs: upper-case hex. */
function isShortIdChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46);
}

/** Long IDs: digits and consonants, both cases (no vowels). */
function isLongIdChar(c: number): boolean {
  if (c >= 0x30 && c <= 0x39) return true;
  const l = c | 0x20;
  return l >= 0x62 && l <= 0x7a && l !== 0x65 && l !== 0x69 && l !== 0x6f && l !== 0x75;
}

/** Whether the characters from `start` to `end` are a queue ID. */
function isQueueIdAt(text: string, start: number, end: number): boolean {
  const n = end - start;
  if (n < 6) return false;
  let short = true;
  let long = n >= 10;
  for (let i = start; i < end && (short || long); i++) {
    const c = text.charCodeAt(i);
    if (short && !isShortIdChar(c)) short = false;
    if (long && !isLongIdChar(c)) long = false;
  }
  return short || long;
}

/** Where the queue ID that starts a message at `start` ends (its `:`), or -1 when the message does not start with one. */
export function queueIdEnd(text: string, start: number): number {
  let colon = start;
  const end = text.length;
  while (colon < end) {
    const c = text.charCodeAt(colon);
    if (c === 0x3a || c === 0x20) break;
    colon++;
  }
  return colon < end && text.charCodeAt(colon) === 0x3a && text.charCodeAt(colon + 1) === 0x20 && isQueueIdAt(text, start, colon) ? colon : -1;
}

/** Whether `s` is a Postfix queue ID (short or long form). */
export function isQueueId(s: string): boolean {
  return isQueueIdAt(s, 0, s.length);
}

/** The longest address kept (RFC 5321's 64 + 1 + 255 is 320). */
export const MAX_ADDRESS_LENGTH = 320;

/** The message of one log line by the Postfix daemon `daemon` (`smtpd`, `qmgr` …), from `start`. */
export function parsePostfixMessage(daemon: string, text: string, start = 0): PostfixEvent | undefined {
  // `QUEUEID: rest`, `NOQUEUE: rest`, or a message without a queue ID.
  const idEnd = queueIdEnd(text, start);
  if (idEnd >= 0) return queueIdMessage(daemon, text.slice(start, idEnd), text, idEnd + 2);
  if (daemon !== 'smtpd') return undefined;
  if (text.startsWith('NOQUEUE: ', start)) return rejectMessage(undefined, text, start + 9);
  if (text.startsWith('connect from ', start)) {
    const peer = peerOf(text, start + 13);
    return peer === undefined ? undefined : { kind: 'connect', peer };
  }
  if (text.startsWith('disconnect from ', start)) {
    const peer = peerOf(text, start + 16);
    if (peer === undefined) return undefined;
    // `auth=1` or `auth=0/1`: successes first.
    const m = / auth=(\d+)/.exec(text.slice(start));
    return { kind: 'disconnect', peer, authOk: m ? Number(m[1]) : 0 };
  }
  if (text.startsWith('warning: ', start)) return saslWarning(text, start + 9);
  return undefined;
}

function queueIdMessage(daemon: string, queueId: string, text: string, p: number): PostfixEvent | undefined {
  // Most lines: a delivery agent's `to=<`, whatever the agent (smtp, lmtp, virtual, local, pipe, error, qmgr).
  if (text.startsWith('to=<', p)) return deliveryMessage(queueId, text, p + 4);
  if (daemon === 'smtpd') {
    if (text.startsWith('client=', p)) return clientMessage(queueId, text, p + 7);
    return rejectMessage(queueId, text, p);
  }
  if (daemon !== 'qmgr') return undefined;
  if (text.startsWith('from=<', p)) {
    const m = /^from=<(.*)>, size=\d+, nrcpt=(\d+) /.exec(text.slice(p));
    if (!m) return undefined; // `from=<…>, status=expired, returned to sender`
    return { kind: 'queued', queueId, from: address(m[1]!), nrcpt: Number(m[2]) };
  }
  if (p === text.length - 7 && text.endsWith('removed')) return { kind: 'removed', queueId };
  return undefined;
}

/** `client=name[addr](:port)?(, sasl_method=M, sasl_username=U)?(, sasl_sender=S)?(, orig_queue_id=Q, orig_client=…)?` */
function clientMessage(queueId: string, text: string, p: number): PostfixEvent | undefined {
  const peer = peerOf(text, p);
  if (peer === undefined) return undefined;
  const rest = text.slice(p);
  let saslMethod: string | undefined;
  let saslUsername: string | undefined;
  const method = rest.indexOf(', sasl_method=');
  if (method >= 0) {
    const m = /^, sasl_method=([^,]*)/.exec(rest.slice(method));
    saslMethod = m?.[1];
    const user = rest.indexOf(', sasl_username=', method);
    if (user >= 0) {
      // The username ends where Postfix's next field starts (it may itself hold commas).
      let end = rest.length;
      for (const next of [', sasl_sender=', ', orig_queue_id=', ', orig_client=']) {
        const at = rest.indexOf(next, user + 16);
        if (at >= 0 && at < end) end = at;
      }
      saslUsername = rest.slice(user + 16, end);
    }
  }
  const orig = /, orig_queue_id=([0-9A-Za-z]+)/.exec(rest);
  return { kind: 'client', queueId, peer, saslMethod, saslUsername, origQueueId: orig?.[1] };
}

/** `reject: RCPT from name[addr]: 554 5.7.1 <rcpt>: Relay access denied; from=<…> to=<…> proto=ESMTP helo=<…>` */
function rejectMessage(queueId: string | undefined, text: string, p: number): PostfixEvent | undefined {
  if (!text.startsWith('reject: RCPT from ', p)) return undefined;
  const peer = peerOf(text, p + 18);
  if (peer === undefined) return undefined;
  const m = /\]: (\d{3}) ([^;]*)/.exec(text.slice(p + 18));
  if (!m) return undefined;
  // Postfix uses 5.7.1 for every policy refusal (DNSBL, sender access): only the text says "relay".
  return { kind: 'rcpt_rejected', queueId, peer, code: Number(m[1]), relay: /\brelay/i.test(m[2]!) };
}

/** `to=<a>, (orig_to=<b>, )?relay=…, …, status=S (text)` */
function deliveryMessage(queueId: string, text: string, p: number): PostfixEvent | undefined {
  const close = text.indexOf('>, ', p);
  if (close < 0) return undefined;
  const to = address(text.slice(p, close));
  let origTo: string | undefined;
  let q = close + 3;
  if (text.startsWith('orig_to=<', q)) {
    const end = text.indexOf('>, ', q + 9);
    if (end < 0) return undefined;
    origTo = address(text.slice(q + 9, end));
    q = end + 3;
  }
  const s = text.indexOf(', status=', q);
  if (s < 0) return undefined;
  let e = s + 9;
  while (e < text.length && text.charCodeAt(e) !== 0x20) e++;
  const status = text.slice(s + 9, e);
  // `status=sent (250 2.0.0 Ok: queued as 22F00A3612F)`: the next hop's queue ID, last on the line.
  let queuedAs: string | undefined;
  const qa = text.lastIndexOf('queued as ');
  if (qa > e) {
    let idEnd = text.length;
    if (text.charCodeAt(idEnd - 1) === 0x29) idEnd--;
    if (isQueueIdAt(text, qa + 10, idEnd)) queuedAs = text.slice(qa + 10, idEnd);
  }
  return { kind: 'delivery', queueId, to, origTo, status, queuedAs };
}

/** `warning: name[addr]: SASL LOGIN authentication failed: reason(, sasl_username=U)?` or `… authentication aborted`. */
function saslWarning(text: string, p: number): PostfixEvent | undefined {
  const m = /^[^\s[]*\[([^\]]*)\](?::\d+)?: SASL (\S+) authentication (failed|aborted)/.exec(text.slice(p));
  if (!m) return undefined;
  let username: string | undefined;
  if (m[3] === 'failed') {
    // The reason comes from the SASL server; the username, from the client, is last.
    const at = text.indexOf(', sasl_username=', p + m[0].length);
    if (at >= 0) {
      const name = text.slice(at + 16);
      if (name !== '(unavailable)' && name !== '') username = name;
    }
  }
  return { kind: 'sasl_failed', peer: m[1]!, mechanism: m[2]!, username };
}

/** The address in `name[addr]` (or `name[addr]:port`) starting at p. */
function peerOf(text: string, p: number): string | undefined {
  const open = text.indexOf('[', p);
  if (open < 0) return undefined;
  const close = text.indexOf(']', open + 1);
  if (close < 0) return undefined;
  return text.slice(open + 1, close);
}

/** Lowercased, bounded. */
function address(raw: string): string {
  return (raw.length > MAX_ADDRESS_LENGTH ? raw.slice(0, MAX_ADDRESS_LENGTH) : raw).toLowerCase();
}
