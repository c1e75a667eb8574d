// Where the exporter keeps its state when the config does not say, per
// platform. Pure: the environment and the platform are parameters, so the
// Windows rules are tested on Linux with node:path's win32 semantics.
import path from 'node:path';

export const STATE_FOLDER_NAME = 'mailrelay-exporter';

/**
 * The default positions_file: in systemd's state directory when the unit sets
 * one (StateDirectory= exports $STATE_DIRECTORY, a colon-separated list: the
 * first is ours), else /var/lib/mailrelay-exporter (the container image's
 * volume too), or %ProgramData%\mailrelay-exporter on Windows. Never the
 * working directory: a service started from / would write to /data.
 */
export function defaultPositionsFile(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    const programData = env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData';
    return path.win32.join(programData, STATE_FOLDER_NAME, 'positions.json');
  }
  const state = env.STATE_DIRECTORY?.split(':').find((d) => d !== '');
  return path.posix.join(state ?? path.posix.join('/var/lib', STATE_FOLDER_NAME), 'positions.json');
}
