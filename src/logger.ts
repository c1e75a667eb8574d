// logfmt to stderr, as the Prometheus exporters write it:
//   ts=2026-11-28T02:18:32.000Z level=info msg="listening" address=:9976
// Values from mail logs are attacker-controlled: quoting escapes them.

export type Level = 'debug' | 'info' | 'warn' | 'error';
export const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: Level, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const threshold = LEVELS.indexOf(level);
  const emit = (lvl: Level) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS.indexOf(lvl) < threshold) return;
    let line = `ts=${new Date().toISOString()} level=${lvl} msg=${quote(msg)}`;
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) line += ` ${k}=${quote(v instanceof Error ? v.message : String(v))}`;
    }
    write(line + '\n');
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function quote(v: string): string {
  return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
}
