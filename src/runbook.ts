// The runbook's commands as the incident console shows them, filled in with
// an account and senders that come from the logs and the queue, that is,
// chosen by the attacker. Every such value is quoted for the shell it will be
// pasted into, so a sender such as `x@y;reboot` is a word, never a command.

/** A stolen account, as the commands that stop it and clean up after it need it. */
export interface StolenAccount {
  account: string;
  /**
   * The queued senders that hold its spam: the forged envelope senders it
   * used, or, when none of those is queued, the account's own address.
   */
  quarantineSenders: string[];
  /** The account's own address is among them, so its legitimate queued mail matches too. */
  quarantinesAccountItself: boolean;
  /** The configured queue (its folder or command, and Postfix's configuration directory), if any. */
  queue: { location: string; kind: 'folder' | 'command'; instance?: string } | undefined;
  /** How to run this exporter's own commands, ready to paste (`mailrelay-exporter`; the demo runs `node …/main.js`). */
  exporterCommand: string;
}

/** One step of a runbook: what to do, the commands to paste in order, and what to watch for. */
export interface RunbookStep {
  title: string;
  commands: string[];
  note?: string;
}

/** Characters no shell reads specially (ASCII only: other characters are quoted, never guessed at). */
const PLAIN = /^[A-Za-z0-9@%+=:,./_-]+$/;

/** One word for a POSIX shell (sh, bash): single quotes, a quote inside as '\''. */
export function shellWord(value: string): string {
  if (PLAIN.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * One word for PowerShell: single quotes, in which only quotes are special;
 * PowerShell also takes the typographic single quotes as quotes, so every
 * kind is doubled.
 */
export function powerShellWord(value: string): string {
  if (PLAIN.test(value)) return value;
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

/** A path such as C:\Program Files\IceWarp\mail or \\server\share: the commands are for Windows. */
export function isWindowsPath(path: string): boolean {
  return /^[A-Za-z]:[\\/]|^\\\\/.test(path);
}
