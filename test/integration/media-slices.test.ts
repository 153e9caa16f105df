// Issue 18, slices: a standalone edge with --slice-size 64K in front of a real origin that serves
// ranges (test/helpers/range-origin.ts). Every client range shape is answered from slices, the
// origin sends only the slices needed (counted in bytes), versions never mix, and an origin that
// ignores Range, lies about Content-Range or cuts a body never leaves a broken slice stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { fetchReply, removeDir, startEdgeProcess } from '../helpers/processes.ts';
import type { EdgeProc, Reply } from '../helpers/processes.ts';
import { bodyOf, startRangeOrigin, type RangeOrigin } from '../helpers/range-origin.ts';

const SLICE = 64 * 1024;
const SIZE = 4 * 1024 * 1024 + 1234; // 65 slices, the last one short

let origin: RangeOrigin;
let edge: EdgeProc;

before(async () => {
  origin = await startRangeOrigin();
  edge = await startEdgeProcess(origin.url, ['--node-name', 'slicer', '--slice-size', '64K']);
});

after(async () => {
  await edge.stop();
  await origin.close();
  await removeDir(edge.cacheDir);
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  fetchReply(`${edge.url}${path}`, { headers });
const status = (reply: Reply): string => String(reply.headers['cache-status']);
const expected = (start: number, end: number, version = '1'): Buffer => bodyOf(SIZE, version, start, end);

describe('ranges over slices', () => {
  const path = '/ok/ranges';
  const url = `${path}?size=${SIZE}`;

  it('a first-byte range of a cold object fetches one slice from the origin', async () => {
    const reply = await get(url, { range: 'bytes=0-0' });
    assert.equal(reply.status, 206);
    assert.equal(reply.headers['content-range'], `bytes 0-0/${SIZE}`);
    assert.deepEqual(reply.body, expected(0, 1));
    assert.match(status(reply), /fwd=uri-miss; fwd-status=206; ttl=\d+; stored/);
    const s = origin.stats(path);
    assert.equal(s.requests, 1);
    assert.equal(s.bytes, SLICE);
    assert.deepEqual(s.ranges, [`bytes=0-${SLICE - 1}`]);
  });

  it('the last byte (suffix range) is placed from the stored size: one more slice', async () => {
    const reply = await get(url, { range: 'bytes=-1' });
    assert.equal(reply.status, 206);
    assert.equal(reply.headers['content-range'], `bytes ${SIZE - 1}-${SIZE - 1}/${SIZE}`);
    assert.deepEqual(reply.body, expected(SIZE - 1, SIZE));
    const s = origin.stats(path);
    assert.equal(s.requests, 2);
    assert.equal(s.ranges[1], `bytes=${64 * SLICE}-${65 * SLICE - 1}`);
    assert.equal(s.bytes, SLICE + (SIZE - 64 * SLICE));
  });

  it('a range across slices fetches only the slices it lacks', async () => {
    const reply = await get(url, { range: `bytes=${SLICE - 10}-${2 * SLICE + 10}` });
    assert.equal(reply.status, 206);
    assert.deepEqual(reply.body, expected(SLICE - 10, 2 * SLICE + 11));
    assert.equal(origin.stats(path).requests, 4, 'slices 1 and 2 (slice 0 is stored)');
  });

  it('an open-ended range runs to the end', async () => {
    const start = SIZE - 3 * SLICE - 5;
    const reply = await get(url, { range: `bytes=${start}-` });
    assert.equal(reply.status, 206);
    assert.equal(reply.headers['content-range'], `bytes ${start}-${SIZE - 1}/${SIZE}`);
    assert.deepEqual(reply.body, expected(start, SIZE));
  });

  it('a full GET is assembled from slices, each fetched once; then every slice is a hit', async () => {
    const first = await get(url);
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-length'], String(SIZE));
    assert.equal(first.headers['accept-ranges'], 'bytes');
    assert.equal(first.headers['meridian-slice'], undefined, 'the slice field stays inside');
    assert.ok(first.body.equals(expected(0, SIZE)));
    const s = origin.stats(path);
    assert.equal(s.bytes, SIZE, 'every byte came from the origin exactly once');
    assert.equal(new Set(s.ranges).size, s.requests, 'no slice fetched twice');
    const second = await get(url);
    assert.match(status(second), /^slicer; hit/);
    assert.ok(second.body.equals(first.body));
    assert.equal(origin.stats(path).requests, s.requests);
  });

  it('HEAD and a conditional GET are answered from the stored head', async () => {
    const head = await fetchReply(`${edge.url}${url}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(SIZE));
    const etag = String(head.headers.etag);
    const conditional = await get(url, { 'if-none-match': etag });
    assert.equal(conditional.status, 304);
  });

  it('several ranges are coalesced into the one range that covers them', async () => {
    const reply = await get(url, { range: 'bytes=100-200, 150-300,10-20' });
    assert.equal(reply.status, 206);
    assert.equal(reply.headers['content-range'], `bytes 10-300/${SIZE}`);
    assert.deepEqual(reply.body, expected(10, 301));
  });

  it('too many ranges: 416; past the end: 416 from stored metadata, no origin request', async () => {
    const before = origin.stats(path).requests;
    const many = Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10 + 5}`).join(',');
    const tooMany = await get(url, { range: `bytes=${many}` });
    assert.equal(tooMany.status, 416);
    assert.equal(tooMany.headers['content-range'], `bytes */${SIZE}`);
    const past = await get(url, { range: `bytes=${SIZE}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${SIZE}`);
    assert.equal(origin.stats(path).requests, before);
  });

  it('a malformed range is ignored (RFC 9110 §14.2): the whole object', async () => {
    for (const range of ['bytes=abc', 'bytes=5-1', 'items=0-1']) {
      const reply = await get(url, { range });
      assert.equal(reply.status, 200, range);
      assert.equal(reply.body.length, SIZE);
    }
  });

  it('a cold range past the end: 416 with the length', async () => {
    const reply = await get(`/ok/cold-past?size=${SIZE}`, { range: `bytes=${SIZE + 5}-` });
    assert.equal(reply.status, 416);
    assert.equal(reply.headers['content-range'], `bytes */${SIZE}`);
  });

  it('an object smaller than one slice is one slice', async () => {
    const reply = await get('/ok/small?size=1000', { range: 'bytes=10-19' });
    assert.equal(reply.status, 206);
    assert.deepEqual(reply.body, bodyOf(1000, '1', 10, 20));
    const full = await get('/ok/small?size=1000');
    assert.equal(full.body.length, 1000);
    assert.match(status(full), /hit/);
    assert.equal(origin.stats('/ok/small').requests, 1);
  });
});

describe('versions never mix', () => {
  it('a version change mid-download cuts that download and the next one is all new', async () => {
    const path = '/ok/versioned';
    const url = `${path}?size=${SIZE}`;
    const part = await get(url, { range: `bytes=0-${2 * SLICE - 1}` });
    assert.deepEqual(part.body, expected(0, 2 * SLICE, '1'));
    origin.setVersion(path, '2');
    // Slices 0-1 are stored as version 1; slice 2 comes back as version 2: the response cannot be completed.
    const res = await request(`${edge.url}${url}`);
    assert.equal(res.statusCode, 200);
    await assert.rejects(res.body.arrayBuffer(), 'the download of mixed versions is cut, not completed');
    const again = await get(url);
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(expected(0, SIZE, '2')), 'every byte of version 2');
    assert.equal(again.headers.etag, `"2-${SIZE}"`);
  });
});

describe('upstreams that misbehave', () => {
  it('an origin that ignores Range: the object is cached whole and ranges come from it', async () => {
    const url = `/norange/big?size=${SIZE}`;
    const first = await get(url, { range: 'bytes=10-19' });
    assert.equal(first.status, 206);
    assert.deepEqual(first.body, expected(10, 20));
    const second = await get(url, { range: `bytes=${SLICE * 3}-${SLICE * 3 + 9}` });
    assert.equal(second.status, 206);
    assert.deepEqual(second.body, expected(SLICE * 3, SLICE * 3 + 10));
    assert.equal(origin.stats('/norange/big').requests, 2, 'the slice attempt, then the whole object');
    const full = await get(url);
    assert.ok(full.body.equals(expected(0, SIZE)));
    assert.equal(origin.stats('/norange/big').requests, 2, 'whole copy stored');
  });

  it('a 404 (and its body, dropped unread on the slice attempt) is answered as it is', async () => {
    for (let i = 0; i < 2; i++) {
      const reply = await get('/missing/x', { range: 'bytes=0-9' });
      assert.equal(reply.status, 404);
      assert.equal(reply.body.toString(), 'no\n');
    }
    assert.equal((await get(`/ok/alive?size=100`)).status, 200, 'the node is still up');
  });

  it('a 206 for other bytes than asked: 502, nothing stored', async () => {
    for (let i = 0; i < 2; i++) {
      const reply = await get(`/liar/x?size=${SIZE}`, { range: 'bytes=0-9' });
      assert.equal(reply.status, 502);
      assert.match(status(reply), /origin-bad-range/);
    }
    assert.equal(origin.stats('/liar/x').requests, 2);
  });

  it('a Content-Range without the complete length: 502', async () => {
    const reply = await get(`/nolength/x?size=${SIZE}`, { range: 'bytes=0-9' });
    assert.equal(reply.status, 502);
  });

  it('a slice body cut halfway is not stored', async () => {
    const url = `/short/x?size=${SIZE}`;
    for (let i = 0; i < 2; i++) {
      const res = await request(`${edge.url}${url}`, { headers: { range: 'bytes=0-99999' } }).catch(
        (err: Error) => err,
      );
      if (!(res instanceof Error)) await res.body.arrayBuffer().catch(() => undefined);
    }
    const first = origin.stats('/short/x').ranges.filter((r) => r === `bytes=0-${SLICE - 1}`);
    assert.equal(first.length, 2, 'the cut slice was fetched again, not served');
  });
});
