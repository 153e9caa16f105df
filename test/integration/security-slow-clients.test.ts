// Issue 16: slowloris (headers a line at a time) and slow POST (a body a byte at a time) holding
// 1,000 connections from one address while a normal client from another still gets answers in
// under 100 ms; the node closes the slow ones at its header and request timeouts. Per-address
// connection and request-rate caps (loopback has every 127/8 address, so the flood comes from
// 127.0.0.2 and the normal client from 127.0.0.1).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Pool, request } from 'undici';
import { removeDir, startEdgeProcess, startTestOrigin } from '../helpers/processes.ts';
import type { EdgeProc, Proc } from '../helpers/processes.ts';

const FLOOD_FROM = '127.0.0.2';
const CONNECTIONS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens `count` connections from FLOOD_FROM; resolves once all are connected (or failed). */
async function openMany(port: number, count: number, head: string): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const s = connect({ port, host: '127.0.0.1', localAddress: FLOOD_FROM });
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    sockets.push(s);
    pending.push(
      new Promise((resolve) => {
        s.once('connect', () => {
          s.write(head);
          resolve();
        });
        s.once('close', () => resolve());
      }),
    );
    // Connect in batches: the listen backlog is deep, the test machine's CPUs are not.
    if (i % 100 === 99) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return sockets;
}

/** A normal client's latencies (ms) for `n` sequential cache hits. */
async function latencies(url: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const res = await request(`${url}/hot?cc=max-age%3D600`, { headers: { host: 'slow.test' } });
    await res.body.arrayBuffer();
    assert.equal(res.statusCode, 200);
    out.push(performance.now() - start);
    await sleep(10);
  }
  return out.sort((x, y) => x - y);
}

describe('slow clients and floods', () => {
  let origin: Proc;
  let edge: EdgeProc;
  let capped: EdgeProc;

  before(async () => {
    origin = await startTestOrigin();
    edge = await startEdgeProcess(origin.url, [
      '--client-header-timeout',
      '2s',
      '--client-request-timeout',
      '3s',
    ]);
    capped = await startEdgeProcess(origin.url, ['--max-conns-per-ip', '50', '--max-rps-per-ip', '20']);
  });
  after(async () => {
    for (const e of [edge, capped]) {
      await e?.stop();
      if (e !== undefined) await removeDir(e.cacheDir);
    }
    await origin?.stop();
  });

  for (const [name, head, trickle] of [
    ['slowloris', 'GET / HTTP/1.1\r\nHost: slow.test\r\n', 'X-Slow: 1\r\n'],
    ['slow POST', 'POST /upload HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 100000\r\n\r\n', 'a'],
  ] as const) {
    it(`${name}: 1,000 connections held, a normal client answered in < 100 ms, the slow ones closed`, async () => {
      await latencies(edge.url, 2); // warm the object
      const sockets = await openMany(edge.port, CONNECTIONS, head);
      const open = () => sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
      assert.ok(open() >= CONNECTIONS * 0.95, `only ${open()} slow connections open`);
      const drip = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write(trickle);
      }, 500);
      try {
        const times = await latencies(edge.url, 100);
        const p99 = times[98] as number;
        assert.ok(p99 < 100, `p99 ${p99.toFixed(1)} ms with ${open()} slow connections`);
        // The timeouts (2 s headers, 3 s whole request) end every slow connection despite the drip.
        const deadline = Date.now() + 15_000;
        while (open() > 0) {
          if (Date.now() > deadline) assert.fail(`${open()} slow connections still open`);
          await sleep(100);
        }
      } finally {
        clearInterval(drip);
        for (const s of sockets) s.destroy();
      }
    });
  }

  it('per-address caps: connections past the cap are closed, requests past the rate get 429', async () => {
    const sockets = await openMany(capped.port, 200, 'GET / HTTP/1.1\r\nHost: slow.test\r\n');
    await sleep(200);
    const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    assert.ok(open <= 50, `${open} connections open past the cap of 50`);
    // Another address is not affected.
    const times = await latencies(capped.url, 5);
    assert.ok((times[4] as number) < 1_000);
    for (const s of sockets) s.destroy();
    // 100 requests in one burst from one address: at most 20 per second started pass.
    // Ten connections: under the connection cap, so only the rate cap answers.
    const pool = new Pool(capped.url, { connections: 10 });
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const res = await pool.request({
          method: 'GET',
          path: '/rps?cc=max-age%3D600',
          headers: { host: 'slow.test' },
        });
        await res.body.arrayBuffer();
        return res.statusCode;
      }),
    );
    await pool.close();
    const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
    const passed = statuses.filter((s) => s === 200).length;
    assert.ok(passed <= 20 * seconds, `${passed} passed in ${seconds} s windows`);
    assert.equal(passed + statuses.filter((s) => s === 429).length, 100);
  });
});
