// `npm run demo -- --mta postfix`: the same live attack on a made-up Postfix +
// Dovecot server. Writes three hours of /var/log/mail.log as rsyslog would
// (submission with a content filter, inbound mail, a spray, info@domaine.com
// stolen twenty minutes ago and sending under two forged senders), keeps
// appending as the log's time comes, and keeps a queue of the deferred mail.
//
// Postfix's tools are stood in for in DIR/bin, so the console's commands run
// as they are once DIR/bin is first on PATH: `postqueue -j` lists the demo's
// queue, `postsuper -h`/`-H` hold and release in it, `postmap` and `postfix
// reload` accept the check_sasl_access map (its REJECT line for the stolen
// account stops the simulated attacker), `doveadm pw` and `doveadm auth cache
// flush` record a password change (which stops it too).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from '../app.js';
import type { Logger } from '../logger.js';
import { shellWord } from '../runbook.js';
import type { DeferredMessage } from './postfixLog.js';
import { postfixScenario, type PostfixScenarioOptions } from './postfixScenario.js';

const STOLEN = 'info@domaine.com';
const SPAM_SENDERS = ['willm.b@orange.fr', 'bmyerd77@yahoo.com'];
const HISTORY_SECONDS = 3 * 3600;

/** The stand-ins: small Node scripts, run by this Node. */
function standIns(root: string): Record<string, string> {
  const node = `#!${process.execPath}`;
  const state = JSON.stringify(join(root, '.demo'));
  const queue = JSON.stringify(join(root, 'postfix', 'queue.jsonl'));
  const held = JSON.stringify(join(root, '.demo', 'held'));
  const heldIds = `const fs = require('fs'); const heldFile = ${held}; const held = new Set(fs.existsSync(heldFile) ? fs.readFileSync(heldFile, 'utf8').split('\\n').filter(Boolean) : []);`;
  return {
    // postqueue [-c DIR] -j: the demo's queue, each held message in the hold queue.
    postqueue: `${node}
// Demo stand-in for postqueue: only "-j".
${heldIds}
if (!process.argv.includes('-j')) { console.error('demo: this stand-in only knows postqueue [-c DIR] -j'); process.exit(64); }
const lines = fs.existsSync(${queue}) ? fs.readFileSync(${queue}, 'utf8').split('\\n').filter(Boolean) : [];
for (const line of lines) { const m = JSON.parse(line); if (held.has(m.queue_id)) m.queue_name = 'hold'; process.stdout.write(JSON.stringify(m).replace(/","/g, '", "').replace(/":/g, '": ').replace(/,"/g, ', "') + '\\n'); }
`,
    // postsuper [-c DIR] -h|-H -: queue IDs on stdin, moved to or from the hold queue.
    postsuper: `${node}
// Demo stand-in for postsuper: only "-h -" and "-H -".
${heldIds}
const hold = process.argv.includes('-h');
if (!(hold || process.argv.includes('-H')) || !process.argv.includes('-')) { console.error('demo: this stand-in only knows postsuper [-c DIR] -h|-H -'); process.exit(64); }
const queued = new Set((fs.existsSync(${queue}) ? fs.readFileSync(${queue}, 'utf8').split('\\n').filter(Boolean) : []).map((l) => JSON.parse(l).queue_id));
let n = 0;
for (const id of fs.readFileSync(0, 'utf8').split('\\n').filter(Boolean)) {
  if (!queued.has(id) || held.has(id) === hold) continue;
  if (hold) held.add(id); else held.delete(id);
  console.error('postsuper: ' + id + (hold ? ': placed on hold' : ': released from hold'));
  n++;
}
fs.mkdirSync(${state}, { recursive: true });
fs.writeFileSync(heldFile + '.tmp', [...held].join('\\n') + '\\n');
fs.renameSync(heldFile + '.tmp', heldFile);
console.error('postsuper: ' + (hold ? 'Placed on hold' : 'Released from hold') + ': ' + n + ' message' + (n === 1 ? '' : 's'));
`,
    postmap: `${node}
// Demo stand-in for postmap: the map is read as it is.
const file = process.argv[process.argv.length - 1];
require('fs').readFileSync(file.replace(/^hash:/, ''));
console.log('demo: ' + file + ' compiled');
`,
    postfix: `${node}
// Demo stand-in for postfix: only "[-c DIR] reload".
if (process.argv[process.argv.length - 1] !== 'reload') { console.error('demo: this stand-in only knows postfix [-c DIR] reload'); process.exit(64); }
console.log('postfix/postfix-script: refreshing the Postfix mail system');
`,
    doveadm: `${node}
// Demo stand-in for doveadm: "pw -s SCHEME -p PASSWORD" and "auth cache flush USER".
const fs = require('fs');
const a = process.argv.slice(2);
if (a[0] === 'pw') { console.log('{SHA512-CRYPT}$6$demo$' + Buffer.from(a[a.indexOf('-p') + 1] || '').toString('base64')); process.exit(0); }
if (a[0] === 'auth' && a[1] === 'cache' && a[2] === 'flush' && a[3]) {
  fs.mkdirSync(${state}, { recursive: true });
  fs.appendFileSync(${state} + '/passwords-changed', a[3] + '\\n');
  console.log('demo: the password of ' + a[3] + ' is changed; the attacker\\'s next logins fail');
  process.exit(0);
}
console.error('demo: this stand-in only knows: pw -s SCHEME -p PASSWORD, auth cache flush USER'); process.exit(64);
`,
  };
}

/** One line of `postqueue -j` for a deferred message, spaced as postqueue spaces it. */
function listingLine(d: DeferredMessage): string {
  const q = JSON.stringify;
  const recipients = d.recipients
    .map((address) => `{"address": ${q(address)}, "delay_reason": ${q(`Host or domain name not found. Name service error for name=${address.slice(address.lastIndexOf('@') + 1)} type=MX: Host not found, try again`)}}`)
    .join(', ');
  return `{"queue_name": "deferred", "queue_id": ${q(d.queueId)}, "arrival_time": ${Math.floor(d.arrival)}, "message_size": ${d.size}, "forced_expire": false, "sender": ${q(d.from)}, "recipients": [${recipients}]}`;
}

export async function runPostfixDemo(opts: { port: number; root: string; logger: Logger }): Promise<{ stop(): Promise<void>; banner: string }> {
  const { root, port } = opts;
  const logDir = join(root, 'log');
  const etc = join(root, 'postfix', 'etc');
  const bin = join(root, 'bin');
  const state = join(root, '.demo');
  rmSync(root, { recursive: true, force: true });
  for (const d of [logDir, etc, bin, state]) mkdirSync(d, { recursive: true });
  for (const [name, text] of Object.entries(standIns(root))) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }

  const now = Math.floor(Date.now() / 1000);
  const options: PostfixScenarioOptions = {
    seed: 2013,
    start: new Date((now - HISTORY_SECONDS) * 1000),
    durationSeconds: HISTORY_SECONDS + 24 * 3600,
    legitimateUsers: 25,
    inboundPerMinute: 12,
    spray: { perMinute: 4, usernames: 400 },
    attack: { account: STOLEN, startSecond: HISTORY_SECONDS - 20 * 60, messagesPerMinute: 30, recipientsPerMessage: 8, ips: 40, senders: SPAM_SENDERS },
  };
  const scenario = postfixScenario(options);
  let next = scenario.lines.next();
  const writeUntil = (until: number): void => {
    const batch: string[] = [];
    while (!next.done && next.value.time <= until) {
      batch.push(next.value.text);
      next = scenario.lines.next();
    }
    if (batch.length) appendFileSync(join(logDir, 'mail.log'), batch.join('\n') + '\n');
  };
  let listed = 0;
  const writeQueue = (): void => {
    const deferred = scenario.deferred;
    if (deferred.length === listed) return;
    appendFileSync(join(root, 'postfix', 'queue.jsonl'), deferred.slice(listed).map(listingLine).join('\n') + '\n');
    listed = deferred.length;
  };
  writeUntil(now);
  writeQueue();

  const configFile = join(root, 'mailrelay-exporter.yml');
  writeFileSync(
    configFile,
    [
      '# Written by `npm run demo -- --mta postfix`.',
      'postfix:',
      `  log_file: ${join(logDir, 'mail.log*')}`,
      '  log_time_zone: UTC',
      `  postqueue: ${join(bin, 'postqueue')}`,
      `  config_directory: ${etc}`,
      'local_domains: [domaine.com, "*.domaine.com"]',
      'start_at: beginning',
      `positions_file: ${join(root, 'positions.json')}`,
      'spool:',
      '  rescan_interval: 5s',
      '',
    ].join('\n'),
  );

  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  // The queue commands journal their runs in the state directory: the demo's, not /var/lib.
  const exporterCommand = `STATE_DIRECTORY=${shellWord(join(root, 'state'))} ${shellWord(process.execPath)} ${shellWord(main)}`;
  const app = new App({
    configFile,
    listenAddress: `:${port}`,
    telemetryPath: '/metrics',
    logger: opts.logger,
    version: 'demo',
    exporterCommand,
    consoleNotice: `This is the Postfix demo. ${bin} stands in for postqueue, postsuper, postmap, postfix and doveadm: run export PATH=${shellWord(bin)}:$PATH in your shell, then every command on this page runs as shown. Refusing ${STOLEN} (its check_sasl_access line) or changing its password stops the simulated attacker.`,
  });
  await app.start();

  const stopped = (): boolean => {
    const sasl = join(etc, 'sasl_access');
    const refused = existsSync(sasl) && readFileSync(sasl, 'utf8').split('\n').some((l) => l.trim().split(/\s+/)[0] === STOLEN && /\bREJECT\b/.test(l));
    const changed = existsSync(join(state, 'passwords-changed')) && readFileSync(join(state, 'passwords-changed'), 'utf8').split('\n').includes(STOLEN);
    return refused || changed;
  };
  const tick = (): void => {
    const t = Math.floor(Date.now() / 1000);
    const attack = options.attack!;
    if (attack.stoppedSecond === undefined && stopped()) {
      attack.stoppedSecond = t - now + HISTORY_SECONDS;
      process.stdout.write(`demo: ${STOLEN} is refused; its attacker's logins fail from now on\n`);
    }
    writeUntil(t);
    writeQueue();
  };
  const live = setInterval(tick, 1000);

  return {
    banner: `
mailrelay-exporter demo (Postfix): a stolen account is relaying spam right now.

  Open:    http://localhost:${port}/   the incident console: the stolen account, its spam in the queue,
                                      and the commands that stop it (first: export PATH=${bin}:$PATH)
  JSON:    http://localhost:${port}/api/v1/incident
  Metrics: http://localhost:${port}/metrics

  Log, queue and stand-ins: ${root}   (config: ${configFile})
  Stop with Ctrl-C.
`,
    async stop() {
      clearInterval(live);
      await app.stop();
    },
  };
}
