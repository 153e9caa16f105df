// Issue 2, point 1: the edge as a correct reverse proxy — forwarded headers, hop-by-hop removal in
// both directions, upstream failures (502/504), the retry of a dropped idempotent request,
// unsafe methods passing through and invalidating the URL (RFC 9111 §4.4).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  fetchReply,
  originCount,
  rawExchange,
  removeDir,
  startEdgeProcess,
  startTestOrigin,
  statusOf,
} from '../helpers/processes.ts';
import type { EdgeProc, Proc } from '../helpers/processes.ts';

let origin: Proc;
let edge: EdgeProc;

before(async () => {
  origin = await startTestOrigin();
  edge = await startEdgeProcess(origin.url, ['--origin-timeout', '1s', '--node-name', 'edge-test']);
});

after(async () => {
  await edge.stop();
  await origin.stop();
  await removeDir(edge.cacheDir);
});

/** The stored copy becomes a hit once its fill is committed (bounded wait). */
async function eventuallyHit(url: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (/; hit/.test(String((await fetchReply(url)).headers['cache-status']))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${url} never became a hit`);
}

async function lastHead(path: string): Promise<Record<string, string>> {
  const reply = await fetchReply(`${origin.url}/__last?path=${encodeURIComponent(path)}`);
  return JSON.parse(reply.body.toString()) as Record<string, string>;
}

describe('reverse proxy', () => {
  it('preserves Host and adds X-Forwarded-For, X-Forwarded-Proto and Via', async () => {
    await fetchReply(`${edge.url}/fwd?cc=no-store`, {
      headers: { host: 'www.example.com', 'x-forwarded-for': '203.0.113.9' },
    });
    const head = await lastHead('/fwd');
    assert.equal(head.host, 'www.example.com');
    assert.equal(head['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(head['x-forwarded-proto'], 'http');
    assert.match(head.via ?? '', /1\.1 edge-test/);
  });

  it('removes hop-by-hop fields and those named in Connection, toward the origin', async () => {
    const raw = await rawExchange(
      edge.port,
      'GET /hop?cc=no-store HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n',
    );
    assert.equal(statusOf(raw), 200);
    const head = await lastHead('/hop');
    assert.equal(head['x-secret'], undefined);
    assert.equal(head['keep-alive'], undefined);
    assert.equal(head['proxy-connection'], undefined);
    assert.equal(head.te, undefined);
    assert.equal(head['x-kept'], 'yes');
  });

  it('removes hop-by-hop fields from the origin response', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, {
        connection: 'keep-alive, x-internal',
        'x-internal': 'secret',
        'keep-alive': 'timeout=9',
        'x-public': 'ok',
        'content-length': '2',
      });
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const other = await startEdgeProcess(`http://127.0.0.1:${port}`);
    try {
      const reply = await fetchReply(`${other.url}/x`);
      assert.equal(reply.headers['x-internal'], undefined);
      assert.equal(reply.headers['x-public'], 'ok');
      assert.notEqual(reply.headers['keep-alive'], 'timeout=9');
    } finally {
      await other.stop();
      await removeDir(other.cacheDir);
      server.close();
    }
  });

  it("sets Host to the origin's with --host-header origin", async () => {
    const other = await startEdgeProcess(origin.url, ['--host-header', 'origin']);
    try {
      await fetchReply(`${other.url}/hosthdr?cc=no-store`, { headers: { host: 'www.example.com' } });
      assert.equal((await lastHead('/hosthdr')).host, new URL(origin.url).host);
    } finally {
      await other.stop();
      await removeDir(other.cacheDir);
    }
  });

  it('answers 502 when the origin refuses connections', async () => {
    const other = await startEdgeProcess('http://127.0.0.1:9', []);
    try {
      const reply = await fetchReply(`${other.url}/down`);
      assert.equal(reply.status, 502);
      assert.match(String(reply.headers['cache-status']), /detail="origin-unreachable"/);
    } finally {
      await other.stop();
      await removeDir(other.cacheDir);
    }
  });

  it('answers 504 when the origin does not send headers in time', async () => {
    const started = Date.now();
    const reply = await fetchReply(`${edge.url}/hang?fail=hang`);
    assert.equal(reply.status, 504);
    assert.ok(Date.now() - started < 5_000);
  });

  it('answers 502 when the origin drops the connection, after one retry', async () => {
    const reply = await fetchReply(`${edge.url}/drop?fail=close`);
    assert.equal(reply.status, 502);
    assert.equal(await originCount(origin, '/drop'), 2, 'one try and one retry on a fresh connection');
  });

  it('passes POST through with its body and does not retry it', async () => {
    const reply = await fetchReply(`${edge.url}/post?cc=max-age%3D60`, {
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['cache-status']), /fwd=method/);
    const again = await fetchReply(`${edge.url}/post-drop?fail=close`, { method: 'POST', body: 'x' });
    assert.equal(again.status, 502);
    assert.equal(await originCount(origin, '/post-drop'), 1);
  });

  it('a successful unsafe request invalidates the stored response for its URL', async () => {
    const url = `${edge.url}/inval?cc=max-age%3D600`;
    await fetchReply(url);
    await eventuallyHit(url);
    const put = await fetchReply(url, { method: 'PUT', body: 'new' });
    assert.equal(put.status, 200);
    const after = await fetchReply(url);
    assert.match(String(after.headers['cache-status']), /fwd=uri-miss/);
  });

  it('an invalidation while the object is still arriving keeps it from being stored', async () => {
    const url = `${edge.url}/inval-race?cc=max-age%3D600&size=200000&trickle=30`;
    const filling = fetchReply(url);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetchReply(url, { method: 'POST', body: 'x' })).status, 200);
    assert.equal((await filling).body.length, 200_000, 'the waiting client still gets the whole body');
    await new Promise((r) => setTimeout(r, 200));
    assert.doesNotMatch(String((await fetchReply(url)).headers['cache-status']), /; hit/);
  });

  it('a failed unsafe request leaves the stored response', async () => {
    const url = `${edge.url}/inval-fail?cc=max-age%3D600`;
    await fetchReply(url);
    await eventuallyHit(url);
    await fetchReply(`${origin.url}/__override?path=/inval-fail&status=500`, { method: 'POST' });
    const del = await fetchReply(url, { method: 'DELETE' });
    assert.equal(del.status, 500);
    assert.match(String((await fetchReply(url)).headers['cache-status']), /hit/);
  });
});
