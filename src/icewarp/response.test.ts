import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { StolenAccount } from '../runbook.js';
import { icewarpStolenAccountSteps } from './response.js';

const base: StolenAccount = {
  account: 'info@domaine.com',
  quarantineSenders: ['willm.b@orange.fr'],
  quarantinesAccountItself: false,
  queue: { location: '/opt/icewarp/mail', kind: 'folder' },
  exporterCommand: 'mailrelay-exporter',
};

/** The words a real sh makes of a command line, with `printf` in place of the program. */
function words(command: string): string[] {
  const out = execFileSync('sh', ['-c', `set -- ${command}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe("IceWarp's steps for a stolen account", () => {
  it('follows the runbook in order, with the tools beside the mail folder', () => {
    const steps = icewarpStolenAccountSteps(base);
    expect(steps.map((s) => s.commands)).toEqual([
      ['/opt/icewarp/icewarpd.sh --stop smtp'],
      ['/opt/icewarp/tool.sh modify account info@domaine.com u_password NEW-LONG-PASSWORD'],
      ['mailrelay-exporter queue report --mail-dir=/opt/icewarp/mail'],
      [
        'mailrelay-exporter queue quarantine --mail-dir=/opt/icewarp/mail --sender=willm.b@orange.fr',
        'mailrelay-exporter queue quarantine --mail-dir=/opt/icewarp/mail --sender=willm.b@orange.fr --apply',
      ],
      ['/opt/icewarp/icewarpd.sh --start smtp'],
      ['mailrelay-exporter queue report --mail-dir=/opt/icewarp/mail'],
    ]);
  });

  it('quotes an account and senders chosen by the attacker, so a pasted command runs no other command', () => {
    const hostile = "x@y.com'; touch /tmp/pwned; echo '";
    const steps = icewarpStolenAccountSteps({ ...base, account: '$(reboot)@evil', quarantineSenders: [hostile, '`id`@evil'], queue: { location: '/srv/ice warp/mail', kind: 'folder' } });
    const [, password, , quarantine] = steps;
    expect(words(password!.commands[0]!)).toEqual(['/srv/ice warp/tool.sh', 'modify', 'account', '$(reboot)@evil', 'u_password', 'NEW-LONG-PASSWORD']);
    expect(words(quarantine!.commands[1]!)).toEqual(['mailrelay-exporter', 'queue', 'quarantine', '--mail-dir=/srv/ice warp/mail', `--sender=${hostile}`, '--sender=`id`@evil', '--apply']);
  });

  it('uses PowerShell words, tool.exe and the services console on Windows', () => {
    const steps = icewarpStolenAccountSteps({ ...base, queue: { location: 'C:\\Program Files\\IceWarp\\mail', kind: 'folder' }, quarantineSenders: ["o'brien@x.com"] });
    expect(steps[0]!.commands).toEqual([]);
    expect(steps[0]!.note).toContain('System → Services');
    expect(steps[1]!.commands[0]).toBe("& 'C:\\Program Files\\IceWarp\\tool.exe' modify account info@domaine.com u_password NEW-LONG-PASSWORD");
    expect(steps[3]!.commands[0]).toBe("mailrelay-exporter queue quarantine '--mail-dir=C:\\Program Files\\IceWarp\\mail' '--sender=o''brien@x.com'");
  });

  it('says what to do when nothing of the account is queued, or the queue is not configured', () => {
    const none = icewarpStolenAccountSteps({ ...base, quarantineSenders: [] });
    expect(none[3]!.commands).toEqual([]);
    expect(none[3]!.note).toContain("None of the senders this account used is among the queue's top senders");
    const unset = icewarpStolenAccountSteps({ ...base, queue: undefined });
    expect(unset[2]!.commands).toEqual(['mailrelay-exporter queue report --mail-dir=/opt/icewarp/mail']);
    expect(unset[2]!.note).toContain('set icewarp.mail_directory');
  });
});
