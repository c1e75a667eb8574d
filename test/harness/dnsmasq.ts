// A real resolver for the DNSBL tests: Debian's dnsmasq on a free loopback
// port, answering only from the records it is given (no upstream, no hosts
// file), so an unknown zone is REFUSED.
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { freePort, spawnChild, untilExit, waitFor, type Child } from './processes.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface Dnsmasq {
  port: number;
  child: Child;
}

/** Starts dnsmasq with `records` (dnsmasq options such as `--host-record=…`), its pid file in `dir`. */
export async function startDnsmasq(dir: string, records: string[]): Promise<Dnsmasq> {
  let lastOutput = '';
  // freePort checks TCP only; a UDP clash shows up as a failed start, so retry.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawnChild(DNSMASQ, [
      '--no-daemon',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      '--user=root',
      `--pid-file=${join(dir, `dnsmasq-${attempt}.pid`)}`,
      ...records,
      '--host-record=ready.harness.test,127.0.0.9',
    ]);
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    try {
      await untilExit(
        child,
        waitFor(async () => (await resolver.resolve4('ready.harness.test')).includes('127.0.0.9'), { what: `dnsmasq on port ${port}` }),
      );
      return { port, child };
    } catch {
      lastOutput = child.output();
      await child.stop();
    }
  }
  throw new Error(`dnsmasq did not start (is ${DNSMASQ} installed? .ci/run installs dnsmasq-base):\n${lastOutput}`);
}
