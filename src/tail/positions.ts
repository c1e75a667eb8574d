// The positions file: how far each log file has been read, so a restart
// neither re-reads nor skips.
//
//   { "version": 1, "directory": "/opt/icewarp/logs/smtp",
//     "files": { "s20261128.log": { "offset": 1234, "inode": "5678", "dev": "2049" } } }
//
// `offset` is the byte offset just after the last complete line delivered.
// inode and dev are decimal strings: they are 64-bit numbers that a JSON
// number cannot always hold exactly.
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path, { dirname } from 'node:path';

export const POSITIONS_VERSION = 1;

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

export interface SavedPosition {
  offset: number;
  inode: bigint;
  dev: bigint;
}

export interface SavedPositions {
  directory: string;
  files: Map<string, SavedPosition>;
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

/** Checks the shape of a parsed positions file. */
export function parsePositions(file: string, data: unknown): SavedPositions {
  if (!isObject(data)) throw new PositionsFileError(file, 'is not a JSON object');
  if (data['version'] !== POSITIONS_VERSION) {
    throw new PositionsFileError(file, `has version ${JSON.stringify(data['version'])}, expected ${POSITIONS_VERSION}`);
  }
  const directory = data['directory'];
  if (typeof directory !== 'string') throw new PositionsFileError(file, '"directory" is not a string');
  const files = data['files'];
  if (!isObject(files)) throw new PositionsFileError(file, '"files" is not an object');
  const out = new Map<string, SavedPosition>();
  for (const [name, entry] of Object.entries(files)) {
    if (!isObject(entry)) throw new PositionsFileError(file, `files.${name} is not an object`);
    const offset = entry['offset'];
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new PositionsFileError(file, `files.${name}.offset is not a non-negative integer`);
    }
    out.set(name, { offset, inode: toId(file, `files.${name}.inode`, entry['inode']), dev: toId(file, `files.${name}.dev`, entry['dev']) });
  }
  return { directory, files: out };
}

/** Writes atomically: a temporary file beside it, fsync, rename, then fsync of the folder. */
export async function writePositions(file: string, positions: SavedPositions): Promise<void> {
  const files: Record<string, { offset: number; inode: string; dev: string }> = {};
  for (const [name, p] of positions.files) files[name] = { offset: p.offset, inode: p.inode.toString(), dev: p.dev.toString() };
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
