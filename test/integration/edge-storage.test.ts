// Issue 2, points 9 and 10: the disk tier survives restarts, a kill mid-write never leaves a torn
// object, and /metrics on the admin listener tells what the node did.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { after, before, describe, it } from 'node:test';
import {
  fetchReply,
  originCount,
  removeDir,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { Proc } from '../helpers/processes.ts';

let origin: Proc;

before(async () => {
  origin = await startTestOrigin();
});

after(async () => {
  await origin.stop();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('disk tier across restarts (point 9)', () => {
  it('objects stored before a restart are hits after it, byte for byte', async () => {
    const edge = await startEdgeProcess(origin.url);
    const paths = ['/persist-a?cc=max-age%3D600&size=1000', '/persist-b?cc=max-age%3D600&size=3000000'];
    const bodies = [];
    for (const path of paths) bodies.push((await fetchReply(`${edge.url}${path}`)).body);
    await edge.stop();
    const again = await startEdgeProcess(origin.url, [], { cacheDir: edge.cacheDir, port: edge.port });
    try {
      for (const [i, path] of paths.entries()) {
        const reply = await fetchReply(`${again.url}${path}`);
        assert.match(String(reply.headers['cache-status']), /hit/, path);
        assert.equal(sha(reply.body), sha(bodies[i] as Buffer));
      }
      assert.equal(await originCount(origin, '/persist-a'), 1);
      assert.equal(await originCount(origin, '/persist-b'), 1);
    } finally {
      await again.stop();
      await removeDir(edge.cacheDir);
    }
  });

  it('an edge killed (SIGKILL) mid-write never serves a torn object after restart', async () => {
    const edge = await startEdgeProcess(origin.url);
    const path = '/torn?cc=max-age%3D600&size=4000000&trickle=20';
    const res = await request(`${edge.url}${path}`);
    let received = 0;
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      if (received > 500_000) break;
    }
    await edge.stop('SIGKILL');
    const again = await startEdgeProcess(origin.url, [], { cacheDir: edge.cacheDir, port: edge.port });
    try {
      const reply = await fetchReply(`${again.url}/torn?cc=max-age%3D600&size=4000000`);
      assert.doesNotMatch(String(reply.headers['cache-status']), /hit/);
      assert.equal(reply.body.length, 4_000_000);
      const cached = await fetchReply(`${again.url}/torn?cc=max-age%3D600&size=4000000`);
      assert.match(String(cached.headers['cache-status']), /hit/);
      assert.equal(sha(cached.body), sha(reply.body));
    } finally {
      await again.stop();
      await removeDir(edge.cacheDir);
    }
  });

  it('the disk tier stays within --disk-cache-size', async () => {
    const edge = await startEdgeProcess(
      origin.url,
      ['--disk-cache-size', '2MB', '--memory-cache-size', '1MB'],
      { admin: true },
    );
    try {
      for (let i = 0; i < 12; i++) await fetchReply(`${edge.url}/fill-${i}?cc=max-age%3D600&size=300000`);
      const metrics = (await fetchReply(`${edge.adminUrl}/metrics`)).body.toString();
      const bytes = Number(/meridian_edge_cache_bytes\{tier="disk"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(bytes > 0 && bytes <= 2 * 1024 * 1024, `disk bytes ${bytes}`);
    } finally {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
  });
});

describe('metrics (point 10)', () => {
  it('/metrics counts requests by cache status, bytes, upstream fetches and stored objects per tier', async () => {
    const edge = await startEdgeProcess(origin.url, [], { admin: true });
    try {
      await fetchReply(`${edge.url}/m?cc=max-age%3D600&size=1234`);
      await fetchReply(`${edge.url}/m?cc=max-age%3D600&size=1234`);
      await fetchReply(`${edge.url}/m2?cc=no-store`);
      // The disk copy lands just after the memory one: wait for it (bounded).
      let text = '';
      for (let i = 0; i < 50; i++) {
        text = (await fetchReply(`${edge.adminUrl}/metrics`)).body.toString();
        if (/meridian_edge_cache_objects\{tier="disk"\} 1/.test(text)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(text, /meridian_edge_requests_total\{cache="hit",status="2xx"\} 1/);
      assert.match(text, /meridian_edge_requests_total\{cache="miss",status="2xx"\} 2/);
      assert.match(text, /meridian_edge_response_body_bytes_total\{cache="hit"\} 1234/);
      assert.match(text, /meridian_edge_upstream_fetches_total\{outcome="fill"\} 1/);
      assert.match(text, /meridian_edge_upstream_fetches_total\{outcome="uncacheable"\} 1/);
      assert.match(text, /meridian_edge_cache_objects\{tier="memory"\} 1/);
      assert.match(text, /meridian_edge_cache_objects\{tier="disk"\} 1/);
      const health = await fetchReply(`${edge.adminUrl}/healthz`);
      assert.equal(health.status, 200);
    } finally {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
  });

  it('every response carries Cache-Status, errors included', async () => {
    const edge = await startEdgeProcess(origin.url);
    try {
      for (const path of [
        '/cs?cc=max-age%3D60',
        '/cs?cc=max-age%3D60',
        '/cs2?cc=no-store',
        '/cs3?fail=close',
      ]) {
        const reply = await fetchReply(`${edge.url}${path}`);
        assert.ok(reply.headers['cache-status'] !== undefined, path);
      }
    } finally {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
  });
});
