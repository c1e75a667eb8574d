// Postfix + Dovecot's procedure for a stolen account: refuse its mail at once
// (check_sasl_access), change its password (Dovecot's passdb, doveadm), hold
// its spam in Postfix's hold queue by sender with `queue quarantine --postfix`
// (postsuper -h, dry run first, journaled: nothing is deleted, `queue
// restore --postfix` releases), check. The queue's sender is the envelope
// sender, so the forged MAIL FROMs select the spam.
import { posix } from 'node:path';
import { shellWord, type RunbookStep, type StolenAccount } from '../runbook.js';

const POSTQUEUE = '/usr/sbin/postqueue';

export function postfixStolenAccountSteps(s: StolenAccount): RunbookStep[] {
  const postqueue = s.queue?.kind === 'command' ? s.queue.location : POSTQUEUE;
  const configDir = s.queue?.instance;
  const c = configDir === undefined ? '' : ` -c ${shellWord(configDir)}`;
  const sasl = posix.join(configDir ?? '/etc/postfix', 'sasl_access');
  // The exporter's queue commands on this Postfix: its instance, its postqueue (postsuper beside it).
  const on = ['--postfix', ...(configDir === undefined ? [] : [`--config-directory=${configDir}`]), ...(postqueue === POSTQUEUE ? [] : [`--postqueue=${postqueue}`])]
    .map(shellWord)
    .join(' ');
  const report = `${s.exporterCommand} queue report ${on}`;

  const hold: RunbookStep = { title: 'Hold its spam in the hold queue: a dry run first, then the same with --apply', commands: [] };
  if (s.quarantineSenders.length === 0) {
    hold.note = "None of the senders this account used is among the queue's top senders: nothing of its to hold. Look at the queue report.";
  } else {
    const dry = `${s.exporterCommand} queue quarantine ${on} ${s.quarantineSenders.map((x) => shellWord(`--sender=${x}`)).join(' ')}`;
    hold.commands = [dry, `${dry} --apply`];
    hold.note = s.quarantinesAccountItself
      ? "The spam's envelope sender is the account's own address, so its legitimate queued mail matches too: read the dry run, add --size=BYTES if the spam is one size, and release the good messages afterwards with queue restore --postfix --manifest … --sender/--size. Held mail is never deleted."
      : 'Only the forged senders this account used; other mail stays queued. Held mail is never deleted: queue restore --postfix --manifest FILE releases it (postsuper -H).';
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
    { title: 'Look at the queue', commands: [report] },
    hold,
    {
      title: 'Check',
      commands: [report],
      note: "The account's external recipients on this page fall to 0 within minutes, and its logins are refused. Then check the blacklists and harden the server (the runbook's last steps).",
    },
  ];
}
