import { describe, expect, it } from 'vitest';
import { isDeferredFolder, isOutgoingMessage, messageFileKind, parseOriginalSender, queueOfFolder, stemOf } from './layout.js';

describe('parseOriginalSender', () => {
  it.each([
    ['Original Sender: <willm.b@orange.fr>\r\n', 'willm.b@orange.fr'],
    ['original-sender willm.b@orange.fr\n', 'willm.b@orange.fr'],
    ['ORIGINAL SENDER:info@Domaine.com\n', 'info@domaine.com'],
    ['Received: from x\r\nOriginal sender: <a@b.c>\r\n', 'a@b.c'],
    ['Original Sender: <>\r\n', ''],
    ['Subject: hello\r\n\r\nbody', undefined],
    ['X-Original sender: a@b.c', undefined],
  ])('%j → %j', (head, sender) => {
    expect(parseOriginalSender(head)).toBe(sender);
  });

  it('bounds the label value', () => {
    expect(parseOriginalSender(`Original Sender: <${'a'.repeat(1000)}@x.org>`)).toHaveLength(254);
  });
});

describe('queue folders and files', () => {
  it.each([
    ['_outgoing', 'outgoing'],
    ['_outgoing/retry', 'outgoing'],
    ['_outgoing/priority_2', 'outgoing'],
    ['_outgoing/retry/x', undefined],
    ['_incoming', 'incoming'],
    ['_incoming.bak', 'incoming'],
    ['_quarantine', undefined],
    ['domaine.com', undefined],
  ])('%s is %s', (folder, queue) => {
    expect(queueOfFolder(folder)).toBe(queue);
  });

  it.each([
    ['_outgoing/retry', true],
    ['_outgoing/priority_2', true],
    ['_outgoing', false],
    ['_outgoing/other', false],
    ['_incoming', false],
  ])('%s waits for a retry: %s', (folder, deferred) => {
    expect(isDeferredFolder(folder)).toBe(deferred);
  });

  it('classifies message files by extension', () => {
    expect(['a.tmp', 'B.TMP', 'c.dat', 'd.tm$', 'desktop.ini', '.tmp', 'lock'].map(messageFileKind)).toEqual([
      'tmp', 'tmp', 'dat', 'tm$', undefined, undefined, undefined,
    ]);
    expect(['e.Dat', 'f.tM$', 'g.TM$', 'h.tmq', 'i.dap', 'j.tmpx', 'k.xtmp', 'l tmp', 'm.t$p', 'n.TMP ', 'ab.tmp'].map(messageFileKind)).toEqual([
      'dat', 'tm$', 'tm$', undefined, undefined, undefined, undefined, undefined, undefined, undefined, 'tmp',
    ]);
    expect(isOutgoingMessage('x.tm$')).toBe(false);
    expect(stemOf('ABC123.tmp')).toBe('ABC123');
  });
});
