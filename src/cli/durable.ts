// File operations that survive a crash at any point: hashing, fsync of files
// and folders, writes that appear whole, and the containment check that keeps
// every path inside the mail directory. Nothing here deletes a file whose
// content is not known to exist elsewhere. Paths relative to the mail
// directory are byte strings (names.ts); the file system gets Buffers.
import { createHash } from 'node:crypto';
import { createReadStream, type PathLike } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { posix } from 'node:path';
import { bufferOf, bytesOfText, shown } from './names.js';

export class MailDirError extends Error {}

/** A path outside the mail directory, a symlink on the way, a folder that is missing or unreadable. */
export class UnsafePathError extends MailDirError {}

export async function sha256File(path: PathLike): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function lstatOrUndefined(path: PathLike): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A path for a message: Buffers (byte names) shown readably. */
export function pathText(path: PathLike): string {
  return Buffer.isBuffer(path) ? shown(path.toString('latin1')) : String(path);
}

/** Flushes a folder's entries (a rename or a new file) to disk. */
export async function fsyncDir(dir: PathLike): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some file systems (and Windows shares) refuse fsync on folders; the data fsync still holds.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    await handle?.close();
  }
}

/** Writes data to path (created or truncated) and fsyncs it. */
export async function writeSynced(path: PathLike, data: Buffer | string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Appends one line and fsyncs: the journal's progress markers. */
export async function appendSynced(path: PathLike, line: string): Promise<void> {
  const handle = await open(path, 'a');
  try {
    await handle.writeFile(line.endsWith('\n') ? line : `${line}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Copies src to dst (created or truncated), fsyncs it, and returns the sha256 of what was written, read back from dst. */
export async function copySynced(src: PathLike, dst: PathLike, afterChunk: () => Promise<void> = async () => undefined): Promise<string> {
  const from = await open(src, 'r');
  try {
    const to = await open(dst, 'w');
    try {
      const buf = Buffer.allocUnsafe(1 << 16);
      for (;;) {
        const { bytesRead } = await from.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        await to.write(buf, 0, bytesRead);
        await afterChunk();
      }
      await to.sync();
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
  return sha256File(dst);
}

/**
 * rename(2) that refuses to replace an existing file. Node has no
 * RENAME_NOREPLACE; IceWarp's names are unique, so a check just before is
 * enough, and a link(2)-based variant would leave two names for one message.
 */
export async function renameNoClobber(from: PathLike, to: PathLike): Promise<void> {
  if (await lstatOrUndefined(to)) {
    throw new MailDirError(`${pathText(to)}: already exists, not overwritten`);
  }
  await rename(from, to);
}

/** The hidden name (relative, a byte string) a file is written under before it appears as `target`: IceWarp ignores names that do not end in .tmp/.dat. */
export function partialPathFor(target: string): string {
  return posix.join(posix.dirname(target), `.${posix.basename(target)}.partial`);
}

export function isPartialName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.partial');
}

/**
 * The mail directory as the admin named it, checked and resolved once:
 * every path the commands touch is relative to it and must stay inside it.
 * Below the root no symlink is ever followed: `lstat` walks each component
 * of a path, and a symlinked folder on the way (a tampered journal's
 * `linkdir -> /outside`) is refused, as the spool scanner refuses it.
 */
export class MailDirectory {
  private readonly rootBytes: Buffer;

  private constructor(
    /** The real path (symlinks resolved): the containment boundary. */
    readonly root: string,
  ) {
    this.rootBytes = Buffer.from(root, 'utf8');
  }

  static async open(dir: string): Promise<MailDirectory> {
    let st: Stats;
    try {
      st = await stat(dir);
    } catch (err) {
      throw new UnsafePathError(`mail directory ${dir}: ${describeFsError(err)}`, { cause: err });
    }
    if (!st.isDirectory()) throw new UnsafePathError(`mail directory ${dir}: not a folder`);
    return new MailDirectory(await realpath(dir));
  }

  /** The components of a relative path (a byte string with `/` separators), refusing `..` and absolute paths. */
  private parts(rel: string): string[] {
    if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) throw new UnsafePathError(`${shown(rel)}: outside the mail directory ${this.root}`);
    const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw new UnsafePathError(`${shown(rel)}: outside the mail directory ${this.root}`);
    return parts;
  }

  /** The absolute path, as a Buffer (the name's own bytes), of a path relative to the mail directory. */
  abs(rel: string): Buffer {
    const parts = this.parts(rel);
    if (parts.length === 0) return this.rootBytes;
    return Buffer.concat([this.rootBytes, Buffer.from(sep), bufferOf(parts.join(sep))]);
  }

  /** The absolute path for a message. */
  shownAbs(rel: string): string {
    const parts = this.parts(rel);
    return parts.length === 0 ? this.root : `${this.root}${sep}${shown(parts.join(sep))}`;
  }

  /** The byte-string path relative to the mail directory of an absolute path (text) inside it. */
  rel(abs: string): string {
    const r = relative(this.root, resolve(abs));
    if (r.startsWith('..') || isAbsolute(r)) throw new UnsafePathError(`${abs}: outside the mail directory ${this.root}`);
    return bytesOfText(r.split(sep).join('/'));
  }

  /** A folder argument: relative to the mail directory, or absolute but inside it. */
  folderArg(arg: string): string {
    return isAbsolute(arg) ? this.rel(arg) : this.rel(resolve(this.root, arg));
  }

  /**
   * lstat of a path inside the mail directory, following no symlink on the
   * way: each folder on the path is lstat'ed and must be a real folder.
   * undefined when the path (or a folder on it) does not exist. The last
   * component may itself be a symlink: callers act on regular files only.
   */
  async lstat(rel: string): Promise<Stats | undefined> {
    const parts = this.parts(rel);
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      const st = await lstatOrUndefined(this.abs(folder));
      if (!st) return undefined;
      if (st.isSymbolicLink()) throw new UnsafePathError(`${this.shownAbs(folder)}: a symlink on the way to ${shown(rel)}; symlinks are never followed`);
      if (!st.isDirectory()) throw new UnsafePathError(`${this.shownAbs(folder)}: not a folder, on the way to ${shown(rel)}`);
    }
    return parts.length === 0 ? lstat(this.rootBytes) : lstatOrUndefined(this.abs(rel));
  }

  /** Whether a folder exists, as a real folder with no symlink on its path. */
  async checkFolder(rel: string): Promise<'ok' | 'missing'> {
    let st: Stats | undefined;
    try {
      st = await this.lstat(rel);
    } catch (err) {
      if (err instanceof UnsafePathError) throw err;
      throw new UnsafePathError(`${this.shownAbs(rel)}: ${describeFsError(err)}`, { cause: err });
    }
    if (!st) return 'missing';
    if (st.isSymbolicLink()) throw new UnsafePathError(`${this.shownAbs(rel)}: a symlink; symlinks below the mail directory are never followed`);
    if (!st.isDirectory()) throw new UnsafePathError(`${this.shownAbs(rel)}: not a folder`);
    return 'ok';
  }

  /** Creates a folder (and its parents) inside the mail directory, refusing a symlink or a file on the way. */
  async ensureFolder(rel: string): Promise<void> {
    const parts = this.parts(rel);
    for (let i = 1; i <= parts.length; i++) {
      const cur = parts.slice(0, i).join('/');
      if ((await this.checkFolder(cur)) === 'missing') {
        try {
          await mkdir(this.abs(cur));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
            throw new UnsafePathError(`cannot create ${this.shownAbs(cur)}: ${describeFsError(err)}`, { cause: err });
          }
          await this.checkFolder(cur); // made by someone else meanwhile: it must still be a real folder
        }
        await fsyncDir(this.abs(parts.slice(0, i - 1).join('/')));
      }
    }
  }
}

/**
 * A file-system error in words an admin under pressure can act on. A command
 * that only reads (logs report) names no user to run as: `permissionDenied`.
 */
export function describeFsError(err: unknown, permissionDenied = 'permission denied (run as the user IceWarp runs as, or as root)'): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return permissionDenied;
    case 'ENOTDIR':
      return 'not a folder';
    case 'ENOTREG':
      return 'not a regular file';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return e.message ?? String(err);
  }
}
