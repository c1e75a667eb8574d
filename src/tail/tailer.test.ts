// The tailer on real temporary directories, stepped with poll() (watch: false):
// no sleeps, no timers. One test at the end follows through chokidar events.
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import { linesSink, LogTailer, splitChunk, splitLines, type LineSink, type TailOptions } from './tailer.js';
import { writePositions } from './positions.js';
import { compileFileNamePattern } from './glob.js';
import { compareIcewarpLogNames } from '../icewarp/files.js';
import { compareRotatedLogNames, logFileMatcher } from '../postfix/files.js';

interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

let root: string;
let logDir: string;
let positionsFile: string;
let live: LogTailer[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tailer-'));
  logDir = join(root, 'logs');
  await mkdir(logDir);
  positionsFile = join(root, 'state', 'positions.json');
  live = [];
});

afterEach(async () => {
  for (const t of live) await t.stop();
  await rm(root, { recursive: true, force: true });
});

function recordingLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => entries.push({ level, msg, fields });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

/** A tailer that records what it delivers; batches are kept to check batching. */
function follow(opts: Partial<TailOptions> = {}) {
  const batches: Array<{ file: string; lines: string[] }> = [];
  const { logger, entries } = recordingLogger();
  const tailer = new LogTailer({
    directory: logDir,
    matches: compileFileNamePattern('s*.log'),
    order: compareIcewarpLogNames,
    positionsFile,
    startAt: 'beginning',
    watch: false,
    logger,
    sink: linesSink((file, lines) => batches.push({ file, lines: [...lines] })),
    ...opts,
  });
  live.push(tailer);
  return {
    tailer,
    batches,
    logs: entries,
    /** Lines delivered so far, as "file: line". */
    got: () => batches.flatMap((b) => b.lines.map((l) => `${b.file}: ${l}`)),
    /** Lines delivered since the last call. */
    take(): string[] {
      const out = this.got().slice(this.seen);
      this.seen += out.length;
      return out;
    },
    seen: 0,
    /** Forget it without stop(), as a crash would. */
    crash() {
      live.splice(live.indexOf(tailer), 1);
    },
  };
}

const log = (name: string) => join(logDir, name);

/** The saved positions file's entries by file name. */
async function savedByName(): Promise<Record<string, { offset: number; listed_as: string; inode: string }>> {
  const saved = JSON.parse(await readFile(positionsFile, 'utf8')) as { files: Record<string, { name: string; offset: number; listed_as: string; inode: string }> };
  return Object.fromEntries(Object.values(saved.files).map((e) => [e.name, e]));
}

describe('LogTailer', () => {
  it('reads existing files oldest first, by the date and rotation in the name', async () => {
    await writeFile(log('s20261128-01.log'), 'c1\n');
    await writeFile(log('s20261128.log'), 'b1\nb2\n');
    await writeFile(log('s20261127.log'), 'a1\n');
    await writeFile(log('other.txt'), 'not a log\n');
    await mkdir(log('s20261130.log')); // a folder whose name matches is not a log
    const t = follow();
    await t.tailer.start();
    expect(t.got()).toEqual(['s20261127.log: a1', 's20261128.log: b1', 's20261128.log: b2', 's20261128-01.log: c1']);
    expect(t.tailer.stats).toMatchObject({ lines: 4, bytes: 12, filesOpened: 3, truncations: 0, readErrors: 0 });
    expect(t.tailer.healthy).toBe(true);
  });

  it('picks up a new daily file and a size rotation, and finishes the older file first', async () => {
    await writeFile(log('s20261127.log'), 'day1 a\n');
    const t = follow();
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261127.log: day1 a']);

    // The old day gets its last lines while the new day begins.
    await appendFile(log('s20261127.log'), 'day1 b\n');
    await writeFile(log('s20261128.log'), 'day2 a\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261127.log: day1 b', 's20261128.log: day2 a']);

    await writeFile(log('s120261128-01.log'), 'day2 rotated a\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s120261128-01.log: day2 rotated a']);

    await appendFile(log('s120261128-01.log'), 'day2 rotated b\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s120261128-01.log: day2 rotated b']);
    expect(t.tailer.stats.filesOpened).toBe(3);
  });

  it('waits for an incomplete last line to be completed', async () => {
    await writeFile(log('s20261128.log'), 'one\ntw');
    const t = follow();
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261128.log: one']);
    expect(t.tailer.lagBytes()).toBe(2);

    await t.tailer.poll();
    expect(t.take()).toEqual([]);

    await appendFile(log('s20261128.log'), 'o and');
    await t.tailer.poll();
    expect(t.take()).toEqual([]);

    await appendFile(log('s20261128.log'), ' more\nthree\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261128.log: two and more', 's20261128.log: three']);
    expect(t.tailer.lagBytes()).toBe(0);
    expect(t.tailer.stats.bytes).toBe('one\ntwo and more\nthree\n'.length);
  });

  it('strips CRLF and LF line endings, keeping empty lines and a lone CR inside a line', async () => {
    await writeFile(log('s20261128.log'), 'crlf\r\nlf\n\r\n\nin\rside\r\nlast\r\n');
    const t = follow();
    await t.tailer.start();
    expect(t.got().map((l) => l.slice('s20261128.log: '.length))).toEqual(['crlf', 'lf', '', '', 'in\rside', 'last']);
  });

  it('turns bytes that are not UTF-8 into U+FFFD without losing the lines after them', async () => {
    const bytes = Buffer.concat([
      Buffer.from('before\n'),
      Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), // "café" in Latin-1
      Buffer.from([0xff, 0xfe, 0x78, 0x0a]), // never valid in UTF-8
      Buffer.from([0x61, 0xe2, 0x82, 0x0a]), // a 3-byte sequence cut short by the newline
      Buffer.from([0xf0, 0x9f, 0x0d, 0x0a]), // a 4-byte sequence cut short by CRLF
      Buffer.from('caf\u00e9 \u20ac ok\n'), // valid UTF-8
      Buffer.from('after\n'),
    ]);
    await writeFile(log('s20261128.log'), bytes);
    const t = follow();
    await t.tailer.start();
    expect(t.got()).toEqual([
      's20261128.log: before',
      's20261128.log: caf\ufffd',
      's20261128.log: \ufffd\ufffdx',
      's20261128.log: a\ufffd',
      's20261128.log: \ufffd',
      's20261128.log: café € ok',
      's20261128.log: after',
    ]);
    expect(t.tailer.stats.bytes).toBe(bytes.length);
  });

  it('splits lines across chunk boundaries, valid and invalid multi-byte sequences included', async () => {
    // Lines of every length up to the chunk size minus one, with a 2-byte
    // "é", a bad 0xE9 and a 4-byte emoji, so every byte lands on a boundary somewhere.
    const chunk = 24;
    const expected: string[] = [];
    const parts: Buffer[] = [];
    for (let n = 0; n < 60; n++) {
      const len = n % (chunk - 6);
      const head = 'x'.repeat(len);
      const kind = n % 3;
      if (kind === 0) {
        parts.push(Buffer.from(`${head}é\n`));
        expected.push(`${head}é`);
      } else if (kind === 1) {
        parts.push(Buffer.concat([Buffer.from(head), Buffer.from([0xe9]), Buffer.from('z\r\n')]));
        expected.push(`${head}\ufffdz`);
      } else {
        parts.push(Buffer.from(`${head}\u{1F600}\n`));
        expected.push(`${head}\u{1F600}`);
      }
    }
    const all = Buffer.concat(parts);
    await writeFile(log('s20261128.log'), all);
    const t = follow({ readChunkBytes: chunk });
    await t.tailer.start();
    expect(t.got()).toEqual(expected.map((l) => `s20261128.log: ${l}`));
    expect(t.tailer.stats).toMatchObject({ lines: 60, bytes: all.length, linesCut: 0 });
    // Batches: several lines per read, never more than a chunk's worth.
    expect(t.batches.length).toBeGreaterThan(1);
    expect(t.batches.length).toBeLessThan(60);
  });

  it('delivers the same lines whatever the chunk size and however the file grows', async () => {
    const text = Array.from({ length: 200 }, (_, i) => `line ${i} ${'y'.repeat(i % 37)}`);
    const bytes = Buffer.from(text.join('\n') + '\n');
    for (const chunk of [64, 100, 1 << 20]) {
      const name = `s2026112${chunk % 10}.log`;
      const t = follow({ readChunkBytes: chunk });
      await t.tailer.start();
      // Grow the file in uneven steps, polling between them.
      for (let at = 0; at < bytes.length; ) {
        const step = 1 + ((at * 7) % 53);
        await appendFile(log(name), bytes.subarray(at, at + step));
        at += step;
        await t.tailer.poll();
      }
      expect(t.got().filter((l) => l.startsWith(name)).map((l) => l.slice(name.length + 2))).toEqual(text);
      await t.tailer.stop();
    }
  });

  it('cuts a line longer than the read buffer, counts it, and keeps the lines after it', async () => {
    const long = 'L'.repeat(40);
    await writeFile(log('s20261128.log'), `short\n${long}\nafter\n`);
    const t = follow({ readChunkBytes: 16 });
    await t.tailer.start();
    expect(t.got()).toEqual([
      's20261128.log: short',
      `s20261128.log: ${'L'.repeat(16)}`,
      `s20261128.log: ${'L'.repeat(16)}`,
      `s20261128.log: ${'L'.repeat(8)}`,
      's20261128.log: after',
    ]);
    expect(t.tailer.stats.linesCut).toBe(2);
  });

  it('reads a file again from the start when it shrinks, and counts the truncation', async () => {
    await writeFile(log('s20261128.log'), 'old 1\nold 2\nold 3\n');
    const t = follow();
    await t.tailer.start();
    expect(t.take()).toHaveLength(3);

    await truncate(log('s20261128.log'), 0);
    await appendFile(log('s20261128.log'), 'new 1\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261128.log: new 1']);
    expect(t.tailer.stats.truncations).toBe(1);
    expect(t.logs.some((e) => e.level === 'warn' && e.fields['file'] === 's20261128.log')).toBe(true);

    await appendFile(log('s20261128.log'), 'new 2\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261128.log: new 2']);
    expect(t.tailer.stats.truncations).toBe(1);
  });

  it('lets a deleted file go, and reads a new file under that name from the start', async () => {
    await writeFile(log('s20261127.log'), 'a\nunfinished');
    await writeFile(log('s20261128.log'), 'b\n');
    const t = follow();
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261127.log: a', 's20261128.log: b']);
    expect(t.tailer.lagBytes()).toBe('unfinished'.length);

    await unlink(log('s20261127.log'));
    await t.tailer.poll();
    expect(t.tailer.lagBytes()).toBe(0);
    expect(t.tailer.stats.readErrors).toBe(0);
    await t.tailer.flushPositions();
    expect(Object.keys(await savedByName())).toEqual(['s20261128.log']);

    await writeFile(log('s20261127.log'), 'again\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261127.log: again']);
    expect(t.tailer.stats.truncations).toBe(0);
  });

  it('reads a file replaced under the same name (new inode) from the start, even when it is larger', async () => {
    await writeFile(log('s20261128.log'), 'first 1\n');
    const t = follow();
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261128.log: first 1']);

    await writeFile(join(root, 'incoming'), 'second 1\nsecond 2\nsecond 3\n');
    await rename(join(root, 'incoming'), log('s20261128.log'));
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261128.log: second 1', 's20261128.log: second 2', 's20261128.log: second 3']);
    expect(t.tailer.stats).toMatchObject({ filesOpened: 2, truncations: 0 });
  });

  it('resumes after stop() and start() without re-reading or skipping', async () => {
    await writeFile(log('s20261128.log'), '1\n2\npart');
    const a = follow({ startAt: 'end' });
    await a.tailer.start();
    expect(a.take()).toEqual([]); // start_at end at first start
    await appendFile(log('s20261128.log'), 'ial\n3\n');
    await a.tailer.poll();
    expect(a.take()).toEqual(['s20261128.log: partial', 's20261128.log: 3']);
    await a.tailer.stop();

    // Written while the exporter was down: an append and a whole new file.
    await appendFile(log('s20261128.log'), '4\n');
    await writeFile(log('s20261129.log'), 'next day\n');
    const b = follow({ startAt: 'end' });
    await b.tailer.start();
    expect(b.take()).toEqual(['s20261128.log: 4', 's20261129.log: next day']);
    await appendFile(log('s20261129.log'), 'more\n');
    await b.tailer.poll();
    expect(b.take()).toEqual(['s20261129.log: more']);
  });

  it('resumes after a crash from the last flushed positions', async () => {
    await writeFile(log('s20261128.log'), '1\n2\n');
    const a = follow();
    await a.tailer.start(); // start() saves the positions of its catch-up
    expect(a.take()).toEqual(['s20261128.log: 1', 's20261128.log: 2']);
    await appendFile(log('s20261128.log'), '3\n');
    await a.tailer.poll();
    await a.tailer.flushPositions();
    await appendFile(log('s20261128.log'), '4\n');
    await a.tailer.poll(); // delivered, but the crash comes before the next flush
    expect(a.take()).toEqual(['s20261128.log: 3', 's20261128.log: 4']);
    a.crash();

    await appendFile(log('s20261128.log'), '5\n');
    const b = follow();
    await b.tailer.start();
    // Exactly what came after the last flush: nothing older, nothing lost.
    expect(b.take()).toEqual(['s20261128.log: 4', 's20261128.log: 5']);
  });

  it('at restart, reads a file again from the start when it shrank or was replaced while down', async () => {
    await writeFile(log('s20261127.log'), 'a1\na2\na3\n');
    await writeFile(log('s20261128.log'), 'b1\n');
    const a = follow();
    await a.tailer.start();
    await a.tailer.stop();

    await writeFile(log('s20261127.log'), 'A\n'); // same inode, shorter
    await writeFile(join(root, 'x'), 'B1\nB2\n');
    await rename(join(root, 'x'), log('s20261128.log')); // new inode
    const b = follow({ startAt: 'end' });
    await b.tailer.start();
    expect(b.take()).toEqual(['s20261127.log: A', 's20261128.log: B1', 's20261128.log: B2']);
    expect(b.tailer.stats.truncations).toBe(1);
  });

  it('start_at end skips existing lines (to the last complete line) and reads files created after start from 0', async () => {
    await writeFile(log('s20261127.log'), 'old\n');
    await writeFile(log('s20261128.log'), 'old\nbeing writ');
    const t = follow({ startAt: 'end' });
    await t.tailer.start();
    expect(t.take()).toEqual([]);
    expect(t.tailer.stats.filesOpened).toBe(2);

    await appendFile(log('s20261128.log'), 'ten\nnew\n');
    await writeFile(log('s20261129.log'), 'first\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261128.log: being written', 's20261128.log: new', 's20261129.log: first']);
  });

  it('start_at beginning reads existing files whole', async () => {
    await writeFile(log('s20261128.log'), 'old 1\nold 2\n');
    const t = follow({ startAt: 'beginning' });
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261128.log: old 1', 's20261128.log: old 2']);
  });

  it('logs and ignores a corrupt positions file: start_at applies, and a good one replaces it', async () => {
    await writeFile(log('s20261128.log'), 'old\n');
    await mkdir(join(root, 'state'));
    await writeFile(positionsFile, '{"version":1,"files":{"s2026');
    const t = follow({ startAt: 'end' });
    await t.tailer.start();
    expect(t.take()).toEqual([]);
    const warning = t.logs.find((e) => e.level === 'warn' && e.msg.includes('positions'));
    expect(warning?.fields['file']).toBe(positionsFile);
    expect(String((warning?.fields['err'] as Error).message)).toContain('not valid JSON');

    await appendFile(log('s20261128.log'), 'new\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261128.log: new']);
    await t.tailer.stop();
    expect((await savedByName())['s20261128.log']?.offset).toBe('old\nnew\n'.length);
  });

  it('ignores saved positions of another directory', async () => {
    await writeFile(log('s20261128.log'), 'old\n');
    const a = follow({ startAt: 'beginning' });
    await a.tailer.start();
    await a.tailer.stop();
    const other = join(root, 'other');
    await mkdir(other);
    await writeFile(join(other, 's20261128.log'), 'other old\n');
    const b = follow({ directory: other, startAt: 'beginning' });
    await b.tailer.start();
    expect(b.take()).toEqual(['s20261128.log: other old']);
  });

  it('an unreadable directory sets healthy=false, logs once, and recovers', async () => {
    await rm(logDir, { recursive: true });
    const t = follow();
    await t.tailer.start();
    expect(t.tailer.healthy).toBe(false);
    await t.tailer.poll();
    expect(t.tailer.healthy).toBe(false);
    expect(t.logs.filter((e) => e.level === 'error')).toHaveLength(1);

    await mkdir(logDir);
    await writeFile(log('s20261128.log'), 'back\n');
    await t.tailer.poll();
    expect(t.tailer.healthy).toBe(true);
    expect(t.take()).toEqual(['s20261128.log: back']);
  });

  it('keeps the saved positions when the directory is missing during a whole run', async () => {
    await writeFile(log('s20261128.log'), 'one\n');
    const a = follow();
    await a.tailer.start();
    await a.tailer.stop();
    const before = await readFile(positionsFile, 'utf8');

    await rename(logDir, join(root, 'away'));
    const b = follow();
    await b.tailer.start();
    expect(b.tailer.healthy).toBe(false);
    await b.tailer.stop();
    expect(await readFile(positionsFile, 'utf8')).toBe(before);

    await rename(join(root, 'away'), logDir);
    await appendFile(log('s20261128.log'), 'two\n');
    const c = follow();
    await c.tailer.start();
    expect(c.take()).toEqual(['s20261128.log: two']);
  });

  it('moves past a batch whose consumer throws, and logs it', async () => {
    await writeFile(log('s20261127.log'), 'boom\n');
    await writeFile(log('s20261128.log'), 'fine\n');
    const seen: string[] = [];
    const t = follow({
      sink: linesSink((_file, lines) => {
        seen.push(...lines);
        if (lines.includes('boom')) throw new Error('consumer failed');
      }),
    });
    await t.tailer.start();
    await t.tailer.poll();
    expect(seen).toEqual(['boom', 'fine']);
    expect(t.logs.some((e) => e.level === 'error' && e.fields['file'] === 's20261127.log')).toBe(true);
  });

  it('counts lag from the last stat, including a partial line', async () => {
    await writeFile(log('s20261128.log'), 'a\n');
    const t = follow();
    await t.tailer.start();
    expect(t.tailer.lagBytes()).toBe(0);
    await appendFile(log('s20261128.log'), 'bb\ncc');
    await t.tailer.poll();
    expect(t.tailer.lagBytes()).toBe(2);
  });

  it('follows through file system events without polling', async () => {
    await writeFile(log('s20261128.log'), 'before start\n');
    // The safety re-scan is far away: only chokidar's events can deliver in time.
    const t = follow({ watch: true, rescanMs: 3_600_000, positionsFlushMs: 3_600_000 });
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261128.log: before start']);

    await appendFile(log('s20261128.log'), 'appended\n');
    await expect.poll(() => t.got().length, { timeout: 20_000, interval: 20 }).toBe(2);
    expect(t.take()).toEqual(['s20261128.log: appended']);

    await writeFile(log('s20261129.log'), 'new file\n');
    await expect.poll(() => t.got().length, { timeout: 20_000, interval: 20 }).toBe(3);
    expect(t.take()).toEqual(['s20261129.log: new file']);

    await t.tailer.stop();
    expect((await savedByName())['s20261129.log']?.offset).toBe('new file\n'.length);
  }, 30_000);

  it('with watch on, delivers every line exactly once while a writer appends in uneven pieces', async () => {
    const t = follow({ watch: true, rescanMs: 3_600_000, positionsFlushMs: 3_600_000, readChunkBytes: 256 });
    await t.tailer.start();
    const lines = Array.from({ length: 3000 }, (_, i) => `203.0.113.${i % 256} [${i.toString(16).padStart(4, '0')}] 06:51:31 <<< line ${i}`);
    const bytes = Buffer.from(lines.join('\r\n') + '\r\n');
    for (let at = 0, n = 0; at < bytes.length; n++) {
      const step = 1 + ((n * 977) % 700);
      await appendFile(log('s20261128.log'), bytes.subarray(at, at + step));
      at += step;
    }
    await expect.poll(() => t.got().length, { timeout: 20_000, interval: 20 }).toBe(lines.length);
    expect(t.got()).toEqual(lines.map((l) => `s20261128.log: ${l}`));
  }, 30_000);

  it('with watch on, starts without its directory and follows it once it appears', async () => {
    await rm(logDir, { recursive: true });
    const t = follow({ watch: true, rescanMs: 3_600_000, positionsFlushMs: 3_600_000 });
    await t.tailer.start();
    expect(t.tailer.healthy).toBe(false);

    // A missing folder sends no events: the periodic re-scan finds it, stepped here.
    await mkdir(logDir);
    await t.tailer.poll();
    expect(t.tailer.healthy).toBe(true);
    // From then on, events on the new folder deliver the lines.
    await writeFile(log('s20261128.log'), 'first\n');
    await expect.poll(() => t.got(), { timeout: 20_000, interval: 20 }).toEqual(['s20261128.log: first']);
    await appendFile(log('s20261128.log'), 'second\n');
    await expect.poll(() => t.got().length, { timeout: 20_000, interval: 20 }).toBe(2);
  }, 60_000);

  it('stop() during the first catch-up ends start(), and nothing is read after stop', async () => {
    await writeFile(log('s20261128.log'), 'x\n'.repeat(1000));
    const t = follow({ watch: true, readChunkBytes: 64 });
    const started = t.tailer.start();
    await t.tailer.stop();
    await started;
    const delivered = t.got().length;
    await appendFile(log('s20261128.log'), 'after stop\n');
    await t.tailer.poll();
    expect(t.got().length).toBe(delivered);
  });
});

const numbered = (from: number, count: number, tag: string) => Array.from({ length: count }, (_, i) => `${tag} ${from + i}`);
const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('');

describe('LogTailer: files followed by identity', () => {
  it('IceWarp size rotation: a renamed file goes on from its offset, and keeps its place before the new file', async () => {
    await writeFile(log('s20261128.log'), text(numbered(0, 1000, 'old')));
    const t = follow();
    await t.tailer.start();
    expect(t.take()).toHaveLength(1000);

    // IceWarp's rotation: the day's file gets a rotation number, its last lines land there, and a new file starts.
    await rename(log('s20261128.log'), log('s120261128-01.log'));
    await appendFile(log('s120261128-01.log'), text(numbered(1000, 5, 'old')));
    await writeFile(log('s20261128.log'), text(numbered(0, 600, 'new')));
    await t.tailer.poll();
    const after = t.take();
    expect(after).toEqual([
      ...numbered(1000, 5, 'old').map((l) => `s120261128-01.log: ${l}`),
      ...numbered(0, 600, 'new').map((l) => `s20261128.log: ${l}`),
    ]);
    expect(t.tailer.stats).toMatchObject({ lines: 1605, filesOpened: 2, truncations: 0 });
    await t.tailer.flushPositions();
    const saved = await savedByName();
    expect(saved['s120261128-01.log']).toMatchObject({ listed_as: 's20261128.log', offset: text(numbered(0, 1005, 'old')).length });
    expect(saved['s20261128.log']).toMatchObject({ listed_as: 's20261128.log', offset: text(numbered(0, 600, 'new')).length });
  });

  it("logrotate: mail.log → mail.log.1 → mail.log.2 and a new mail.log, lines written before the rename included", async () => {
    await writeFile(log('mail.log.1'), text(numbered(0, 3, 'one')));
    await writeFile(log('mail.log'), text(numbered(0, 4, 'cur')));
    const t = follow({ matches: logFileMatcher('mail.log'), order: compareRotatedLogNames });
    await t.tailer.start();
    expect(t.take()).toEqual([...numbered(0, 3, 'one').map((l) => `mail.log.1: ${l}`), ...numbered(0, 4, 'cur').map((l) => `mail.log: ${l}`)]);

    await appendFile(log('mail.log'), text(['cur 4 (written before the rotation, read after it)']));
    await rename(log('mail.log.1'), log('mail.log.2'));
    await rename(log('mail.log'), log('mail.log.1'));
    await writeFile(log('mail.log'), text(['fresh 0']));
    await t.tailer.poll();
    expect(t.take()).toEqual(['mail.log.1: cur 4 (written before the rotation, read after it)', 'mail.log: fresh 0']);

    // Restarted after the rotation: every file resumes, in the order of their places.
    await t.tailer.stop();
    await appendFile(log('mail.log.1'), text(['cur 5 (the writer had not reopened yet)']));
    await appendFile(log('mail.log'), text(['fresh 1']));
    const u = follow({ matches: logFileMatcher('mail.log'), order: compareRotatedLogNames, startAt: 'end' });
    await u.tailer.start();
    expect(u.take()).toEqual(['mail.log.1: cur 5 (the writer had not reopened yet)', 'mail.log: fresh 1']);
    expect(u.tailer.stats.filesOpened).toBe(0);
  });

  it('a rename while the exporter is down goes on from the saved offset', async () => {
    await writeFile(log('s20261128.log'), 'a\nb\n');
    const a = follow();
    await a.tailer.start();
    await a.tailer.stop();
    await rename(log('s20261128.log'), log('s120261128-01.log'));
    await appendFile(log('s120261128-01.log'), 'c\n');
    await writeFile(log('s20261128.log'), 'new\n');
    const b = follow({ startAt: 'end' });
    await b.tailer.start();
    expect(b.take()).toEqual(['s120261128-01.log: c', 's20261128.log: new']);
    expect(b.logs.some((e) => e.msg.includes('renamed while the exporter was not running') && e.fields['to'] === 's120261128-01.log')).toBe(true);
  });

  it('a file renamed out of sight and back, between two listings, keeps its offset', async () => {
    await writeFile(log('s20261128.log'), 'a\n');
    const t = follow();
    await t.tailer.start();
    t.take();
    await rename(log('s20261128.log'), join(logDir, 'moving.tmp'));
    await t.tailer.poll();
    await appendFile(join(logDir, 'moving.tmp'), 'b\n');
    await rename(join(logDir, 'moving.tmp'), log('s120261128-01.log'));
    await t.tailer.poll();
    expect(t.take()).toEqual(['s120261128-01.log: b']);
  });

  it('reads version 1 positions (by name) and keeps every offset, a rename while down included; saves version 2', async () => {
    await writeFile(log('s20261127.log'), 'a1\na2\n');
    await writeFile(log('s20261128.log'), 'b1\n');
    const ino = async (name: string) => String((await stat(log(name), { bigint: true })).ino);
    await mkdir(join(root, 'state'));
    await writeFile(
      positionsFile,
      JSON.stringify({
        version: 1,
        directory: logDir,
        files: { 's20261127.log': { offset: 3, inode: await ino('s20261127.log'), dev: '1' }, 's20261128.log': { offset: 3, inode: await ino('s20261128.log'), dev: '1' } },
      }),
    );
    await rename(log('s20261128.log'), log('s120261128-01.log'));
    await appendFile(log('s120261128-01.log'), 'b2\n');
    const t = follow({ startAt: 'beginning' });
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261127.log: a2', 's120261128-01.log: b2']);
    expect(t.logs.some((e) => e.msg.includes('version 1'))).toBe(true);
    const saved = JSON.parse(await readFile(positionsFile, 'utf8'));
    expect(saved.version).toBe(2);
    expect(await savedByName()).toMatchObject({ 's20261127.log': { offset: 6 }, 's120261128-01.log': { offset: 6, listed_as: 's20261128.log' } });
  });

  it('a saved inode given to a file with other first bytes (inode reuse) is read from its start', async () => {
    await writeFile(log('s20261128.log'), 'brand new file\nsecond line\n');
    const st = await stat(log('s20261128.log'), { bigint: true });
    // What a deleted file with this inode left in the positions: its own fingerprint and offset.
    await writePositions(positionsFile, {
      directory: logDir,
      files: [{ name: 's20261127.log', listedAs: 's20261127.log', inode: st.ino, dev: st.dev, offset: 15, fingerprint: { bytes: 20, sha256: 'aa'.repeat(32) } }],
    });
    const t = follow({ startAt: 'end' });
    await t.tailer.start();
    expect(t.take()).toEqual(['s20261128.log: brand new file', 's20261128.log: second line']);
  });

  it('a file rewritten in place (same inode, other first bytes, at least as long) is read from its start', async () => {
    await writeFile(log('s20261128.log'), 'first 1\n');
    const t = follow();
    await t.tailer.start();
    t.take();
    await writeFile(log('s20261128.log'), 'SECOND 1\nSECOND 2\n');
    await t.tailer.poll();
    expect(t.take()).toEqual(['s20261128.log: SECOND 1', 's20261128.log: SECOND 2']);
  });

  it('a small file keeps being recognised as it grows past its first fingerprint', async () => {
    await writeFile(log('s20261128.log'), 'x\n');
    const t = follow();
    await t.tailer.start();
    for (let i = 0; i < 5; i++) {
      await appendFile(log('s20261128.log'), 'y'.repeat(400) + '\n');
      await t.tailer.poll();
    }
    expect(t.take()).toHaveLength(6);
    await t.tailer.stop();
    await appendFile(log('s20261128.log'), 'z\n');
    const u = follow();
    await u.tailer.start();
    expect(u.take()).toEqual(['s20261128.log: z']);
  });
});

/** A sink that counts only when told to, as a worker thread does later. */
function heldSink(): { sink: LineSink; lines: string[]; release(): void; pending(): number } {
  const lines: string[] = [];
  const held: Array<() => void> = [];
  return {
    lines,
    sink: {
      write(_file, chunk, counted) {
        const got = splitChunk(Buffer.from(chunk));
        held.push(() => {
          lines.push(...got);
          counted(got.length);
        });
      },
      drain: async () => {
        while (held.length) held.shift()!();
      },
    },
    release: () => {
      while (held.length) held.shift()!();
    },
    pending: () => held.length,
  };
}

describe('LogTailer: positions in step with what was counted', () => {
  it('saves only what the sink has counted, never what is still being counted', async () => {
    await writeFile(log('s20261128.log'), 'a\nb\n');
    const h = heldSink();
    const t = follow({ sink: h.sink });
    await t.tailer.poll();
    expect(h.pending()).toBe(1);
    await t.tailer.flushPositions();
    expect((await savedByName())['s20261128.log']?.offset).toBe(0);
    expect(t.tailer.stats.lines).toBe(0);
    h.release();
    await t.tailer.flushPositions();
    expect((await savedByName())['s20261128.log']?.offset).toBe(4);
    expect(t.tailer.stats).toMatchObject({ lines: 2, bytes: 4 });
    // stop() waits for what is in flight to be counted, then saves.
    await appendFile(log('s20261128.log'), 'c\n');
    await t.tailer.poll();
    await t.tailer.stop();
    expect(h.lines).toEqual(['a', 'b', 'c']);
    expect((await savedByName())['s20261128.log']?.offset).toBe(6);
  });

  it('saves positions during the first catch-up, every positionsFlushMs', async () => {
    await writeFile(log('s20261128.log'), 'line\n'.repeat(2000));
    let written = 0;
    let savedDuringCatchUp: number | undefined;
    const t = follow({
      watch: true,
      positionsFlushMs: 20,
      readChunkBytes: 500,
      sink: {
        async write(_file, chunk, counted) {
          counted(splitChunk(chunk).length);
          written += chunk.length;
          // A slow consumer: the catch-up lasts long enough for several flushes.
          await new Promise((r) => setTimeout(r, 5));
          if (savedDuringCatchUp === undefined && written > 5000) {
            savedDuringCatchUp = await savedByName().then((s) => s['s20261128.log']?.offset, () => undefined);
          }
        },
      },
    });
    await t.tailer.start();
    expect(savedDuringCatchUp).toBeGreaterThan(0);
    expect(savedDuringCatchUp! % 5).toBe(0); // at a line boundary
  });
});

describe('LogTailer: start_at end and a log folder missing at start', () => {
  it('reads every file of the folder from its start once it appears', async () => {
    await rm(logDir, { recursive: true });
    const t = follow({ startAt: 'end' });
    await t.tailer.start();
    await mkdir(logDir);
    await writeFile(log('s20261128.log'), text(numbered(0, 100, 'line')));
    await t.tailer.poll();
    expect(t.take()).toHaveLength(100);
  });
});

describe('LogTailer: failures', () => {
  it('reports the directory, then the positions file, while they fail, and clears them when they work again', async () => {
    await rm(logDir, { recursive: true });
    const t = follow({ positionsFile: join(root, 'blocker', 'positions.json') });
    await t.tailer.start();
    expect(t.tailer.failures().map((f) => f.what)).toEqual(['directory']);
    await mkdir(logDir);
    await writeFile(join(root, 'blocker'), 'a file where the positions folder should be');
    await t.tailer.poll();
    await expect(t.tailer.flushPositions()).rejects.toThrow(/positions file .*blocker\/positions\.json: cannot be written: ENOTDIR/);
    expect(t.tailer.failures().map((f) => [f.what, f.path])).toEqual([['positions', join(root, 'blocker', 'positions.json')]]);
    expect(t.tailer.healthy).toBe(false);
    await rm(join(root, 'blocker'));
    await t.tailer.flushPositions();
    expect(t.tailer.failures()).toEqual([]);
    expect(t.tailer.healthy).toBe(true);
  });
});

describe('splitLines', () => {
  it.each([
    ['', ['']],
    ['a', ['a']],
    ['a\nb', ['a', 'b']],
    ['a\r\nb\r', ['a', 'b']],
    ['\r', ['']],
    ['a\r\r\nb', ['a\r', 'b']],
  ])('%j', (text, lines) => {
    expect(splitLines(text)).toEqual(lines);
  });
});
