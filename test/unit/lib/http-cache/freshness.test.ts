import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Headers } from '../../../../src/lib/http-cache/headers.ts';
import { currentAgeSec, DEFAULT_POLICY_OPTIONS, freshnessOf } from '../../../../src/lib/http-cache/policy.ts';
import type { PolicyOptions, StoredFreshness } from '../../../../src/lib/http-cache/policy.ts';
import { at, httpDate, options, stored, T0 } from './fixtures.ts';

const DAY = 86400;

describe('DEFAULT_POLICY_OPTIONS', () => {
  test('RFC 9111 §4.2.2 fraction 10%, cap one day, heuristic, honour origin', () => {
    assert.deepEqual(DEFAULT_POLICY_OPTIONS, {
      heuristicFraction: 0.1,
      heuristicMaxSec: 86400,
      defaultTtlSec: null,
      honorOriginCacheControl: true,
      defaultStaleWhileRevalidateSec: 0,
      defaultStaleIfErrorSec: 0,
    });
  });
});

type Row = [
  name: string,
  status: number,
  res: Headers,
  lifetimeSec: number,
  source: StoredFreshness['source'],
];

/** Responses received at T0 (request sent at T0). */
function lifetimeTable(title: string, rows: Row[], opts: PolicyOptions = DEFAULT_POLICY_OPTIONS): void {
  describe(title, () => {
    for (const [name, status, res, lifetimeSec, source] of rows) {
      test(name, () => {
        const f = freshnessOf(status, res, T0, T0, opts);
        assert.deepEqual([f.lifetimeSec, f.source], [lifetimeSec, source]);
      });
    }
  });
}

lifetimeTable('freshness lifetime precedence (RFC 9111 §4.2.1)', [
  ['max-age', 200, { 'cache-control': 'max-age=60' }, 60, 'cache-control'],
  [
    's-maxage beats max-age (shared cache)',
    200,
    { 'cache-control': 'max-age=60, s-maxage=300' },
    300,
    'cache-control',
  ],
  ['s-maxage=0 beats max-age', 200, { 'cache-control': 'max-age=60, s-maxage=0' }, 0, 'cache-control'],
  [
    'max-age beats Expires (RFC 9111 §5.3: MUST ignore Expires)',
    200,
    { 'cache-control': 'max-age=60', date: httpDate(0), expires: httpDate(3600) },
    60,
    'cache-control',
  ],
  [
    'max-age=0 beats a future Expires',
    200,
    { 'cache-control': 'max-age=0', date: httpDate(0), expires: httpDate(3600) },
    0,
    'cache-control',
  ],
  ['Expires − Date', 200, { date: httpDate(0), expires: httpDate(3600) }, 3600, 'expires'],
  [
    'Expires − Date when Date is behind our clock (uses Date, not now)',
    200,
    { date: httpDate(-100), expires: httpDate(500) },
    600,
    'expires',
  ],
  [
    'Expires without Date: Expires − response time (RFC 9110 §6.6.1)',
    200,
    { expires: httpDate(120) },
    120,
    'expires',
  ],
  ['Expires in the past: stale', 200, { date: httpDate(0), expires: httpDate(-60) }, 0, 'expires'],
  ['Expires equal to Date: stale', 200, { date: httpDate(0), expires: httpDate(0) }, 0, 'expires'],
  ['Expires: 0 is in the past (RFC 9111 §5.3)', 200, { date: httpDate(0), expires: '0' }, 0, 'expires'],
  [
    'invalid Expires is in the past',
    200,
    { expires: 'tomorrow', 'last-modified': httpDate(-DAY) },
    0,
    'expires',
  ],
  ['empty Expires is in the past', 200, { expires: '' }, 0, 'expires'],
  [
    'two Expires lines: stale (RFC 9111 §4.2.1 allows)',
    200,
    { date: httpDate(0), expires: [httpDate(60), httpDate(120)] },
    0,
    'expires',
  ],
  [
    'garbage max-age does not let Expires make it fresh',
    200,
    { 'cache-control': 'max-age=soon', date: httpDate(0), expires: httpDate(3600) },
    0,
    'cache-control',
  ],
  [
    'negative max-age does not let a heuristic make it fresh',
    200,
    { 'cache-control': 'max-age=-1', date: httpDate(0), 'last-modified': httpDate(-100 * DAY) },
    0,
    'cache-control',
  ],
  [
    'explicit freshness for a non-default status',
    302,
    { 'cache-control': 'max-age=60' },
    60,
    'cache-control',
  ],
  ['Expires for a non-default status', 500, { date: httpDate(0), expires: httpDate(30) }, 30, 'expires'],
]);

lifetimeTable('targeted fields (RFC 9213)', [
  [
    'CDN-Cache-Control max-age beats Cache-Control s-maxage',
    200,
    { 'cache-control': 'max-age=60, s-maxage=120', 'cdn-cache-control': 'max-age=600' },
    600,
    'cdn-cache-control',
  ],
  [
    'Surrogate-Control beats Cache-Control',
    200,
    { 'cache-control': 'max-age=60', 'surrogate-control': 'max-age=300' },
    300,
    'surrogate-control',
  ],
  [
    'CDN-Cache-Control beats Surrogate-Control',
    200,
    { 'surrogate-control': 'max-age=300', 'cdn-cache-control': 'max-age=900' },
    900,
    'cdn-cache-control',
  ],
  [
    'with a targeted field governing, Expires is ignored (RFC 9213 §2.2) → heuristic',
    200,
    { 'cdn-cache-control': 'public', date: httpDate(0), expires: httpDate(3600) },
    0,
    'heuristic',
  ],
  [
    'invalid CDN-Cache-Control: Cache-Control governs',
    200,
    { 'cdn-cache-control': 'max-age=600,', 'cache-control': 'max-age=60' },
    60,
    'cache-control',
  ],
]);

const lm = (daysAgo: number): Headers => ({ date: httpDate(0), 'last-modified': httpDate(-daysAgo * DAY) });

lifetimeTable('heuristic freshness (RFC 9111 §4.2.2)', [
  ['10% of Date − Last-Modified', 200, lm(1), 8640, 'heuristic'],
  ['capped at heuristicMaxSec', 200, lm(30), DAY, 'heuristic'],
  [
    'Last-Modified without Date: response time is the base',
    200,
    { 'last-modified': httpDate(-1000) },
    100,
    'heuristic',
  ],
  ['no Last-Modified: 0', 200, { date: httpDate(0) }, 0, 'heuristic'],
  ['Last-Modified after Date: 0', 200, { date: httpDate(0), 'last-modified': httpDate(10) }, 0, 'heuristic'],
  ['invalid Last-Modified: 0', 200, { date: httpDate(0), 'last-modified': 'yesterday' }, 0, 'heuristic'],
  ...[203, 204, 300, 301, 308, 404, 405, 410, 414, 501].map((status): Row => [
    `status ${status} is heuristically cacheable`,
    status,
    lm(1),
    8640,
    'heuristic',
  ]),
  ...[201, 302, 303, 307, 400, 403, 500, 502, 503].map((status): Row => [
    `status ${status} is not heuristically cacheable`,
    status,
    lm(1),
    0,
    'heuristic',
  ]),
  [
    'public makes any status heuristically cacheable',
    302,
    { ...lm(1), 'cache-control': 'public' },
    8640,
    'heuristic',
  ],
  ['not with max-age present', 200, { ...lm(1), 'cache-control': 'max-age=5' }, 5, 'cache-control'],
  ['not with Expires present', 200, { ...lm(1), expires: httpDate(7) }, 7, 'expires'],
]);

lifetimeTable(
  'defaultTtlSec replaces the heuristic, only where a heuristic is allowed',
  [
    ['no explicit freshness: default', 200, { date: httpDate(0) }, 3600, 'default'],
    ['default beats the Last-Modified heuristic', 200, lm(100), 3600, 'default'],
    ['explicit max-age beats the default', 200, { 'cache-control': 'max-age=5' }, 5, 'cache-control'],
    ['Expires beats the default', 200, { date: httpDate(0), expires: httpDate(9) }, 9, 'expires'],
    ['not for a status without heuristic', 302, { date: httpDate(0) }, 0, 'heuristic'],
    ['public status 302: default', 302, { 'cache-control': 'public' }, 3600, 'default'],
  ],
  options({ defaultTtlSec: 3600 }),
);

lifetimeTable(
  'honorOriginCacheControl=false ignores origin freshness',
  [
    ['max-age ignored', 200, { 'cache-control': 'max-age=5' }, 600, 'default'],
    ['s-maxage ignored', 200, { 'cache-control': 's-maxage=5' }, 600, 'default'],
    ['Expires ignored', 200, { date: httpDate(0), expires: httpDate(9) }, 600, 'default'],
    ['CDN-Cache-Control ignored', 200, { 'cdn-cache-control': 'max-age=9' }, 600, 'default'],
    ['still only where a heuristic is allowed', 302, { 'cache-control': 'max-age=5' }, 0, 'heuristic'],
  ],
  options({ defaultTtlSec: 600, honorOriginCacheControl: false }),
);

lifetimeTable(
  'honorOriginCacheControl=false without default: heuristic',
  [['max-age ignored, heuristic used', 200, { ...lm(1), 'cache-control': 'max-age=5' }, 8640, 'heuristic']],
  options({ honorOriginCacheControl: false }),
);

describe('freshnessOf: the other stored inputs', () => {
  const rows: [string, Headers, Partial<StoredFreshness>, PolicyOptions?][] = [
    ['Date and Age as received', { date: httpDate(-5), age: '30' }, { dateMs: at(-5), ageSec: 30 }],
    ['no Date: null; no Age: 0', {}, { dateMs: null, ageSec: 0 }],
    ['invalid Date: null', { date: 'now' }, { dateMs: null }],
    ['invalid Age is ignored (RFC 9111 §5.1)', { age: '-3' }, { ageSec: 0 }],
    ['list-valued Age: first member (RFC 9111 §5.1)', { age: '7, 9' }, { ageSec: 7 }],
    ['Age lines as an array: first', { age: ['7', '9'] }, { ageSec: 7 }],
    [
      'swr and sie windows',
      { 'cache-control': 'max-age=1, stale-while-revalidate=30, stale-if-error=600' },
      { swrSec: 30, sieSec: 600 },
    ],
    ['no windows: 0', { 'cache-control': 'max-age=1' }, { swrSec: 0, sieSec: 0 }],
    [
      'windows from the governing field only',
      { 'cache-control': 'stale-if-error=9', 'cdn-cache-control': 'max-age=1' },
      { sieSec: 0 },
    ],
    [
      'Surrogate-Control max-age=N+M gives sie',
      { 'surrogate-control': 'max-age=60+30' },
      { lifetimeSec: 60, sieSec: 30 },
    ],
    ['must-revalidate', { 'cache-control': 'max-age=1, must-revalidate' }, { mustRevalidate: true }],
    ['proxy-revalidate', { 'cache-control': 'max-age=1, proxy-revalidate' }, { mustRevalidate: true }],
    [
      's-maxage implies proxy-revalidate (RFC 9111 §5.2.2.10)',
      { 'cache-control': 's-maxage=1' },
      { mustRevalidate: false, sharedMaxAge: true },
    ],
    [
      'plain max-age: no must-revalidate',
      { 'cache-control': 'max-age=1' },
      { mustRevalidate: false, noCache: false },
    ],
    ['no-cache', { 'cache-control': 'max-age=60, no-cache' }, { noCache: true, lifetimeSec: 60 }],
    [
      'qualified no-cache counts as no-cache',
      { 'cache-control': 'no-cache="set-cookie"' },
      { noCache: true },
    ],
    ['immutable', { 'cache-control': 'max-age=60, immutable' }, { immutable: true }],
    [
      'ignore-origin mode drops no-cache and must-revalidate but keeps windows and immutable',
      { 'cache-control': 'no-cache, must-revalidate, s-maxage=1, immutable, stale-if-error=5' },
      { noCache: false, mustRevalidate: false, immutable: true, sieSec: 5 },
      options({ honorOriginCacheControl: false, defaultTtlSec: 60 }),
    ],
  ];
  for (const [name, res, expected, opts] of rows) {
    test(name, () => {
      const f = freshnessOf(200, res, at(-1), T0, opts ?? DEFAULT_POLICY_OPTIONS);
      assert.deepEqual(pick(f, expected), expected);
    });
  }
  test('keeps request and response times, and is JSON-serialisable', () => {
    const f = freshnessOf(200, { 'cache-control': 'max-age=60' }, at(-1), T0, DEFAULT_POLICY_OPTIONS);
    assert.deepEqual([f.requestTimeMs, f.responseTimeMs], [at(-1), T0]);
    assert.deepEqual(JSON.parse(JSON.stringify(f)), f);
  });
});

function pick(f: StoredFreshness, like: Partial<StoredFreshness>): Partial<StoredFreshness> {
  return Object.fromEntries(Object.keys(like).map((k) => [k, f[k as keyof StoredFreshness]]));
}

describe('currentAgeSec (RFC 9111 §4.2.3)', () => {
  const rows: [string, Partial<StoredFreshness>, number, number][] = [
    ['just received, Date = response time', {}, T0, 0],
    ['resident time counts', {}, at(42), 42],
    ['rounded down to whole seconds', {}, at(42.9), 42],
    ['Age header adds', { ageSec: 30 }, at(10), 40],
    ['response delay adds to Age', { ageSec: 30, requestTimeMs: at(-2) }, T0, 32],
    [
      'apparent age: Date behind the response time (origin clock slow or response delayed)',
      { dateMs: at(-50) },
      T0,
      50,
    ],
    ['the larger of apparent age and corrected Age', { dateMs: at(-50), ageSec: 20 }, T0, 50],
    ['the larger of apparent age and corrected Age (Age wins)', { dateMs: at(-5), ageSec: 20 }, T0, 20],
    ['Date ahead of our clock (skew): apparent age is 0, not negative', { dateMs: at(300) }, at(10), 10],
    ['no Date: apparent age 0', { dateMs: null, ageSec: 3 }, at(1), 4],
    ['now before the response time (clock step back): never negative', {}, at(-5), 0],
  ];
  for (const [name, o, nowMs, expected] of rows) {
    test(name, () => assert.equal(currentAgeSec(stored(o), nowMs), expected));
  }
  test('end to end: Age from an upstream cache plus time held here', () => {
    const f = freshnessOf(
      200,
      { date: httpDate(0), age: '100', 'cache-control': 'max-age=300' },
      T0,
      T0,
      options(),
    );
    assert.equal(currentAgeSec(f, at(50)), 150);
  });
});
