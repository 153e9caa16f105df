// FailoverUrls against real HTTP servers on loopback: a refused or 5xx URL moves calls to the next
// one, which stays in use; the failover, every URL failing and the recovery are each logged once.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { FailoverUrls, isConnectError, splitUrlList } from '../../../src/common/http/failover-urls.ts';
import { memoryLogger } from '../../helpers/tls.ts';

async function listen(status: () => number): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(status()).end('x'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A GET that throws `{status}` on a non-2xx answer, as the control-plane clients do. */
async function get(base: URL): Promise<string> {
  const res = await request(new URL('/x', base));
  const text = await res.body.text();
  if (res.statusCode >= 300)
    throw Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode });
  return `${base.port}:${text}`;
}

describe('FailoverUrls', () => {
  let dead: string;
  let flaky: { server: Server; url: string };
  let good: { server: Server; url: string };
  let flakyStatus = 503;

  before(async () => {
    const closed = await listen(() => 200);
    dead = closed.url;
    await new Promise((resolve) => closed.server.close(resolve)); // nothing listens there now
    flaky = await listen(() => flakyStatus);
    good = await listen(() => 200);
  });
  after(() => {
    flaky.server.close();
    good.server.close();
  });

  test('a refused URL fails over to the next, which stays current; logged once with the reason', async () => {
    const log = memoryLogger();
    const urls = new FailoverUrls([dead, good.url], { log });
    for (let i = 0; i < 5; i++) assert.equal(await urls.call(get), `${new URL(good.url).port}:x`);
    assert.equal(urls.current.origin, new URL(good.url).origin);
    const lines = log.lines.filter((l) => l.msg.includes('failover'));
    assert.equal(lines.length, 1, JSON.stringify(log.lines));
    assert.equal(lines[0]?.level, 'warn');
    assert.equal(lines[0]?.fields?.from, new URL(dead).origin);
    assert.match(String(lines[0]?.fields?.reason), /ECONNREFUSED/);
  });

  test('a 5xx fails over, a 4xx does not; every URL failing is logged once, and the recovery', async () => {
    const log = memoryLogger();
    const urls = new FailoverUrls([flaky.url, dead], { log });
    flakyStatus = 404;
    await assert.rejects(urls.call(get), /HTTP 404/);
    assert.equal(urls.current.origin, new URL(flaky.url).origin, 'a 4xx is an answer: no failover');
    flakyStatus = 503;
    for (let i = 0; i < 4; i++) await assert.rejects(urls.call(get));
    assert.equal(log.lines.filter((l) => l.msg.includes('unreachable at every URL')).length, 1);
    assert.equal(urls.isDown, true);
    flakyStatus = 200;
    await urls.call(get);
    await urls.call(get);
    assert.deepEqual(
      log.lines.map((l) => l.level),
      ['warn', 'info'],
      JSON.stringify(log.lines),
    );
    assert.match(log.lines[1]?.msg ?? '', /reachable again/);
  });

  test('lists: comma separated or repeated; connect errors are told apart', async () => {
    assert.deepEqual(splitUrlList(['http://a, http://b', 'http://c']), ['http://a', 'http://b', 'http://c']);
    const err = await request(new URL('/x', dead)).catch((e: unknown) => e);
    assert.equal(isConnectError(err), true);
    assert.equal(isConnectError(Object.assign(new Error('x'), { status: 503 })), false);
  });
});
