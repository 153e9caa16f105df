import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Headers } from '../../../../src/lib/http-cache/headers.ts';
import { canServeStaleOnError, freshnessOf } from '../../../../src/lib/http-cache/policy.ts';
import type { StoredFreshness } from '../../../../src/lib/http-cache/policy.ts';
import { at, httpDate, options, stored, T0 } from './fixtures.ts';

type Row = [name: string, f: Partial<StoredFreshness>, req: Headers, nowSec: number, expected: boolean];

// stored(): lifetime 100 s, received at T0, so staleness = now − 100 s.
describe('canServeStaleOnError (RFC 5861 §4, RFC 9111 §4.2.4)', () => {
  const rows: Row[] = [
    ['stale within the response window', { sieSec: 60 }, {}, 150, true],
    ['at the end of the window (inclusive, RFC 5861 §4.1)', { sieSec: 60 }, {}, 160, true],
    ['past the window', { sieSec: 60 }, {}, 161, false],
    ['no window', {}, {}, 101, false],
    ['fresh: always usable', {}, {}, 50, true],
    [
      'fresh with must-revalidate: usable (must-revalidate is about stale responses)',
      { mustRevalidate: true },
      {},
      50,
      true,
    ],
    [
      'stale with must-revalidate: never (RFC 9111 §5.2.2.2)',
      { sieSec: 600, mustRevalidate: true },
      {},
      150,
      false,
    ],
    ['no-cache: never, even fresh (RFC 9111 §5.2.2.4)', { sieSec: 600, noCache: true }, {}, 50, false],
    ['request window widens (client permission)', {}, { 'cache-control': 'stale-if-error=100' }, 150, true],
    ['request window narrows', { sieSec: 600 }, { 'cache-control': 'stale-if-error=10' }, 150, false],
    ['request window 0 refuses', { sieSec: 600 }, { 'cache-control': 'stale-if-error=0' }, 101, false],
    [
      'invalid request window is ignored: the response window applies',
      { sieSec: 600 },
      { 'cache-control': 'stale-if-error=x' },
      150,
      true,
    ],
    ['request max-stale allows', {}, { 'cache-control': 'max-stale=60' }, 150, true],
    [
      'request max-stale without value allows any staleness',
      {},
      { 'cache-control': 'max-stale' },
      99999,
      true,
    ],
    ['request max-stale exceeded', {}, { 'cache-control': 'max-stale=10' }, 150, false],
    [
      'request permission does not beat must-revalidate',
      { mustRevalidate: true },
      { 'cache-control': 'stale-if-error=999, max-stale' },
      150,
      false,
    ],
  ];
  for (const [name, f, req, nowSec, expected] of rows) {
    test(name, () => assert.equal(canServeStaleOnError(stored(f), req, at(nowSec)), expected));
  }
});

describe('canServeStaleOnError with freshnessOf (RFC 5861 §4.1 example)', () => {
  const cases: [string, Headers, number, boolean][] = [
    [
      'max-age=600, stale-if-error=1200 at 900 s',
      { 'cache-control': 'max-age=600, stale-if-error=1200' },
      900,
      true,
    ],
    ['… at 1800 s', { 'cache-control': 'max-age=600, stale-if-error=1200' }, 1800, true],
    [
      '… at 1801 s: write the error through',
      { 'cache-control': 'max-age=600, stale-if-error=1200' },
      1801,
      false,
    ],
    [
      "s-maxage keeps the origin's own stale-if-error window",
      { 'cache-control': 's-maxage=600, stale-if-error=1200' },
      900,
      true,
    ],
    ['s-maxage: past the window', { 'cache-control': 's-maxage=600, stale-if-error=1200' }, 1900, false],
    [
      'must-revalidate blocks stale-if-error',
      { 'cache-control': 'max-age=600, must-revalidate, stale-if-error=1200' },
      900,
      false,
    ],
    ['CDN-Cache-Control window', { 'cdn-cache-control': 'max-age=600, stale-if-error=1200' }, 900, true],
    ['Surrogate-Control max-age=N+M', { 'surrogate-control': 'max-age=600+1200' }, 1800, true],
  ];
  for (const [name, res, nowSec, expected] of cases) {
    test(name, () => {
      const f = freshnessOf(200, { date: httpDate(0), ...res }, T0, T0, options());
      assert.equal(canServeStaleOnError(f, {}, at(nowSec)), expected);
    });
  }
});

describe('zone default stale windows and s-maxage (RFC 9111 §5.2.2.10)', () => {
  const zone = options({ defaultStaleIfErrorSec: 600, defaultStaleWhileRevalidateSec: 600 });
  const rows: [string, Headers, boolean][] = [
    ['max-age: the zone default applies', { 'cache-control': 'max-age=100' }, true],
    [
      's-maxage without its own stale-if-error: the zone default does not',
      { 'cache-control': 's-maxage=100' },
      false,
    ],
    ['s-maxage with its own stale-if-error', { 'cache-control': 's-maxage=100, stale-if-error=60' }, true],
  ];
  for (const [name, res, expected] of rows) {
    test(name, () => {
      const f = freshnessOf(200, res, T0, T0, zone);
      assert.equal(canServeStaleOnError(f, {}, at(150)), expected);
      assert.equal(f.swrSec > 0, res['cache-control'] === 'max-age=100');
    });
  }
});
