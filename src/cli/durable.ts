// File operations that survive a crash at any point: hashing, fsync of files
// and folders, writes that appear whole, and the containment check that keeps
// every path inside the mail directory. Nothing here deletes a file whose
// content is not known to exist elsewhere.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export class MailDirError extends Error {}

/** A path outside the mail directory, a symlink leading out of it, a folder that is missing or unreadable. */
export class UnsafePathError extends MailDirError {}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Flushes a folder's entries (a rename or a new file) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
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
export async function writeSynced(path: string, data: Buffer | string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Appends one line and fsyncs: the journal's progress markers. */
export async function appendSynced(path: string, line: string): Promise<void> {
  const handle = await open(path, 'a');
  try {
    await handle.writeFile(line.endsWith('\n') ? line : `${line}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Copies src to dst (created or truncated), fsyncs it, and returns the sha256 of what was written, read back from dst. */
export async function copySynced(src: string, dst: string, afterChunk: () => Promise<void> = async () => undefined): Promise<string> {
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
export async function renameNoClobber(from: string, to: string): Promise<void> {
  if (await lstatOrUndefined(to)) {
    throw new MailDirError(`${to}: already exists, not overwritten`);
  }
  await rename(from, to);
}

/** The hidden name a file is written under before it appears as `target`: IceWarp ignores names that do not end in .tmp/.dat. */
export function partialPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.partial`);
}

export function isPartialName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.partial');
}

/**
 * The mail directory as the admin named it, checked and resolved once:
 * every path the commands touch is relative to it and must stay inside it.
 */
export class MailDirectory {
  private constructor(
    /** The real path (symlinks resolved): the containment boundary. */
    readonly root: string,
  ) {}

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

  /** The absolute path of a path relative to the mail directory (with `/` separators), refusing `..` escapes. */
  abs(rel: string): string {
    const p = resolve(this.root, rel);
    if (p !== this.root && !p.startsWith(this.root + sep)) {
      throw new UnsafePathError(`${rel}: outside the mail directory ${this.root}`);
    }
    return p;
  }

  /** The path relative to the mail directory, with `/` separators, of an absolute path inside it. */
  rel(abs: string): string {
    const r = relative(this.root, resolve(abs));
    if (r.startsWith('..') || isAbsolute(r)) throw new UnsafePathError(`${abs}: outside the mail directory ${this.root}`);
    return r.split(sep).join('/');
  }

  /** A folder argument: relative to the mail directory, or absolute but inside it. */
  folderArg(arg: string): string {
    return isAbsolute(arg) ? this.rel(arg) : this.rel(this.abs(arg));
  }

  /**
   * Checks that an existing folder's real path is inside the mail directory,
   * so a symlinked queue folder never leads the commands out of it.
   */
  async checkFolder(rel: string): Promise<'ok' | 'missing'> {
    let real: string;
    try {
      real = await realpath(this.abs(rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw new UnsafePathError(`${this.abs(rel)}: ${describeFsError(err)}`, { cause: err });
    }
    if (real !== this.root && !real.startsWith(this.root + sep)) {
      throw new UnsafePathError(`${this.abs(rel)}: leads to ${real}, outside the mail directory; not followed`);
    }
    return 'ok';
  }

  /** Creates a folder (and its parents) inside the mail directory, checking each existing ancestor's real path. */
  async ensureFolder(rel: string): Promise<void> {
    const parts = this.rel(this.abs(rel)).split('/').filter((p) => p !== '');
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if ((await this.checkFolder(cur)) === 'missing') {
        try {
          await mkdir(this.abs(cur));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
            throw new UnsafePathError(`cannot create ${this.abs(cur)}: ${describeFsError(err)}`, { cause: err });
          }
        }
        await fsyncDir(dirname(this.abs(cur)));
      }
    }
  }
}

/** A file-system error in words an admin under pressure can act on. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (run as the user IceWarp runs as, or as root)';
    case 'ENOTDIR':
      return 'not a folder';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return e.message ?? String(err);
  }
}
