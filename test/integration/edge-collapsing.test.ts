// Issue 2, points 7 and 8: request collapsing (one origin fetch for any number of concurrent misses,
// streamed to every waiter), hit-for-pass, ranges and HEAD from stored objects, large bodies.
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
import type { EdgeProc, Proc, Reply } from '../helpers/processes.ts';

let origin: Proc;
let edge: EdgeProc;

before(async () => {
  origin = await startTestOrigin();
  edge = await startEdgeProcess(origin.url, ['--memory-cache-size', '64MB']);
});

after(async () => {
  await edge.stop();
  await origin.stop();
  await removeDir(edge.cacheDir);
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  fetchReply(`${edge.url}${path}`, { headers });
const status = (reply: Reply): string => String(reply.headers['cache-status']);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('request collapsing (point 7)', () => {
  it('200 concurrent misses for one key cost the origin one request, and all get the body', async () => {
    const path = '/collapse?cc=max-age%3D60&delay=300&size=50000';
    const replies = await Promise.all(Array.from({ length: 200 }, () => get(path)));
    assert.equal(await originCount(origin, '/collapse'), 1);
    const digest = sha(replies[0]?.body as Buffer);
    for (const reply of replies) {
      assert.equal(reply.status, 200);
      assert.equal(sha(reply.body), digest);
    }
    const collapsed = replies.filter((r) => /collapsed/.test(status(r))).length;
    assert.equal(collapsed, 199);
  });

  it('waiters receive the body as it arrives (streamed, not after the whole fill)', async () => {
    const path = '/stream?cc=max-age%3D60&size=262144&trickle=100';
    const started = Date.now();
    const firstBytes = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await request(`${edge.url}${path}`);
        const iterator = res.body[Symbol.asyncIterator]();
        await iterator.next();
        const at = Date.now() - started;
        for (let r = await iterator.next(); !r.done; r = await iterator.next());
        return at;
      }),
    );
    const total = Date.now() - started;
    assert.equal(await originCount(origin, '/stream'), 1);
    for (const at of firstBytes) assert.ok(at < total / 2, `first byte at ${at} ms of ${total} ms`);
  });

  it('concurrent revalidations of one stale key cost the origin one conditional request', async () => {
    const path = '/reval-collapse?cc=max-age%3D1&etag=%22r%22&delay=200';
    await get(path);
    await new Promise((r) => setTimeout(r, 1_100));
    const replies = await Promise.all(Array.from({ length: 50 }, () => get(path)));
    for (const reply of replies) assert.equal(reply.status, 200);
    assert.equal(await originCount(origin, '/reval-collapse'), 2);
  });

  it('an uncacheable answer does not serialise later requests (hit-for-pass)', async () => {
    const path = '/hfp?cc=private&delay=200';
    await get(path);
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(path)));
    assert.ok(Date.now() - started < 1_000, 'the 20 requests went to the origin in parallel');
    for (const reply of replies)
      assert.match(status(reply), /fwd=bypass; fwd-status=200; detail="hit-for-pass"/);
    assert.equal(await originCount(origin, '/hfp'), 21);
  });

  it('waiters on a fetch that turns out uncacheable each get their own private answer', async () => {
    const path = '/private-collapse?cc=private&delay=200';
    const replies = await Promise.all(Array.from({ length: 10 }, () => get(path)));
    for (const reply of replies) assert.equal(reply.status, 200);
    assert.equal(await originCount(origin, '/private-collapse'), 10);
  });
});

describe('ranges and HEAD (point 8)', () => {
  const path = '/range?cc=max-age%3D60&size=10000&etag=%22rg%22';
  let full: Buffer;

  before(async () => {
    full = (await get(path)).body;
  });

  const cases: [string, string, number, [number, number] | null][] = [
    ['bytes=0-99', 'first 100 bytes', 206, [0, 99]],
    ['bytes=9900-', 'open-ended', 206, [9900, 9999]],
    ['bytes=-100', 'suffix', 206, [9900, 9999]],
    ['bytes=5000-20000', 'end past the size', 206, [5000, 9999]],
    ['bytes=20000-', 'unsatisfiable', 416, null],
  ];
  for (const [range, name, code, span] of cases) {
    it(`${range} (${name}) → ${code}`, async () => {
      const reply = await get(path, { range });
      assert.equal(reply.status, code);
      if (span !== null) {
        assert.equal(reply.headers['content-range'], `bytes ${span[0]}-${span[1]}/10000`);
        assert.deepEqual(reply.body, full.subarray(span[0], span[1] + 1));
      } else {
        assert.equal(reply.headers['content-range'], 'bytes */10000');
      }
    });
  }

  it('If-Range with the current ETag gives 206, with another gives the whole 200', async () => {
    assert.equal((await get(path, { range: 'bytes=0-9', 'if-range': '"rg"' })).status, 206);
    assert.equal((await get(path, { range: 'bytes=0-9', 'if-range': '"old"' })).status, 200);
  });

  it('HEAD is answered from the stored GET, with its length and no body', async () => {
    const reply = await fetchReply(`${edge.url}${path}`, { method: 'HEAD' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-length'], '10000');
    assert.equal(reply.body.length, 0);
    assert.match(status(reply), /hit/);
    assert.equal(await originCount(origin, '/range'), 1);
  });

  it('a HEAD miss fills the cache with a GET', async () => {
    const head = await fetchReply(`${edge.url}/head-miss?cc=max-age%3D60`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const get2 = await get('/head-miss?cc=max-age%3D60');
    assert.ok(get2.body.length > 0);
    assert.equal(
      await originCount(origin, '/head-miss'),
      1,
      'the GET was served by the fill the HEAD started',
    );
  });

  it('a 32 MiB object streams through and is served whole from disk afterwards', async () => {
    const big = '/big?cc=max-age%3D60&size=33554432';
    const first = await get(big);
    assert.equal(first.body.length, 33_554_432);
    const second = await get(big);
    assert.match(status(second), /hit/);
    assert.equal(sha(second.body), sha(first.body));
    const range = await get(big, { range: 'bytes=33554400-' });
    assert.equal(range.status, 206);
    assert.deepEqual(range.body, first.body.subarray(33_554_400));
  });

  it('a body over --max-object-size streams through but is not stored', async () => {
    const other = await startEdgeProcess(origin.url, ['--max-object-size', '1MB']);
    try {
      const path2 = '/too-big?cc=max-age%3D60&size=2000000';
      const reply = await fetchReply(`${other.url}${path2}`);
      assert.equal(reply.body.length, 2_000_000);
      const again = await fetchReply(`${other.url}${path2}`);
      assert.doesNotMatch(String(again.headers['cache-status']), /; hit(;|$)/);
      const chunked = '/too-big-chunked?cc=max-age%3D60&size=2000000&chunked=1';
      assert.equal((await fetchReply(`${other.url}${chunked}`)).body.length, 2_000_000);
      assert.doesNotMatch(
        String((await fetchReply(`${other.url}${chunked}`)).headers['cache-status']),
        /; hit(;|$)/,
      );
    } finally {
      await other.stop();
      await removeDir(other.cacheDir);
    }
  });
});
