// Lines out of the bytes the tailer reads: the one decoding rule, shared by
// the tailer's string sink, the parser thread and `logs report`.

/** The lines of a chunk as the tailer hands it on (see LineSink.write): UTF-8 with U+FFFD for bad bytes, without line endings. */
export function splitChunk(chunk: Uint8Array): string[] {
  const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  const end = buf.length > 0 && buf[buf.length - 1] === 0x0a ? buf.length - 1 : buf.length;
  return splitLines(buf.toString('utf8', 0, end));
}

/** Splits complete lines (the text holds no final newline) and drops a CR before each LF. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (text.includes('\r')) {
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i] as string;
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
  }
  return lines;
}
