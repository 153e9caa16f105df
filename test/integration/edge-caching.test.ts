// Issue 2, points 3–6: RFC 9111 shared-cache behaviour through a real edge in front of a real
// origin, proved by counting origin requests and reading Cache-Status / Age.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
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
  edge = await startEdgeProcess(origin.url, ['--node-name', 'edge-test']);
});

after(async () => {
  await edge.stop();
  await origin.stop();
  await removeDir(edge.cacheDir);
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  fetchReply(`${edge.url}${path}`, { headers });
const status = (reply: Reply): string => String(reply.headers['cache-status']);
const q = (params: Record<string, string>): string => new URLSearchParams(params).toString();

/** Requests `path` twice; returns the origin count and both replies. */
async function twice(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ count: number; first: Reply; second: Reply }> {
  const first = await get(path, headers);
  const second = await get(path, headers);
  return { count: await originCount(origin, path.split('?')[0] as string), first, second };
}

describe('storing and freshness (RFC 9111 §3, §4.2)', () => {
  const stored: [string, Record<string, string>][] = [
    ['max-age', { cc: 'max-age=60' }],
    ['s-maxage', { cc: 's-maxage=60' }],
    ['Expires', { expires: new Date(Date.now() + 60_000).toUTCString() }],
    ['heuristic from Last-Modified', { lm: new Date(Date.now() - 86_400_000).toUTCString() }],
    ['public', { cc: 'public, max-age=60' }],
    ['immutable', { cc: 'max-age=60, immutable' }],
    ['cacheable 404', { status: '404', cc: 'max-age=60' }],
    ['500 with max-age (RFC 9111 §3: any final status)', { status: '500', cc: 'max-age=60' }],
    ['Set-Cookie with explicit public', { setcookie: '1', cc: 'public, max-age=60' }],
  ];
  for (const [name, params] of stored) {
    it(`stores: ${name}`, async () => {
      const path = `/store-${name.replace(/\W+/g, '-')}?${q(params)}`;
      const { count, first, second } = await twice(path);
      assert.equal(count, 1, status(second));
      assert.match(status(first), /^edge-test; fwd=uri-miss; fwd-status=\d+; ttl=\d+; stored$/);
      assert.match(status(second), /^edge-test; hit; ttl=\d+$/);
      assert.ok(second.headers.age !== undefined, 'Age on a cached answer');
    });
  }

  const notStored: [string, Record<string, string>, string][] = [
    ['no-store', { cc: 'no-store, max-age=60' }, 'no-store'],
    ['private', { cc: 'private, max-age=60' }, 'private'],
    ['Set-Cookie without explicit caching', { setcookie: '1', cc: 'max-age=60' }, 'set-cookie'],
    ['Vary: *', { cc: 'max-age=60', vary: '*' }, 'vary-star'],
    ['500 without freshness', { status: '500', lm: new Date(Date.now() - 86_400_000).toUTCString() }, ''],
    ['no freshness information', {}, 'no-freshness'],
  ];
  for (const [name, params, detail] of notStored) {
    it(`does not store: ${name}`, async () => {
      const path = `/nostore-${name.replace(/\W+/g, '-')}?${q(params)}`;
      const { count, first, second } = await twice(path);
      assert.equal(count, 2);
      if (detail !== '') {
        assert.match(status(first), new RegExp(`fwd=uri-miss; fwd-status=\\d+; detail="${detail}"`));
        assert.match(status(second), /fwd=bypass; fwd-status=\d+; detail="hit-for-pass"/);
      }
    });
  }

  it('no-cache: stored, but every use revalidates with the origin', async () => {
    const path = `/nocache?${q({ cc: 'no-cache', etag: '"v1"' })}`;
    const { count, second } = await twice(path);
    assert.equal(count, 2);
    assert.equal(second.status, 200);
    assert.match(status(second), /fwd=stale; fwd-status=304/);
  });

  it('Authorization: not stored unless the response allows it (RFC 9111 §3.5)', async () => {
    const plain = `/auth?${q({ cc: 'max-age=60' })}`;
    assert.equal((await twice(plain, { authorization: 'Bearer x' })).count, 2);
    const allowed = `/auth-public?${q({ cc: 'public, max-age=60' })}`;
    assert.equal((await twice(allowed, { authorization: 'Bearer x' })).count, 1);
  });

  it('Age counts the time spent in cache and the Age the origin sent', async () => {
    const path = `/age?${q({ cc: 'max-age=600', age: '100' })}`;
    await get(path);
    await sleep(1_100);
    const reply = await get(path);
    assert.ok(Number(reply.headers.age) >= 101, String(reply.headers.age));
  });

  it('an expired response is revalidated; a 304 refreshes the stored headers without the body', async () => {
    // max-age=2: after the 304 the refreshed copy is fresh again even when Date's whole seconds and a
    // loaded machine add a second of age.
    const path = `/reval?${q({ cc: 'max-age=2', etag: '"e1"' })}`;
    const first = await get(path);
    await sleep(2_200);
    const second = await get(path);
    assert.match(status(second), /fwd=stale; fwd-status=304/);
    assert.deepEqual(second.body, first.body);
    const third = await get(path);
    assert.match(status(third), /hit/);
    assert.equal(await originCount(origin, '/reval'), 2);
  });

  it('CDN-Cache-Control governs this cache and is forwarded downstream (RFC 9213)', async () => {
    const path = `/cdncc?${q({ cc: 'no-store', cdncc: 'max-age=60' })}`;
    const { count, second } = await twice(path);
    assert.equal(count, 1);
    assert.equal(second.headers['cdn-cache-control'], 'max-age=60');
    assert.equal(second.headers['cache-control'], 'no-store');
  });

  it('Surrogate-Control governs this cache and is not forwarded', async () => {
    const path = `/surrogate?${q({ cc: 'max-age=0', sc: 'max-age=60' })}`;
    const { count, second } = await twice(path);
    assert.equal(count, 1);
    assert.equal(second.headers['surrogate-control'], undefined);
  });

  it('CDN-Cache-Control: no-store beats a cacheable Cache-Control', async () => {
    const path = `/cdncc-nostore?${q({ cc: 'max-age=60', cdncc: 'no-store' })}`;
    assert.equal((await twice(path)).count, 2);
  });
});

describe('request directives', () => {
  it('only-if-cached answers 504 when nothing is stored, and the stored copy when it is', async () => {
    const path = `/oic?${q({ cc: 'max-age=60' })}`;
    assert.equal((await get(path, { 'cache-control': 'only-if-cached' })).status, 504);
    await get(path);
    assert.equal((await get(path, { 'cache-control': 'only-if-cached' })).status, 200);
    assert.equal(await originCount(origin, '/oic'), 1);
  });

  it('no-cache from the client revalidates (conditional, collapsed) instead of refetching', async () => {
    const path = `/client-nocache?${q({ cc: 'max-age=600', etag: '"c1"' })}`;
    await get(path);
    const reply = await get(path, { 'cache-control': 'no-cache' });
    assert.match(status(reply), /fwd=request; fwd-status=304/);
  });

  it('max-stale lets a stale copy answer without going upstream', async () => {
    const path = `/maxstale?${q({ cc: 'max-age=1' })}`;
    await get(path);
    await sleep(1_200);
    const reply = await get(path, { 'cache-control': 'max-stale=60' });
    assert.match(status(reply), /hit; ttl=(0|-\d+); detail="max-stale"/);
    assert.equal(await originCount(origin, '/maxstale'), 1);
  });
});

describe('Vary (point 4)', () => {
  it('stores one variant per Accept-Encoding class and selects by it', async () => {
    const path = `/vary-ae?${q({ cc: 'max-age=60', vary: 'Accept-Encoding' })}`;
    const gz1 = await get(path, { 'accept-encoding': 'gzip, deflate' });
    const gz2 = await get(path, { 'accept-encoding': 'deflate, gzip;q=0.8' });
    const br = await get(path, { 'accept-encoding': 'br, gzip' });
    const none = await get(path);
    assert.match(status(gz2), /hit/, 'same class: gzip');
    assert.match(gz1.body.toString(), /ae=gzip, deflate/);
    assert.match(br.body.toString(), /ae=br, gzip/);
    assert.match(status(none), /fwd=vary-miss/);
    assert.equal(await originCount(origin, '/vary-ae'), 3);
  });

  it('selects variants by any request header the response names', async () => {
    const path = `/vary-lang?${q({ cc: 'max-age=60', vary: 'Accept-Language' })}`;
    const en = await get(path, { 'accept-language': 'en' });
    const fr = await get(path, { 'accept-language': 'fr' });
    const en2 = await get(path, { 'accept-language': 'en' });
    assert.match(en.body.toString(), /al=en/);
    assert.match(fr.body.toString(), /al=fr/);
    assert.deepEqual(en2.body, en.body);
    assert.match(status(en2), /hit/);
  });
});

describe('validation (point 5)', () => {
  it('answers If-None-Match and If-Modified-Since with 304 from cache', async () => {
    const lm = new Date(Date.now() - 3_600_000).toUTCString();
    const path = `/cond?${q({ cc: 'max-age=60', etag: '"abc"', lm })}`;
    await get(path);
    const inm = await get(path, { 'if-none-match': 'W/"abc"' });
    assert.equal(inm.status, 304);
    assert.equal(inm.body.length, 0);
    assert.equal(inm.headers.etag, '"abc"');
    const ims = await get(path, { 'if-modified-since': new Date().toUTCString() });
    assert.equal(ims.status, 304);
    const changed = await get(path, { 'if-none-match': '"other"' });
    assert.equal(changed.status, 200);
    assert.equal(await originCount(origin, '/cond'), 1);
  });
});

describe('stale content (point 6, RFC 5861)', () => {
  it('stale-while-revalidate serves stale at once and refreshes once in the background', async () => {
    const path = `/swr?${q({ cc: 'max-age=1, stale-while-revalidate=60', delay: '300' })}`;
    await get(path);
    // The refreshed copy will be fresh for a minute, so the last request below is a plain hit.
    await fetchReply(`${origin.url}/__override?${q({ path: '/swr', cc: 'max-age=60' })}`, { method: 'POST' });
    await sleep(1_100);
    const started = Date.now();
    const replies = await Promise.all([get(path), get(path), get(path)]);
    assert.ok(Date.now() - started < 250, 'stale copies answer without waiting for the origin');
    for (const reply of replies)
      assert.match(status(reply), /hit; ttl=(0|-\d+); detail="stale-while-revalidate"/);
    await sleep(600);
    assert.equal(await originCount(origin, '/swr'), 2, 'exactly one background refresh');
    assert.match(status(await get(path)), /^edge-test; hit; ttl=\d+$/);
  });

  for (const [name, fail] of [
    ['5xx', { status: '503' }],
    ['refused / dropped', { fail: 'close' }],
  ] as const) {
    it(`stale-if-error serves the stale copy when the origin fails (${name})`, async () => {
      const slug = `/sie-${name.replace(/\W+/g, '')}`;
      const path = `${slug}?${q({ cc: 'max-age=1, stale-if-error=60' })}`;
      const first = await get(path);
      await sleep(1_100);
      await fetchReply(`${origin.url}/__override?${q({ path: slug, ...fail })}`, { method: 'POST' });
      const reply = await get(path);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, first.body);
      assert.match(status(reply), /detail="stale-if-error"/);
    });
  }

  it('without stale-if-error, an origin failure after expiry is passed on', async () => {
    const path = `/no-sie?${q({ cc: 'max-age=1' })}`;
    await get(path);
    await sleep(1_100);
    await fetchReply(`${origin.url}/__override?${q({ path: '/no-sie', status: '503' })}`, { method: 'POST' });
    assert.equal((await get(path)).status, 503);
  });
});
