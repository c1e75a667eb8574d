// File-name patterns: which names in a log folder are followed. The order in
// which they are read is the MTA's business (its LogSource).

export class FileNamePatternError extends Error {
  constructor(
    pattern: string,
    readonly reason: string,
  ) {
    super(`log file pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'FileNamePatternError';
  }
}

/**
 * Compiles a glob on a file name: `*` matches any run of characters, `?` one
 * character, everything else itself. Case-sensitive, whole name. Folders are
 * not part of it: the tailer follows one directory.
 */
export function compileFileNamePattern(pattern: string): (name: string) => boolean {
  if (pattern === '') throw new FileNamePatternError(pattern, 'is empty');
  if (pattern.includes('/') || pattern.includes('\\')) {
    throw new FileNamePatternError(pattern, 'must be a file name without a folder');
  }
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '[^]*';
    else if (ch === '?') source += '[^]';
    else source += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const re = new RegExp(`^${source}$`, 'u');
  return (name) => re.test(name);
}
