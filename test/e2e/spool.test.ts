// The spool collector end to end: the built exporter over a generated queue
// tree, its /metrics compared with what `find` and a plain read of each
// file's head say, live as files come and go, and with a folder it cannot read.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addSpam, writeQueue } from '../../src/demo/queue.js';
import { EXPORTER_MAIN, startExporter } from '../harness/exporter.js';
import { fetchText, freePort, spawnChild, untilExit, waitFor } from '../harness/processes.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mailrelay-e2e-spool-'));
  chmodSync(d, 0o755);
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface Found {
  name: string;
  size: number;
  mtimeMs: number;
}

/** Regular files directly in a folder (symlinks are not -type f), as find lists them. */
function findFiles(dir: string): Found[] {
  const out = execFileSync('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-type', 'f', '-printf', '%s\\t%T@\\t%f\\0'], { encoding: 'utf8' });
  return out
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const [size, mtime, ...name] = line.split('\t');
      return { name: name.join('\t'), size: Number(size), mtimeMs: Number(mtime) * 1000 };
    });
}

function findDirs(dir: string, name = '*'): string[] {
  const out = execFileSync('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-name', name, '-printf', '%f\\0'], {
    encoding: 'utf8',
  });
  return out.split('\0').filter(Boolean);
}

/** The Original Sender line in the first 4 KiB, as `head -c 4096 | grep` would find it. */
function headSender(path: string): string {
  const buf = Buffer.alloc(4096);
  const fd = openSync(path, 'r');
  const n = readSync(fd, buf, 0, 4096, 0);
  closeSync(fd);
  const m = /^Original Sender: <([^>]*)>/m.exec(buf.toString('latin1', 0, n));
  return m ? m[1]!.toLowerCase() : '__unknown__';
}

interface Expected {
  series: Map<string, number>;
  /** folder → oldest mtime (ms) */
  oldest: Map<string, number | undefined>;
}

/** What /metrics must say, computed from the tree the plain way. */
function walkQueue(mail: string, topSenders = 20): Expected {
  const series = new Map<string, number>();
  const oldest = new Map<string, number | undefined>();
  const senders = new Map<string, number>();
  const sizes = { outgoing: new Map<number, number>(), incoming: new Map<number, number>() };
  const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
  const outgoingFolders = ['_outgoing', ...findDirs(join(mail, '_outgoing')).map((d) => `_outgoing/${d}`)];
  let deferred = 0;
  for (const folder of outgoingFolders) {
    const tmps = findFiles(join(mail, folder)).filter((f) => /\.tmp$/i.test(f.name));
    // IceWarp's retry and priority folders hold the mail waiting for another delivery attempt.
    if (/^_outgoing\/(retry|priority_.+)$/.test(folder)) deferred += tmps.length;
    series.set(`mailrelay_spool_messages{queue="outgoing",folder="${folder}"}`, tmps.length);
    series.set(`mailrelay_spool_bytes{queue="outgoing",folder="${folder}"}`, tmps.reduce((n, f) => n + f.size, 0));
    oldest.set(folder, tmps.length ? Math.min(...tmps.map((f) => f.mtimeMs)) : undefined);
    for (const f of tmps) {
      bump(senders, headSender(join(mail, folder, f.name)));
      bump(sizes.outgoing, f.size);
    }
  }
  const incomingFolders = ['_incoming', ...findDirs(mail, '_incoming.bak')];
  for (const folder of incomingFolders) {
    const files = findFiles(join(mail, folder));
    const stems = new Map<string, { tmp?: Found; dat?: Found }>();
    for (const f of files) {
      const m = /^(.*)\.(tmp|dat)$/i.exec(f.name);
      if (!m) continue;
      const entry = stems.get(m[1]!) ?? {};
      entry[m[2]!.toLowerCase() as 'tmp' | 'dat'] = f;
      stems.set(m[1]!, entry);
    }
    let messages = 0;
    let bytes = 0;
    let old: number | undefined;
    let orphanTmp = 0;
    let orphanDat = 0;
    for (const { tmp, dat } of stems.values()) {
      if (tmp && dat) {
        messages++;
        bytes += tmp.size + dat.size;
        old = Math.min(old ?? Infinity, tmp.mtimeMs, dat.mtimeMs);
        bump(sizes.incoming, tmp.size);
      } else if (tmp) orphanTmp++;
      else orphanDat++;
    }
    series.set(`mailrelay_spool_messages{queue="incoming",folder="${folder}"}`, messages);
    series.set(`mailrelay_spool_bytes{queue="incoming",folder="${folder}"}`, bytes);
    series.set(`mailrelay_spool_orphan_files{folder="${folder}",kind="tmp"}`, orphanTmp);
    series.set(`mailrelay_spool_orphan_files{folder="${folder}",kind="dat"}`, orphanDat);
    oldest.set(folder, old);
  }
  const ranked = [...senders].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topSenders);
  for (const [sender, n] of ranked) series.set(`mailrelay_spool_sender_messages{sender="${sender}"}`, n);
  series.set('mailrelay_spool_senders', senders.size);
  series.set('mailrelay_spool_deferred_messages', deferred);
  // Every head read: the sender series above are complete.
  series.set('mailrelay_spool_senders_complete', 1);
  for (const q of ['outgoing', 'incoming'] as const) {
    series.set(`mailrelay_spool_largest_same_size_messages{queue="${q}"}`, Math.max(0, ...sizes[q].values()));
  }
  return { series, oldest };
}

/** The spool series of a /metrics page, ages apart. */
function parseSpool(text: string): { series: Map<string, number>; ages: Map<string, number> } {
  const series = new Map<string, number>();
  const ages = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('mailrelay_spool_') || line.startsWith('mailrelay_spool_scan_errors_total')) continue;
    const cut = line.lastIndexOf(' ');
    const key = line.slice(0, cut);
    const value = Number(line.slice(cut + 1));
    const age = /^mailrelay_spool_oldest_message_age_seconds\{queue="\w+",folder="([^"]+)"\}$/.exec(key);
    if (age) ages.set(age[1]!, value);
    else series.set(key, value);
  }
  return { series, ages };
}

/** Asserts /metrics matches the walk: exact counts, ages within the time the scrape took. */
async function expectMatches(metrics: () => Promise<string>, mail: string): Promise<void> {
  const expected = walkQueue(mail);
  const t0 = Date.now();
  const text = await metrics();
  const t1 = Date.now();
  const got = parseSpool(text);
  expect(Object.fromEntries(got.series)).toEqual(Object.fromEntries(expected.series));
  expect([...got.ages.keys()].sort()).toEqual([...expected.oldest.keys()].sort());
  for (const [folder, old] of expected.oldest) {
    const age = got.ages.get(folder)!;
    if (old === undefined) expect(age, folder).toBe(0);
    else {
      expect(age, folder).toBeGreaterThanOrEqual((t0 - old) / 1000 - 1);
      expect(age, folder).toBeLessThanOrEqual((t1 - old) / 1000 + 1);
    }
  }
}

/** Polls until /metrics matches the walk, within the 5 s. */
async function eventuallyMatches(metrics: () => Promise<string>, mail: string, what: string): Promise<void> {
  await waitFor(
    async () => {
      await expectMatches(metrics, mail);
      return true;
    },
    { timeoutMs: 5_000, intervalMs: 100, what },
  );
}

function buildQueue(root: string): { mail: string; outside: string } {
  const mail = join(root, 'mail');
  const outside = join(root, 'outside');
  writeQueue(mail, {
    seed: 31,
    legitimateMessages: 300,
    spamMessages: 1500,
    spamSender: 'willm.b@orange.fr',
    retryFraction: 0.5,
    incomingPairs: 20,
    incomingBakPairs: 10,
    incomingBakOrphans: 6,
    oldMessages: 2,
  });
  const msg = 'Original Sender: <Jean.Dupont@domaine.com>\r\nSubject: x\r\n\r\nbody\r\n';
  writeFileSync(join(mail, '_outgoing', 'with space é 日本.tmp'), msg);
  writeFileSync(join(mail, '_outgoing', 'no-sender.TMP'), 'Subject: none\r\n\r\nbody\r\n');
  mkdirSync(join(outside, 'elsewhere'), { recursive: true });
  writeFileSync(join(outside, 'big.tmp'), msg.repeat(50));
  writeFileSync(join(outside, 'elsewhere', 'x.tmp'), msg);
  symlinkSync(join(outside, 'big.tmp'), join(mail, '_outgoing', 'link.tmp'));
  symlinkSync(join(outside, 'elsewhere'), join(mail, '_outgoing', 'priority_7'));
  return { mail, outside };
}

describe('spool collector, end to end', () => {
  it('serves what find and head say, and follows live changes within 5 s', async () => {
    const root = tempDir();
    const { mail } = buildQueue(root);
    const exporter = await startExporter({ configYaml: `icewarp:\n  mail_directory: ${JSON.stringify(mail)}\n` });
    cleanups.push(() => exporter.stop());
    await waitFor(async () => (await fetchText(`${exporter.url}/-/ready`)).startsWith('Ready'), { what: 'the first scan' });
    // Ready: depth, bytes and ages are exact; the senders follow once every head is read.
    await waitFor(async () => (await exporter.metrics()).includes('mailrelay_spool_senders_complete 1'), { what: 'the senders' });

    await expectMatches(exporter.metrics, mail);
    const text = await exporter.metrics();
    expect(text).toContain('mailrelay_collector_success{collector="spool"} 1');
    expect(text).toContain('mailrelay_spool_sender_messages{sender="willm.b@orange.fr"} 1500');
    expect(text).toContain('mailrelay_spool_sender_messages{sender="__unknown__"} 1');
    expect(text).not.toContain('priority_7');
    expect(text).toContain('mailrelay_spool_scan_errors_total 0');

    // The attack goes on: new spam in _outgoing and retry, some legitimate mail delivered.
    addSpam(mail, 40, { sender: 'willm.b@orange.fr', seed: 1 });
    addSpam(mail, 25, { sender: 'willm.b@orange.fr', folder: '_outgoing/retry', seed: 2 });
    const delivered = findFiles(join(mail, '_outgoing')).filter((f) => headSender(join(mail, '_outgoing', f.name)) === 'info@domaine.com');
    for (const f of delivered.slice(0, 10)) unlinkSync(join(mail, '_outgoing', f.name));
    await eventuallyMatches(exporter.metrics, mail, 'the new and delivered messages');
    expect(await exporter.metrics()).toContain('mailrelay_spool_sender_messages{sender="willm.b@orange.fr"} 1565');

    // An incoming pair completes; an _outgoing/priority_2 message goes; a new priority folder appears.
    writeFileSync(join(mail, '_incoming', 'NEWPAIR.tmp'), 'Original Sender: <a@b.c>\r\n\r\nx');
    await eventuallyMatches(exporter.metrics, mail, 'an orphan .tmp in _incoming');
    writeFileSync(join(mail, '_incoming', 'NEWPAIR.dat'), 'MAIL FROM:<a@b.c>\r\n');
    rmSync(join(mail, '_outgoing', 'priority_2', findFiles(join(mail, '_outgoing', 'priority_2'))[0]!.name));
    mkdirSync(join(mail, '_outgoing', 'priority_4'));
    addSpam(mail, 3, { sender: 'requeued@domaine.com', folder: '_outgoing/priority_4', seed: 3 });
    await eventuallyMatches(exporter.metrics, mail, 'the pair and the priority folders');
    expect(await exporter.metrics()).toContain('mailrelay_spool_messages{queue="outgoing",folder="_outgoing/priority_4"} 3');
  });

  it('keeps answering /metrics and /-/healthy while FIFOs are swapped in for queued messages, and counts exactly after', async () => {
    const root = tempDir();
    const { mail } = buildQueue(root);
    const out = join(mail, '_outgoing');
    const exporter = await startExporter({ configYaml: `icewarp:\n  mail_directory: ${JSON.stringify(mail)}\nspool:\n  rescan_interval: 1s\n` });
    cleanups.push(() => exporter.stop());
    await waitFor(async () => (await fetchText(`${exporter.url}/-/ready`)).startsWith('Ready'), { what: 'the first scan' });

    // A hostile local user (or a broken tool) swaps a FIFO in for queued messages, over and over: each of
    // 20 names is a regular message one moment and a FIFO (no writer, ever) the next, through hard links
    // and renames, so the exporter's lstat sees a message and its open may meet the FIFO.
    const stash = join(root, 'stash');
    mkdirSync(stash);
    writeFileSync(join(stash, 'message'), 'Original Sender: <swap@x.org>\r\n\r\nbody\r\n');
    execFileSync('mkfifo', [join(stash, 'fifo')]);
    const names = Array.from({ length: 20 }, (_, i) => join(out, `SWAP${i}.tmp`));
    const swapper = spawnChild(process.execPath, [
      '-e',
      `const fs = require('node:fs');
       const [stash, ...names] = process.argv.slice(1);
       const until = Date.now() + 4000;
       let cycles = 0;
       const put = (from, to) => { fs.linkSync(from, to + '.new'); fs.renameSync(to + '.new', to); };
       while (Date.now() < until) {
         for (const n of names) put(stash + '/message', n);
         for (const n of names) put(stash + '/fifo', n);
         cycles++;
       }
       for (const n of names) put(stash + '/message', n);
       console.log('cycles ' + cycles);`,
      stash,
      ...names,
    ]);
    cleanups.push(() => swapper.stop());

    // Every probe must answer within 2 s throughout; a blocked event loop answers nothing.
    let probes = 0;
    while (swapper.pid > 0 && !(await Promise.race([swapper.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]))) {
      for (const path of ['/-/healthy', '/metrics']) {
        const res = await fetch(`${exporter.url}${path}`, { signal: AbortSignal.timeout(2_000) }).catch((err: Error) => {
          throw new Error(`${path} did not answer within 2 s while FIFOs were swapped in (${err.message})\n${exporter.child.output()}`);
        });
        expect(res.status, path).toBe(200);
        await res.arrayBuffer();
        probes++;
      }
    }
    const cycles = Number(/cycles (\d+)/.exec(swapper.output())?.[1]);
    expect(cycles, swapper.output()).toBeGreaterThan(100);
    expect(probes).toBeGreaterThanOrEqual(4);

    // The swapping over, every name is a message again: the counts are exact, the FIFOs were never counted.
    await eventuallyMatches(exporter.metrics, mail, 'the swapped names as messages again');
    expect(await exporter.metrics()).toContain('mailrelay_spool_sender_messages{sender="swap@x.org"} 20');
  });

  it('reports the other folders and collector_success 0 when a folder cannot be read, and recovers', async () => {
    const root = tempDir();
    const { mail } = buildQueue(root);
    const configFile = join(root, 'exporter.yml');
    writeFileSync(configFile, `icewarp:\n  mail_directory: ${JSON.stringify(mail)}\nspool:\n  rescan_interval: 1s\n`);
    chmodSync(join(mail, '_outgoing', 'retry'), 0o000);
    // Root reads any folder: run the exporter as nobody, as a locked-down deployment would.
    const asRoot = process.getuid?.() === 0;
    const port = await freePort();
    const args = [EXPORTER_MAIN, `--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`];
    const child = asRoot
      ? spawnChild('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args], { cwd: root })
      : spawnChild(process.execPath, args, { cwd: root });
    cleanups.push(() => child.stop());
    cleanups.push(() => chmodSync(join(mail, '_outgoing', 'retry'), 0o755));
    const url = `http://127.0.0.1:${port}`;
    const metrics = () => fetchText(`${url}/metrics`);
    await untilExit(child, waitFor(async () => (await fetchText(`${url}/-/ready`)).startsWith('Ready'), { what: 'the first scan' })).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- exporter output ---\n${child.output()}`, { cause: err });
      },
    );

    const text = await metrics();
    expect(text).toContain('mailrelay_collector_success{collector="spool"} 0');
    expect(text).toMatch(/^mailrelay_spool_scan_errors_total [1-9]\d*$/m);
    expect(text).not.toContain('folder="_outgoing/retry"');
    const got = parseSpool(text).series;
    const readable = walkQueue(mail).series;
    for (const key of [
      'mailrelay_spool_messages{queue="outgoing",folder="_outgoing"}',
      'mailrelay_spool_bytes{queue="outgoing",folder="_outgoing"}',
      'mailrelay_spool_messages{queue="outgoing",folder="_outgoing/priority_2"}',
      'mailrelay_spool_messages{queue="incoming",folder="_incoming"}',
      'mailrelay_spool_messages{queue="incoming",folder="_incoming.bak"}',
      'mailrelay_spool_orphan_files{folder="_incoming.bak",kind="tmp"}',
    ]) {
      expect(got.get(key), key).toBe(readable.get(key));
    }

    chmodSync(join(mail, '_outgoing', 'retry'), 0o755);
    await waitFor(async () => (await metrics()).includes('mailrelay_collector_success{collector="spool"} 1'), {
      timeoutMs: 10_000,
      what: 'the next rescan to read retry',
    });
    await eventuallyMatches(metrics, mail, 'the senders of retry');
  });
});
