import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MAX_SKEW_MS, signHop, verifyHop } from '../../../../src/edge/cluster/hop.ts';

const key = randomBytes(32);
const req = { method: 'GET', host: 'site.test', target: '/a?b=1' };
const hop = { path: [{ pop: 'nyc', node: 'nyc-1' }], seq: 42, ts: 1_000_000 };

describe('internal-hop header', () => {
  it('verifies what was signed with the same key, for the same request', () => {
    assert.deepEqual(verifyHop(key, signHop(key, hop, req), req, hop.ts + 10), hop);
  });

  it('refuses another key, another URL, another host, an edited path, a missing key and old headers', () => {
    const value = signHop(key, hop, req);
    assert.equal(verifyHop(randomBytes(32), value, req, hop.ts), null);
    assert.equal(verifyHop(key, value, { ...req, target: '/other' }, hop.ts), null);
    assert.equal(verifyHop(key, value, { ...req, host: 'evil.test' }, hop.ts), null);
    assert.equal(verifyHop(key, value.replace('nyc-1', 'nyc-2'), req, hop.ts), null);
    assert.equal(verifyHop(key, value.replace('seq=42', 'seq=43'), req, hop.ts), null);
    assert.equal(verifyHop(null, value, req, hop.ts), null);
    assert.equal(verifyHop(key, value, req, hop.ts + MAX_SKEW_MS + 1), null);
    assert.equal(verifyHop(key, 'v1;ts=1;seq=1;path=a/b;sig=', req, 1), null);
    assert.equal(verifyHop(key, 'garbage', req, 1), null);
  });

  it('signs the scheme: an https hop does not verify as http, nor back; http signs as before', () => {
    const https = { ...req, scheme: 'https' as const };
    const value = signHop(key, hop, https);
    assert.deepEqual(verifyHop(key, value, https, hop.ts), hop);
    assert.equal(verifyHop(key, value, req, hop.ts), null);
    assert.equal(verifyHop(key, signHop(key, hop, req), https, hop.ts), null);
    assert.deepEqual(verifyHop(key, signHop(key, hop, req), { ...req, scheme: 'http' }, hop.ts), hop);
  });

  it('carries a path of several hops', () => {
    const long = { ...hop, path: [...hop.path, { pop: 'iad', node: 'iad-2' }] };
    assert.deepEqual(verifyHop(key, signHop(key, long, req), req, hop.ts)?.path, long.path);
  });
});
