import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPositionsWritable, makeFolder, parsePositions, PositionsFileError, readPositions, sameDirectory, writePositions, type SavedFile } from './positions.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'positions-'));
});
afterEach(async () => {
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

const SHA = 'ab'.repeat(32);

function entry(over: Partial<SavedFile> = {}): SavedFile {
  return { name: 's20261128.log', listedAs: 's20261128.log', inode: 5678n, dev: 2049n, offset: 1234, fingerprint: { bytes: 1024, sha256: SHA }, ...over };
}

describe('positions file', () => {
  it('round-trips 64-bit inode and device numbers and fingerprints exactly, keyed by identity, creating its folder', async () => {
    const file = join(dir, 'a', 'b', 'positions.json');
    const files = [entry({ name: 's120261128-01.log', inode: 18446744073709551615n }), entry({ inode: 7n, offset: 0, fingerprint: undefined })];
    await writePositions(file, { directory: '/var/log/smtp', files });
    expect(await readPositions(file)).toEqual({ directory: '/var/log/smtp', files, version: 2 });
    // No temporary file left behind.
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['positions.json']);
    const json = JSON.parse(await readFile(file, 'utf8'));
    expect(json).toEqual({
      version: 2,
      directory: '/var/log/smtp',
      files: {
        '2049:18446744073709551615': {
          name: 's120261128-01.log',
          listed_as: 's20261128.log',
          inode: '18446744073709551615',
          dev: '2049',
          offset: 1234,
          fingerprint: { bytes: 1024, sha256: SHA },
        },
        '2049:7': { name: 's20261128.log', listed_as: 's20261128.log', inode: '7', dev: '2049', offset: 0 },
      },
    });
  });

  it('reads a version 1 file (keyed by name, no fingerprints) without losing an offset', () => {
    const p = parsePositions('p.json', {
      version: 1,
      directory: '/d',
      files: { 's20261127.log': { offset: 3, inode: '7', dev: '8' }, 's20261128.log': { offset: 10, inode: 9, dev: 8 } },
    });
    expect(p).toEqual({
      version: 1,
      directory: '/d',
      files: [
        { name: 's20261127.log', listedAs: 's20261127.log', offset: 3, inode: 7n, dev: 8n, fingerprint: undefined },
        { name: 's20261128.log', listedAs: 's20261128.log', offset: 10, inode: 9n, dev: 8n, fingerprint: undefined },
      ],
    });
  });

  it('replaces an existing file whole', async () => {
    const file = join(dir, 'positions.json');
    await writePositions(file, { directory: '/d', files: [entry()] });
    await writePositions(file, { directory: '/d', files: [] });
    expect((await readPositions(file))?.files).toEqual([]);
  });

  it('is undefined when missing', async () => {
    expect(await readPositions(join(dir, 'none.json'))).toBeUndefined();
  });

  it('rejects corrupt content, naming the file and the key', async () => {
    const file = join(dir, 'positions.json');
    await writeFile(file, '{"version":2,"directory":"/d","files":{"1:2":{"offset":');
    await expect(readPositions(file)).rejects.toThrow(PositionsFileError);
    await expect(readPositions(file)).rejects.toThrow(`positions file ${file}: is not valid JSON`);
  });

  const v2 = (e: Record<string, unknown>) => ({ version: 2, directory: '/d', files: { '1:2': { name: 'a.log', inode: '2', dev: '1', offset: 1, ...e } } });
  it.each([
    [[], /not a JSON object/],
    [{ version: 3, directory: '/d', files: {} }, /version 3, expected 1 or 2/],
    [{ version: 2, files: {} }, /"directory"/],
    [{ version: 2, directory: '/d', files: [] }, /"files"/],
    [v2({ offset: -1 }), /files\.1:2\.offset/],
    [v2({ offset: 1.5 }), /files\.1:2\.offset/],
    [v2({ inode: 'x' }), /files\.1:2\.inode/],
    [v2({ dev: undefined }), /files\.1:2\.dev/],
    [v2({ name: '' }), /files\.1:2\.name/],
    [v2({ fingerprint: { bytes: 10, sha256: 'xyz' } }), /files\.1:2\.fingerprint\.sha256/],
    [v2({ fingerprint: { bytes: -1, sha256: SHA } }), /files\.1:2\.fingerprint\.bytes/],
    [{ version: 1, directory: '/d', files: { 'a.log': { offset: 1, inode: '1' } } }, /files\.a\.log\.dev/],
  ])('rejects %j', (data, message) => {
    expect(() => parsePositions('p.json', data)).toThrow(message);
  });
});

describe('makeFolder', () => {
  it('makes every missing level', async () => {
    await makeFolder(join(dir, 'x', 'y', 'z'));
    expect(await readdir(join(dir, 'x', 'y'))).toEqual(['z']);
  });

  it('fails at once where mkdir answers ENOENT under an existing parent (Node\'s recursive mkdir spins for ever there)', async () => {
    await expect(makeFolder('/proc/nope/state')).rejects.toThrow(/ENOENT.*\/proc\/nope/);
  });

  it('fails when a level is a file', async () => {
    await writeFile(join(dir, 'file'), '');
    await expect(makeFolder(join(dir, 'file', 'sub'))).rejects.toThrow(/ENOTDIR/);
  });
});

describe('checkPositionsWritable', () => {
  it('accepts a new folder and leaves no probe behind', async () => {
    await checkPositionsWritable(join(dir, 'state', 'positions.json'));
    expect(await readdir(join(dir, 'state'))).toEqual([]);
  });

  it.each([
    ['/proc/nope/positions.json', /positions file \/proc\/nope\/positions\.json: cannot be written: ENOENT/],
    ['/proc/positions.json', /positions file \/proc\/positions\.json: cannot be written: (ENOENT|EACCES|EPERM)/],
  ])('names the path and the reason: %s', async (file, message) => {
    await expect(checkPositionsWritable(file)).rejects.toThrow(message);
  });

  it('refuses a folder in its place', async () => {
    const file = join(dir, 'positions.json');
    await makeFolder(file);
    await expect(checkPositionsWritable(file)).rejects.toThrow(`positions file ${file}: cannot be written: it is a directory`);
  });
});

describe('sameDirectory', () => {
  it('on Windows: the same folder whatever the case, the slashes or a trailing separator', () => {
    const w = path.win32;
    expect(sameDirectory('C:\\Program Files\\IceWarp\\logs\\smtp', 'c:/program files/icewarp/logs/smtp/', w)).toBe(true);
    expect(sameDirectory('C:\\Program Files\\IceWarp\\logs\\smtp', 'C:\\Program Files\\IceWarp\\logs\\.\\smtp', w)).toBe(true);
    expect(sameDirectory('C:\\Program Files\\IceWarp\\logs\\smtp', 'D:\\Program Files\\IceWarp\\logs\\smtp', w)).toBe(false);
    expect(sameDirectory('C:\\Program Files\\IceWarp\\logs\\smtp', 'C:\\Program Files\\IceWarp\\logs\\imap', w)).toBe(false);
  });

  it('on Linux: case matters, as it does to the file system', () => {
    const p = path.posix;
    expect(sameDirectory('/opt/icewarp/logs/smtp', '/opt/icewarp/logs/smtp/', p)).toBe(true);
    expect(sameDirectory('/opt/icewarp/logs/smtp', '/opt/IceWarp/logs/smtp', p)).toBe(false);
  });
});
