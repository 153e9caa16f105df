// Issue 18, compression: a standalone edge in front of a real origin that sends identity bodies.
// Text is compressed once per Accept-Encoding class (br, zstd, gzip, identity), each class stored as
// its own variant; already-encoded, small, binary and no-transform answers pass untouched; the ETag
// of a compressed copy is weak and still revalidates; ranges are of the stored encoding.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync, gzipSync, zstdDecompressSync } from 'node:zlib';
import { fetchReply, removeDir, startEdgeProcess } from '../helpers/processes.ts';
import type { EdgeProc, Reply } from '../helpers/processes.ts';

const TEXT = Buffer.from(
  Array.from(
    { length: 400 },
    (_, i) => `.rule-${i} { color: #${(i * 7919).toString(16).padStart(6, '0')}; }\n`,
  ).join(''),
);

let server: Server;
let originUrl: string;
const counts = new Map<string, number>();
const conditionals: string[] = [];
let edge: EdgeProc;

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://o');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const etag = '"css-1"';
    const inm = req.headers['if-none-match'];
    if (inm !== undefined) conditionals.push(inm);
    // RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
    if (inm !== undefined && inm.replace(/^W\//, '') === etag) {
      res.writeHead(304, { etag, 'cache-control': url.searchParams.get('cc') ?? 'max-age=600' });
      res.end();
      return;
    }
    const type = url.searchParams.get('type') ?? 'text/css; charset=utf-8';
    let body = url.searchParams.has('small') ? TEXT.subarray(0, 100) : TEXT;
    const headers: Record<string, string> = {
      'content-type': type,
      etag,
      'cache-control': url.searchParams.get('cc') ?? 'max-age=600',
    };
    if (url.searchParams.has('gzipped')) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  originUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  edge = await startEdgeProcess(originUrl, ['--node-name', 'squeeze']);
});

after(async () => {
  await edge.stop();
  server.closeAllConnections();
  server.close();
  await removeDir(edge.cacheDir);
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  fetchReply(`${edge.url}${path}`, { headers });
const status = (reply: Reply): string => String(reply.headers['cache-status']);

describe('compression per Accept-Encoding class', () => {
  it('compresses text once per class and stores each class', async () => {
    const path = '/site.css';
    const decoders: [string, string, (b: Buffer) => Buffer][] = [
      ['br, gzip', 'br', brotliDecompressSync],
      ['zstd, gzip', 'zstd', zstdDecompressSync],
      ['gzip, deflate', 'gzip', gunzipSync],
    ];
    for (const [accept, coding, decode] of decoders) {
      const first = await get(path, { 'accept-encoding': accept });
      assert.equal(first.headers['content-encoding'], coding);
      assert.match(String(first.headers.vary), /accept-encoding/i);
      assert.equal(first.headers.etag, 'W/"css-1"', 'a compressed copy has a weak validator');
      assert.ok(first.body.length < TEXT.length / 2, `${coding} is smaller: ${first.body.length}`);
      assert.ok(decode(first.body).equals(TEXT));
      const again = await get(path, { 'accept-encoding': accept });
      assert.match(status(again), /hit/);
      assert.ok(again.body.equals(first.body));
    }
    const plain = await get(path);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(plain.body.equals(TEXT));
    assert.equal(plain.headers.etag, '"css-1"');
    assert.equal(counts.get(path), 4, 'one origin fetch per class');
  });

  it('ranges are served from the stored encoding', async () => {
    const path = '/range.css';
    const whole = await get(path, { 'accept-encoding': 'br' });
    const part = await get(path, { 'accept-encoding': 'br', range: 'bytes=0-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-encoding'], 'br');
    assert.equal(part.headers['content-range'], `bytes 0-9/${whole.body.length}`);
    assert.ok(part.body.equals(whole.body.subarray(0, 10)));
  });

  it('never compresses twice, nor small, binary or no-transform answers', async () => {
    const gz = await get('/pre.css?gzipped=1', { 'accept-encoding': 'br, gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(gz.body).equals(TEXT), 'the origin gzip, not gzip inside br');
    for (const query of ['small=1', 'type=image/png', 'cc=max-age%3D600%2C%20no-transform']) {
      const reply = await get(`/other.css?${query}`, { 'accept-encoding': 'br' });
      assert.equal(reply.headers['content-encoding'], undefined, query);
    }
  });

  it('a compressed copy revalidates with the origin and keeps its weak ETag', async () => {
    const path = '/short.css?cc=max-age%3D1';
    await get(path, { 'accept-encoding': 'gzip' });
    await sleep(1_200);
    const revalidated = await get(path, { 'accept-encoding': 'gzip' });
    assert.match(status(revalidated), /fwd=stale; fwd-status=304/);
    assert.equal(revalidated.headers.etag, 'W/"css-1"');
    assert.equal(revalidated.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(revalidated.body).equals(TEXT));
    assert.ok(conditionals.includes('W/"css-1"'));
  });
});
