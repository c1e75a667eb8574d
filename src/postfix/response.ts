// Postfix + Dovecot's procedure for a stolen account: refuse its mail at once
// (check_sasl_access), change its password (Dovecot's passdb, doveadm), hold
// its spam in Postfix's hold queue by sender (postsuper -h: nothing is
// deleted, postsuper -H releases), check. The queue's sender is the envelope
// sender, so the forged MAIL FROMs select the spam.
import { posix } from 'node:path';
import { shellWord, type RunbookStep, type StolenAccount } from '../runbook.js';

const POSTQUEUE = '/usr/sbin/postqueue';

export function postfixStolenAccountSteps(s: StolenAccount): RunbookStep[] {
  const postqueue = s.queue?.kind === 'command' ? s.queue.location : POSTQUEUE;
  const postsuper = posix.join(posix.dirname(postqueue), 'postsuper');
  const configDir = s.queue?.instance;
  const c = configDir === undefined ? '' : ` -c ${shellWord(configDir)}`;
  const sasl = posix.join(configDir ?? '/etc/postfix', 'sasl_access');
  // postqueue -j writes one JSON object a line; a quote inside a string is escaped, so these cannot match inside one.
  const senderPatterns = s.quarantineSenders.map((x) => `-e ${shellWord(`"sender": ${JSON.stringify(x)}`)}`).join(' ');
  const listing = `${shellWord(postqueue)}${c} -j | grep -v '"queue_name": "hold"' | grep -iF ${senderPatterns} | sed -E 's/.*"queue_id": "([^"]+)".*/\\1/'`;

  const hold: RunbookStep = { title: 'Hold its spam in the hold queue: first the list of queue IDs, then the same into postsuper -h', commands: [] };
  if (s.quarantineSenders.length === 0) {
    hold.note = "None of the senders this account used is among the queue's top senders: nothing of its to hold. Look at postqueue -p.";
  } else {
    hold.commands = [listing, `${listing} | ${shellWord(postsuper)}${c} -h -`];
    hold.note = s.quarantinesAccountItself
      ? "The spam's envelope sender is the account's own address, so its legitimate queued mail matches too: read the list. Held mail is never deleted: release the good messages with postsuper -H QUEUE_ID."
      : 'Only the forged senders this account used; other mail stays queued. Held mail is never deleted: postsuper -H QUEUE_ID releases a message.';
  }

  return [
    {
      title: `Refuse mail from ${s.account} at once`,
      commands: [`printf '%s REJECT\\n' ${shellWord(s.account)} >> ${shellWord(sasl)}`, `postmap ${shellWord(sasl)}`, `postfix${c} reload`],
      note: `Needs "check_sasl_access hash:${sasl}" in smtpd_sender_restrictions (or smtpd_recipient_restrictions), before permit_sasl_authenticated, in main.cf. Remove the line (and run postmap again) once the password is changed.`,
    },
    {
      title: `Change the password of ${s.account}`,
      commands: [`doveadm pw -s SHA512-CRYPT -p ${shellWord('NEW-LONG-PASSWORD')}`, `doveadm auth cache flush ${shellWord(s.account)}`],
      note: "Put a new long password in place of NEW-LONG-PASSWORD, put the hash it prints into the account's passdb entry (for a passwd-file, /etc/dovecot/users), then flush Dovecot's cache. Clear the shell history afterwards and tell the owner.",
    },
    { title: 'Look at the queue', commands: [`${shellWord(postqueue)}${c} -p | tail -n 1`] },
    hold,
    {
      title: 'Check',
      commands: [`${shellWord(postqueue)}${c} -j | grep -c '"queue_name": "hold"'`],
      note: "The account's external recipients on this page fall to 0 within minutes, and its logins are refused. Then check the blacklists and harden the server (the runbook's last steps).",
    },
  ];
}
