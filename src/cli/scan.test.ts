import { mkdtemp, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailDirectory, UnsafePathError } from './durable.js';
import { listOutgoing, reportQueues } from './scan.js';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailrelay-scan-'));
  outside = await mkdtemp(join(tmpdir(), 'mailrelay-outside-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function put(rel: string, content: string, mtime?: Date): Promise<void> {
  const p = join(root, rel);
  await mkdir(join(p, '..'), { recursive: true });
  await writeFile(p, content);
  if (mtime) await utimes(p, mtime, mtime);
}

const spam = (n: number): string => `Original Sender: <Spam@Evil.example>\r\n\r\nbuy ${String(n).padStart(3, '0')}\r\n`;

describe('reportQueues', () => {
  it('counts like the spool metrics: .tmp messages, complete pairs, orphans, senders, same-size groups', async () => {
    const old = new Date('2026-11-20T00:00:00Z');
    for (let i = 0; i < 4; i++) await put(`_outgoing/s${i}.tmp`, spam(i), i === 0 ? old : undefined);
    const good = 'Original Sender: good@domaine.com\r\n\r\nhello there\r\n';
    await put('_outgoing/retry/g é 1.tmp', good);
    await put('_outgoing/priority_2/n.tmp', 'Subject: no sender line\r\n\r\nx');
    await put('_outgoing/being-written.tm$', spam(9));
    await put('_outgoing/desktop.ini', 'x');
    await put('_incoming.bak/a.tmp', '12345');
    await put('_incoming.bak/a.dat', '123');
    await put('_incoming.bak/b.tmp', '1');
    await put('_incoming.bak/c.dat', '1');
    await put('_incoming.bak/d.dat', '1');
    await mkdir(join(root, '_incoming'));
    const mail = await MailDirectory.open(root);
    const report = await reportQueues(mail, 20, new Date('2026-11-21T00:00:00Z'));
    expect(report.folders).toEqual([
      { queue: 'incoming', folder: '_incoming', messages: 0, bytes: 0, oldest: null, oldestAgeSeconds: null },
      expect.objectContaining({ queue: 'incoming', folder: '_incoming.bak', messages: 1, bytes: 8 }),
      { queue: 'outgoing', folder: '_outgoing', messages: 4, bytes: 4 * spam(0).length, oldest: old.toISOString(), oldestAgeSeconds: 86400 },
      expect.objectContaining({ folder: '_outgoing/priority_2', messages: 1 }),
      expect.objectContaining({ folder: '_outgoing/retry', messages: 1, bytes: Buffer.byteLength(good) }),
    ]);
    expect(report.senders).toEqual({
      distinct: 3,
      top: [
        { sender: 'spam@evil.example', messages: 4 },
        { sender: '__unknown__', messages: 1 },
        { sender: 'good@domaine.com', messages: 1 },
      ],
    });
    expect(report.sameSize.outgoing).toEqual({ largest: 4, groups: [{ size: spam(0).length, messages: 4 }] });
    expect(report.sameSize.incoming).toEqual({ largest: 1, groups: [] });
    expect(report.orphans).toEqual([
      { folder: '_incoming', kind: 'tmp', files: 0 },
      { folder: '_incoming', kind: 'dat', files: 0 },
      { folder: '_incoming.bak', kind: 'tmp', files: 1 },
      { folder: '_incoming.bak', kind: 'dat', files: 2 },
    ]);
  });

  it('bounds the lists to the top N', async () => {
    for (let i = 0; i < 5; i++) await put(`_outgoing/m${i}.tmp`, `Original Sender: s${i}@x.org\r\n`);
    const report = await reportQueues(await MailDirectory.open(root), 2, new Date());
    expect(report.senders.distinct).toBe(5);
    expect(report.senders.top).toHaveLength(2);
  });
});

describe('symlinks', () => {
  it('skips a symlinked message file and says so', async () => {
    await writeFile(join(outside, 'secret.tmp'), 'Original Sender: a@b.c\r\n');
    await put('_outgoing/real.tmp', 'Original Sender: a@b.c\r\n');
    await symlink(join(outside, 'secret.tmp'), join(root, '_outgoing/link.tmp'));
    const warnings: string[] = [];
    const msgs = await listOutgoing(await MailDirectory.open(root), ['_outgoing'], warnings);
    expect(msgs.map((m) => m.path)).toEqual(['_outgoing/real.tmp']);
    expect(warnings).toEqual(['_outgoing/link.tmp: a symlink, not followed']);
  });

  it('refuses a queue folder that leads out of the mail directory', async () => {
    await symlink(outside, join(root, '_outgoing'));
    const mail = await MailDirectory.open(root);
    await expect(mail.checkFolder('_outgoing')).rejects.toThrow(UnsafePathError);
    await writeFile(join(outside, 'x.tmp'), 'Original Sender: a@b.c\r\n');
    const report = await reportQueues(mail, 20, new Date());
    expect(report.warnings).toEqual(['_outgoing: a symlink, not followed']);
    expect(report.folders.find((f) => f.folder === '_outgoing')?.messages).toBe(0);
    await expect(mail.ensureFolder('_outgoing/priority_2')).rejects.toThrow(/_outgoing: a symlink; symlinks below the mail directory are never followed/);
  });

  it('refuses paths that climb out', async () => {
    const mail = await MailDirectory.open(root);
    expect(() => mail.abs('../x')).toThrow(UnsafePathError);
    expect(() => mail.folderArg('/etc')).toThrow(UnsafePathError);
    expect(mail.folderArg('_outgoing/./retry/')).toBe('_outgoing/retry');
  });

  it('names a missing mail directory', async () => {
    await expect(MailDirectory.open(join(root, 'nope'))).rejects.toThrow(/nope: no such file or folder/);
  });
});
