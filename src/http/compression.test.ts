import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsGzip, gzipped, gzipStream } from './compression.js';

describe('acceptsGzip', () => {
  it('takes gzip as Prometheus and browsers ask for it', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('gzip, deflate, br')).toBe(true);
    expect(acceptsGzip('br;q=1.0, GZIP;q=0.5')).toBe(true);
    expect(acceptsGzip('x-gzip')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
  });

  it('refuses what does not name it, or names it at quality 0', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('deflate, br')).toBe(false);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip; q=0.000')).toBe(false);
    expect(acceptsGzip('*, gzip;q=0')).toBe(false);
    expect(acceptsGzip('*;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=zero')).toBe(false);
  });
});

describe('gzip of an exposition', () => {
  const text = Array.from({ length: 2000 }, (_, i) => `mailrelay_account_messages_total{account="user${i}@domaine.com"} ${i}\n`).join('');

  it('whole: decodes to the same bytes, far smaller', async () => {
    const body = Buffer.from(text);
    const compressed = await gzipped(body);
    expect(gunzipSync(compressed).equals(body)).toBe(true);
    expect(compressed.length).toBeLessThan(body.length / 5);
  });

  it('streamed in pieces: decodes to the same bytes', async () => {
    const stream = gzipStream();
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    const done = new Promise((resolve) => stream.on('end', resolve));
    for (let at = 0; at < text.length; at += 7000) stream.write(text.slice(at, at + 7000));
    stream.end();
    await done;
    expect(gunzipSync(Buffer.concat(out)).toString()).toBe(text);
  });
});
