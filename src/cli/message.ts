// The one change the re-queue procedure makes to a message: a fixed From:
// line where the message has none or an empty one (IceWarp will not send it
// otherwise). Pure, on bytes: the body may be in any charset.

export class FromHeaderError extends Error {}

/** `--from-header`: a full `From: addr` line or a bare address; one line, non-empty. */
export function parseFromHeaderArg(arg: string): string {
  const line = /^from\s*:/i.test(arg) ? arg.replace(/^from\s*:\s*/i, 'From: ') : `From: ${arg}`;
  if (/[\r\n]/.test(line)) throw new FromHeaderError('--from-header: must be a single line');
  if (line.slice('From: '.length).trim() === '') throw new FromHeaderError('--from-header: needs an address, e.g. "From: admin@domaine.com"');
  // eslint-disable-next-line no-control-regex
  if (/[^\x20-\x7e]/.test(line)) throw new FromHeaderError('--from-header: only printable ASCII is allowed in a header line');
  return line;
}

/**
 * The message with `fromLine` added when its header section has no From:
 * field or an empty one; the message itself (same bytes) otherwise. The
 * header section ends at the first empty line; the line ending of the file
 * (CRLF or LF) is kept.
 */
export function withFromHeader(message: Buffer, fromLine: string): Buffer {
  const text = message.toString('latin1'); // one char per byte: offsets are byte offsets
  const eol = /\r\n/.test(text.slice(0, 8192)) ? '\r\n' : '\n';
  const end = headerEnd(text);
  const head = text.slice(0, end);
  // Find `From:` at a line start, with its folded continuation lines.
  const re = /(^|\n)From[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)/gi;
  let m: RegExpExecArray | null;
  while ((m = re.exec(head)) !== null) {
    const value = m[2]!.replace(/\r/g, '').trim();
    if (value !== '') return message; // a real From: is never touched
    const start = m.index + m[1]!.length;
    let stop = start + m[0].length - m[1]!.length;
    if (text[stop] === '\n') stop += 1; // the line's own ending; a CR before it is inside the match
    // Replace the empty From: line (and its empty continuations) by the given one.
    return Buffer.from(text.slice(0, start) + fromLine + eol + text.slice(stop), 'latin1');
  }
  // No From: insert it at the end of the header section.
  if (end === text.length && !text.endsWith('\n')) {
    return Buffer.from(text + (text === '' ? '' : eol) + fromLine + eol, 'latin1');
  }
  return Buffer.from(text.slice(0, end) + fromLine + eol + text.slice(end), 'latin1');
}

/** Offset where the empty line ending the header section starts (just after the last header line's end), or the text length. */
function headerEnd(text: string): number {
  if (text.startsWith('\r\n')) return 0;
  if (text.startsWith('\n')) return 0;
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return text.length;
  // Keep the last header line's own line ending inside the header section.
  return m.index + (m[0].startsWith('\r\n') ? 2 : 1);
}
