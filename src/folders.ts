// Whether a configured folder can be read now, in words that name its config
// key: shared by --config.check, /-/ready and the landing page, so a wrong
// log_directory or mail_directory is said the same way everywhere.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';

/** Why `dir` (named by the config key `key`) cannot be read as a folder by this process, or undefined when it can. */
export async function folderProblem(dir: string, key: string): Promise<string | undefined> {
  try {
    if (!(await stat(dir)).isDirectory()) return `${key}: ${dir} is not a directory`;
    await access(dir, constants.R_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read by this user' : `cannot be used: ${(err as Error).message}`;
    return `${key}: ${dir} ${why}`;
  }
}
