// `npm run demo`: a live attack on a made-up IceWarp server, offline.
// Writes three hours of SMTP logs (legitimate users, inbound mail, a password
// spray, and info@domaine.com stolen twenty minutes ago) and a mail queue
// filling with its spam into ./demo-data, starts the exporter on them, and
// keeps appending log lines and spam as their time comes.
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { App } from '../app.js';
import { createLogger } from '../logger.js';
import { addSpam, writeQueue } from './queue.js';
import { scenarioLines, type ScenarioOptions } from './scenario.js';

const STOLEN = 'info@domaine.com';
const SPAM_SENDER = 'willm.b@orange.fr';
const HISTORY_SECONDS = 3 * 3600;

function logFileOf(time: number): string {
  const d = new Date(time * 1000);
  const ymd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return `s${ymd}.log`;
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 10025);
  const root = resolve(process.env.DEMO_DIR ?? 'demo-data');
  const logs = join(root, 'logs', 'smtp');
  const mail = join(root, 'mail');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });

  const now = Math.floor(Date.now() / 1000);
  const options: ScenarioOptions = {
    seed: 2013,
    start: new Date((now - HISTORY_SECONDS) * 1000),
    durationSeconds: HISTORY_SECONDS + 24 * 3600,
    localDomain: 'domaine.com',
    legitimateUsers: 25,
    inboundPerMinute: 12,
    outboundDeliveriesPerMinute: 6,
    spray: { perMinute: 4, usernames: 400 },
    attack: { account: STOLEN, startSecond: HISTORY_SECONDS - 20 * 60, messagesPerMinute: 30, recipientsPerMessage: 8, ips: 40, foreignSender: true },
    busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2 },
  };

  // The past, at once; the future, line by line as its time comes.
  const lines = scenarioLines(options);
  let pending = lines.next();
  const writeUntil = (until: number): void => {
    const batches = new Map<string, string[]>();
    while (!pending.done && pending.value.time <= until) {
      const file = logFileOf(pending.value.time);
      let batch = batches.get(file);
      if (!batch) batches.set(file, (batch = []));
      batch.push(pending.value.line);
      pending = lines.next();
    }
    for (const [file, batch] of batches) appendFileSync(join(logs, file), batch.join('\r\n') + '\r\n');
  };
  writeUntil(now);

  writeQueue(mail, {
    seed: 2013,
    legitimateMessages: 180,
    spamMessages: 1200,
    spamSender: SPAM_SENDER,
    retryFraction: 0.6,
    incomingPairs: 15,
    incomingBakPairs: 40,
    incomingBakOrphans: 6,
    oldMessages: 3,
  });

  const configFile = join(root, 'mailrelay-exporter.yml');
  appendFileSync(
    configFile,
    [
      '# Written by `npm run demo`.',
      'icewarp:',
      `  log_directory: ${logs}`,
      `  mail_directory: ${mail}`,
      'local_domains: [domaine.com, "*.domaine.com"]',
      'start_at: beginning',
      `positions_file: ${join(root, 'positions.json')}`,
      '',
    ].join('\n'),
  );

  const logger = createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'info');
  const app = new App({ configFile, listenAddress: `:${port}`, telemetryPath: '/metrics', logger, version: 'demo' });
  await app.start();

  const liveLog = setInterval(() => writeUntil(Math.floor(Date.now() / 1000)), 1000);
  const liveSpam = setInterval(() => addSpam(mail, 15, { sender: SPAM_SENDER, folder: '_outgoing/retry' }), 5000);

  process.stdout.write(`
mailrelay-exporter demo: a stolen account is relaying spam right now.

  Landing page:  http://localhost:${port}/          (the stolen account tops the table)
  Metrics:       http://localhost:${port}/metrics
  Try:           curl -s localhost:${port}/metrics | grep -E '^mailrelay_account_recipients_total.*external' | sort -t' ' -k2 -nr | head -3
                 curl -s localhost:${port}/metrics | grep -E '^mailrelay_spool_(messages|sender_messages)'

  Logs and queue: ${root}   (config: ${configFile})
  Stop with Ctrl-C.
`);

  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  clearInterval(liveLog);
  clearInterval(liveSpam);
  await app.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
