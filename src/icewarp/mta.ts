// IceWarp as the exporter sees it: the `icewarp:` config section, its SMTP log
// folder (files named by day, read with the session parser) and its queue
// folders (scanned and watched).
import { fileNamePattern, section, string, timeZone, withDefault, type Infer } from '../config/schema.js';
import type { Mta } from '../mtas.js';
import { SpoolScanner } from '../spool/scanner.js';
import { compileFileNamePattern } from '../tail/glob.js';
import { compareIcewarpLogNames } from './files.js';
import { icewarpStolenAccountSteps } from './response.js';
import { scanLines } from './line.js';
import { IcewarpSessions } from './sessions.js';

export const icewarpSection = section({
  /** Enables the log pipeline. */
  log_directory: string,
  log_file_pattern: withDefault(fileNamePattern, 's*.log'),
  /** The zone of the logs' HH:MM:SS times: UTC, Local, +02:00, or an IANA name such as Europe/Paris. */
  log_time_zone: withDefault(timeZone, 'UTC'),
  /** Enables the spool collector. */
  mail_directory: string,
});

export type IcewarpSection = Infer<typeof icewarpSection>;

export const icewarpMta: Mta<IcewarpSection> = {
  name: 'icewarp',
  section: icewarpSection,
  logSource(s) {
    if (s.log_directory === undefined) return undefined;
    return {
      mta: 'icewarp',
      directory: s.log_directory,
      key: 'icewarp.log_directory',
      pattern: s.log_file_pattern,
      timeZone: s.log_time_zone,
      matches: compileFileNamePattern(s.log_file_pattern),
      order: compareIcewarpLogNames,
      createParser: (opts) => new IcewarpSessions(opts),
      scanLines,
    };
  },
  queue(s) {
    const mailDirectory = s.mail_directory;
    if (mailDirectory === undefined) return undefined;
    return {
      mta: 'icewarp',
      location: mailDirectory,
      kind: 'folder',
      key: 'icewarp.mail_directory',
      open: (opts) => new SpoolScanner({ mailDirectory, ...opts }),
    };
  },
  logDirectorySection: (directory, timeZone) => ({ log_directory: directory, ...(timeZone === undefined ? {} : { log_time_zone: timeZone }) }),
  stolenAccountSteps: icewarpStolenAccountSteps,
};
