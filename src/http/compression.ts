// gzip for /metrics when the scraper asks for it, as Prometheus does
// (`Accept-Encoding: gzip`) and as the Go exporters answer (promhttp). The
// exposition at 10,000 accounts is 6.7 MB of text that compresses about
// twentyfold. zlib runs on libuv's threads, not on the main thread.
import { promisify } from 'node:util';
import { constants, createGzip, gzip, type Gzip } from 'node:zlib';

/** The fastest level: an exporter's CPU is the mail server's, and metric text compresses well even so. */
const OPTIONS = { level: constants.Z_BEST_SPEED };

const gzipAsync = promisify(gzip);

/** Whether an Accept-Encoding header takes gzip (or `*`) at a quality above 0 (RFC 9110, 12.5.3). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let star: boolean | undefined;
  for (const item of header.split(',')) {
    const [coding = '', ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    let q = 1;
    for (const p of params) if (p.startsWith('q=')) q = Number(p.slice(2));
    const wanted = Number.isFinite(q) && q > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return wanted;
    if (coding === '*') star = wanted;
  }
  return star ?? false;
}

/** A whole body compressed (a round's shared exposition, compressed once for all its gzip scrapes). */
export function gzipped(body: Buffer): Promise<Buffer> {
  return gzipAsync(body, OPTIONS);
}

/** A stream that compresses what is written to it (a scrape streamed a family at a time). */
export function gzipStream(): Gzip {
  return createGzip(OPTIONS);
}
