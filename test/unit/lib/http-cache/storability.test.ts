import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Headers } from '../../../../src/lib/http-cache/headers.ts';
import { DEFAULT_POLICY_OPTIONS, storability } from '../../../../src/lib/http-cache/policy.ts';
import type { NoCacheReason, PolicyOptions } from '../../../../src/lib/http-cache/policy.ts';
import { httpDate, options } from './fixtures.ts';

const OK = 'storable';
type Expect = NoCacheReason | typeof OK;
type Row = [name: string, method: string, status: number, req: Headers, res: Headers, expected: Expect];

const CACHEABLE: Headers = { 'cache-control': 'max-age=60' };

function table(title: string, rows: Row[], opts: PolicyOptions = DEFAULT_POLICY_OPTIONS): void {
  describe(title, () => {
    for (const [name, method, status, req, res, expected] of rows) {
      test(name, () => {
        const s = storability(method, status, req, res, opts);
        assert.equal(s.storable ? OK : s.reason, expected);
      });
    }
  });
}

table('method, request and status (RFC 9111 §3)', [
  ['GET 200 max-age', 'GET', 200, {}, CACHEABLE, OK],
  ['HEAD: no body to store', 'HEAD', 200, {}, CACHEABLE, 'method'],
  ['POST', 'POST', 200, {}, CACHEABLE, 'method'],
  ['method names are case-sensitive', 'get', 200, {}, CACHEABLE, 'method'],
  [
    'request no-store (RFC 9111 §5.2.1.5)',
    'GET',
    200,
    { 'cache-control': 'no-store' },
    CACHEABLE,
    'request-no-store',
  ],
  ['request no-cache does not prevent storing', 'GET', 200, { 'cache-control': 'no-cache' }, CACHEABLE, OK],
  ['a 200 to a Range request is the whole representation', 'GET', 200, { range: 'bytes=0-1' }, CACHEABLE, OK],
  [
    '206 with one byte range (RFC 9111 §3.3)',
    'GET',
    206,
    { range: 'bytes=0-1' },
    { ...CACHEABLE, 'content-range': 'bytes 0-1/10' },
    OK,
  ],
  ['206 without Content-Range (multipart/byteranges)', 'GET', 206, {}, CACHEABLE, 'partial'],
  [
    '206 with an unknown complete length',
    'GET',
    206,
    {},
    { ...CACHEABLE, 'content-range': 'bytes 0-1/*' },
    'partial',
  ],
  [
    '206 with an invalid Content-Range',
    'GET',
    206,
    {},
    { ...CACHEABLE, 'content-range': 'bytes 5-1/10' },
    'partial',
  ],
  [
    '206 past its complete length',
    'GET',
    206,
    {},
    { ...CACHEABLE, 'content-range': 'bytes 0-10/10' },
    'partial',
  ],
  ['304 is not stored itself', 'GET', 304, {}, CACHEABLE, 'status'],
  ['1xx is not final', 'GET', 103, {}, CACHEABLE, 'status'],
  ['nonsense status', 'GET', 999, {}, CACHEABLE, 'status'],
  ['302 with max-age', 'GET', 302, {}, CACHEABLE, OK],
  ['500 with max-age', 'GET', 500, {}, CACHEABLE, OK],
  ['302 without explicit freshness', 'GET', 302, {}, { etag: '"a"' }, 'status'],
  ['500 without explicit freshness', 'GET', 500, {}, { 'last-modified': httpDate(-9) }, 'status'],
  ['302 with Expires', 'GET', 302, {}, { date: httpDate(0), expires: httpDate(60) }, OK],
  [
    '302 with public: heuristically cacheable',
    'GET',
    302,
    {},
    { 'cache-control': 'public', etag: '"a"' },
    OK,
  ],
  ...[200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501].map((status): Row => [
    `${status} with only Last-Modified`,
    'GET',
    status,
    {},
    { 'last-modified': httpDate(-99) },
    OK,
  ]),
]);

table('response directives', [
  ['no-store', 'GET', 200, {}, { 'cache-control': 'max-age=60, no-store' }, 'no-store'],
  ['no-store with public', 'GET', 200, {}, { 'cache-control': 'public, no-store' }, 'no-store'],
  ['private', 'GET', 200, {}, { 'cache-control': 'private, max-age=60' }, 'private'],
  [
    'qualified private is treated as private',
    'GET',
    200,
    {},
    { 'cache-control': 'private="x-user", max-age=60' },
    'private',
  ],
  [
    'no-cache is storable (revalidated on use)',
    'GET',
    200,
    {},
    { 'cache-control': 'no-cache', etag: '"a"' },
    OK,
  ],
  [
    'CDN-Cache-Control: no-store beats Cache-Control: public',
    'GET',
    200,
    {},
    { 'cache-control': 'public, max-age=9', 'cdn-cache-control': 'no-store' },
    'no-store',
  ],
  [
    'CDN-Cache-Control: max-age beats Cache-Control: no-store',
    'GET',
    200,
    {},
    { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' },
    OK,
  ],
  [
    'CDN-Cache-Control: max-age beats Cache-Control: private',
    'GET',
    200,
    {},
    { 'cache-control': 'private', 'cdn-cache-control': 'max-age=600' },
    OK,
  ],
  [
    'Surrogate-Control beats Cache-Control: private',
    'GET',
    200,
    {},
    { 'cache-control': 'private', 'surrogate-control': 'max-age=600' },
    OK,
  ],
  [
    'Surrogate-Control: no-store beats Cache-Control',
    'GET',
    200,
    {},
    { 'cache-control': 'max-age=60', 'surrogate-control': 'no-store' },
    'no-store',
  ],
  [
    'invalid CDN-Cache-Control is ignored: Cache-Control no-store applies',
    'GET',
    200,
    {},
    { 'cache-control': 'no-store', 'cdn-cache-control': 'MAX-AGE=600' },
    'no-store',
  ],
]);

table('Vary (RFC 9111 §4.1)', [
  ['Vary: *', 'GET', 200, {}, { ...CACHEABLE, vary: '*' }, 'vary-star'],
  ['Vary with * among others', 'GET', 200, {}, { ...CACHEABLE, vary: 'accept-encoding, *' }, 'vary-star'],
  ['Vary: accept-encoding', 'GET', 200, {}, { ...CACHEABLE, vary: 'Accept-Encoding' }, OK],
]);

const AUTH: Headers = { authorization: 'Bearer x' };
table('Authorization (RFC 9111 §3.5)', [
  ['max-age alone is not enough', 'GET', 200, AUTH, CACHEABLE, 'authorization'],
  [
    'Expires alone is not enough',
    'GET',
    200,
    AUTH,
    { date: httpDate(0), expires: httpDate(60) },
    'authorization',
  ],
  ['public allows', 'GET', 200, AUTH, { 'cache-control': 'public, max-age=60' }, OK],
  ['s-maxage allows', 'GET', 200, AUTH, { 'cache-control': 's-maxage=60' }, OK],
  ['must-revalidate allows', 'GET', 200, AUTH, { 'cache-control': 'max-age=60, must-revalidate' }, OK],
  [
    'proxy-revalidate does not',
    'GET',
    200,
    AUTH,
    { 'cache-control': 'max-age=60, proxy-revalidate' },
    'authorization',
  ],
  ['empty Authorization still counts', 'GET', 200, { authorization: '' }, CACHEABLE, 'authorization'],
  [
    'targeted field: public there allows',
    'GET',
    200,
    AUTH,
    { 'cache-control': 'max-age=60', 'cdn-cache-control': 'public, max-age=60' },
    OK,
  ],
  [
    'targeted field governs: Cache-Control public does not count',
    'GET',
    200,
    AUTH,
    { 'cache-control': 'public', 'cdn-cache-control': 'max-age=60' },
    'authorization',
  ],
  [
    'private wins over Authorization permission',
    'GET',
    200,
    AUTH,
    { 'cache-control': 'private, public' },
    'private',
  ],
]);

const COOKIE = 'sid=1; Path=/';
table('Set-Cookie (Varnish-style protection)', [
  ['max-age alone: not stored', 'GET', 200, {}, { ...CACHEABLE, 'set-cookie': COOKIE }, 'set-cookie'],
  ['cookie lines as an array', 'GET', 200, {}, { ...CACHEABLE, 'set-cookie': [COOKIE, 'b=2'] }, 'set-cookie'],
  [
    'heuristic: not stored',
    'GET',
    200,
    {},
    { 'last-modified': httpDate(-99), 'set-cookie': COOKIE },
    'set-cookie',
  ],
  ['public: stored', 'GET', 200, {}, { 'cache-control': 'public, max-age=60', 'set-cookie': COOKIE }, OK],
  ['s-maxage: stored', 'GET', 200, {}, { 'cache-control': 's-maxage=60', 'set-cookie': COOKIE }, OK],
  [
    'CDN-Cache-Control max-age: stored',
    'GET',
    200,
    {},
    { 'cdn-cache-control': 'max-age=60', 'set-cookie': COOKIE },
    OK,
  ],
  [
    'Surrogate-Control max-age: stored',
    'GET',
    200,
    {},
    { 'surrogate-control': 'max-age=60', 'set-cookie': COOKIE },
    OK,
  ],
  [
    'CDN-Cache-Control without max-age: not stored',
    'GET',
    200,
    {},
    { 'cdn-cache-control': 'must-revalidate', 'set-cookie': COOKIE },
    'set-cookie',
  ],
  [
    'private wins',
    'GET',
    200,
    {},
    { 'cache-control': 'private, max-age=60', 'set-cookie': COOKIE },
    'private',
  ],
]);

table('no-freshness: stale on arrival, nothing to revalidate with, no stale window', [
  ['200 without any caching headers', 'GET', 200, {}, {}, 'no-freshness'],
  ['200 with only Date', 'GET', 200, {}, { date: httpDate(0) }, 'no-freshness'],
  ['max-age=0 without validator', 'GET', 200, {}, { 'cache-control': 'max-age=0' }, 'no-freshness'],
  [
    'Expires in the past without validator',
    'GET',
    200,
    {},
    { date: httpDate(0), expires: httpDate(-1) },
    'no-freshness',
  ],
  ['invalid Expires without validator', 'GET', 200, {}, { expires: '0' }, 'no-freshness'],
  [
    'Expires without Date: depends on the receive time, stored',
    'GET',
    200,
    {},
    { expires: httpDate(60) },
    OK,
  ],
  [
    'max-age=0 with ETag: stored for conditional revalidation',
    'GET',
    200,
    {},
    { 'cache-control': 'max-age=0', etag: '"a"' },
    OK,
  ],
  ['no headers but ETag', 'GET', 200, {}, { etag: '"a"' }, OK],
  [
    'no-cache with Last-Modified',
    'GET',
    200,
    {},
    { 'cache-control': 'no-cache', 'last-modified': httpDate(-9) },
    OK,
  ],
  ['max-age=0 with stale-if-error', 'GET', 200, {}, { 'cache-control': 'max-age=0, stale-if-error=60' }, OK],
  [
    'max-age=0 with stale-while-revalidate',
    'GET',
    200,
    {},
    { 'cache-control': 'max-age=0, stale-while-revalidate=5' },
    OK,
  ],
]);

table(
  'defaultTtlSec makes bare heuristically-cacheable responses storable',
  [
    ['200 without caching headers', 'GET', 200, {}, {}, OK],
    ['302 without caching headers: still not', 'GET', 302, {}, {}, 'status'],
    ['explicit max-age=0 still wins', 'GET', 200, {}, { 'cache-control': 'max-age=0' }, 'no-freshness'],
  ],
  options({ defaultTtlSec: 60 }),
);

table(
  'honorOriginCacheControl=false keeps the storage safety checks',
  [
    ['max-age=0 ignored: stored with the default', 'GET', 200, {}, { 'cache-control': 'max-age=0' }, OK],
    ['no-store still applies', 'GET', 200, {}, { 'cache-control': 'no-store' }, 'no-store'],
    ['private still applies', 'GET', 200, {}, { 'cache-control': 'private' }, 'private'],
    ['Authorization still applies', 'GET', 200, AUTH, CACHEABLE, 'authorization'],
    ['Set-Cookie still applies', 'GET', 200, {}, { 'set-cookie': COOKIE }, 'set-cookie'],
    ['Vary: * still applies', 'GET', 200, {}, { vary: '*' }, 'vary-star'],
    ['302 with max-age: max-age ignored, no heuristic → status', 'GET', 302, {}, CACHEABLE, 'status'],
  ],
  options({ defaultTtlSec: 60, honorOriginCacheControl: false }),
);

table('explicit freshness makes any final status storable (RFC 9111 §3)', [
  ['503 with max-age', 'GET', 503, {}, CACHEABLE, OK],
  ['502 with s-maxage', 'GET', 502, {}, { 'cache-control': 's-maxage=30' }, OK],
  ['504 with Expires', 'GET', 504, {}, { date: httpDate(0), expires: httpDate(60) }, OK],
  ['unknown 299 with max-age', 'GET', 299, {}, CACHEABLE, OK],
  ['unknown 599 with max-age', 'GET', 599, {}, CACHEABLE, OK],
  [
    'unknown 418 with Last-Modified only: no heuristic',
    'GET',
    418,
    {},
    { 'last-modified': httpDate(-9) },
    'status',
  ],
  [
    'unknown 599 with public: heuristically cacheable',
    'GET',
    599,
    {},
    { 'cache-control': 'public', etag: '"a"' },
    OK,
  ],
  [
    '503 with public and Last-Modified',
    'GET',
    503,
    {},
    { 'cache-control': 'public', 'last-modified': httpDate(-9) },
    OK,
  ],
  ['503 with Last-Modified only', 'GET', 503, {}, { 'last-modified': httpDate(-9) }, 'status'],
]);

table('must-understand (RFC 9111 §5.2.2.3)', [
  [
    'understood 200: no-store ignored',
    'GET',
    200,
    {},
    { 'cache-control': 'must-understand, no-store, max-age=60' },
    OK,
  ],
  [
    'understood 404: no-store ignored',
    'GET',
    404,
    {},
    { 'cache-control': 'must-understand, no-store, max-age=60' },
    OK,
  ],
  [
    'understood 503: no-store ignored',
    'GET',
    503,
    {},
    { 'cache-control': 'must-understand, no-store, max-age=60' },
    OK,
  ],
  [
    'unknown 299: not stored',
    'GET',
    299,
    {},
    { 'cache-control': 'must-understand, no-store, max-age=60' },
    'must-understand',
  ],
  [
    'unknown 599 without no-store: still not stored',
    'GET',
    599,
    {},
    { 'cache-control': 'must-understand, max-age=60' },
    'must-understand',
  ],
  [
    'private still applies',
    'GET',
    200,
    {},
    { 'cache-control': 'must-understand, private, max-age=60' },
    'private',
  ],
  [
    'no-store without must-understand',
    'GET',
    200,
    {},
    { 'cache-control': 'no-store, max-age=60' },
    'no-store',
  ],
  [
    'in CDN-Cache-Control',
    'GET',
    200,
    {},
    { 'cdn-cache-control': 'must-understand, no-store, max-age=60' },
    OK,
  ],
  [
    'request no-store still wins',
    'GET',
    200,
    { 'cache-control': 'no-store' },
    { 'cache-control': 'must-understand, no-store, max-age=60' },
    'request-no-store',
  ],
]);
