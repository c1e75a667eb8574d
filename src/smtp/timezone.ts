// Log times written without an offset (IceWarp's `HH:MM:SS`, syslog's
// `Nov 29 18:42:01`) are wall-clock times of the mail server's zone. The zone
// comes from the MTA's config section (`log_time_zone`): "UTC", "Local" (the
// exporter's own zone, right when it runs on the mail server), a fixed offset
// such as "+02:00", or an IANA name such as "Europe/Paris".

/** Converts a wall-clock time (seconds since the epoch, read as if it were UTC) to true unix seconds. */
export type WallClock = (wallSeconds: number) => number;

const OFFSET = /^([+-])(\d{2}):?(\d{2})$/;

/** Whether `zone` is one the exporter understands. */
export function isTimeZone(zone: string): boolean {
  if (zone === 'UTC' || zone === 'Local' || OFFSET.test(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function wallClock(zone: string): WallClock {
  if (zone === 'UTC') return (wall) => wall;
  const fixed = OFFSET.exec(zone);
  if (fixed) {
    const offset = (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 3600 + Number(fixed[3]) * 60);
    return (wall) => wall - offset;
  }
  const offsetAt = zone === 'Local' ? localOffset : ianaOffset(zone);
  // Offsets change at most once an hour (DST), so one lookup an hour of log time: the hot path is a comparison.
  let hour = NaN;
  let offset = 0;
  return (wall) => {
    const h = Math.floor(wall / 3600);
    if (h !== hour) {
      hour = h;
      // The offset at the wall time read as UTC, then at the instant it gives: right on both sides of a DST change.
      offset = offsetAt(wall - offsetAt(wall));
    }
    return wall - offset;
  };
}

/** Seconds east of UTC of the exporter's own zone at a unix time. */
function localOffset(unix: number): number {
  return -new Date(unix * 1000).getTimezoneOffset() * 60;
}

function ianaOffset(zone: string): (unix: number) => number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  return (unix) => {
    const parts: Record<string, number> = {};
    for (const p of format.formatToParts(new Date(unix * 1000))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) / 1000;
    return wall - Math.floor(unix);
  };
}
