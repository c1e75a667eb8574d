// lstatFacts against lstatSync, for each kind of thing a queue folder may hold.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STAT_FILE, STAT_GONE, STAT_OTHER, bindingLstat, lstatFacts } from './fileStat.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-filestat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lstatFacts', () => {
  it("uses Node 20's fs binding, which answers as lstatSync does", () => {
    expect(bindingLstat).toBeTypeOf('function');
  });

  it('gives a regular file its size and modification time to the bit, and anything else as not a file', () => {
    const file = join(dir, 'a.tmp');
    writeFileSync(file, 'Original Sender: <a@b.c>\r\n\r\nbody');
    const latin1 = Buffer.concat([Buffer.from(dir + '/'), Buffer.from('caf\u00e9.tmp', 'latin1')]);
    writeFileSync(latin1, 'x'.repeat(5000));
    mkdirSync(join(dir, 'folder.tmp'));
    symlinkSync(file, join(dir, 'link.tmp'));
    execFileSync('mkfifo', [join(dir, 'fifo.tmp')]);
    const out = { size: 0, mtimeMs: 0 };
    for (const path of [file, latin1]) {
      expect(lstatFacts(path, out)).toBe(STAT_FILE);
      const st = lstatSync(path);
      expect(out).toEqual({ size: st.size, mtimeMs: st.mtimeMs });
    }
    for (const name of ['folder.tmp', 'link.tmp', 'fifo.tmp']) expect(lstatFacts(join(dir, name), out)).toBe(STAT_OTHER);
    expect(lstatFacts(join(dir, 'gone.tmp'), out)).toBe(STAT_GONE);
    // Other failures are thrown as lstatSync throws them.
    expect(() => lstatFacts(join(file, 'below'), out)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });
});
