// IceWarp's procedure for a stolen account (docs/runbooks, IceWarp's own KB):
// stop SMTP, change the password with `tool`, quarantine the spam by its
// queued senders (dry run first), start SMTP, check. Paths follow IceWarp's
// layout: the mail folder sits in the installation folder, beside `tool.sh`
// and `icewarpd.sh`, unless it was moved.
import { posix, win32 } from 'node:path';
import { isWindowsPath, powerShellWord, shellWord, type RunbookStep, type StolenAccount } from '../runbook.js';

const LINUX_INSTALL = '/opt/icewarp';
const WINDOWS_INSTALL = 'C:\\Program Files\\IceWarp';

export function icewarpStolenAccountSteps(s: StolenAccount): RunbookStep[] {
  const mailDir = s.queue?.kind === 'folder' ? s.queue.location : undefined;
  const windows = mailDir !== undefined && isWindowsPath(mailDir);
  const path = windows ? win32 : posix;
  const word = windows ? powerShellWord : shellWord;
  // IceWarp keeps `mail` in its installation folder; a moved one leaves us the default.
  const install = mailDir !== undefined && path.basename(mailDir).toLowerCase() === 'mail' ? path.dirname(mailDir) : windows ? WINDOWS_INSTALL : LINUX_INSTALL;
  const dir = mailDir ?? path.join(install, 'mail');
  const tool = windows ? `& ${word(path.join(install, 'tool.exe'))}` : word(path.join(install, 'tool.sh'));
  const service = (verb: 'stop' | 'start'): Pick<RunbookStep, 'commands' | 'note'> =>
    windows
      ? { commands: [], note: `In the IceWarp administration console, System → Services: ${verb} SMTP.` }
      : { commands: [`${word(path.join(install, 'icewarpd.sh'))} --${verb} smtp`] };
  const exporter = s.exporterCommand;
  const mailDirFlag = word(`--mail-dir=${dir}`);
  const unset = mailDir === undefined ? `${dir} is IceWarp's default mail folder: set icewarp.mail_directory to see the queue on this page.` : undefined;

  const quarantine: RunbookStep = { title: 'Move its spam out of the queue: a dry run first, then the same with --apply', commands: [] };
  if (s.quarantineSenders.length === 0) {
    quarantine.note = `None of the senders this account used is among the queue's top senders: nothing of its to quarantine here. Look at queue report.${unset ? ` ${unset}` : ''}`;
  } else {
    const dry = `${exporter} queue quarantine ${mailDirFlag} ${s.quarantineSenders.map((x) => word(`--sender=${x}`)).join(' ')}`;
    quarantine.commands = [dry, `${dry} --apply`];
    quarantine.note = s.quarantinesAccountItself
      ? 'This queue records the account itself as the sender, so its legitimate queued mail matches too: read the dry run. If the spam is one size (queue report: same-size groups), add --size=BYTES to leave the rest; otherwise put the good messages back afterwards with queue restore --manifest … --sender/--size (docs/queue-cleanup.md). Nothing is deleted.'
      : `Only the forged senders this account used; the messages of other senders stay queued. Nothing is deleted: they move to ${path.join(dir, '_quarantine')}.`;
  }

  return [
    { title: 'Stop the SMTP service, so that nothing more goes out', ...service('stop') },
    {
      title: `Change the password of ${s.account}`,
      commands: [`${tool} modify account ${word(s.account)} u_password ${word('NEW-LONG-PASSWORD')}`],
      note: 'Put a new long password in place of NEW-LONG-PASSWORD (or use the administration console), clear the shell history afterwards, and tell the owner. Check that its forwarders and auto-responders were not changed.',
    },
    { title: 'Look at the queue', commands: [`${exporter} queue report ${mailDirFlag}`], ...(unset ? { note: unset } : {}) },
    quarantine,
    { title: 'Start the SMTP service again', ...service('start') },
    {
      title: 'Check',
      commands: [`${exporter} queue report ${mailDirFlag}`],
      note: "The account's external recipients on this page fall to 0 within minutes, and its new logins fail. Then check the blacklists and harden the server (the runbook's last steps).",
    },
  ];
}
