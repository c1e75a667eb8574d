// Every MTA the exporter reads, in one list. An MTA is a folder under src/
// (its log parser, its file order, its queue) and a config section; the
// section present in the config file selects it. Adding one is a new folder,
// a line here and a line in MTA_SECTIONS.
import type { Config } from './config/config.js';
import type { Node } from './config/schema.js';
import { icewarpMta, icewarpSection } from './icewarp/mta.js';
import { postfixMta, postfixSection } from './postfix/mta.js';
import type { RunbookStep, StolenAccount } from './runbook.js';
import type { LogSource } from './smtp/parser.js';
import type { QueueLocation } from './spool/source.js';

export interface Mta<C = unknown> {
  /** The config section's key and the name used in logs. */
  readonly name: string;
  readonly section: Node<C>;
  /** Its logs, when the section enables them. Throws SettingsError. */
  logSource(section: C): LogSource | undefined;
  /** Its queue, when the section enables it. Throws SettingsError. */
  queue(section: C): QueueLocation | undefined;
  /**
   * The section (as a YAML mapping, checked by `section`) that reads the log
   * files of one folder: `logs report --mta NAME --log-dir DIR`.
   */
  logDirectorySection(directory: string, timeZone: string | undefined): Record<string, unknown>;
  /**
   * The runbook for a stolen account, filled in: stop the account (its
   * password, with this MTA's tools), take its spam out of the queue (dry run
   * first), check. The incident console shows it for a suspicious account.
   */
  stolenAccountSteps(stolen: StolenAccount): RunbookStep[];
}

/** The sections of the config file, one per MTA (config.ts builds its schema from them). */
export const MTA_SECTIONS = {
  icewarp: icewarpSection,
  postfix: postfixSection,
};

export const MTAS: readonly Mta[] = [icewarpMta, postfixMta];

/** The MTA whose section is in the config, with that section; undefined when none is. The config loader allows one at most. */
export function configuredMta(config: Config): { mta: Mta; section: unknown } | undefined {
  for (const mta of MTAS) {
    const section = (config as Record<string, unknown>)[mta.name];
    if (section !== undefined) return { mta, section };
  }
  return undefined;
}

export function configuredLogSource(config: Config): LogSource | undefined {
  const m = configuredMta(config);
  return m?.mta.logSource(m.section);
}

export function configuredQueue(config: Config): QueueLocation | undefined {
  const m = configuredMta(config);
  return m?.mta.queue(m.section);
}
