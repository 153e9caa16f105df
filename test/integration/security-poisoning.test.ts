// Issue 16: each cache-poisoning vector fails. Inputs an origin may act on but the cache key does not
// hold are never forwarded (override headers, a fat GET's body), and what could make the key and
// the origin read different requests is normalised or refused (dot segments, encoded slashes,
// needless escapes, a trailing dot in Host, duplicate Host). Each case: the attacker's request, then
// a victim's plain request must get the clean object (and the origin never saw the poison).
import assert from 'node:assert/strict';
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

const HOST = 'poison.test';
const CC = 'cc=max-age%3D600';

describe('cache poisoning', () => {
  let origin: Proc;
  let edge: EdgeProc;
  let n = 0;
  const path = () => `/p${++n}`;
  const get = (target: string, headers: Record<string, string> = {}) =>
    fetchReply(`${edge.url}${target}`, { headers: { host: HOST, ...headers } });
  const lastHead = async (p: string): Promise<Record<string, string>> =>
    JSON.parse(
      (await fetchReply(`${origin.url}/__last?path=${encodeURIComponent(p)}`)).body.toString(),
    ) as Record<string, string>;

  before(async () => {
    origin = await startTestOrigin();
    edge = await startEdgeProcess(origin.url);
  });
  after(async () => {
    await edge?.stop();
    if (edge !== undefined) await removeDir(edge.cacheDir);
    await origin?.stop();
  });

  for (const header of [
    'X-Forwarded-Host',
    'X-Host',
    'X-Original-URL',
    'X-Rewrite-URL',
    'X-HTTP-Method-Override',
    'X-Forwarded-Scheme',
    'Forwarded',
  ]) {
    it(`${header} never reaches the origin, and the cached object is the clean one`, async () => {
      const p = path();
      const value =
        header === 'X-HTTP-Method-Override'
          ? 'DELETE'
          : header === 'Forwarded'
            ? 'host=evil.example;proto=http'
            : header.endsWith('URL')
              ? '/admin'
              : 'evil.example';
      const attack = await get(`${p}?${CC}`, { [header]: value });
      assert.equal(attack.status, 200);
      const seen = await lastHead(p);
      assert.equal(seen[header.toLowerCase()], undefined, `${header} was forwarded`);
      const victim = await get(`${p}?${CC}`);
      assert.match(String(victim.headers['cache-status']), /hit/);
      assert.deepEqual(victim.body, attack.body);
      assert.equal(await originCount(origin, p), 1);
    });
  }

  it('a fat GET: the body and its framing never reach the origin', async () => {
    const p = path();
    const attack = await fetchReply(`${edge.url}${p}?${CC}`, {
      method: 'GET',
      headers: { host: HOST, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'callback=evil',
    });
    assert.equal(attack.status, 200);
    const seen = await lastHead(p);
    assert.equal(seen['content-length'], undefined);
    assert.equal(seen['content-type'], undefined);
    assert.equal(seen['transfer-encoding'], undefined);
    assert.match(String((await get(`${p}?${CC}`)).headers['cache-status']), /hit/);
  });

  it('dot segments and needless escapes are resolved before the key and the origin', async () => {
    const p = path();
    await get(`/static/..${p}?${CC}`);
    assert.equal(await originCount(origin, p), 1);
    assert.equal(await originCount(origin, `/static/..${p}`), 0);
    assert.match(String((await get(`${p}?${CC}`)).headers['cache-status']), /hit/);
    // %2E%2E is "..", %61 is "a": the same object, not a second one.
    assert.match(String((await get(`/x/%2E%2E${p}?${CC}`)).headers['cache-status']), /hit/);
    const q = path();
    await get(`${q.replace('p', '%70')}?${CC}`);
    assert.equal(await originCount(origin, q), 1);
    assert.match(String((await get(`${q}?${CC}`)).headers['cache-status']), /hit/);
  });

  it('an encoded slash next to a dot segment is refused (the origin would read another path)', async () => {
    assert.equal((await get(`/static/..%2f${path()}`)).status, 400);
    assert.equal((await get(`/static/..%5C${path()}`)).status, 400);
    // An encoded slash alone is a legitimate character of a segment: kept, upper-cased.
    assert.equal((await get(`/a%2fb?${CC}`)).status, 200);
  });

  it('a trailing dot in Host names the same host: one key, not a second cached copy', async () => {
    const p = path();
    await get(`${p}?${CC}`);
    const dotted = await get(`${p}?${CC}`, { host: `${HOST}.` });
    assert.match(String(dotted.headers['cache-status']), /hit/);
    assert.equal(await originCount(origin, p), 1);
  });

  it('duplicate Host headers are refused', async () => {
    const raw = await rawExchange(
      edge.port,
      `GET ${path()} HTTP/1.1\r\nHost: ${HOST}\r\nHost: evil.example\r\n\r\n`,
    );
    assert.equal(statusOf(raw), 400);
  });

  it('case: the host is case-insensitive (one key), the path is not (RFC 3986 §6.2.2.1)', async () => {
    const p = path();
    await get(`${p}?${CC}`);
    assert.match(
      String((await get(`${p}?${CC}`, { host: HOST.toUpperCase() })).headers['cache-status']),
      /hit/,
    );
    const upper = await get(`${p.toUpperCase()}?${CC}`);
    assert.doesNotMatch(String(upper.headers['cache-status']), /hit/);
  });
});
