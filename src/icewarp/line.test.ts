import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileDaySeconds, parseLine, type LineTime } from './line.js';

// The real samples of ../shared/samples/, committed under the daily names IceWarp gives its logs
// (the repository must test on its own, wherever it is checked out).
const SAMPLES = new URL('../collectors/testdata/smtp/', import.meta.url);
const SAMPLE_FILE: Record<string, string> = { 'icewarp-kb-attack.log': 's20130715.log', 'icewarp-docs-session.log': 's20040422.log' };

type Row = [text: string, peer: string, thread: string, time: LineTime | undefined, rest: string];

// Every line of ../shared/samples/, with its fields written out.
const sampleRows: Row[] = [
  ["178.122.118.159 [0B44] 06:51:31 Connected", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24691 }, "Connected"],
  ["178.122.118.159 [0B44] 06:51:31 >>> 220-mail.serveur.fr ESMTP IceWarp 10.4.5; Mon, 15 Jul 2013 06:51:31 +0200", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24691 }, ">>> 220-mail.serveur.fr ESMTP IceWarp 10.4.5; Mon, 15 Jul 2013 06:51:31 +0200"],
  ["178.122.118.159 [0B44] 06:51:32 <<< EHLO orange.fr", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24692 }, "<<< EHLO orange.fr"],
  ["178.122.118.159 [0B44] 06:51:32 >>> 250-mail.serveur.fr Hello orange.fr [178.122.118.159], pleased to meet you.", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24692 }, ">>> 250-mail.serveur.fr Hello orange.fr [178.122.118.159], pleased to meet you."],
  ["178.122.118.159 [0B44] 06:51:32 <<< AUTH LOGIN", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24692 }, "<<< AUTH LOGIN"],
  ["178.122.118.159 [0B44] 06:51:32 >>> 334 VXNlcm5hbWU6", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24692 }, ">>> 334 VXNlcm5hbWU6"],
  ["178.122.118.159 [0B44] 06:51:32 <<< aW5mb0Bkb21haW5lLmNvbQ==", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24692 }, "<<< aW5mb0Bkb21haW5lLmNvbQ=="],
  ["178.122.118.159 [0B44] 06:51:32 >>> 334 UGFzc3dvcmQ6", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24692 }, ">>> 334 UGFzc3dvcmQ6"],
  ["178.122.118.159 [0B44] 06:51:33 <<< ZG9tYWluZTIwMTI=", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, "<<< ZG9tYWluZTIwMTI="],
  ["178.122.118.159 [0B44] 06:51:33 >>> 235 2.0.0 Authentication successful", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, ">>> 235 2.0.0 Authentication successful"],
  ["178.122.118.159 [0B44] 06:51:33 <<< MAIL FROM: <willm.b@orange.fr>", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, "<<< MAIL FROM: <willm.b@orange.fr>"],
  ["178.122.118.159 [0B44] 06:51:33 >>> 250 2.1.0 <willm.b@orange.fr>... Sender ok", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, ">>> 250 2.1.0 <willm.b@orange.fr>... Sender ok"],
  ["178.122.118.159 [0B44] 06:51:33 <<< RCPT TO: <bmyerd@yahoo.com>", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, "<<< RCPT TO: <bmyerd@yahoo.com>"],
  ["178.122.118.159 [0B44] 06:51:33 >>> 250 2.1.5 <bmyerd@yahoo.com>... Recipient ok; will forward", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, ">>> 250 2.1.5 <bmyerd@yahoo.com>... Recipient ok; will forward"],
  ["178.122.118.159 [0B44] 06:51:33 <<< RCPT TO: <arlett33@yahoo.com>", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, "<<< RCPT TO: <arlett33@yahoo.com>"],
  ["178.122.118.159 [0B44] 06:51:33 >>> 250 2.1.5 <arlett33@yahoo.com>... Recipient ok; will forward", "178.122.118.159", "0B44", { kind: 'clock', secondsOfDay: 24693 }, ">>> 250 2.1.5 <arlett33@yahoo.com>... Recipient ok; will forward"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 Connected", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, "Connected"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 >>> 220-195.122.222.29 ESMTP to je gol; Thu, 22 Apr 2004 22:01:42 +0200", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, ">>> 220-195.122.222.29 ESMTP to je gol; Thu, 22 Apr 2004 22:01:42 +0200"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 <<< HELO localhost", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, "<<< HELO localhost"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 >>> 250 195.122.222.29 Hello localhost [127.0.0.1], pleased to meet you.", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, ">>> 250 195.122.222.29 Hello localhost [127.0.0.1], pleased to meet you."],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 <<< MAIL From:<admin@Icewarpdemo.com>", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, "<<< MAIL From:<admin@Icewarpdemo.com>"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 >>> 250 2.1.0 <admin@Icewarpdemo.com>... Sender ok", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, ">>> 250 2.1.0 <admin@Icewarpdemo.com>... Sender ok"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 <<< RCPT To:<ernekerzbynek@seznam.cz>", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, "<<< RCPT To:<ernekerzbynek@seznam.cz>"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 >>> 250 2.1.5 <ernekerzbynek@seznam.cz>... Recipient ok; will forward", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, ">>> 250 2.1.5 <ernekerzbynek@seznam.cz>... Recipient ok; will forward"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 <<< DATA", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, "<<< DATA"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:42 +0200 >>> 354 Enter mail, end with '.' on a line by itself", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664102 }, ">>> 354 Enter mail, end with '.' on a line by itself"],
  ["127.0.0.1 [00000A1C] Thu, 22 Apr 2004 22:01:43 +0200 *** <admin@Icewarpdemo.com> <ernekerzbynek@seznam.cz> 1 348 00:00:00 OK", "127.0.0.1", "00000A1C", { kind: 'instant', unix: 1082664103 }, "*** <admin@Icewarpdemo.com> <ernekerzbynek@seznam.cz> 1 348 00:00:00 OK"],
  ["SYSTEM [0000] 00:03:52 Forwarded mails older than 20 days from 'vendas@testdomain.com.br' to 'test@gmail.com'", "SYSTEM", "0000", { kind: 'clock', secondsOfDay: 232 }, "Forwarded mails older than 20 days from 'vendas@testdomain.com.br' to 'test@gmail.com'"],
];

describe('parseLine: the sample files', () => {
  it('the table holds every line of both sample files', () => {
    const lines = ['icewarp-kb-attack.log', 'icewarp-docs-session.log'].flatMap((f) =>
      readFileSync(new URL(SAMPLE_FILE[f]!, SAMPLES), 'utf8').split(/\r?\n/).filter((l) => l !== ''),
    );
    expect(lines).toHaveLength(28);
    expect(sampleRows.map((r) => r[0]).sort()).toEqual([...lines].sort());
  });

  it.each(sampleRows)('%s', (text, peer, thread, time, rest) => {
    expect(parseLine(text)).toEqual({ peer, thread, time, rest });
  });
});

const edgeRows: Row[] = [
  // IPv6 peers
  ['2001:db8::25 [0B44] 06:51:31 Connected', '2001:db8::25', '0B44', { kind: 'clock', secondsOfDay: 24691 }, 'Connected'],
  ['::ffff:10.0.0.1 [1A2B3C4D] 23:59:59 <<< QUIT', '::ffff:10.0.0.1', '1A2B3C4D', { kind: 'clock', secondsOfDay: 86399 }, '<<< QUIT'],
  // 4- and 8-digit threads, lower-case hex
  ['10.1.2.3 [00ff] 00:00:00 >>> 221 2.0.0 Bye', '10.1.2.3', '00ff', { kind: 'clock', secondsOfDay: 0 }, '>>> 221 2.0.0 Bye'],
  ['10.1.2.3 [deadBEEF] 12:00:01 Disconnected', '10.1.2.3', 'deadBEEF', { kind: 'clock', secondsOfDay: 43201 }, 'Disconnected'],
  // CRLF remnants
  ['10.1.2.3 [0B44] 06:51:31 Connected\r', '10.1.2.3', '0B44', { kind: 'clock', secondsOfDay: 24691 }, 'Connected'],
  ['10.1.2.3 [0B44] 06:51:31 <<< DATA\r\r', '10.1.2.3', '0B44', { kind: 'clock', secondsOfDay: 24691 }, '<<< DATA'],
  // detailed time with milliseconds
  ['10.1.2.3 [0B44] 06:51:31.250 <<< NOOP', '10.1.2.3', '0B44', { kind: 'clock', secondsOfDay: 24691.25 }, '<<< NOOP'],
  // RFC 822: other offsets, named zones, no day name, no seconds
  ['10.1.2.3 [0B44] Mon, 15 Jul 2013 06:51:31 -0500 Connected', '10.1.2.3', '0B44', { kind: 'instant', unix: Date.UTC(2013, 6, 15, 11, 51, 31) / 1000 }, 'Connected'],
  ['10.1.2.3 [0B44] 5 Jul 2013 06:51:31 GMT <<< QUIT', '10.1.2.3', '0B44', { kind: 'instant', unix: Date.UTC(2013, 6, 5, 6, 51, 31) / 1000 }, '<<< QUIT'],
  ['10.1.2.3 [0B44] Mon, 15 Jul 2013 06:51 +0000 Connected', '10.1.2.3', '0B44', { kind: 'instant', unix: Date.UTC(2013, 6, 15, 6, 51, 0) / 1000 }, 'Connected'],
  // ISO 8601 ("scientific"-like) times
  ['10.1.2.3 [0B44] 2013-07-15 06:51:31 Connected', '10.1.2.3', '0B44', { kind: 'instant', unix: Date.UTC(2013, 6, 15, 6, 51, 31) / 1000 }, 'Connected'],
  ['10.1.2.3 [0B44] 2013-07-15T06:51:31+02:00 <<< RSET', '10.1.2.3', '0B44', { kind: 'instant', unix: Date.UTC(2013, 6, 15, 4, 51, 31) / 1000 }, '<<< RSET'],
  // unknown time formats: content still found
  ['10.1.2.3 [0B44] 1373871091.5 <<< EHLO x', '10.1.2.3', '0B44', undefined, '<<< EHLO x'],
  ['10.1.2.3 [0B44] 15/07/2013 06h51 >>> 250 ok', '10.1.2.3', '0B44', undefined, '>>> 250 ok'],
  ['10.1.2.3 [0B44] @4000000051e39d33 Connected', '10.1.2.3', '0B44', undefined, 'Connected'],
  ['10.1.2.3 [0B44] 99:99:99 Disconnected', '10.1.2.3', '0B44', undefined, 'Disconnected'],
  ['SYSTEM [0000] someday Service started', 'SYSTEM', '0000', undefined, 'Service started'],
  // a time and nothing after it
  ['10.1.2.3 [0B44] 06:51:31', '10.1.2.3', '0B44', { kind: 'clock', secondsOfDay: 24691 }, ''],
  // U+FFFD from invalid UTF-8, and Latin-1 text, in the rest
  ['10.1.2.3 [0B44] 06:51:31 <<< MAIL FROM:<caf\ufffd@x.fr>', '10.1.2.3', '0B44', { kind: 'clock', secondsOfDay: 24691 }, '<<< MAIL FROM:<caf\ufffd@x.fr>'],
  ['10.1.2.3 [0B44] 06:51:31 *** <a@b.c> <d\u00e9@e.f> 1 348 00:00:00 OK', '10.1.2.3', '0B44', { kind: 'clock', secondsOfDay: 24691 }, '*** <a@b.c> <d\u00e9@e.f> 1 348 00:00:00 OK'],
];

describe('parseLine: edge cases', () => {
  it.each(edgeRows)('%s', (text, peer, thread, time, rest) => {
    expect(parseLine(text)).toEqual({ peer, thread, time, rest });
  });

  it.each([
    [''],
    ['\r'],
    ['   '],
    ['garbage'],
    ['no thread here 06:51:31 Connected'],
    ['10.1.2.3 0B44 06:51:31 Connected'],
    ['10.1.2.3 [] 06:51:31 Connected'],
    ['10.1.2.3 [0B44 06:51:31 Connected'],
    ['10.1.2.3 [XYZ1] 06:51:31 Connected'],
    ['10.1.2.3 [0B44]06:51:31 Connected'],
    ['10.1.2.3 [0123456789ABCDEF0] 06:51:31 Connected'],
    [' 10.1.2.3 [0B44] 06:51:31 Connected'],
    ['\ufffd\ufffd\ufffd'],
    ['\ufffd [0B44] 06:51:31 Connected'.replace('\ufffd ', '\ufffd\ufffd [')],
    ['x'.repeat(100) + ' [0B44] 06:51:31 Connected'],
  ])('%j is not in the line layout', (text) => {
    expect(parseLine(text)).toBeUndefined();
  });

  it('a peer of U+FFFD characters is still a peer (the layout holds)', () => {
    expect(parseLine('\ufffd\ufffd [0B44] 06:51:31 Connected')).toEqual({
      peer: '\ufffd\ufffd',
      thread: '0B44',
      time: { kind: 'clock', secondsOfDay: 24691 },
      rest: 'Connected',
    });
  });
});

describe('fileDaySeconds', () => {
  it.each([
    ['s20130715.log', Date.UTC(2013, 6, 15) / 1000],
    ['/opt/icewarp/logs/smtp/s20130715.log', Date.UTC(2013, 6, 15) / 1000],
    ['C:\\IceWarp\\logs\\smtp\\s20261128.log', Date.UTC(2026, 10, 28) / 1000],
    ['s120130715-01.log', Date.UTC(2013, 6, 15) / 1000],
    ['s20240229-12.log', Date.UTC(2024, 1, 29) / 1000],
  ])('%s', (file, day) => {
    expect(fileDaySeconds(file)).toBe(day);
  });

  it.each([['smtp.log'], ['s20131315.log'], ['s20130231.log'], ['s2013071.log']])('%s has no date', (file) => {
    expect(fileDaySeconds(file)).toBeUndefined();
  });
});
