import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { foldReply, OpenRelayProbe, parseReplyLine, probeOpenRelay, SmtpClient } from './smtpProbe.js';

describe('parseReplyLine', () => {
  it.each([
    ['250 2.1.0 Ok', { code: 250, more: false, text: '2.1.0 Ok' }],
    ['250-PIPELINING', { code: 250, more: true, text: 'PIPELINING' }],
    ['250', { code: 250, more: false, text: '' }],
    ['554 5.7.1 <b@example.net>: Relay access denied', { code: 554, more: false, text: '5.7.1 <b@example.net>: Relay access denied' }],
    ['220 mail.example.com ESMTP', { code: 220, more: false, text: 'mail.example.com ESMTP' }],
  ])('%j', (line, parsed) => {
    expect(parseReplyLine(line)).toEqual(parsed);
  });

  it.each(['', 'hello', '25 ok', '2500 ok', '650 ok', '250_ok', 'HTTP/1.1 400 Bad Request'])('%j is not a reply line', (line) => {
    expect(parseReplyLine(line)).toBeUndefined();
  });
});

describe('foldReply', () => {
  it('folds a multi-line reply and says how many lines it used', () => {
    expect(foldReply(['250-mx.example.com', '250-STARTTLS', '250 SIZE 1000', '221 next'])).toEqual({
      reply: { code: 250, lines: ['mx.example.com', 'STARTTLS', 'SIZE 1000'] },
      used: 3,
    });
  });

  it('waits for the last line', () => {
    expect(foldReply(['250-mx.example.com', '250-STARTTLS'])).toBeUndefined();
    expect(foldReply([])).toBeUndefined();
  });

  it('rejects a code that changes within a reply', () => {
    expect(() => foldReply(['250-mx.example.com', '251 ok'])).toThrow(/reply code changed from 250 to 251/);
  });

  it('rejects a malformed line', () => {
    expect(() => foldReply(['250-ok', 'garbage'])).toThrow(/malformed reply line "garbage"/);
  });

  it('bounds the lines of one reply', () => {
    expect(() => foldReply(Array.from({ length: 200 }, () => '250-x'))).toThrow(/more than 100 lines/);
  });
});

/** A scripted SMTP server on 127.0.0.1 that records the commands it gets. */
interface Scripted {
  server: Server;
  port: number;
  commands: string[];
}
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function scriptedServer(onConnect: (socket: Socket) => void, answer: (command: string, socket: Socket) => void): Promise<Scripted> {
  const commands: string[] = [];
  const server = createServer((socket) => {
    let buffer = '';
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const command = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        commands.push(command);
        answer(command, socket);
      }
    });
    onConnect(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return { server, port: address.port, commands };
}

/** Writes a reply one byte at a time, so line assembly across chunks is exercised. */
function trickle(socket: Socket, text: string): void {
  for (const ch of text) socket.write(ch);
}

const probeSettings = {
  timeout: 5,
  mail_from: 'relay-probe@example.org',
  rcpt_to: 'relay-probe@example.net',
  starttls: false,
  helo: 'probe.invalid',
};

function openRelayScript(command: string, socket: Socket): void {
  const verb = command.split(/[ :]/)[0]!.toUpperCase();
  if (verb === 'EHLO') trickle(socket, '250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
  else if (verb === 'QUIT') socket.end('221 bye\r\n');
  else if (verb === 'RCPT') socket.write('250 2.1.5 Ok\r\n');
  else socket.write('250 Ok\r\n');
}

describe('SmtpClient', () => {
  it('reads multi-line replies that arrive a byte at a time', async () => {
    const s = await scriptedServer((socket) => trickle(socket, '220-mx.test ESMTP\r\n220 welcome\r\n'), openRelayScript);
    const client = await SmtpClient.connect({ host: '127.0.0.1', port: s.port }, 5000);
    try {
      expect(await client.read('greeting')).toEqual({ code: 220, lines: ['mx.test ESMTP', 'welcome'] });
      expect(await client.command('EHLO probe.invalid')).toEqual({ code: 250, lines: ['mx.test', 'PIPELINING', '8BITMIME'] });
    } finally {
      client.close();
    }
  });

  it('refuses a command with a line break, which would smuggle a second command', async () => {
    const s = await scriptedServer((socket) => socket.write('220 mx.test\r\n'), openRelayScript);
    const client = await SmtpClient.connect({ host: '127.0.0.1', port: s.port }, 5000);
    try {
      await client.read('greeting');
      await expect(client.command('EHLO x\r\nDATA', 'EHLO')).rejects.toThrow(/EHLO: command contains a line break/);
      await client.command('NOOP');
      expect(s.commands).toEqual(['NOOP']);
    } finally {
      client.close();
    }
  });

  it('gives up on a reply line that never ends', async () => {
    const s = await scriptedServer((socket) => socket.write('220 ' + 'x'.repeat(10_000)), openRelayScript);
    const client = await SmtpClient.connect({ host: '127.0.0.1', port: s.port }, 5000);
    await expect(client.read('greeting')).rejects.toThrow(/greeting: reply: a reply line longer than 4096 characters/);
  });

  it('reports a connection the server closes before replying', async () => {
    const s = await scriptedServer((socket) => socket.end(), openRelayScript);
    const client = await SmtpClient.connect({ host: '127.0.0.1', port: s.port }, 5000);
    await expect(client.read('greeting')).rejects.toThrow(/greeting: connection: closed by the server/);
  });

  it('reports a refused connection', async () => {
    const s = await scriptedServer(() => {}, openRelayScript);
    const port = s.port;
    await new Promise((r) => s.server.close(r));
    await expect(SmtpClient.connect({ host: '127.0.0.1', port }, 5000)).rejects.toThrow(/connect: .*ECONNREFUSED/);
  });
});

describe('probeOpenRelay', () => {
  it('finds an open relay and never sends DATA', async () => {
    const s = await scriptedServer((socket) => socket.write('220 mx.test ESMTP\r\n'), openRelayScript);
    const result = await probeOpenRelay({ host: '127.0.0.1', port: s.port }, probeSettings);
    expect(result).toMatchObject({ target: `127.0.0.1:${s.port}`, success: true, accepted: true, rcptReply: '250 2.1.5 Ok', tls: false });
    expect(s.commands).toEqual([
      'EHLO probe.invalid',
      'MAIL FROM:<relay-probe@example.org>',
      'RCPT TO:<relay-probe@example.net>',
      'RSET',
      'QUIT',
    ]);
  });

  it('reads a refused RCPT as closed, and a 4xx as not accepted either', async () => {
    for (const [reply, code] of [
      ['554 5.7.1 <relay-probe@example.net>: Relay access denied', 554],
      ['450 4.7.1 try again later', 450],
    ] as const) {
      const s = await scriptedServer(
        (socket) => socket.write('220 mx.test\r\n'),
        (command, socket) => (command.startsWith('RCPT') ? socket.write(`${reply}\r\n`) : openRelayScript(command, socket)),
      );
      const result = await probeOpenRelay({ host: '127.0.0.1', port: s.port }, probeSettings);
      expect(result).toMatchObject({ success: true, accepted: false, rcptReply: reply });
      expect(result.rcptReply?.startsWith(String(code))).toBe(true);
    }
  });

  it('falls back to HELO for a server without EHLO', async () => {
    const s = await scriptedServer(
      (socket) => socket.write('220 old.test\r\n'),
      (command, socket) => (command.startsWith('EHLO') ? socket.write('502 unknown command\r\n') : openRelayScript(command, socket)),
    );
    const result = await probeOpenRelay({ host: '127.0.0.1', port: s.port }, probeSettings);
    expect(result).toMatchObject({ success: true, accepted: true });
    expect(s.commands.slice(0, 2)).toEqual(['EHLO probe.invalid', 'HELO probe.invalid']);
  });

  it('fails, naming the step, when the greeting is not 2xx', async () => {
    const s = await scriptedServer((socket) => socket.end('421 4.3.2 too busy\r\n'), openRelayScript);
    const result = await probeOpenRelay({ host: '127.0.0.1', port: s.port }, probeSettings);
    expect(result).toMatchObject({ success: false, accepted: false });
    expect(result.error).toMatch(/^greeting: expected 2xx, got 421 4\.3\.2 too busy/);
    expect(s.commands).toEqual([]);
  });

  it('fails when MAIL FROM is refused: the question was not asked', async () => {
    const s = await scriptedServer(
      (socket) => socket.write('220 mx.test\r\n'),
      (command, socket) => (command.startsWith('MAIL') ? socket.write('553 5.7.1 sender rejected\r\n') : openRelayScript(command, socket)),
    );
    const result = await probeOpenRelay({ host: '127.0.0.1', port: s.port }, probeSettings);
    expect(result).toMatchObject({ success: false, accepted: false });
    expect(result.error).toMatch(/^MAIL FROM: expected 2xx, got 553/);
    expect(s.commands.some((c) => c.startsWith('RCPT'))).toBe(false);
  });

  it('with starttls, fails when the server does not offer STARTTLS rather than probing in clear', async () => {
    const s = await scriptedServer((socket) => socket.write('220 mx.test\r\n'), openRelayScript);
    const result = await probeOpenRelay({ host: '127.0.0.1', port: s.port }, { ...probeSettings, starttls: true });
    expect(result).toMatchObject({ success: false, accepted: false, tls: false });
    expect(result.error).toMatch(/^EHLO: STARTTLS is not offered/);
    expect(s.commands).toEqual(['EHLO probe.invalid']);
  });
});

describe('OpenRelayProbe', () => {
  it('keeps the last result per target and reports the round', async () => {
    const open = await scriptedServer((socket) => socket.write('220 mx.test\r\n'), openRelayScript);
    const closed = await scriptedServer((socket) => socket.end('554 no\r\n'), openRelayScript);
    const probe = new OpenRelayProbe(
      { ...probeSettings, targets: [{ host: '127.0.0.1', port: open.port }, { host: '127.0.0.1', port: closed.port }] },
      silentLogger,
    );
    expect(probe.lastRound()).toBeUndefined();
    const round = await probe.runRound();
    expect(round).toMatchObject({ probes: 2, failures: 1 });
    expect(probe.lastRound()).toEqual(round);
    const byTarget = Object.fromEntries(probe.lastResults().map((r) => [r.target, r]));
    expect(byTarget[`127.0.0.1:${open.port}`]).toMatchObject({ success: true, accepted: true });
    expect(byTarget[`127.0.0.1:${closed.port}`]).toMatchObject({ success: false, accepted: false });
  });
});
