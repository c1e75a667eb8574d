// Postfix as the exporter sees it: the `postfix:` config section, its mail
// log (a syslog file and its logrotate rotations, read by queue ID) and its
// queue (listed with `postqueue -j`).
import { basename, dirname, join } from 'node:path';
import { filePathPattern, section, string, timeZone, withDefault, type Infer } from '../config/schema.js';
import type { Mta } from '../mtas.js';
import { compareRotatedLogNames, logFileMatcher } from './files.js';
import { PostfixLog } from './log.js';
import { PostfixQueue } from './queue.js';
import { postfixStolenAccountSteps } from './response.js';

export const postfixSection = section({
  /** Enables the log pipeline: /var/log/mail.log (and its rotations), or a glob on the file name such as /var/log/mail.log*. */
  log_file: filePathPattern,
  /** The zone of traditional syslog times (`Nov 29 18:42:01`); RFC 3339 times carry their own offset. */
  log_time_zone: withDefault(timeZone, 'Local'),
  /** Enables the queue collector: the path of `postqueue` (/usr/sbin/postqueue). */
  postqueue: string,
  /** Postfix's configuration directory, passed as `-c` to postqueue and postsuper (a second instance: /etc/postfix-out); default: Postfix's own. */
  config_directory: string,
});

export type PostfixSection = Infer<typeof postfixSection>;

export const postfixMta: Mta<PostfixSection> = {
  name: 'postfix',
  section: postfixSection,
  logSource(s) {
    if (s.log_file === undefined) return undefined;
    const pattern = basename(s.log_file);
    return {
      mta: 'postfix',
      directory: dirname(s.log_file),
      key: 'postfix.log_file',
      pattern,
      timeZone: s.log_time_zone,
      matches: logFileMatcher(pattern),
      order: compareRotatedLogNames,
      createParser: (opts) => new PostfixLog(opts),
    };
  },
  queue(s) {
    const postqueue = s.postqueue;
    if (postqueue === undefined) return undefined;
    const configDirectory = s.config_directory;
    return {
      mta: 'postfix',
      location: postqueue,
      kind: 'command',
      instance: configDirectory,
      key: 'postfix.postqueue',
      open: (opts) => new PostfixQueue({ ...opts, postqueue, configDirectory }),
    };
  },
  // Debian's and most distributions' mail log, with its logrotate rotations.
  logDirectorySection: (directory, timeZone) => ({ log_file: join(directory, 'mail.log*'), ...(timeZone === undefined ? {} : { log_time_zone: timeZone }) }),
  stolenAccountSteps: postfixStolenAccountSteps,
};
