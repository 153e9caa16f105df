import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCacheControl } from '../../../../src/lib/http-cache/cache-control.ts';
import type { CacheControl } from '../../../../src/lib/http-cache/cache-control.ts';
import type { HeaderValue } from '../../../../src/lib/http-cache/headers.ts';

const NONE: CacheControl = {
  noStore: false,
  noCache: false,
  noCacheFields: [],
  private: false,
  privateFields: [],
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  mustUnderstand: false,
  immutable: false,
  onlyIfCached: false,
  noTransform: false,
};

const cc = (o: Partial<CacheControl>): CacheControl => ({ ...NONE, ...o });

describe('parseCacheControl (RFC 9111 §5.2)', () => {
  const rows: [string, HeaderValue, CacheControl][] = [
    ['absent', undefined, NONE],
    ['empty', '', NONE],
    ['max-age', 'max-age=60', cc({ maxAge: 60 })],
    [
      'names are case-insensitive',
      'Max-Age=60, NO-STORE, Public',
      cc({ maxAge: 60, noStore: true, public: true }),
    ],
    ['quoted argument (RFC 9111 §5.2: accept both forms)', 'max-age="60"', cc({ maxAge: 60 })],
    ['whitespace around members and "="', '  max-age = 60 ,  public ', cc({ maxAge: 60, public: true })],
    ['field lines as an array', ['max-age=60', 'public'], cc({ maxAge: 60, public: true })],
    ['duplicate max-age: first wins (RFC 9111 §4.2.1)', 'max-age=60, max-age=10', cc({ maxAge: 60 })],
    ['duplicate across lines: first wins', ['max-age=10', 'max-age=60'], cc({ maxAge: 10 })],
    ['an invalid first max-age is not repaired by a later one', 'max-age=x, max-age=3600', cc({ maxAge: 0 })],
    ['duplicate stale-if-error: first wins', 'stale-if-error=5, stale-if-error=500', cc({ staleIfError: 5 })],
    ['negative max-age is stale (0), not ignored', 'max-age=-1', cc({ maxAge: 0 })],
    ['garbage max-age is stale (0)', 'max-age=abc', cc({ maxAge: 0 })],
    ['fractional max-age is stale (0)', 'max-age=1.5', cc({ maxAge: 0 })],
    ['max-age without value is stale (0)', 'max-age', cc({ maxAge: 0 })],
    ['max-age with empty value is stale (0)', 'max-age=', cc({ maxAge: 0 })],
    ['max-age with trailing junk is stale (0)', 'max-age=60x', cc({ maxAge: 0 })],
    [
      'huge max-age is capped at 2^31 (RFC 9111 §1.2.2)',
      'max-age=99999999999999',
      cc({ maxAge: 2147483648 }),
    ],
    ['garbage s-maxage is stale (0)', 's-maxage=x', cc({ sMaxage: 0 })],
    ['s-maxage', 's-maxage=300', cc({ sMaxage: 300 })],
    ['max-stale without value is Infinity', 'max-stale', cc({ maxStale: Infinity })],
    ['max-stale=N', 'max-stale=30', cc({ maxStale: 30 })],
    ['invalid max-stale is ignored (grants nothing)', 'max-stale=-5', NONE],
    ['min-fresh', 'min-fresh=20', cc({ minFresh: 20 })],
    ['invalid min-fresh is ignored', 'min-fresh=soon', NONE],
    [
      'stale-while-revalidate and stale-if-error',
      'stale-while-revalidate=30, stale-if-error=600',
      cc({ staleWhileRevalidate: 30, staleIfError: 600 }),
    ],
    ['invalid stale-while-revalidate is ignored', 'stale-while-revalidate=-1, stale-if-error', NONE],
    ['unqualified no-cache', 'no-cache', cc({ noCache: true })],
    [
      'qualified no-cache',
      'no-cache="Set-Cookie, X-Foo"',
      cc({ noCache: true, noCacheFields: ['set-cookie', 'x-foo'] }),
    ],
    [
      'qualified no-cache as token',
      'no-cache=set-cookie',
      cc({ noCache: true, noCacheFields: ['set-cookie'] }),
    ],
    [
      'qualified then unqualified no-cache is unqualified',
      'no-cache="set-cookie", no-cache',
      cc({ noCache: true, noCacheFields: [] }),
    ],
    [
      'qualified lists are merged',
      'private="a", private="b, a"',
      cc({ private: true, privateFields: ['a', 'b'] }),
    ],
    ['unqualified private', 'private', cc({ private: true })],
    [
      'boolean directives',
      'must-revalidate, proxy-revalidate, must-understand, immutable, only-if-cached, no-transform',
      cc({
        mustRevalidate: true,
        proxyRevalidate: true,
        mustUnderstand: true,
        immutable: true,
        onlyIfCached: true,
        noTransform: true,
      }),
    ],
    ['unknown extensions are ignored', 'foo, bar="baz, qux", max-age=5', cc({ maxAge: 5 })],
    [
      'a comma inside a quoted value does not split',
      'private="a,max-age=9"',
      cc({ private: true, privateFields: ['a', 'max-age=9'] }),
    ],
    ['empty members are skipped', ',,max-age=5,,', cc({ maxAge: 5 })],
    ['a member whose name is not a token is skipped', 'max age=5, "x"=1, public', cc({ public: true })],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => assert.deepEqual(parseCacheControl(input), expected));
  }
});
