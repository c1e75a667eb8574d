import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isWindowsPath, powerShellWord, shellWord } from './runbook.js';

// Senders and usernames come from the logs and the queue: an attacker writes them.
const HOSTILE = [
  'willm.b@orange.fr',
  "o'brien@example.com",
  'x@y.com; touch /tmp/pwned',
  '$(reboot)@evil.example',
  '`id`@evil.example',
  'a b\tc@example.com',
  '--apply',
  '-rf',
  '"quoted"@example.com',
  '\\back\\slash',
  'ünïcødé@exämple.de',
  "''",
  '',
];

describe('shellWord', () => {
  it('leaves plain addresses and paths as they are', () => {
    expect(shellWord('willm.b@orange.fr')).toBe('willm.b@orange.fr');
    expect(shellWord('--mail-dir=/opt/icewarp/mail')).toBe('--mail-dir=/opt/icewarp/mail');
  });

  it.each(HOSTILE)('gives a real sh exactly one word, unchanged: %j', (value) => {
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellWord(value)}`], { encoding: 'utf8' });
    expect(out).toBe(`${value}\0`);
  });
});

describe('powerShellWord', () => {
  it('single-quotes with every kind of single quote doubled', () => {
    expect(powerShellWord('willm.b@orange.fr')).toBe('willm.b@orange.fr');
    expect(powerShellWord("o'brien@x.com")).toBe("'o''brien@x.com'");
    expect(powerShellWord('a\u2019b $(x)')).toBe("'a\u2019\u2019b $(x)'");
    expect(powerShellWord('C:\\Program Files\\IceWarp\\tool.exe')).toBe("'C:\\Program Files\\IceWarp\\tool.exe'");
  });
});

describe('isWindowsPath', () => {
  it('tells drive letters and UNC paths from POSIX paths', () => {
    expect(isWindowsPath('C:\\Program Files\\IceWarp\\mail')).toBe(true);
    expect(isWindowsPath('d:/icewarp/mail')).toBe(true);
    expect(isWindowsPath('\\\\server\\share\\mail')).toBe(true);
    expect(isWindowsPath('/opt/icewarp/mail')).toBe(false);
  });
});
