import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { StolenAccount } from '../runbook.js';
import { postfixStolenAccountSteps } from './response.js';

// The steps' exporter commands are run through the shell with `printf` in the
// exporter's place: what reaches the program is exactly the words it prints,
// one a line (the commands themselves run against a real Postfix in
// test/e2e/postfix-queue.test.ts).
const base: StolenAccount = {
  account: 'info@domaine.com',
  quarantineSenders: ['willm.b@orange.fr'],
  quarantinesAccountItself: false,
  queue: { location: '/usr/sbin/postqueue', kind: 'command', instance: '/etc/postfix-out' },
  exporterCommand: "printf '%s\\n'",
};

const argv = (command: string) => execFileSync('sh', ['-c', command], { encoding: 'utf8' }).trimEnd().split('\n');

describe("Postfix's steps for a stolen account", () => {
  it('refuse the account, change its password with doveadm, and hold its spam by envelope sender', () => {
    const steps = postfixStolenAccountSteps(base);
    expect(steps.map((s) => s.title)).toEqual([
      'Refuse mail from info@domaine.com at once',
      'Change the password of info@domaine.com',
      'Look at the queue',
      'Hold its spam in the hold queue: a dry run first, then the same with --apply',
      'Check',
    ]);
    expect(steps[0]!.commands).toEqual([
      "printf '%s REJECT\\n' info@domaine.com >> /etc/postfix-out/sasl_access",
      'postmap /etc/postfix-out/sasl_access',
      'postfix -c /etc/postfix-out reload',
    ]);
    expect(steps[1]!.commands[1]).toBe('doveadm auth cache flush info@domaine.com');
    expect(argv(steps[2]!.commands[0]!)).toEqual(['queue', 'report', '--postfix', '--config-directory=/etc/postfix-out']);
  });

  it('holds with queue quarantine --postfix on this instance: a dry run, then --apply', () => {
    const [dry, apply] = postfixStolenAccountSteps({ ...base, queue: { location: '/opt/postfix/sbin/postqueue', kind: 'command', instance: '/etc/postfix-out' } })[3]!.commands;
    expect(argv(dry!)).toEqual(['queue', 'quarantine', '--postfix', '--config-directory=/etc/postfix-out', '--postqueue=/opt/postfix/sbin/postqueue', '--sender=willm.b@orange.fr']);
    expect(argv(apply!)).toEqual([...argv(dry!), '--apply']);
  });

  it('passes a hostile sender as one word, and runs nothing of it', () => {
    const [dry] = postfixStolenAccountSteps({ ...base, queue: undefined, quarantineSenders: ["x\"';reboot@evil.example", 'a b@c.d'] })[3]!.commands;
    expect(argv(dry!)).toEqual(['queue', 'quarantine', '--postfix', "--sender=x\"';reboot@evil.example", '--sender=a b@c.d']);
  });

  it('says so when nothing of the account is queued', () => {
    const step = postfixStolenAccountSteps({ ...base, quarantineSenders: [] })[3]!;
    expect(step.commands).toEqual([]);
    expect(step.note).toContain('nothing of its to hold');
  });
});
