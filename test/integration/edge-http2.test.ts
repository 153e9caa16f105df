// Issue 13: HTTP/2 on the HTTPS port runs the same pipeline and cache as HTTP/1.1 (collapsing,
// ranges, 304, HEAD, Cache-Status, Age, Via), forwards no pseudo-headers, and its abuse limits end
// the offending connection only: a rapid-reset flood (CVE-2023-44487) and a CONTINUATION flood.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CANCEL, FLAG, FRAME, frame, getBlock, literal, rawH2 } from '../helpers/h2-frames.ts';
import {
  fetchReply,
  originCount,
  removeDir,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { EdgeProc, Proc } from '../helpers/processes.ts';
import {
  h2Get,
  h2Request,
  h2Session,
  writeTestCerts,
  type H2Reply,
  type TestCerts,
} from '../helpers/https-clients.ts';

const HOST = 'h2.example';
let origin: Proc;
let edge: EdgeProc;
let certs: TestCerts;
let certDir: string;
let port: number;

before(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'meridian-h2-'));
  certs = await writeTestCerts(certDir, [HOST]);
  origin = await startTestOrigin();
  edge = await startEdgeProcess(origin.url, [
    '--listen-tls',
    '127.0.0.1:0',
    '--tls-cert',
    certs.certFile,
    '--tls-key',
    certs.keyFile,
  ]);
  port = edge.tlsPort as number;
});

after(async () => {
  await edge.stop();
  await origin.stop();
  await removeDir(edge.cacheDir);
  await removeDir(certDir);
});

const get = (path: string, headers: Record<string, string> = {}): Promise<H2Reply> =>
  h2Get(port, HOST, certs.ca, path, headers);
const status = (reply: { headers: Record<string, unknown> }): string => String(reply.headers['cache-status']);

describe('HTTP/2 through the cache', () => {
  it('a miss, then a hit, with Age, Via and Cache-Status like HTTP/1.1', async () => {
    const path = '/h2/basic?cc=max-age%3D60';
    const first = await get(path);
    assert.equal(first.status, 200);
    assert.match(status(first), /fwd=uri-miss.*stored/);
    assert.equal(first.headers.via, '1.1 meridian');
    const second = await get(path);
    assert.match(status(second), /; hit/);
    assert.ok(Number(second.headers.age) >= 0);
    assert.deepEqual(second.body, first.body);
    assert.equal(await originCount(origin, '/h2/basic'), 1);
    // No connection-specific field (RFC 9113 §8.2.2) reached the client.
    for (const name of ['connection', 'keep-alive', 'transfer-encoding'])
      assert.equal(second.headers[name], undefined);
  });

  it('20 concurrent streams on one session for a cold URL cost the origin one request', async () => {
    const path = '/h2/collapse?cc=max-age%3D60&delay=300&size=20000';
    const session = h2Session(port, HOST, certs.ca);
    try {
      const replies = await Promise.all(Array.from({ length: 20 }, () => h2Request(session, path)));
      assert.equal(await originCount(origin, '/h2/collapse'), 1);
      for (const reply of replies) {
        assert.equal(reply.status, 200);
        assert.equal(reply.body.length, 20000);
      }
      assert.equal(replies.filter((r) => /collapsed/.test(status(r))).length, 19);
    } finally {
      session.close();
    }
  });

  it('a range of a stored object is a 206 with Content-Range', async () => {
    const path = '/h2/range?cc=max-age%3D60&size=1000';
    await get(path);
    const part = await get(path, { range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], 'bytes 100-199/1000');
    assert.equal(part.body.length, 100);
    assert.match(status(part), /; hit/);
  });

  it('If-None-Match matching the stored ETag is a 304 without a body', async () => {
    const path = '/h2/etag?cc=max-age%3D60&etag=%22v1%22';
    await get(path);
    const reply = await get(path, { 'if-none-match': '"v1"' });
    assert.equal(reply.status, 304);
    assert.equal(reply.body.length, 0);
    assert.equal(reply.headers.etag, '"v1"');
  });

  it('HEAD is answered from the stored GET, with its Content-Length and no body', async () => {
    const path = '/h2/head?cc=max-age%3D60&size=5000';
    await get(path);
    const reply = await get(path, { ':method': 'HEAD' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-length'], '5000');
    assert.equal(reply.body.length, 0);
    assert.match(status(reply), /; hit/);
    assert.equal(await originCount(origin, '/h2/head'), 1);
  });

  it('a POST streams its body upstream (pass), and no pseudo-header is forwarded', async () => {
    const session = h2Session(port, HOST, certs.ca);
    try {
      const reply = await h2Request(session, '/h2/post?cc=no-store', { ':method': 'POST' }, 'a=1&b=2');
      assert.equal(reply.status, 200);
      assert.match(status(reply), /fwd=method/);
    } finally {
      session.close();
    }
    const last = (await fetchReply(`${origin.url}/__last?path=/h2/post`)).body.toString();
    const head = JSON.parse(last) as Record<string, string>;
    assert.deepEqual(
      Object.keys(head).filter((n) => n.startsWith(':')),
      [],
    );
    assert.equal(head.host, `${HOST}:${port}`);
    assert.equal(head['x-forwarded-proto'], 'https');
    assert.equal(head.via, '2 meridian', 'the request Via names the protocol it came in');
  });

  it('http and https are cached apart: the plain port misses what HTTPS stored', async () => {
    const path = '/h2/scheme?cc=max-age%3D60';
    await get(path);
    const plain = await fetchReply(`${edge.url}${path}`, { headers: { host: HOST } });
    assert.match(status(plain), /fwd=uri-miss/);
    assert.equal(await originCount(origin, '/h2/scheme'), 2);
    const last = JSON.parse((await fetchReply(`${origin.url}/__last?path=/h2/scheme`)).body.toString());
    assert.equal((last as Record<string, string>)['x-forwarded-proto'], 'http');
  });

  it("the scheme is the connection's: neither :scheme nor X-Forwarded-Proto from a client changes it", async () => {
    const path = '/h2/claims?cc=max-age%3D60';
    await get(path);
    // Over TLS, a client claiming http still gets the https object.
    assert.match(status(await get(path, { ':scheme': 'http' })), /; hit/);
    // Over plain HTTP, claiming https neither reaches the https object nor tells the origin so.
    const spoofed = await fetchReply(`${edge.url}${path}`, {
      headers: { host: HOST, 'x-forwarded-proto': 'https' },
    });
    assert.match(status(spoofed), /fwd=uri-miss/);
    const last = JSON.parse((await fetchReply(`${origin.url}/__last?path=/h2/claims`)).body.toString());
    assert.equal((last as Record<string, string>)['x-forwarded-proto'], 'http');
  });

  it(':authority and a Host naming another host make a malformed request (400), the session goes on', async () => {
    const session = h2Session(port, HOST, certs.ca);
    try {
      const bad = await h2Request(session, '/h2/authority', { ':authority': HOST, host: 'other.example' });
      assert.equal(bad.status, 400);
      assert.match(status(bad), /bad-request/);
      assert.equal(bad.headers.connection, undefined);
      const good = await h2Request(session, '/h2/authority?cc=max-age%3D60', { host: HOST });
      assert.equal(good.status, 200);
    } finally {
      session.close();
    }
  });
});

describe('HTTP/2 abuse limits', () => {
  it('a rapid-reset flood (20,000 streams opened and cancelled) ends that session; others are served', async () => {
    const path = '/h2/victim?cc=max-age%3D60';
    await get(path);
    const attacker = await rawH2(port, HOST, certs.ca);
    const block = getBlock(HOST, path);
    const rst = Buffer.alloc(4);
    rst.writeUInt32BE(CANCEL);
    let sent = 0;
    let ended = false;
    void attacker.ended.then(() => (ended = true));
    // Meanwhile another client keeps asking: every one of its requests must succeed.
    const bystander = h2Session(port, HOST, certs.ca);
    const served: Promise<H2Reply>[] = [];
    try {
      for (let batch = 0; batch < 200 && !ended; batch++) {
        const frames: Buffer[] = [];
        for (let i = 0; i < 100; i++, sent++) {
          const id = 2 * sent + 1;
          frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, block));
          frames.push(frame(FRAME.RST_STREAM, 0, id, rst));
        }
        attacker.write(Buffer.concat(frames));
        if (batch % 20 === 0) served.push(h2Request(bystander, path));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const outcome = await attacker.ended;
      assert.ok(outcome.goaway !== null || outcome.closed, 'the session was ended');
      assert.ok(sent <= 20_000);
      for (const reply of await Promise.all(served)) assert.equal(reply.status, 200);
      const after = await get(path);
      assert.equal(after.status, 200);
    } finally {
      attacker.destroy();
      bystander.close();
    }
  });

  it('a CONTINUATION flood (a header block that never ends) ends the connection', async () => {
    const attacker = await rawH2(port, HOST, certs.ca);
    let ended = false;
    void attacker.ended.then(() => (ended = true));
    try {
      attacker.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, getBlock(HOST, '/h2/continuation')));
      let sent = 0;
      for (; sent < 100_000 && !ended; sent++) {
        attacker.write(frame(FRAME.CONTINUATION, 0, 1, literal('x-flood', 'a')));
        if (sent % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const outcome = await attacker.ended;
      assert.ok(outcome.goaway !== null || outcome.closed, 'the connection was ended');
      assert.ok(sent < 100_000, `ended only after ${sent} frames`);
      assert.equal(attacker.responses(), 0);
      assert.equal((await get('/h2/after-flood?cc=max-age%3D60')).status, 200);
    } finally {
      attacker.destroy();
    }
  });

  it('the server announces its stream and header list limits (128 streams, 16 KiB like HTTP/1.1)', async () => {
    const session = h2Session(port, HOST, certs.ca);
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number; maxHeaderListSize?: number }>(
        (resolve) => session.once('remoteSettings', resolve),
      );
      assert.equal(settings.maxConcurrentStreams, 128);
      assert.equal(settings.maxHeaderListSize, 16 * 1024);
      const big = await h2Request(session, '/h2/big-head', { 'x-big': 'a'.repeat(20_000) }).catch(
        (err: Error) => err,
      );
      // nghttp2 answers an oversized header list with 431, or resets the stream.
      assert.ok(
        big instanceof Error || big.status === 431,
        `got ${big instanceof Error ? big.message : big.status}`,
      );
    } finally {
      session.close();
    }
  });
});
