import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTrackingParam } from '../../../../src/edge/zones/cache-key.ts';
import { primaryKeyForUrl, primaryKeysForUrl } from '../../../../src/edge/zones/zone-table.ts';
import { makeRule, request, runtimeOf } from './fixtures.ts';

/** The primary key's query ('' or '?…') for a target under one rule with these cache_key settings. */
function searchOf(cacheKey: Record<string, unknown>, target: string): string {
  const zone = runtimeOf([makeRule({ action: { cache_key: cacheKey } })]);
  const key = zone.decide(request(target)).primaryKey;
  const prefix = 'https://z.example/p';
  assert.ok(key.startsWith(prefix), key);
  return key.slice(prefix.length);
}

describe('cache key query modes', () => {
  const rows: [name: string, settings: Record<string, unknown>, target: string, search: string][] = [
    ['all keeps the raw query', {}, '/p?b=2&a=1&&utm_source=x&c=%41', '?b=2&a=1&&utm_source=x&c=%41'],
    ['all keeps a bare "?"', {}, '/p?', '?'],
    ['no query stays without one', {}, '/p', ''],
    ['none drops the query', { query: 'none' }, '/p?a=1&b=2', ''],
    [
      'include keeps only the listed',
      { query: 'include', query_params: ['a', 'c'] },
      '/p?b=2&a=1&c=3&a=0',
      '?a=1&c=3&a=0',
    ],
    [
      'include by decoded name, raw kept',
      { query: 'include', query_params: ['a b'] },
      '/p?a%20b=1&x=2',
      '?a%20b=1',
    ],
    ['include with none present', { query: 'include', query_params: ['a'] }, '/p?b=1', ''],
    ['include names are case-sensitive', { query: 'include', query_params: ['a'] }, '/p?A=1&a=2', '?a=2'],
    [
      'exclude drops the listed',
      { query: 'exclude', query_params: ['session', 'b'] },
      '/p?b=2&a=1&session=x',
      '?a=1',
    ],
    ['exclude of everything', { query: 'exclude', query_params: ['a'] }, '/p?a=1&a=2', ''],
    [
      'rebuilt queries drop empty members',
      { query: 'exclude', query_params: ['x'] },
      '/p?a=1&&b=2&',
      '?a=1&b=2',
    ],
    ['sort by name', { sort_query: true }, '/p?b=2&a=1&c=3', '?a=1&b=2&c=3'],
    ['sort by name then value', { sort_query: true }, '/p?a=2&b=0&a=1', '?a=1&a=2&b=0'],
    ['sort compares decoded names', { sort_query: true }, '/p?b=1&%61=2', '?%61=2&b=1'],
    ['sort is stable for equal members', { sort_query: true }, '/p?a=%31&b=0&a=1', '?a=%31&a=1&b=0'],
    ['sort by code units, upper before lower', { sort_query: true }, '/p?a=1&B=2', '?B=2&a=1'],
    ['sort keeps bare names', { sort_query: true }, '/p?z&a', '?a&z'],
    [
      'strip_tracking drops utm_* and the known click ids',
      { strip_tracking: true },
      '/p?utm_source=a&id=1&gclid=x&fbclid=y&msclkid=z&dclid=1&yclid=2&_ga=3&mc_cid=4&mc_eid=5&igshid=6&utm_medium=m',
      '?id=1',
    ],
    ['strip_tracking ignores case', { strip_tracking: true }, '/p?UTM_Source=a&GCLID=b&k=1', '?k=1'],
    [
      'strip_tracking keeps look-alikes',
      { strip_tracking: true },
      '/p?utm=1&xgclid=2&_gac=3',
      '?utm=1&xgclid=2&_gac=3',
    ],
    ['strip_tracking of only trackers', { strip_tracking: true }, '/p?utm_campaign=x', ''],
    [
      'strip, exclude and sort together',
      { query: 'exclude', query_params: ['cb'], strip_tracking: true, sort_query: true },
      '/p?z=1&cb=9&utm_term=t&a=2',
      '?a=2&z=1',
    ],
    [
      'none wins over sort and strip',
      { query: 'none', sort_query: true, strip_tracking: true },
      '/p?b=1&a=2',
      '',
    ],
  ];
  for (const [name, settings, target, search] of rows) {
    test(name, () => assert.equal(searchOf(settings, target), search));
  }

  test('the path is never touched, only the query', () => {
    assert.equal(searchOf({ query: 'none' }, '/p'), '');
    const zone = runtimeOf([makeRule({ action: { cache_key: { query: 'none' } } })]);
    assert.equal(zone.decide(request('/A/%7E/b;c?x')).primaryKey, 'https://z.example/A/%7E/b;c');
  });

  test('the authority is normalised like cache/key.ts (lower case, default port dropped)', () => {
    const zone = runtimeOf([makeRule({ action: { cache_key: { sort_query: true } } })]);
    assert.equal(
      zone.decide(request('/p?b&a', { host: 'Z.Example:443' })).primaryKey,
      'https://z.example/p?a&b',
    );
    assert.equal(
      zone.decide(request('/p', { scheme: 'http', host: 'z.example:8080' })).primaryKey,
      'http://z.example:8080/p',
    );
  });

  test('isTrackingParam', () => {
    assert.equal(isTrackingParam('utm_anything'), true);
    assert.equal(isTrackingParam('fbclid'), true);
    assert.equal(isTrackingParam('id'), false);
  });
});

describe('cache key extra material (keyExtra)', () => {
  const zone = runtimeOf([
    makeRule({
      action: { cache_key: { headers: ['Accept-Language', 'x-ab'], cookies: ['tier'], device_class: true } },
    }),
  ]);

  test('headers, cookies and device class in settings order', () => {
    const d = zone.decide(
      request('/', {
        headers: { 'accept-language': 'en', 'x-ab': 'b', cookie: 'tier=gold; x=1', 'user-agent': 'iPhone' },
      }),
    );
    assert.equal(d.keyExtra, 'h.accept-language=en;h.x-ab=b;c.tier=gold;d=mobile');
  });

  test('absent is not the same as empty', () => {
    const absent = zone.decide(request('/')).keyExtra;
    const empty = zone.decide(
      request('/', { headers: { 'accept-language': '', 'x-ab': '', cookie: 'tier=' } }),
    ).keyExtra;
    assert.equal(absent, 'h.accept-language;h.x-ab;c.tier;d=desktop');
    assert.equal(empty, 'h.accept-language=;h.x-ab=;c.tier=;d=desktop');
  });

  test('values are encoded: no "\\n", and no value can forge another part', () => {
    const forged = zone.decide(request('/', { headers: { 'accept-language': 'en;c.tier=gold' } })).keyExtra;
    const real = zone.decide(
      request('/', { headers: { 'accept-language': 'en', cookie: 'tier=gold' } }),
    ).keyExtra;
    assert.notEqual(forged, real);
    const lines = zone.decide(request('/', { headers: { 'x-ab': ['a\nb', 'c'] } })).keyExtra;
    assert.equal(lines.includes('\n'), false);
    assert.ok(lines.includes('h.x-ab=a%0Ab%2C%20c'), lines);
  });

  test('no key rules, no extra', () => {
    assert.equal(runtimeOf([makeRule({ action: { cache_key: {} } })]).decide(request('/')).keyExtra, '');
    assert.equal(runtimeOf([]).decide(request('/')).keyExtra, '');
  });
});

describe('primaryKeyForUrl', () => {
  const zone = runtimeOf([
    makeRule({ action: { cache_key: { strip_tracking: true, sort_query: true } } }),
    makeRule({
      match: { path: '/search' },
      action: { cache_key: { query: 'include', query_params: ['q'] } },
    }),
    makeRule({ match: { methods: ['POST'] }, action: { cache_key: { query: 'none' } } }),
    makeRule({ match: { cookie: { name: 'beta' } }, action: { cache_key: { query: 'none' } } }),
  ]);

  test('equals the key of a GET of the same URL', () => {
    const rows: [url: string, target: string][] = [
      ['https://z.example/p?utm_source=x&b=2&a=1', '/p?utm_source=x&b=2&a=1'],
      ['https://z.example/search?page=2&q=cats', '/search?page=2&q=cats'],
      ['https://z.example/', '/'],
    ];
    for (const [url, target] of rows) {
      assert.equal(primaryKeyForUrl(zone, url), zone.decide(request(target)).primaryKey, url);
    }
    assert.equal(
      primaryKeyForUrl(zone, 'https://z.example/p?b=2&a=1&gclid=1'),
      'https://z.example/p?a=1&b=2',
    );
  });

  test('method conditions are evaluated as GET; header and cookie conditions as absent', () => {
    assert.equal(primaryKeyForUrl(zone, 'https://z.example/x?a=1'), 'https://z.example/x?a=1');
  });

  test('primaryKeysForUrl adds the keys that headers or cookies could select', () => {
    assert.deepEqual(primaryKeysForUrl(zone, 'https://z.example/x?a=1'), [
      'https://z.example/x?a=1',
      'https://z.example/x',
    ]);
    assert.equal(
      zone.decide(request('/x?a=1', { headers: { cookie: 'beta=1' } })).primaryKey,
      'https://z.example/x',
    );
  });

  test('a later unconditional key rule replaces the earlier candidates', () => {
    const z = runtimeOf([
      makeRule({ match: { header: { name: 'x-a' } }, action: { cache_key: { query: 'none' } } }),
      makeRule({ action: { cache_key: { sort_query: true } } }),
    ]);
    assert.deepEqual(primaryKeysForUrl(z, 'http://z.example/?b&a'), ['http://z.example/?a&b']);
  });

  test('without a zone: the URL as is; not an http(s) URL: null', () => {
    assert.equal(
      primaryKeyForUrl(undefined, 'https://Z.example:443/a?b=1&a=2'),
      'https://z.example/a?b=1&a=2',
    );
    assert.equal(primaryKeyForUrl(zone, 'ftp://z.example/a'), null);
    assert.equal(primaryKeyForUrl(zone, 'not a url'), null);
  });
});
