// mailrelay-exporter.example.yml through the real config loader, as shipped
// (Linux) and with its "# Windows:" lines applied (Windows, read with
// node:path's win32 rules).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { defaultPositionsFile } from '../../src/config/paths.js';

const FILE = fileURLToPath(new URL('../../mailrelay-exporter.example.yml', import.meta.url));
const text = readFileSync(FILE, 'utf8');

/** Each "# Windows: key: value" line replaces the line above it that sets (or comments out) the same key. */
function windowsVariant(yaml: string): string {
  const lines = yaml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)# Windows: ([\w.]+): (.*)$/.exec(lines[i]!);
    if (!m) continue;
    const [, indent, key, value] = m;
    const above = lines[i - 1] ?? '';
    if (!new RegExp(`^${indent}(# )?${key}: `).test(above)) throw new Error(`line ${i + 1}: "# Windows: ${key}" is not below a ${key} line`);
    lines[i - 1] = `${indent}${key}: ${value}`;
    lines[i] = '';
  }
  return lines.join('\n');
}

describe('mailrelay-exporter.example.yml', () => {
  it('loads as shipped: IceWarp on Linux in its default folders, positions in the state directory', () => {
    const c = loadConfig(text, FILE);
    expect(c.icewarp).toMatchObject({ log_directory: '/opt/icewarp/logs/smtp', mail_directory: '/opt/icewarp/mail', log_time_zone: 'Local' });
    expect(c.positions_file).toBe(defaultPositionsFile());
    expect(c.local_domains).toEqual(['domaine.com', '*.domaine.com']);
  });

  it('loads with its Windows lines: drive-letter paths with spaces and backslashes, kept exactly', () => {
    const variant = windowsVariant(text);
    expect(variant).not.toBe(text);
    const c = loadConfig(variant, 'windows-variant.yml');
    expect(c.icewarp!.log_directory).toBe('C:\\Program Files\\IceWarp\\logs\\smtp');
    expect(c.icewarp!.mail_directory).toBe('C:\\Program Files\\IceWarp\\mail');
    expect(c.positions_file).toBe('C:\\ProgramData\\mailrelay-exporter\\positions.json');
    for (const p of [c.icewarp!.log_directory!, c.icewarp!.mail_directory!, c.positions_file]) {
      expect(path.win32.isAbsolute(p), p).toBe(true);
      expect(path.win32.normalize(p)).toBe(p);
    }
    // The file the exporter reads in a log folder, and the queue folder it watches, as Windows names them.
    expect(path.win32.join(c.icewarp!.log_directory!, 's20261128.log')).toBe('C:\\Program Files\\IceWarp\\logs\\smtp\\s20261128.log');
    expect(path.win32.join(c.icewarp!.mail_directory!, '_outgoing/retry')).toBe('C:\\Program Files\\IceWarp\\mail\\_outgoing\\retry');
    // The Windows positions path is the Windows default.
    expect(c.positions_file).toBe(defaultPositionsFile({ ProgramData: 'C:\\ProgramData' }, 'win32'));
  });

  it('says in the file how to write Windows paths, and the loader says it too when they are double-quoted', () => {
    expect(text).toContain("Write Windows paths unquoted or\n# in 'single quotes'");
    const quoted = windowsVariant(text).replace('log_directory: C:\\Program Files\\IceWarp\\logs\\smtp', 'log_directory: "C:\\Program Files\\IceWarp\\logs\\smtp"');
    expect(() => loadConfig(quoted, 'quoted.yml')).toThrow(/quoted\.yml:\d+: invalid YAML: .*backslashes are escapes inside double quotes/);
  });
});
