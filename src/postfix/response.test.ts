import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StolenAccount } from '../runbook.js';
import { postfixStolenAccountSteps } from './response.js';

// `postqueue -j` as Postfix 3.7 prints it (from the real Postfix of test/e2e), with a held message and a hostile sender.
const LISTING = [
  `{"queue_name": "deferred", "queue_id": "BE240A361F3", "arrival_time": 1795989061, "message_size": 431, "forced_expire": false, "sender": "copier@domaine.com", "recipients": [{"address": "someone@gmail.com", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:12999: Connection refused"}]}`,
  `{"queue_name": "deferred", "queue_id": "1739FA360B9", "arrival_time": 1795989061, "message_size": 454, "forced_expire": false, "sender": "willm.b@orange.fr", "recipients": [{"address": "linda77@hotmail.com", "delay_reason": "delivery temporarily suspended"}]}`,
  `{"queue_name": "active", "queue_id": "4F2B31C0A2F", "arrival_time": 1795989062, "message_size": 454, "forced_expire": false, "sender": "Willm.B@Orange.fr", "recipients": [{"address": "x@yahoo.com"}]}`,
  `{"queue_name": "hold", "queue_id": "77AA1C0A2F0", "arrival_time": 1795989060, "message_size": 454, "forced_expire": false, "sender": "willm.b@orange.fr", "recipients": [{"address": "y@yahoo.com"}]}`,
  `{"queue_name": "deferred", "queue_id": "A9ADAA361FE", "arrival_time": 1795989063, "message_size": 427, "forced_expire": false, "sender": "x\\"';reboot@evil.example", "recipients": [{"address": "\\"sender\\": \\"willm.b@orange.fr\\"@gmail.com"}]}`,
  `{"queue_name": "deferred", "queue_id": "C962EA36205", "arrival_time": 1795989064, "message_size": 590, "forced_expire": false, "sender": "contact@domaine.com", "recipients": [{"address": "supplier@fournisseur-bois.fr"}]}`,
].join('\n');

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-postfix-response-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Stand-ins in a folder of their own: postqueue prints the listing, postsuper prints what it was given on stdin.
writeFileSync(join(dir, 'listing.json'), `${LISTING}\n`);
writeFileSync(join(dir, 'postqueue'), `#!/bin/sh\necho "postqueue $*" >&2\ncat "${join(dir, 'listing.json')}"\n`);
writeFileSync(join(dir, 'postsuper'), `#!/bin/sh\necho "postsuper $*"\nsed 's/^/held /'\n`);
chmodSync(join(dir, 'postqueue'), 0o755);
chmodSync(join(dir, 'postsuper'), 0o755);

const base: StolenAccount = {
  account: 'info@domaine.com',
  quarantineSenders: ['willm.b@orange.fr'],
  quarantinesAccountItself: false,
  queue: { location: join(dir, 'postqueue'), kind: 'command', instance: '/etc/postfix-out' },
  exporterCommand: 'mailrelay-exporter',
};

const sh = (command: string) => execFileSync('sh', ['-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe("Postfix's steps for a stolen account", () => {
  it('refuse the account, change its password with doveadm, and hold its spam by envelope sender', () => {
    const steps = postfixStolenAccountSteps(base);
    expect(steps.map((s) => s.title)).toEqual([
      'Refuse mail from info@domaine.com at once',
      'Change the password of info@domaine.com',
      'Look at the queue',
      'Hold its spam in the hold queue: first the list of queue IDs, then the same into postsuper -h',
      'Check',
    ]);
    expect(steps[0]!.commands).toEqual([
      "printf '%s REJECT\\n' info@domaine.com >> /etc/postfix-out/sasl_access",
      'postmap /etc/postfix-out/sasl_access',
      'postfix -c /etc/postfix-out reload',
    ]);
    expect(steps[1]!.commands[1]).toBe('doveadm auth cache flush info@domaine.com');
  });

  it('lists exactly the queued messages of the forged sender, in any case, not those already held', () => {
    const [list, apply] = postfixStolenAccountSteps(base)[3]!.commands;
    expect(sh(list!)).toBe('1739FA360B9\n4F2B31C0A2F\n');
    expect(sh(apply!)).toBe('postsuper -c /etc/postfix-out -h -\nheld 1739FA360B9\nheld 4F2B31C0A2F\n');
  });

  it("matches a hostile sender as JSON writes it, and runs nothing of it", () => {
    const [list] = postfixStolenAccountSteps({ ...base, quarantineSenders: ["x\"';reboot@evil.example"] })[3]!.commands;
    expect(sh(list!)).toBe('A9ADAA361FE\n');
  });

  it('says so when nothing of the account is queued', () => {
    const step = postfixStolenAccountSteps({ ...base, quarantineSenders: [] })[3]!;
    expect(step.commands).toEqual([]);
    expect(step.note).toContain('nothing of its to hold');
  });
});
