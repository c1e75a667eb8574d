import { describe, expect, it } from 'vitest';
import { FromHeaderError, parseFromHeaderArg, withFromHeader } from './message.js';

const FROM = 'From: admin@domaine.com';

describe('withFromHeader', () => {
  it.each([
    ['no From: added at the end of the headers (CRLF kept)', 'Original Sender: <>\r\nSubject: hi\r\n\r\nbody\r\n', 'Original Sender: <>\r\nSubject: hi\r\nFrom: admin@domaine.com\r\n\r\nbody\r\n'],
    ['no From: with LF endings', 'Subject: hi\n\nbody\n', 'Subject: hi\nFrom: admin@domaine.com\n\nbody\n'],
    ['an empty From: replaced', 'Subject: x\r\nFrom:\r\nTo: a@b.c\r\n\r\nbody', 'Subject: x\r\nFrom: admin@domaine.com\r\nTo: a@b.c\r\n\r\nbody'],
    ['a blank From: (spaces only) replaced', 'from:   \nTo: a@b.c\n\nb', 'From: admin@domaine.com\nTo: a@b.c\n\nb'],
    ['an empty From: as last header', 'To: a@b.c\r\nFrom:\r\n\r\nbody', 'To: a@b.c\r\nFrom: admin@domaine.com\r\n\r\nbody'],
    ['headers only, no final newline', 'Subject: x', 'Subject: x\nFrom: admin@domaine.com\n'],
    ['a From: in the body does not count', 'Subject: x\n\nFrom: someone\n', 'Subject: x\nFrom: admin@domaine.com\n\nFrom: someone\n'],
  ])('%s', (_name, input, expected) => {
    expect(withFromHeader(Buffer.from(input, 'latin1'), FROM).toString('latin1')).toBe(expected);
  });

  it.each([
    ['a real From:', 'From: Bob <bob@x.org>\r\nSubject: y\r\n\r\nz'],
    ['a folded From:', 'Subject: y\r\nFrom:\r\n  bob@x.org\r\n\r\nz'],
    ['X-Original-From is not From but a From: follows', 'X-From: a\nFROM : c@d.e\n\nz'],
  ])('leaves %s byte for byte', (_name, input) => {
    const buf = Buffer.from(input, 'latin1');
    expect(withFromHeader(buf, FROM).equals(buf)).toBe(true);
  });

  it('keeps 8-bit bytes of the body intact', () => {
    const body = Buffer.from([0xe9, 0x00, 0xff, 0x0a]);
    const msg = Buffer.concat([Buffer.from('Subject: \xe9\r\n\r\n', 'latin1'), body]);
    const out = withFromHeader(msg, FROM);
    expect(out.subarray(out.length - body.length).equals(body)).toBe(true);
    expect(out.toString('latin1')).toContain('Subject: \xe9\r\nFrom: admin@domaine.com\r\n\r\n');
  });
});

describe('parseFromHeaderArg', () => {
  it('accepts a full line or a bare address', () => {
    expect(parseFromHeaderArg('From: admin@domaine.com')).toBe(FROM);
    expect(parseFromHeaderArg('from:admin@domaine.com')).toBe(FROM);
    expect(parseFromHeaderArg('admin@domaine.com')).toBe(FROM);
  });
  it.each(['From:', 'From:   ', 'From: a@b.c\r\nBcc: x@y.z', 'From: é@b.c'])('refuses %j', (arg) => {
    expect(() => parseFromHeaderArg(arg)).toThrow(FromHeaderError);
  });
});
