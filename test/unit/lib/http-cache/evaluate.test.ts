import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Headers } from '../../../../src/lib/http-cache/headers.ts';
import { evaluate, freshnessOf } from '../../../../src/lib/http-cache/policy.ts';
import type { StoredFreshness, Verdict } from '../../../../src/lib/http-cache/policy.ts';
import { at, httpDate, options, stored, T0 } from './fixtures.ts';

/** The verdict as one comparable string: kind, reason (revalidate), age, ttl. */
function show(v: Verdict): string {
  const reason = v.kind === 'revalidate' ? `(${v.reason})` : '';
  return `${v.kind}${reason} age=${v.ageSec} ttl=${v.ttlSec}`;
}

type Row = [name: string, f: Partial<StoredFreshness>, req: Headers, nowSec: number, expected: string];

function table(title: string, rows: Row[]): void {
  describe(title, () => {
    for (const [name, f, req, nowSec, expected] of rows) {
      test(name, () => assert.equal(show(evaluate(stored(f), req, at(nowSec))), expected));
    }
  });
}

// stored(): lifetime 100 s, received at T0 with Date = T0.
table('freshness (RFC 9111 §4.2)', [
  ['fresh right after storing', {}, {}, 0, 'fresh age=0 ttl=100'],
  ['fresh one second before expiry', {}, {}, 99, 'fresh age=99 ttl=1'],
  ['stale when age equals lifetime', {}, {}, 100, 'revalidate(stale) age=100 ttl=0'],
  ['stale after', {}, {}, 150, 'revalidate(stale) age=150 ttl=-50'],
  ['lifetime 0: stale at once', { lifetimeSec: 0 }, {}, 0, 'revalidate(stale) age=0 ttl=0'],
  ['Age header counts against the lifetime', { ageSec: 90 }, {}, 5, 'fresh age=95 ttl=5'],
  ['Age beyond the lifetime: stale on arrival', { ageSec: 200 }, {}, 0, 'revalidate(stale) age=200 ttl=-100'],
  [
    'response no-cache: revalidate even when fresh',
    { noCache: true },
    {},
    0,
    'revalidate(no-cache) age=0 ttl=100',
  ],
  [
    'response no-cache beats immutable',
    { noCache: true, immutable: true },
    {},
    0,
    'revalidate(no-cache) age=0 ttl=100',
  ],
]);

table('request no-cache, Pragma (RFC 9111 §5.2.1.4, RFC 7234 §5.4)', [
  ['no-cache', {}, { 'cache-control': 'no-cache' }, 10, 'revalidate(request-no-cache) age=10 ttl=90'],
  [
    'NO-CACHE in capitals',
    {},
    { 'cache-control': 'NO-CACHE' },
    10,
    'revalidate(request-no-cache) age=10 ttl=90',
  ],
  [
    'Pragma: no-cache without Cache-Control',
    {},
    { pragma: 'no-cache' },
    10,
    'revalidate(request-no-cache) age=10 ttl=90',
  ],
  [
    'Pragma list with no-cache',
    {},
    { pragma: 'foo, No-Cache' },
    10,
    'revalidate(request-no-cache) age=10 ttl=90',
  ],
  [
    'Pragma ignored when Cache-Control is present',
    {},
    { pragma: 'no-cache', 'cache-control': 'max-stale' },
    10,
    'fresh age=10 ttl=90',
  ],
  [
    'Pragma ignored when Cache-Control is present but empty',
    {},
    { pragma: 'no-cache', 'cache-control': '' },
    10,
    'fresh age=10 ttl=90',
  ],
  ['other Pragma values do nothing', {}, { pragma: 'x-no-cache' }, 10, 'fresh age=10 ttl=90'],
  [
    'no-cache on a stale response',
    {},
    { 'cache-control': 'no-cache' },
    200,
    'revalidate(request-no-cache) age=200 ttl=-100',
  ],
  [
    'no-cache beats max-stale',
    {},
    { 'cache-control': 'no-cache, max-stale' },
    200,
    'revalidate(request-no-cache) age=200 ttl=-100',
  ],
]);

table('request max-age (RFC 9111 §5.2.1.1)', [
  [
    'max-age=0 revalidates even a brand-new response',
    {},
    { 'cache-control': 'max-age=0' },
    0,
    'revalidate(request-max-age) age=0 ttl=100',
  ],
  [
    'max-age=0 revalidates',
    {},
    { 'cache-control': 'max-age=0' },
    10,
    'revalidate(request-max-age) age=10 ttl=90',
  ],
  ['age within max-age', {}, { 'cache-control': 'max-age=30' }, 30, 'fresh age=30 ttl=70'],
  [
    'age over max-age',
    {},
    { 'cache-control': 'max-age=30' },
    31,
    'revalidate(request-max-age) age=31 ttl=69',
  ],
  [
    'garbage max-age in a request is 0',
    {},
    { 'cache-control': 'max-age=x' },
    5,
    'revalidate(request-max-age) age=5 ttl=95',
  ],
  [
    'max-age larger than the lifetime does not extend it',
    {},
    { 'cache-control': 'max-age=1000' },
    150,
    'revalidate(stale) age=150 ttl=-50',
  ],
  [
    'max-age satisfied + max-stale: stale allowed',
    {},
    { 'cache-control': 'max-age=200, max-stale=60' },
    150,
    'stale-allowed age=150 ttl=-50',
  ],
  [
    'max-age exceeded + max-stale: revalidate',
    {},
    { 'cache-control': 'max-age=120, max-stale=60' },
    150,
    'revalidate(request-max-age) age=150 ttl=-50',
  ],
]);

table('request min-fresh (RFC 9111 §5.2.1.3)', [
  ['enough freshness left', {}, { 'cache-control': 'min-fresh=20' }, 80, 'fresh age=80 ttl=20'],
  [
    'not enough freshness left',
    {},
    { 'cache-control': 'min-fresh=20' },
    81,
    'revalidate(request-min-fresh) age=81 ttl=19',
  ],
  ['min-fresh=0 on a fresh response', {}, { 'cache-control': 'min-fresh=0' }, 99, 'fresh age=99 ttl=1'],
  [
    'min-fresh=0 on a stale response: just stale',
    {},
    { 'cache-control': 'min-fresh=0' },
    100,
    'revalidate(stale) age=100 ttl=0',
  ],
  [
    'min-fresh beats max-stale on a stale response',
    {},
    { 'cache-control': 'min-fresh=10, max-stale' },
    100,
    'revalidate(request-min-fresh) age=100 ttl=0',
  ],
  ['invalid min-fresh is ignored', {}, { 'cache-control': 'min-fresh=x' }, 90, 'fresh age=90 ttl=10'],
]);

table('request max-stale (RFC 9111 §5.2.1.2)', [
  [
    'max-stale without value: any staleness',
    {},
    { 'cache-control': 'max-stale' },
    100000,
    'stale-allowed age=100000 ttl=-99900',
  ],
  ['within max-stale=60', {}, { 'cache-control': 'max-stale=60' }, 160, 'stale-allowed age=160 ttl=-60'],
  ['beyond max-stale=60', {}, { 'cache-control': 'max-stale=60' }, 161, 'revalidate(stale) age=161 ttl=-61'],
  [
    'max-stale=0 grants nothing',
    {},
    { 'cache-control': 'max-stale=0' },
    100,
    'revalidate(stale) age=100 ttl=0',
  ],
  ['fresh response with max-stale: fresh', {}, { 'cache-control': 'max-stale' }, 10, 'fresh age=10 ttl=90'],
  [
    'not with must-revalidate (RFC 9111 §5.2.2.2)',
    { mustRevalidate: true },
    { 'cache-control': 'max-stale' },
    150,
    'revalidate(stale) age=150 ttl=-50',
  ],
  [
    'not with no-cache',
    { noCache: true },
    { 'cache-control': 'max-stale' },
    150,
    'revalidate(no-cache) age=150 ttl=-50',
  ],
  [
    'invalid max-stale grants nothing',
    {},
    { 'cache-control': 'max-stale=-1' },
    150,
    'revalidate(stale) age=150 ttl=-50',
  ],
]);

table('stale-while-revalidate (RFC 5861 §3)', [
  ['within the window', { swrSec: 30 }, {}, 110, 'stale-while-revalidate age=110 ttl=-10'],
  ['at the start of staleness', { swrSec: 30 }, {}, 100, 'stale-while-revalidate age=100 ttl=0'],
  ['at the end of the window (inclusive)', { swrSec: 30 }, {}, 130, 'stale-while-revalidate age=130 ttl=-30'],
  ['past the window', { swrSec: 30 }, {}, 131, 'revalidate(stale) age=131 ttl=-31'],
  ['fresh responses are just fresh', { swrSec: 30 }, {}, 50, 'fresh age=50 ttl=50'],
  [
    'not with must-revalidate / s-maxage (RFC 9111 §4.2.4)',
    { swrSec: 30, mustRevalidate: true },
    {},
    110,
    'revalidate(stale) age=110 ttl=-10',
  ],
  ['not with no-cache', { swrSec: 30, noCache: true }, {}, 110, 'revalidate(no-cache) age=110 ttl=-10'],
  [
    'preferred over max-stale',
    { swrSec: 30 },
    { 'cache-control': 'max-stale' },
    110,
    'stale-while-revalidate age=110 ttl=-10',
  ],
  [
    'max-stale still applies past the window',
    { swrSec: 30 },
    { 'cache-control': 'max-stale' },
    500,
    'stale-allowed age=500 ttl=-400',
  ],
  [
    'request no-cache beats swr',
    { swrSec: 30 },
    { 'cache-control': 'no-cache' },
    110,
    'revalidate(request-no-cache) age=110 ttl=-10',
  ],
]);

table('immutable (RFC 8246): request directives do not revalidate a fresh immutable response', [
  ['request no-cache', { immutable: true }, { 'cache-control': 'no-cache' }, 10, 'fresh age=10 ttl=90'],
  ['Pragma: no-cache', { immutable: true }, { pragma: 'no-cache' }, 10, 'fresh age=10 ttl=90'],
  ['request max-age=0', { immutable: true }, { 'cache-control': 'max-age=0' }, 10, 'fresh age=10 ttl=90'],
  ['request min-fresh', { immutable: true }, { 'cache-control': 'min-fresh=95' }, 10, 'fresh age=10 ttl=90'],
  [
    'stale immutable: request no-cache applies',
    { immutable: true },
    { 'cache-control': 'no-cache' },
    100,
    'revalidate(request-no-cache) age=100 ttl=0',
  ],
  [
    'stale immutable without request directives',
    { immutable: true },
    {},
    100,
    'revalidate(stale) age=100 ttl=0',
  ],
]);

table('request directives that evaluate leaves to others', [
  [
    'only-if-cached (caller answers 504 on revalidate)',
    {},
    { 'cache-control': 'only-if-cached' },
    150,
    'revalidate(stale) age=150 ttl=-50',
  ],
  [
    'no-store: a stored response may still be used (RFC 9111 §5.2.1.5)',
    {},
    { 'cache-control': 'no-store' },
    10,
    'fresh age=10 ttl=90',
  ],
  [
    'request stale-if-error is for canServeStaleOnError',
    {},
    { 'cache-control': 'stale-if-error=600' },
    150,
    'revalidate(stale) age=150 ttl=-50',
  ],
]);

describe('evaluate end to end with freshnessOf', () => {
  const opts = options();
  const cases: [string, Headers, number, string][] = [
    ['max-age=60 at 59 s', { date: httpDate(0), 'cache-control': 'max-age=60' }, 59, 'fresh age=59 ttl=1'],
    [
      'max-age=60 at 60 s',
      { date: httpDate(0), 'cache-control': 'max-age=60' },
      60,
      'revalidate(stale) age=60 ttl=0',
    ],
    [
      "s-maxage with swr: the origin's own window applies (StoredFreshness.sharedMaxAge)",
      { date: httpDate(0), 'cache-control': 's-maxage=60, stale-while-revalidate=30' },
      70,
      'stale-while-revalidate age=70 ttl=-10',
    ],
    [
      's-maxage with swr, past the window: revalidate',
      { date: httpDate(0), 'cache-control': 's-maxage=60, stale-while-revalidate=30' },
      95,
      'revalidate(stale) age=95 ttl=-35',
    ],
    [
      'proxy-revalidate with swr: no stale serving',
      { date: httpDate(0), 'cache-control': 'max-age=60, proxy-revalidate, stale-while-revalidate=30' },
      70,
      'revalidate(stale) age=70 ttl=-10',
    ],
    [
      'CDN-Cache-Control max-age with swr: stale served',
      { date: httpDate(0), 'cdn-cache-control': 'max-age=60, stale-while-revalidate=30' },
      70,
      'stale-while-revalidate age=70 ttl=-10',
    ],
    [
      'Age from upstream shortens the remaining freshness',
      { date: httpDate(0), age: '50', 'cache-control': 'max-age=60' },
      5,
      'fresh age=55 ttl=5',
    ],
    [
      'origin clock 30 s slow: apparent age counts',
      { date: httpDate(-30), 'cache-control': 'max-age=60' },
      29,
      'fresh age=59 ttl=1',
    ],
  ];
  for (const [name, res, nowSec, expected] of cases) {
    test(name, () => {
      const f = freshnessOf(200, res, T0, T0, opts);
      assert.equal(show(evaluate(f, {}, at(nowSec))), expected);
    });
  }
});
