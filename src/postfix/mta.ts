// Postfix as the exporter sees it: the `postfix:` config section and its mail
// log (a syslog file and its logrotate rotations, read by queue ID).
import { dirname, basename } from 'node:path';
import { filePathPattern, section, timeZone, withDefault, type Infer } from '../config/schema.js';
import type { Mta } from '../mtas.js';
import { compareRotatedLogNames, logFileMatcher } from './files.js';
import { PostfixLog } from './log.js';

export const postfixSection = section({
  /** Enables the log pipeline: /var/log/mail.log (and its rotations), or a glob on the file name such as /var/log/mail.log*. */
  log_file: filePathPattern,
  /** The zone of traditional syslog times (`Nov 29 18:42:01`); RFC 3339 times carry their own offset. */
  log_time_zone: withDefault(timeZone, 'Local'),
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
  queue() {
    return undefined;
  },
};
