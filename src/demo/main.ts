// `npm run demo`: a live attack on a made-up IceWarp server, offline
// (`npm run demo -- --mta postfix`: on a Postfix server, see postfixDemo.ts).
// Writes three hours of SMTP logs (legitimate users, inbound mail, a password
// spray, and info@domaine.com stolen twenty minutes ago, sending as two
// forged senders) and a mail queue filling with its spam into ./demo-data,
// starts the exporter on them, and keeps appending log lines and spam as
// their time comes.
//
// The folder is laid out as an IceWarp installation (logs/smtp, mail), with
// stand-ins for IceWarp's `tool.sh` and `icewarpd.sh`, so the commands the
// console shows run as they are: changing the stolen account's password stops
// the simulated attacker, stopping SMTP pauses the simulated server.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from '../app.js';
import { createLogger } from '../logger.js';
import { shellWord } from '../runbook.js';
import { runPostfixDemo } from './postfixDemo.js';
import { addSpam, writeQueue } from './queue.js';
import { scenarioLines, type ScenarioOptions } from './scenario.js';

const STOLEN = 'info@domaine.com';
/** The forged envelope senders of the spam: in the log's MAIL FROM and as the queue's original sender. */
const SPAM_SENDERS = ['willm.b@orange.fr', 'bmyerd77@yahoo.com'] as const;
const HISTORY_SECONDS = 3 * 3600;

/** IceWarp's command-line tool, as far as the runbook uses it: records the password change for the demo. */
const TOOL_SH = `#!/bin/sh
# Demo stand-in for IceWarp's tool.sh: only "modify account ACCOUNT u_password PASSWORD".
state="$(dirname "$0")/.demo"
if [ "$1" = modify ] && [ "$2" = account ] && [ "$4" = u_password ] && [ -n "$5" ]; then
  mkdir -p "$state" && printf '%s\n' "$3" >> "$state/passwords-changed"
  echo "demo: the password of $3 is changed; the attacker's next logins fail"
else
  echo "demo: this stand-in only knows: modify account ACCOUNT u_password PASSWORD" >&2
  exit 1
fi
`;

/** IceWarp's service script, as far as the runbook uses it: stops and starts the simulated SMTP service. */
const ICEWARPD_SH = `#!/bin/sh
# Demo stand-in for IceWarp's icewarpd.sh: only "--stop smtp" and "--start smtp".
state="$(dirname "$0")/.demo"
mkdir -p "$state"
case "$1 $2" in
  "--stop smtp") touch "$state/smtp-stopped"; echo "demo: SMTP service stopped" ;;
  "--start smtp") rm -f "$state/smtp-stopped"; echo "demo: SMTP service started" ;;
  *) echo "demo: this stand-in only knows: --stop smtp, --start smtp" >&2; exit 1 ;;
esac
`;

function logFileOf(time: number): string {
  const d = new Date(time * 1000);
  const ymd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return `s${ymd}.log`;
}

/** `--mta postfix` (or `--mta=postfix`): the Postfix demo; IceWarp otherwise. */
function mtaOf(argv: string[]): string {
  const i = argv.findIndex((a) => a === '--mta' || a.startsWith('--mta='));
  if (i < 0) return 'icewarp';
  const mta = argv[i]!.includes('=') ? argv[i]!.slice(6) : argv[i + 1];
  if (mta !== 'icewarp' && mta !== 'postfix') throw new Error(`--mta ${mta ?? ''}: icewarp or postfix`);
  return mta;
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 10025);
  const root = resolve(process.env.DEMO_DIR ?? 'demo-data');
  if (mtaOf(process.argv.slice(2)) === 'postfix') {
    const demo = await runPostfixDemo({ port, root, logger: createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'info') });
    process.stdout.write(demo.banner);
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await demo.stop();
    return;
  }
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
    attack: {
      account: STOLEN,
      startSecond: HISTORY_SECONDS - 20 * 60,
      messagesPerMinute: 30,
      recipientsPerMessage: 8,
      ips: 40,
      foreignSender: true,
      senders: [...SPAM_SENDERS],
    },
    busyAccount: { account: 'newsletter@domaine.com', externalRecipientsPerHour: 150, ips: 2 },
  };

  // The past, at once; the future, line by line as its time comes. While SMTP is stopped, nothing is logged.
  const lines = scenarioLines(options);
  let pending = lines.next();
  const writeUntil = (until: number, write = true): void => {
    const batches = new Map<string, string[]>();
    while (!pending.done && pending.value.time <= until) {
      const file = logFileOf(pending.value.time);
      let batch = batches.get(file);
      if (!batch) batches.set(file, (batch = []));
      batch.push(pending.value.line);
      pending = lines.next();
    }
    if (write) for (const [file, batch] of batches) appendFileSync(join(logs, file), batch.join('\r\n') + '\r\n');
  };
  writeUntil(now);

  writeQueue(mail, {
    seed: 2013,
    legitimateMessages: 180,
    spamMessages: 1200,
    spamSender: SPAM_SENDERS[0],
    retryFraction: 0.6,
    incomingPairs: 15,
    incomingBakPairs: 40,
    incomingBakOrphans: 6,
    oldMessages: 3,
  });
  addSpam(mail, 150, { sender: SPAM_SENDERS[1], folder: '_outgoing/retry', seed: 2014 });
  writeFileSync(join(root, 'tool.sh'), TOOL_SH);
  writeFileSync(join(root, 'icewarpd.sh'), ICEWARPD_SH);
  chmodSync(join(root, 'tool.sh'), 0o755);
  chmodSync(join(root, 'icewarpd.sh'), 0o755);
  const state = join(root, '.demo');

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
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const app = new App({
    configFile,
    listenAddress: `:${port}`,
    telemetryPath: '/metrics',
    logger,
    version: 'demo',
    exporterCommand: `${shellWord(process.execPath)} ${shellWord(main)}`,
    consoleNotice: `This is the demo. ${join(root, 'tool.sh')} and ${join(root, 'icewarpd.sh')} stand in for IceWarp's tools: changing ${STOLEN}'s password stops the simulated attacker, stopping SMTP pauses the simulated server. Every command on this page runs as shown.`,
  });
  await app.start();

  const smtpStopped = (): boolean => existsSync(join(state, 'smtp-stopped'));
  const passwordChanged = (): boolean =>
    existsSync(join(state, 'passwords-changed')) && readFileSync(join(state, 'passwords-changed'), 'utf8').split('\n').includes(STOLEN);
  let spamRound = 0;
  const tick = (): void => {
    const t = Math.floor(Date.now() / 1000);
    const attack = options.attack!;
    if (attack.passwordChangedSecond === undefined && passwordChanged()) {
      // Sessions not yet generated (from the next minute of log time) fail to log in.
      attack.passwordChangedSecond = t - now + HISTORY_SECONDS;
      process.stdout.write(`demo: ${STOLEN}'s password changed; its attacker's logins fail from now on\n`);
    }
    writeUntil(t, !smtpStopped());
  };
  const liveLog = setInterval(tick, 1000);
  const liveSpam = setInterval(() => {
    if (smtpStopped() || passwordChanged()) return;
    addSpam(mail, 15, { sender: SPAM_SENDERS[spamRound++ % 5 === 4 ? 1 : 0], folder: '_outgoing/retry' });
  }, 5000);

  process.stdout.write(`
mailrelay-exporter demo: a stolen account is relaying spam right now.

  Open:    http://localhost:${port}/   the incident console: the stolen account, its spam in the queue,
                                      and the commands that stop it (run them in order, here)
  JSON:    http://localhost:${port}/api/v1/incident
  Metrics: http://localhost:${port}/metrics
  Try:     curl -s localhost:${port}/metrics | grep -E '^mailrelay_account_sender_recipients_total'

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
