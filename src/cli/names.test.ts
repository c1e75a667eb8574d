import { describe, expect, it } from 'vitest';
import { bytesOfText, decodeJournalPath, encodeJournalPath, shown, textOf } from './names.js';

const latin1 = '_outgoing/\xff\xfe-latin1.tmp'; // a byte string: 0xff 0xfe are not UTF-8

describe('byte-string names', () => {
  it('shows UTF-8 names as text, other bytes and control characters as \\xNN', () => {
    expect(shown(bytesOfText('_outgoing/spam 0 é€.tmp'))).toBe('_outgoing/spam 0 é€.tmp');
    expect(shown(latin1)).toBe('_outgoing/\\xff\\xfe-latin1.tmp');
    expect(shown('_outgoing/\xe9t\xe9')).toBe('_outgoing/\\xe9t\\xe9');
    // A terminal escape in a file name is not passed to the admin's terminal.
    expect(shown('a\x1b[31mred.tmp')).toBe('a\\x1b[31mred.tmp');
    // Overlong encodings and UTF-16 surrogates are not UTF-8.
    expect(shown('\xc0\xaf')).toBe('\\xc0\\xaf');
    expect(shown('\xed\xa0\x80')).toBe('\\xed\\xa0\\x80');
    // A character cut short at the end of the name.
    expect(shown(bytesOfText('é').slice(0, 1))).toBe('\\xc3');
  });

  it('has text only for UTF-8 names', () => {
    expect(textOf(bytesOfText('_outgoing/été'))).toBe('_outgoing/été');
    expect(textOf(latin1)).toBeUndefined();
  });

  it('writes journal paths losslessly: text when UTF-8 (as before), base64 otherwise', () => {
    const utf8 = bytesOfText('_outgoing/spam é€.tmp');
    expect(encodeJournalPath(utf8)).toBe('_outgoing/spam é€.tmp');
    expect(encodeJournalPath(latin1)).toEqual({ base64: Buffer.from(latin1, 'latin1').toString('base64') });
    for (const p of [utf8, latin1, '_outgoing/\x00\x01\x7f\x80']) expect(decodeJournalPath(JSON.parse(JSON.stringify(encodeJournalPath(p))))).toBe(p);
  });

  it('refuses journal paths of another shape', () => {
    for (const v of [undefined, 3, null, {}, { base64: 'not base64!' }, ['a']]) expect(decodeJournalPath(v)).toBeUndefined();
  });
});
