// The order of IceWarp's log files: its names carry the day and the size
// rotation within the day, so the name alone says which file is older.

// IceWarp names: sYYYYMMDD.log, or <type><serverid>YYYYMMDD-NN.log where NN
// counts size rotations within the day. The date is the last 8 digits before
// the optional -NN and the extension.
const DATED_NAME = /(\d{8})(?:-(\d+))?(?:\.[^.]*)?$/;

interface LogNameKey {
  date: string;
  rotation: number;
  name: string;
}

function logNameKey(name: string): LogNameKey {
  const m = DATED_NAME.exec(name);
  if (!m) return { date: '', rotation: -1, name };
  // A name without -NN is the day's first file.
  return { date: m[1] ?? '', rotation: m[2] === undefined ? 0 : Number(m[2]), name };
}

/**
 * Oldest first: by the date in the name, then the rotation number (no suffix
 * first), then the name itself. Names without a date come before dated ones.
 * Plain string comparison (not locale) so the order is the same everywhere.
 */
export function compareIcewarpLogNames(a: string, b: string): number {
  const ka = logNameKey(a);
  const kb = logNameKey(b);
  if (ka.date !== kb.date) return ka.date < kb.date ? -1 : 1;
  if (ka.rotation !== kb.rotation) return ka.rotation - kb.rotation;
  if (ka.name === kb.name) return 0;
  return ka.name < kb.name ? -1 : 1;
}
