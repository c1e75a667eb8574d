// The service definitions in deploy/, read as files: they must start the
// command the package installs, with the config the example file says, and
// the systemd unit must be hardened. (systemd-analyze verify runs on the
// unit in test/e2e/package.test.ts, against the command installed from the
// packed tarball. Nothing here can run WinSW: there is no Windows here.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultPositionsFile } from '../../src/config/paths.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');
const pkg = JSON.parse(read('package.json')) as { name: string; bin: Record<string, string>; files: string[] };
const example = read('mailrelay-exporter.example.yml');
const readme = read('README.md');

/** key → values of a systemd unit (continuation lines joined, comments dropped). */
function unitEntries(text: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const line of text.replace(/\\\n\s*/g, ' ').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) entries.set(m[1]!, [...(entries.get(m[1]!) ?? []), m[2]!]);
  }
  return entries;
}

describe('deploy/systemd/mailrelay-exporter.service', () => {
  const unit = unitEntries(read('deploy/systemd/mailrelay-exporter.service'));
  const one = (key: string) => {
    const v = unit.get(key);
    expect(v, key).toHaveLength(1);
    return v![0]!;
  };

  it('starts the command installed into the README prefix, with the config where the example says to copy it', () => {
    const [command, ...args] = one('ExecStart').split(/\s+/);
    expect(command).toBe('/opt/mailrelay-exporter/bin/mailrelay-exporter');
    expect(readme).toContain('npm install -g --prefix /opt/mailrelay-exporter ');
    expect(args).toEqual(['--config.file=/etc/mailrelay-exporter/mailrelay-exporter.yml']);
    expect(example).toContain('#   Linux:   /etc/mailrelay-exporter/mailrelay-exporter.yml');
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
  });

  it('runs as its own user with its positions in the StateDirectory the default positions_file resolves to', () => {
    expect(one('User')).toBe('mailrelay-exporter');
    expect(one('StateDirectory')).toBe('mailrelay-exporter');
    // systemd sets STATE_DIRECTORY=/var/lib/<StateDirectory>; the exporter's default follows it.
    expect(defaultPositionsFile({ STATE_DIRECTORY: `/var/lib/${one('StateDirectory')}` }, 'linux')).toBe('/var/lib/mailrelay-exporter/positions.json');
    expect(one('ConfigurationDirectory')).toBe('mailrelay-exporter');
  });

  it('is hardened: read-only system, the IceWarp folders read-only, no privileges, no capabilities', () => {
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    for (const key of ['ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectControlGroups', 'RestrictSUIDSGID', 'RestrictNamespaces', 'LockPersonality']) {
      expect(one(key), key).toBe('yes');
    }
    expect(one('SystemCallFilter')).toBe('@system-service');
    const readOnly = one('ReadOnlyPaths').split(/\s+/).map((p) => p.replace(/^-/, ''));
    for (const key of ['log_directory', 'mail_directory']) {
      const dir = new RegExp(`^  ${key}: (\\S+)$`, 'm').exec(example)![1]!;
      expect(readOnly.some((p) => dir === p || dir.startsWith(`${p}/`)), `${dir} is read-only`).toBe(true);
    }
    // V8 writes machine code and runs it: MemoryDenyWriteExecute would kill Node at start.
    expect(unit.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('ships in the package', () => {
    expect(pkg.files).toContain('deploy');
    expect(pkg.files).toContain('mailrelay-exporter.example.yml');
  });
});

describe('deploy/windows/mailrelay-exporter-service.xml (WinSW 2.x)', () => {
  const xml = read('deploy/windows/mailrelay-exporter-service.xml');
  const elements = (name: string) => [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]!);
  /** %VAR% as Windows expands them for a service. */
  const expand = (s: string) => s.replace('%ProgramFiles%', 'C:\\Program Files').replace('%ProgramData%', 'C:\\ProgramData');

  it('is well formed: every element closed in order', () => {
    const stack: string[] = [];
    for (const m of xml.replace(/<!--[\s\S]*?-->/g, '').matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>/g)) {
      if (m[3]) continue;
      if (m[1]) expect(stack.pop(), `</${m[2]}>`).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
  });

  it("runs node on the package's bin file as npm lays it out on Windows under the README's --prefix", () => {
    expect(expand(elements('executable')[0]!)).toBe('C:\\Program Files\\nodejs\\node.exe');
    const [main, config] = elements('argument').map(expand);
    // npm install -g --prefix P on Windows puts packages in P\node_modules (no lib\ as on Linux).
    const prefix = 'C:\\Program Files\\mailrelay-exporter';
    expect(readme).toContain(`npm install -g --prefix "${prefix}" `);
    expect(main).toBe(path.win32.join(prefix, 'node_modules', pkg.name, pkg.bin['mailrelay-exporter']!));
    expect(config).toBe('--config.file=C:\\ProgramData\\mailrelay-exporter\\mailrelay-exporter.yml');
    expect(example).toContain('#   Windows: C:\\ProgramData\\mailrelay-exporter\\mailrelay-exporter.yml');
  });

  it('keeps its state where the exporter puts positions by default on Windows, and stops with time to save them', () => {
    const workdir = expand(elements('workingdirectory')[0]!);
    expect(path.win32.dirname(defaultPositionsFile({ ProgramData: 'C:\\ProgramData' }, 'win32'))).toBe(workdir);
    expect(elements('user')).toEqual(['LocalService']);
    expect(elements('stoptimeout')).toEqual(['30 sec']);
  });
});
