// The positions file: how far each log file has been read and counted, so a
// restart neither re-reads nor skips.
//
//   { "version": 2, "directory": "/opt/icewarp/logs/smtp",
//     "files": { "2049:5678": { "name": "s120261128-01.log", "listed_as": "s20261128.log",
//                               "inode": "5678", "dev": "2049", "offset": 1234,
//                               "fingerprint": { "bytes": 1024, "sha256": "…" } } } }
//
// Files are keyed by identity (device:inode), not by name: a file renamed by
// rotation keeps its offset. `name` is its name when saved, `listed_as` the
// name it had when first seen (its place in the reading order), `offset` the
// byte just after the last complete line counted. `fingerprint` is a hash of
// its first bytes, which tells a file from a new one that got a freed inode.
// inode and dev are decimal strings: 64-bit numbers that a JSON number cannot
// always hold exactly.
//
// Version 1 (written by name, without fingerprints) is read and migrated:
// its offsets are matched by inode, as version 1 did.
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path, { dirname } from 'node:path';

export const POSITIONS_VERSION = 2;

/**
 * Whether the saved positions' directory is the one being followed, compared
 * as the platform compares names (`paths` is node:path here; tests pass
 * path.win32): on Windows case does not matter and / is \, so
 * `C:\Program Files\IceWarp\logs\smtp` written in the config one way and
 * saved another way is still the same folder, and a restart keeps its offsets.
 */
export function sameDirectory(saved: string, current: string, paths: path.PlatformPath = path): boolean {
  const a = paths.resolve(saved);
  const b = paths.resolve(current);
  return paths.sep === '\\' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** A hash of a file's first `bytes` bytes. */
export interface Fingerprint {
  bytes: number;
  sha256: string;
}

export interface SavedFile {
  /** Its name when saved. */
  name: string;
  /** Its name when first seen: its place in the reading order. */
  listedAs: string;
  inode: bigint;
  dev: bigint;
  offset: number;
  /** undefined for entries migrated from version 1. */
  fingerprint: Fingerprint | undefined;
}

export interface SavedPositions {
  directory: string;
  /** In reading order (oldest first). */
  files: SavedFile[];
  /** The version the file was written in (1 when migrated). */
  version: number;
}

export class PositionsFileError extends Error {
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`positions file ${file}: ${reason}`, options);
    this.name = 'PositionsFileError';
  }
}

/** Reads the positions file; undefined when it does not exist. Throws PositionsFileError when it is unreadable or corrupt. */
export async function readPositions(file: string): Promise<SavedPositions | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PositionsFileError(file, 'cannot be read', { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PositionsFileError(file, 'is not valid JSON', { cause: err });
  }
  return parsePositions(file, data);
}

/** Checks the shape of a parsed positions file, version 1 or 2. */
export function parsePositions(file: string, data: unknown): SavedPositions {
  if (!isObject(data)) throw new PositionsFileError(file, 'is not a JSON object');
  const version = data['version'];
  if (version !== 1 && version !== POSITIONS_VERSION) {
    throw new PositionsFileError(file, `has version ${JSON.stringify(version)}, expected 1 or ${POSITIONS_VERSION}`);
  }
  const directory = data['directory'];
  if (typeof directory !== 'string') throw new PositionsFileError(file, '"directory" is not a string');
  const files = data['files'];
  if (!isObject(files)) throw new PositionsFileError(file, '"files" is not an object');
  const out: SavedFile[] = [];
  for (const [key, entry] of Object.entries(files)) {
    const at = `files.${key}`;
    if (!isObject(entry)) throw new PositionsFileError(file, `${at} is not an object`);
    const offset = entry['offset'];
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new PositionsFileError(file, `${at}.offset is not a non-negative integer`);
    }
    const inode = toId(file, `${at}.inode`, entry['inode']);
    const dev = toId(file, `${at}.dev`, entry['dev']);
    if (version === 1) {
      // Version 1 was keyed by name.
      out.push({ name: key, listedAs: key, inode, dev, offset, fingerprint: undefined });
      continue;
    }
    const name = entry['name'];
    const listedAs = entry['listed_as'] ?? name;
    if (typeof name !== 'string' || name === '') throw new PositionsFileError(file, `${at}.name is not a file name`);
    if (typeof listedAs !== 'string' || listedAs === '') throw new PositionsFileError(file, `${at}.listed_as is not a file name`);
    out.push({ name, listedAs, inode, dev, offset, fingerprint: toFingerprint(file, `${at}.fingerprint`, entry['fingerprint']) });
  }
  return { directory, files: out, version };
}

/** Writes atomically: a temporary file beside it, fsync, rename, then fsync of the folder. Always version 2. */
export async function writePositions(file: string, positions: Omit<SavedPositions, 'version'>): Promise<void> {
  const files: Record<string, unknown> = {};
  for (const f of positions.files) {
    files[`${f.dev}:${f.inode}`] = {
      name: f.name,
      listed_as: f.listedAs,
      inode: f.inode.toString(),
      dev: f.dev.toString(),
      offset: f.offset,
      ...(f.fingerprint ? { fingerprint: f.fingerprint } : {}),
    };
  }
  const text = JSON.stringify({ version: POSITIONS_VERSION, directory: positions.directory, files }, null, 1) + '\n';
  const folder = dirname(file);
  const tmp = `${file}.tmp`;
  try {
    await makeFolder(folder);
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    throw new PositionsFileError(file, `cannot be written: ${(err as Error).message}`, { cause: err });
  }
  // Makes the rename itself durable; not possible on every platform, and the
  // data is already safe in the file, so a failure here is not an error.
  try {
    const dir = await open(folder, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* best effort */
  }
}

/**
 * Whether the positions file can be written: its folder exists or can be
 * made, and a file can be created in it (a probe, removed at once, under a
 * name of its own so it never meets a running tailer's temporary file).
 * Throws PositionsFileError naming the path and the reason.
 */
export async function checkPositionsWritable(file: string): Promise<void> {
  const probe = `${file}.probe-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await makeFolder(dirname(file));
    const fh = await open(probe, 'wx', 0o644);
    await fh.close();
    await unlink(probe);
  } catch (err) {
    throw new PositionsFileError(file, `cannot be written: ${(err as Error).message}`, { cause: err });
  }
  try {
    if ((await stat(file)).isDirectory()) throw new Error('it is a directory');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new PositionsFileError(file, `cannot be written: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * mkdir -p, one level at a time. Node's `mkdir(…, { recursive: true })`
 * retries for ever when mkdir answers ENOENT for a folder whose parent
 * exists (`/proc/nope`): a thread of the pool spins, and nothing after it
 * ever runs. Here each missing level is made once, and the first failure is
 * the answer.
 */
export async function makeFolder(folder: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = folder; ; ) {
    try {
      if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.push(dir);
      const parent = dirname(dir);
      if (parent === dir) throw err;
      dir = parent;
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

function toId(file: string, key: string, v: unknown): bigint {
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new PositionsFileError(file, `${key} is not a non-negative integer`);
}

function toFingerprint(file: string, key: string, v: unknown): Fingerprint | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new PositionsFileError(file, `${key} is not an object`);
  const bytes = v['bytes'];
  const sha256 = v['sha256'];
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) throw new PositionsFileError(file, `${key}.bytes is not a non-negative integer`);
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new PositionsFileError(file, `${key}.sha256 is not a SHA-256 in hex`);
  return { bytes, sha256 };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
