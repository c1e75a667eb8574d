// The Postfix group (`npm run bench -- postfix`): catch-up throughput of a
// Postfix mail log through the real tailer, Postfix parser and account book,
// next to IceWarp's on as many lines of its own log in the same run, and
// Debian's prometheus-postfix-exporter (kumina's postfix_exporter) reading the
// same Postfix log, also in the same run.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { postfixScenario } from '../src/demo/postfixScenario.js';
import { silentLogger } from '../src/logger.js';
import { LogPipeline, logSettings } from '../src/pipeline/logPipeline.js';
import { writeBenchLogs } from './log.js';
import { fmt, median, type BenchGroup } from './report.js';

const POSTFIX_EXPORTER = '/usr/bin/prometheus-postfix-exporter';
const LINES = 1_000_000;
const T0 = Date.UTC(2026, 10, 27);

/** A day of a Postfix server under attack, at least `lines` lines, logrotated once: mail.log.1 then mail.log. */
function writePostfixLog(dir: string, lines: number): { lines: number; bytes: number; text: string } {
  mkdirSync(dir, { recursive: true });
  const scenario = postfixScenario({
    seed: 7,
    start: new Date(T0),
    durationSeconds: 40 * 86400,
    legitimateUsers: 300,
    inboundPerMinute: 60,
    spray: { perMinute: 20, usernames: 5000 },
    attack: { account: 'info@domaine.com', startSecond: 3600, messagesPerMinute: 60, recipientsPerMessage: 10, ips: 200, senders: ['willm.b@orange.fr', 'bmyerd77@yahoo.com'] },
  });
  const out: string[] = [];
  for (const l of scenario.lines) {
    out.push(l.text);
    if (out.length >= lines) break;
  }
  const half = Math.floor(out.length / 2);
  const older = out.slice(0, half).join('\n') + '\n';
  const newer = out.slice(half).join('\n') + '\n';
  writeFileSync(join(dir, 'mail.log.1'), older);
  writeFileSync(join(dir, 'mail.log'), newer);
  return { lines: out.length, bytes: Buffer.byteLength(older) + Buffer.byteLength(newer), text: older + newer };
}

/** Reads every file of a log from its first byte until the pipeline is ready: seconds and lines read. */
async function catchUp(section: string, dir: string): Promise<{ seconds: number; lines: number }> {
  const positions = join(dir, '..', `${section.split(':')[0]}-pos.json`);
  rmSync(positions, { force: true });
  const config = loadConfig(`${section}local_domains: [domaine.com]\nstart_at: beginning\npositions_file: ${positions}\n`);
  const started = performance.now();
  const pipeline = new LogPipeline(logSettings(config)!, silentLogger, { watch: false });
  await pipeline.ready;
  const seconds = (performance.now() - started) / 1000;
  const lines = pipeline.tailer.stats.lines;
  await pipeline.stop();
  return { seconds, lines };
}

/** A warm-up run (page cache and JIT warm, as for a long-running exporter), then the median of three. */
async function medianCatchUp(section: string, dir: string, expected: number): Promise<number> {
  await catchUp(section, dir);
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await catchUp(section, dir);
    if (r.lines !== expected) throw new Error(`${section.split(':')[0]}: read ${r.lines} lines of ${expected}`);
    rates.push(r.lines / r.seconds);
  }
  return median(rates);
}

/**
 * prometheus-postfix-exporter follows its log from the end: it is started on
 * an empty file, the whole log is appended, and the time runs until its
 * count of smtpd connections has reached the log's (a marker connection
 * ends the log, so the count is reached at its last line).
 */
async function kuminaSeconds(dir: string, text: string): Promise<number | undefined> {
  if (!existsSync(POSTFIX_EXPORTER)) return undefined;
  const file = join(dir, 'kumina-mail.log');
  writeFileSync(file, '');
  const marker = `${new Date(T0 + 41 * 86400_000).toISOString().slice(0, 19)}.000000+00:00 mail postfix/smtpd[1]: connect from marker[192.0.2.1]\n`;
  // postfix_exporter 0.3 reads `postfix/smtpd[…]` (not `postfix/submission/smtpd`, whose service it does not know) as smtpd.
  const expected = (text.match(/ postfix\/smtpd\[\d+\]: connect from /g)?.length ?? 0) + 1;
  const port = 30000 + Math.floor(Math.random() * 20000);
  const child = spawn(POSTFIX_EXPORTER, [`--postfix.logfile_path=${file}`, `--web.listen-address=127.0.0.1:${port}`, `--postfix.showq_path=${join(dir, 'no-showq')}`], { stdio: 'ignore' });
  const metric = async (): Promise<number | undefined> => {
    const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => undefined);
    const m = body === undefined ? undefined : /^postfix_smtpd_connects_total (\S+)$/m.exec(body);
    return m ? Number(m[1]) : undefined;
  };
  try {
    const ready = performance.now() + 20_000;
    while ((await metric()) === undefined) {
      if (performance.now() > ready) throw new Error('prometheus-postfix-exporter did not answer within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const started = performance.now();
    appendFileSync(file, text + marker);
    for (;;) {
      const n = await metric();
      if (n !== undefined && n >= expected) return (performance.now() - started) / 1000;
      if (performance.now() - started > 600_000) throw new Error(`prometheus-postfix-exporter counted ${n} of ${expected} connections in 10 minutes`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export const postfixGroup: BenchGroup = {
  name: 'postfix',
  title: 'Postfix log',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'mailrelay-bench-postfix-'));
    try {
      process.stderr.write('bench: writing the Postfix and IceWarp logs…\n');
      const pf = writePostfixLog(join(dir, 'postfix'), LINES);
      const iw = writeBenchLogs(join(dir, 'icewarp'), LINES);
      process.stderr.write('bench: Postfix catch-up…\n');
      const postfixRate = await medianCatchUp(`postfix:\n  log_file: ${join(dir, 'postfix', 'mail.log*')}\n  log_time_zone: UTC\n`, join(dir, 'postfix'), pf.lines);
      process.stderr.write('bench: IceWarp catch-up…\n');
      const icewarpRate = await medianCatchUp(`icewarp:\n  log_directory: ${join(dir, 'icewarp')}\n`, join(dir, 'icewarp'), iw.lines);
      process.stderr.write('bench: prometheus-postfix-exporter on the same Postfix log…\n');
      const kumina = await kuminaSeconds(dir, pf.text);
      const kuminaRate = kumina === undefined ? undefined : pf.lines / kumina;
      const pfBytesPerLine = pf.bytes / pf.lines;
      const iwBytesPerLine = iw.bytes / iw.lines;
      const mib = (rate: number, perLine: number) => `${fmt((rate * perLine) / 2 ** 20, 1)} MiB/s`;
      return {
        rows: [
          ['Postfix catch-up (tailer + Postfix parser + accounts)', `${fmt(postfixRate)} lines/s, ${mib(postfixRate, pfBytesPerLine)} (${fmt(pf.lines)} lines, ${fmt(pf.bytes / 2 ** 20, 1)} MiB)`, '', ''],
          ['IceWarp catch-up, same run, as many lines of its own log', `${fmt(icewarpRate)} lines/s, ${mib(icewarpRate, iwBytesPerLine)} (${fmt(iw.lines)} lines, ${fmt(iw.bytes / 2 ** 20, 1)} MiB)`, '', ''],
          ['Postfix / IceWarp', `${fmt(postfixRate / icewarpRate, 2)}× in lines/s, ${fmt((postfixRate * pfBytesPerLine) / (icewarpRate * iwBytesPerLine), 2)}× in bytes/s`, '', ''],
          ['prometheus-postfix-exporter 0.3 (Debian), same Postfix log', kuminaRate === undefined ? 'not installed' : `${fmt(kuminaRate)} lines/s (${fmt(kumina, 2)} s)`, '', ''],
          ['ratio to prometheus-postfix-exporter', kuminaRate === undefined ? 'n/a' : `${fmt(postfixRate / kuminaRate, 1)}×`, '', ''],
        ],
        notes: [
          `Postfix: ${fmt(pf.lines)} lines of a generated Postfix + Dovecot day under attack (\`src/demo/postfixScenario.ts\`: submission
  with a content filter, inbound mail, a spray, a stolen account sending under forged senders; RFC 3339 times), in
  \`mail.log.1\` and \`mail.log\`, read from the first byte until the pipeline is ready; the median of three runs after a warm-up.`,
          'IceWarp: the same measure on as many lines of the IceWarp demo scenario (`src/demo/scenario.ts`), in the same run; IceWarp lines are shorter, so both lines/s and bytes/s are given.',
          `prometheus-postfix-exporter (kumina's postfix_exporter, Debian's package) follows its file from the end: started on an
  empty file, then the same Postfix log is appended at once; the time until its \`postfix_smtpd_connects_total\` counts the
  connection of a marker line appended last (polled every 20 ms). It counts per service, not per account.`,
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
