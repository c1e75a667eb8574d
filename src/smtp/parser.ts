// What an MTA gives the log pipeline: where its log files are, in which order
// to read them, and a parser that turns their lines into SmtpFacts. The
// pipeline (tailer → parser → account book) is the same for every MTA.
import { splitChunk } from '../tail/lines.js';
import type { LocalDomains, SmtpFact } from './facts.js';

export interface LogParserStats {
  /** Lines fed. */
  lines: number;
  /** Lines not in the MTA's line layout, skipped (mailrelay_log_unparsed_lines_total). */
  unparsed: number;
  /** Unix seconds of the last line with a time. */
  lastLineTime: number | undefined;
}

export interface LogParserOptions {
  localDomains: LocalDomains;
  /** The zone of log times that carry no offset: UTC, Local, +02:00, Europe/Paris. */
  timeZone: string;
  emit(fact: SmtpFact): void;
}

/** Lines in, SmtpFacts out (through `emit`). Never throws on a line: a line it cannot read is counted in stats.unparsed. */
export interface LogParser {
  /** Complete lines of one file, in order, without line endings. `file` is the name within the log directory. */
  feedLines(file: string, lines: readonly string[]): void;
  /**
   * The same lines as bytes, as the tailer reads them: each ends with LF (a
   * CR before it is part of the line ending), the last one's LF may be
   * missing. Returns the number of lines. Optional: a parser that reads bytes
   * skips turning every line into a string; without it, the pipeline decodes
   * the chunk (UTF-8, U+FFFD for bad bytes) and calls feedLines.
   */
  feedChunk?(file: string, chunk: Buffer): number;
  /**
   * The same lines, already scanned by the LogSource's scanLines in another
   * thread: the parser reads the fields instead of scanning again. Optional,
   * with scanLines.
   */
  feedScanned?(file: string, chunk: Buffer, lines: ScannedLines): number;
  readonly stats: LogParserStats;
  setLocalDomains(localDomains: LocalDomains): void;
  setTimeZone(zone: string): void;
}

/** An MTA's log files, as its config section describes them. Plain data but for the functions. */
export interface LogSource {
  /** The MTA's name, its config section (`icewarp`, `postfix`). */
  readonly mta: string;
  /** The folder the tailer follows. */
  readonly directory: string;
  /** The config key that names it, for messages (`icewarp.log_directory`). */
  readonly key: string;
  /** File-name glob within it, as configured (for messages). */
  readonly pattern: string;
  readonly timeZone: string;
  /** Which names in the folder are log files to read (the pattern, less what is not text, such as compressed rotations). */
  matches(name: string): boolean;
  /** Oldest first: the MTA's own naming of rotated files decides (IceWarp dates its names, logrotate numbers them). */
  order(a: string, b: string): number;
  createParser(opts: LogParserOptions): LogParser;
  /**
   * Optional: the first stage of the MTA's parser, on its own (finding line
   * ends, reading each line's layout), so that it can run in the thread that
   * reads the files while the parser's feedScanned runs in another (see
   * pipeline/parserThread.ts). `into`: arrays to reuse when large enough.
   * `from`, `to`: only the lines of chunk[from, to) (`from` at a line's
   * start, `to` after a LF or at the end), added after `into`'s lines when
   * `from` is not 0: a chunk scanned a piece at a time gives what one call
   * over it gives.
   */
  scanLines?(chunk: Buffer, into?: ScannedLines, from?: number, to?: number): ScannedLines;
}

/**
 * A chunk's lines as an MTA's scanLines read them: numbers only, in typed
 * arrays whose memory moves between threads without a copy. What the
 * numbers mean is the MTA's own (its scanLines and feedScanned agree).
 */
export interface ScannedLines {
  /** Lines in the chunk. */
  count: number;
  ints: Int32Array;
  times: Float64Array;
}

/**
 * Lines as the tailer reads them (bytes, each ending with LF, the last one's
 * LF possibly missing) into a parser: as bytes when it reads bytes, else
 * decoded (UTF-8, U+FFFD for bad bytes) into lines. Returns the number of lines.
 */
export function feedChunkTo(parser: LogParser, file: string, chunk: Buffer): number {
  if (parser.feedChunk) return parser.feedChunk(file, chunk);
  const lines = splitChunk(chunk);
  parser.feedLines(file, lines);
  return lines.length;
}
