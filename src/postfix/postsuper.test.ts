import { describe, expect, it } from 'vitest';
import { parsePostsuperOutput, postsuper, PostsuperError } from './postsuper.js';

describe('parsePostsuperOutput', () => {
  // What Postfix 3.7.11's postsuper printed here.
  it('reads the messages put on hold', () => {
    const out = 'postsuper: 910BCA361FA: placed on hold\npostsuper: 4jd0xH3fCYz1YhTV: placed on hold\npostsuper: Placed on hold: 2 messages\n';
    expect([...parsePostsuperOutput('hold', out)]).toEqual(['910BCA361FA', '4jd0xH3fCYz1YhTV']);
    expect(parsePostsuperOutput('release', out).size).toBe(0);
  });

  it('reads the messages released, ignoring warnings and totals', () => {
    const out =
      'postsuper: warning: /etc/postfix/main.cf, line 17: overriding earlier entry: mydestination=\npostsuper: 910BCA361FA: released from hold\npostsuper: Released from hold: 1 message\n';
    expect([...parsePostsuperOutput('release', out)]).toEqual(['910BCA361FA']);
  });
});

describe('postsuper', () => {
  it.each(['ALL', '-', '../x', 'deferred', ''])('refuses %j as a queue ID before running anything', (id) => {
    expect(() => postsuper({ postsuper: '/nonexistent/postsuper' }, 'hold', ['910BCA361FA', id])).toThrow(PostsuperError);
  });

  it('says which command could not run', async () => {
    await expect(postsuper({ postsuper: '/nonexistent/postsuper', configDirectory: '/etc/postfix-out' }, 'hold', ['910BCA361FA'])).rejects.toThrow(
      /\/nonexistent\/postsuper -c \/etc\/postfix-out -h -: spawn .*ENOENT/,
    );
  });
});
