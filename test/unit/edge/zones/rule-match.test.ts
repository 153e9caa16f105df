import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RuleRequest } from '../../../../src/edge/zones/zone-table.ts';
import { makeRule, request, runtimeOf } from './fixtures.ts';

type Row = [name: string, req: RuleRequest, matches: boolean];

/** Each row: does a rule with only `match` apply to the request? */
function table(kind: string, match: Record<string, unknown>, rows: Row[]): void {
  describe(`match.${kind}`, () => {
    const zone = runtimeOf([makeRule({ match, action: { edge_ttl: 60 } })]);
    for (const [name, req, matches] of rows) {
      test(`${name}: ${matches ? 'matches' : 'does not match'}`, () => {
        const d = zone.decide(req);
        assert.equal(d.edgeTtlSec, matches ? 60 : null);
        assert.equal(d.ruleIds.length, matches ? 1 : 0);
      });
    }
  });
}

table('(empty)', {}, [['every request', request('/x?y=1', { method: 'POST' }), true]]);

table('hosts', { hosts: ['a.example', 'B.example'] }, [
  ['listed host', request('/', { host: 'a.example' }), true],
  ['listed host, configured in upper case', request('/', { host: 'b.example' }), true],
  ['listed host with a port', request('/', { host: 'a.example:8080' }), true],
  ['other host', request('/', { host: 'c.example' }), false],
  ['suffix is not a match', request('/', { host: 'x.a.example' }), false],
]);

table('path', { path: '/img/*.png' }, [
  ['glob match', request('/img/a.png'), true],
  ['query is not part of the path', request('/img/a.png?v=2'), true],
  ['deeper path', request('/img/x/a.png'), false],
  ['glob on the query does not leak', request('/img/a.jpg?x=.png'), false],
  ['case-sensitive', request('/IMG/a.png'), false],
]);

table('extensions', { extensions: ['JPG', 'css'] }, [
  ['lower-case ext', request('/a/b.jpg'), true],
  ['upper-case ext', request('/a/B.CSS'), true],
  ['ext before the query', request('/a.css?x=1.js'), true],
  ['only the last dot counts', request('/a.css.map'), false],
  ['dot in a directory, none in the file', request('/a.css/file'), false],
  ['dotfile has no extension', request('/.css'), false],
  ['trailing dot', request('/a.'), false],
  ['directory', request('/a/'), false],
  ['query ext only', request('/a?f=x.css'), false],
]);

table('methods', { methods: ['GET', 'HEAD'] }, [
  ['GET', request('/'), true],
  ['HEAD', request('/', { method: 'HEAD' }), true],
  ['POST', request('/', { method: 'POST' }), false],
  ['methods are case-sensitive (RFC 9110 §9.1)', request('/', { method: 'get' }), false],
]);

table('header present', { header: { name: 'X-Debug' } }, [
  ['present', request('/', { headers: { 'x-debug': '1' } }), true],
  ['present and empty', request('/', { headers: { 'x-debug': '' } }), true],
  ['repeated', request('/', { headers: { 'x-debug': ['a', 'b'] } }), true],
  ['absent', request('/', { headers: { 'x-other': '1' } }), false],
]);

table('header value', { header: { name: 'accept-language', value: 'EN' } }, [
  ['equal', request('/', { headers: { 'accept-language': 'en' } }), true],
  ['equal ignoring case', request('/', { headers: { 'accept-language': 'En' } }), true],
  ['one of several lines', request('/', { headers: { 'accept-language': ['fr', 'EN'] } }), true],
  ['prefix is not equal', request('/', { headers: { 'accept-language': 'en-US' } }), false],
  ['absent', request('/'), false],
]);

table('cookie present', { cookie: { name: 'session' } }, [
  ['present', request('/', { headers: { cookie: 'a=1; session=xyz' } }), true],
  ['present and empty', request('/', { headers: { cookie: 'session=' } }), true],
  ['no spaces', request('/', { headers: { cookie: 'a=1;session=2' } }), true],
  ['several Cookie lines', request('/', { headers: { cookie: ['a=1', 'session=2'] } }), true],
  ['a name that only ends alike', request('/', { headers: { cookie: 'mysession=1' } }), false],
  ['name as a value', request('/', { headers: { cookie: 'a=session' } }), false],
  ['no Cookie header', request('/'), false],
]);

table('cookie value', { cookie: { name: 'tier', value: 'gold' } }, [
  ['equal', request('/', { headers: { cookie: 'tier=gold' } }), true],
  [
    'first of two with one name wins (RFC 6265 §5.4)',
    request('/', { headers: { cookie: 'tier=gold; tier=x' } }),
    true,
  ],
  [
    'first of two with one name wins, other order',
    request('/', { headers: { cookie: 'tier=x; tier=gold' } }),
    false,
  ],
  ['case-sensitive', request('/', { headers: { cookie: 'tier=Gold' } }), false],
]);

table('query present', { query: { name: 'preview' } }, [
  ['present with a value', request('/?preview=1'), true],
  ['present without "="', request('/?a=1&preview'), true],
  ['percent-encoded name', request('/?pre%76iew=1'), true],
  ['absent', request('/?previewx=1'), false],
  ['in the path only', request('/preview'), false],
]);

table('query value', { query: { name: 'q', value: 'a b/é' } }, [
  ['percent-decoded', request('/?q=a%20b%2F%C3%A9'), true],
  ['"+" is a space', request('/?q=a+b/%C3%A9'), true],
  ['any of repeated members', request('/?q=x&q=a%20b/%C3%A9'), true],
  ['different value', request('/?q=a%20b'), false],
  ['malformed escapes stay as sent', request('/?q=%E0%A4%A'), false],
]);

table(
  'all conditions at once (AND)',
  { methods: ['GET'], path: '/api/**', header: { name: 'x-v', value: '2' } },
  [
    ['all hold', request('/api/a/b', { headers: { 'x-v': '2' } }), true],
    ['method fails', request('/api/a/b', { method: 'POST', headers: { 'x-v': '2' } }), false],
    ['path fails', request('/web/a', { headers: { 'x-v': '2' } }), false],
    ['header fails', request('/api/a', { headers: { 'x-v': '3' } }), false],
  ],
);

describe('rule precedence', () => {
  test('all matching rules apply in position order; the last one that sets a field wins', () => {
    const zone = runtimeOf([
      makeRule({ action: { edge_ttl: 10, browser_ttl: 5 } }, { id: 'second', position: 2 }),
      makeRule({ action: { edge_ttl: 1 } }, { id: 'first', position: 1 }),
      makeRule({ match: { path: '/a' }, action: { edge_ttl: 99 } }, { id: 'third', position: 3 }),
      makeRule({ match: { path: '/b' }, action: { browser_ttl: 77 } }, { id: 'fourth', position: 4 }),
    ]);
    const d = zone.decide(request('/a'));
    assert.deepEqual(d.ruleIds, ['first', 'second', 'third']);
    assert.equal(d.edgeTtlSec, 99);
    assert.equal(d.browserTtlSec, 5);
  });

  test('disabled rules never match', () => {
    const zone = runtimeOf([makeRule({ enabled: false, action: { bypass: true } })]);
    const d = zone.decide(request('/'));
    assert.equal(d.bypass, false);
    assert.deepEqual(d.ruleIds, []);
  });

  test('bypass from any matching rule stands; a later rule cannot clear it', () => {
    const zone = runtimeOf([makeRule({ action: { bypass: true } }), makeRule({ action: { edge_ttl: 5 } })]);
    assert.equal(zone.decide(request('/')).bypass, true);
  });

  test('status_ttl merges per status, later rules winning; one rule’s map is shared, not copied', () => {
    const zone = runtimeOf([
      makeRule({ action: { status_ttl: { '404': 60, '500': 5 } } }),
      makeRule({ match: { path: '/x' }, action: { status_ttl: { '404': 10, '301': 3600 } } }),
    ]);
    const merged = zone.decide(request('/x')).statusTtl;
    assert.deepEqual(
      [...(merged ?? [])].sort((a, b) => a[0] - b[0]),
      [
        [301, 3600],
        [404, 10],
        [500, 5],
      ],
    );
    const single1 = zone.decide(request('/y')).statusTtl;
    const single2 = zone.decide(request('/z')).statusTtl;
    assert.deepEqual(
      [...(single1 ?? [])],
      [
        [404, 60],
        [500, 5],
      ],
    );
    assert.equal(single1, single2);
    assert.equal(zone.decide(request('/x')).statusTtl?.get(404), 10, 'merging did not alter the shared map');
    assert.equal(zone.decide(request('/y')).statusTtl?.get(404), 60);
  });

  test('override_origin applies only with an edge_ttl; ignore_set_cookie from any matching rule', () => {
    const zone = runtimeOf([
      makeRule({ action: { override_origin: true, ignore_set_cookie: true } }),
      makeRule({ match: { path: '/ttl' }, action: { edge_ttl: 30 } }),
    ]);
    assert.equal(zone.decide(request('/none')).overrideOrigin, false);
    assert.equal(zone.decide(request('/none')).ignoreSetCookie, true);
    assert.equal(zone.decide(request('/ttl')).overrideOrigin, true);
  });

  test('the last matching rule with cache_key decides the key', () => {
    const zone = runtimeOf([
      makeRule({ action: { cache_key: { query: 'none' } } }),
      makeRule({ match: { path: '/keep/*' }, action: { cache_key: { query: 'all', headers: ['x-a'] } } }),
      makeRule({ action: { edge_ttl: 1 } }),
    ]);
    assert.equal(zone.decide(request('/drop/a?x=1')).primaryKey, 'https://z.example/drop/a');
    const keep = zone.decide(request('/keep/a?x=1', { headers: { 'x-a': 'v' } }));
    assert.equal(keep.primaryKey, 'https://z.example/keep/a?x=1');
    assert.equal(keep.keyExtra, 'h.x-a=v');
  });

  test('equal positions are ordered by id, the same on every node', () => {
    const zone = runtimeOf([
      makeRule({ action: { edge_ttl: 2 } }, { id: 'b', position: 1 }),
      makeRule({ action: { edge_ttl: 1 } }, { id: 'a', position: 1 }),
    ]);
    assert.deepEqual(zone.decide(request('/')).ruleIds, ['a', 'b']);
    assert.equal(zone.decide(request('/')).edgeTtlSec, 2);
  });
});
