import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPositionsFile } from './paths.js';

describe('defaultPositionsFile', () => {
  it("is in systemd's state directory when the unit sets StateDirectory= (the first of several)", () => {
    expect(defaultPositionsFile({ STATE_DIRECTORY: '/var/lib/mailrelay-exporter' }, 'linux')).toBe('/var/lib/mailrelay-exporter/positions.json');
    expect(defaultPositionsFile({ STATE_DIRECTORY: '/var/lib/a:/var/lib/b' }, 'linux')).toBe('/var/lib/a/positions.json');
  });

  it('is /var/lib/mailrelay-exporter without systemd (the container image declares it a volume), never the working directory', () => {
    for (const platform of ['linux', 'freebsd', 'darwin'] as const) {
      const file = defaultPositionsFile({}, platform);
      expect(file).toBe('/var/lib/mailrelay-exporter/positions.json');
      expect(path.posix.isAbsolute(file)).toBe(true);
    }
  });

  it('is under %ProgramData% on Windows, a drive-letter path with backslashes', () => {
    const file = defaultPositionsFile({ ProgramData: 'D:\\ProgramData' }, 'win32');
    expect(file).toBe('D:\\ProgramData\\mailrelay-exporter\\positions.json');
    expect(path.win32.isAbsolute(file)).toBe(true);
    expect(path.win32.parse(file)).toMatchObject({ root: 'D:\\', base: 'positions.json', dir: 'D:\\ProgramData\\mailrelay-exporter' });
    // Windows spells environment names in any case; a service without a profile still has a ProgramData.
    expect(defaultPositionsFile({ PROGRAMDATA: 'C:\\ProgramData' }, 'win32')).toBe('C:\\ProgramData\\mailrelay-exporter\\positions.json');
    expect(defaultPositionsFile({}, 'win32')).toBe('C:\\ProgramData\\mailrelay-exporter\\positions.json');
    // $STATE_DIRECTORY is systemd's: ignored on Windows.
    expect(defaultPositionsFile({ STATE_DIRECTORY: '/var/lib/x', ProgramData: 'C:\\ProgramData' }, 'win32')).toMatch(/^C:\\ProgramData\\/);
  });
});
