// The worker threads' program on real files: what lstat and the head read
// report for each kind of file a queue folder may hold.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { threadNiceValues } from '../../test/harness/threads.js';
import { HEAD_GONE, HEAD_NOT_REGULAR, HEAD_NO_SENDER, QueueFileWorkers, STAT_FILE, STAT_GONE, STAT_OTHER } from './workers.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrelay-workers-'));
const workers = new QueueFileWorkers(2, 50);
// A Unix socket where a message was: it cannot be opened (ENXIO), and is no message.
const socket = createServer();
beforeAll(() => new Promise<void>((resolve) => socket.listen(join(dir, 'socket.tmp'), resolve)));
afterAll(async () => {
  socket.close();
  await workers.stop();
  rmSync(dir, { recursive: true, force: true });
});

const latin1 = 'caf\u00e9.tmp';
writeFileSync(join(dir, 'a.tmp'), 'Original Sender: <A@B.c>\r\n\r\nbody');
writeFileSync(join(dir, 'b.tmp'), 'Subject: none\r\n\r\nbody');
writeFileSync(Buffer.concat([Buffer.from(dir + sep), Buffer.from(latin1, 'latin1')]), 'original-sender z@y.x\n');
execFileSync('mkfifo', [join(dir, 'fifo.tmp')]);
symlinkSync(join(dir, 'a.tmp'), join(dir, 'link.tmp'));
mkdirSync(join(dir, 'folder.tmp'));
const names = ['a.tmp', 'b.tmp', latin1, 'fifo.tmp', 'link.tmp', 'folder.tmp', 'socket.tmp', 'gone.tmp'];

describe('QueueFileWorkers', () => {
  it('lstats a batch: files with their size and time, anything else as not a message, vanished files as gone', async () => {
    const r = await workers.stat(dir + sep, names);
    expect([...r.kinds]).toEqual([STAT_FILE, STAT_FILE, STAT_FILE, STAT_OTHER, STAT_OTHER, STAT_OTHER, STAT_OTHER, STAT_GONE]);
    expect(r.sizes[0]).toBe(Buffer.byteLength('Original Sender: <A@B.c>\r\n\r\nbody'));
    expect(r.mtimes[2]).toBeGreaterThan(0);
    expect(r.firstError).toBeUndefined();
  });

  it('reads heads without blocking on a FIFO or following a symlink, each sender as written', async () => {
    const r = await workers.heads(dir + sep, names);
    const sender = (i: number) => (r.codes[i]! >= 0 ? r.raws[r.codes[i]!] : r.codes[i]);
    expect(names.map((_, i) => sender(i))).toEqual(['A@B.c', HEAD_NO_SENDER, 'z@y.x', HEAD_NOT_REGULAR, HEAD_NOT_REGULAR, HEAD_NOT_REGULAR, HEAD_NOT_REGULAR, HEAD_GONE]);
    expect(r.firstError).toBeUndefined();
  });

  it('finds the sender wherever the head holds it: a first line, a line cut by the first 256 bytes, a line far down', async () => {
    const padding = (n: number) => `X-Pad: ${'p'.repeat(n - 10)}\r\n`;
    const longAddress = `${'a'.repeat(60)}@example.test`;
    const heads: Record<string, string> = {
      'first.tmp': `Original Sender: <first@example.test>\r\n${padding(600)}`,
      // The address runs across byte 256: the whole of it, not the part before the cut.
      'cut.tmp': `${padding(220)}Original Sender: <${longAddress}>\r\n${padding(600)}`,
      // The words themselves run across byte 256.
      'words.tmp': `${padding(250)}Original Sender: <words@example.test>\r\n${padding(600)}`,
      'deep.tmp': `${padding(3000)}original-sender deep@example.test\r\n`,
      // A later line is not the first match.
      'two.tmp': `Original Sender: <one@example.test>\r\n${padding(400)}Original Sender: <two@example.test>\r\n`,
    };
    for (const [name, text] of Object.entries(heads)) writeFileSync(join(dir, name), text);
    const r = await workers.heads(dir + sep, Object.keys(heads));
    expect(Object.keys(heads).map((_, i) => r.raws[r.codes[i]!])).toEqual([
      'first@example.test',
      longAddress,
      'words@example.test',
      'deep@example.test',
      'one@example.test',
    ]);
  });

  it('starts workers again after an idle stop, and refuses work once stopped', async () => {
    await new Promise((r) => setTimeout(r, 200));
    expect([...(await workers.stat(dir + sep, ['a.tmp'])).kinds]).toEqual([STAT_FILE]);
    const stopped = new QueueFileWorkers(1);
    await stopped.stop();
    await expect(stopped.stat(dir + sep, ['a.tmp'])).rejects.toThrow(/stopped/);
  });

  // Below 10 already, else every new thread would be there whatever the workers do.
  it.runIf(process.platform === 'linux' && getPriority() < 10 && process.env.MAILRELAY_WORKER_NICE === undefined)(
    'runs its two threads at nice 10 on Linux, this one keeps its own',
    async () => {
      // The file's pool stops its idle threads after 50 ms (as the test above relies on): they are gone before counting.
      await new Promise((r) => setTimeout(r, 200));
      const mine = getPriority();
      const before = threadNiceValues().filter((n) => n === 10).length;
      const pool = new QueueFileWorkers(2, 60_000);
      // Once both have answered a batch, both have run their program.
      await Promise.all([pool.stat(dir + sep, names), pool.stat(dir + sep, names)]);
      const during = threadNiceValues().filter((n) => n === 10).length;
      await pool.stop();

      expect(during).toBe(before + 2);
      expect(getPriority()).toBe(mine);
    },
  );
});
