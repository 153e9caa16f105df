import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  evaluateConditional,
  mergeNotModified,
  validatorsFor,
} from '../../../../src/lib/http-cache/conditional.ts';
import type { Headers } from '../../../../src/lib/http-cache/headers.ts';
import { httpDate, at } from './fixtures.ts';

describe('evaluateConditional (RFC 9110 §13.2.2)', () => {
  const stored: Headers = { etag: '"v1"', 'last-modified': httpDate(-100), date: httpDate(0) };
  const rows: [string, Headers, Headers, 'not-modified' | 'none'][] = [
    ['no conditionals', {}, stored, 'none'],
    ['If-None-Match equal', { 'if-none-match': '"v1"' }, stored, 'not-modified'],
    ['If-None-Match different', { 'if-none-match': '"v2"' }, stored, 'none'],
    ['If-None-Match list containing it', { 'if-none-match': '"a", "v1" , "b"' }, stored, 'not-modified'],
    [
      'If-None-Match weak vs strong: weak comparison matches',
      { 'if-none-match': 'W/"v1"' },
      stored,
      'not-modified',
    ],
    ['If-None-Match strong vs weak stored', { 'if-none-match': '"v1"' }, { etag: 'W/"v1"' }, 'not-modified'],
    ['both weak', { 'if-none-match': 'W/"v1"' }, { etag: 'W/"v1"' }, 'not-modified'],
    ['opaque tags are case-sensitive', { 'if-none-match': '"V1"' }, stored, 'none'],
    ['comma inside a tag', { 'if-none-match': '"a,b"' }, { etag: '"a,b"' }, 'not-modified'],
    ['comma inside a tag is not a list separator', { 'if-none-match': '"a,b"' }, { etag: '"a"' }, 'none'],
    ['If-None-Match: * with a stored response', { 'if-none-match': '*' }, stored, 'not-modified'],
    ['If-None-Match: * even without ETag', { 'if-none-match': '*' }, {}, 'not-modified'],
    [
      'If-None-Match with no stored ETag',
      { 'if-none-match': '"v1"' },
      { 'last-modified': httpDate(-100) },
      'none',
    ],
    [
      'unquoted stored ETag (origin bug) still compares',
      { 'if-none-match': '"v1"' },
      { etag: 'v1' },
      'not-modified',
    ],
    ['If-None-Match lines as an array', { 'if-none-match': ['"x"', '"v1"'] }, stored, 'not-modified'],
    [
      'If-None-Match mismatch wins over a matching If-Modified-Since (IMS ignored)',
      { 'if-none-match': '"v2"', 'if-modified-since': httpDate(0) },
      stored,
      'none',
    ],
    [
      'If-None-Match match with an old If-Modified-Since',
      { 'if-none-match': '"v1"', 'if-modified-since': httpDate(-1000) },
      stored,
      'not-modified',
    ],
    ['IMS equal to Last-Modified', { 'if-modified-since': httpDate(-100) }, stored, 'not-modified'],
    ['IMS after Last-Modified', { 'if-modified-since': httpDate(-50) }, stored, 'not-modified'],
    ['IMS before Last-Modified', { 'if-modified-since': httpDate(-101) }, stored, 'none'],
    ['IMS invalid: ignored', { 'if-modified-since': 'yesterday' }, stored, 'none'],
    ['IMS with two dates: invalid', { 'if-modified-since': [httpDate(0), httpDate(1)] }, stored, 'none'],
    [
      'IMS in rfc850 form',
      { 'if-modified-since': 'Sunday, 06-Nov-94 08:49:37 GMT' },
      { 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' },
      'not-modified',
    ],
    [
      'IMS without Last-Modified: compared with Date',
      { 'if-modified-since': httpDate(0) },
      { date: httpDate(0) },
      'not-modified',
    ],
    [
      'IMS without Last-Modified: Date later',
      { 'if-modified-since': httpDate(-1) },
      { date: httpDate(0) },
      'none',
    ],
    ['IMS with neither Last-Modified nor Date', { 'if-modified-since': httpDate(0) }, {}, 'none'],
  ];
  for (const [name, req, s, expected] of rows) {
    test(name, () => assert.equal(evaluateConditional(req, s), expected));
  }
});

describe('validatorsFor (RFC 9111 §4.3.1)', () => {
  const rows: [string, Headers, Record<string, string>][] = [
    ['none', {}, {}],
    ['ETag → If-None-Match', { etag: '"v1"' }, { 'if-none-match': '"v1"' }],
    ['weak ETag is sent as is', { etag: 'W/"v1"' }, { 'if-none-match': 'W/"v1"' }],
    [
      'Last-Modified → If-Modified-Since',
      { 'last-modified': httpDate(-9) },
      { 'if-modified-since': httpDate(-9) },
    ],
    [
      'both',
      { etag: '"v1"', 'last-modified': httpDate(-9) },
      { 'if-none-match': '"v1"', 'if-modified-since': httpDate(-9) },
    ],
    ['Date is not a validator', { date: httpDate(0) }, {}],
  ];
  for (const [name, s, expected] of rows) {
    test(name, () => assert.deepEqual(validatorsFor(s), expected));
  }
});

describe('mergeNotModified (RFC 9111 §3.2, §4.3.4)', () => {
  const stored: Headers = {
    'content-type': 'text/html',
    'content-length': '1234',
    'content-encoding': 'br',
    etag: '"v1"',
    'cache-control': 'max-age=60',
    date: httpDate(0),
    'x-custom': 'old',
    'set-cookie': ['a=1', 'b=2'],
  };
  const rows: [string, Headers, Record<string, string | string[]>][] = [
    [
      'new Cache-Control, ETag, Date and Expires replace the stored ones',
      { 'cache-control': 'max-age=600', etag: '"v2"', date: httpDate(100), expires: httpDate(700) },
      { 'cache-control': 'max-age=600', etag: '"v2"', date: httpDate(100), expires: httpDate(700) },
    ],
    ['fields not in the 304 are kept', {}, {}],
    ['Content-Length is never updated', { 'content-length': '0' }, {}],
    ['Content-Encoding is never updated (the stored body depends on it)', { 'content-encoding': 'gzip' }, {}],
    ['Content-Range is not taken', { 'content-range': 'bytes 0-1/2' }, {}],
    [
      'hop-by-hop fields are not taken',
      {
        connection: 'close',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        te: 'trailers',
        'proxy-connection': 'x',
        trailer: 'x',
      },
      {},
    ],
    [
      'fields named by Connection are not taken',
      { connection: 'X-Hop, close', 'x-hop': '1', 'x-other': '2' },
      { 'x-other': '2' },
    ],
    [
      'proxy authentication fields are not taken',
      { 'proxy-authenticate': 'Basic', 'proxy-authentication-info': 'x' },
      {},
    ],
    ['HTTP/2 pseudo-headers are not taken', { ':status': '304' }, {}],
    [
      'Content-Type is updated (RFC text; only UAs parsing the body may skip it)',
      { 'content-type': 'text/plain' },
      { 'content-type': 'text/plain' },
    ],
    ['array values are kept as arrays', { 'set-cookie': ['c=3'] }, { 'set-cookie': ['c=3'] }],
    ['undefined values are ignored', { 'x-custom': undefined }, {}],
    ['names are lower-cased', { 'X-New': 'v' }, { 'x-new': 'v' }],
    ['Age comes from the 304', { age: '5' }, { age: '5' }],
  ];
  // Every 304 here carries a Date (RFC 9110 §15.4.5 requires one); it replaces the stored Date.
  const date = { date: httpDate(100) };
  for (const [name, notModified, changes] of rows) {
    test(name, () => {
      const expected: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries({ ...stored, ...date, ...changes }))
        if (v !== undefined) expected[k] = v;
      assert.deepEqual(mergeNotModified(stored, { ...date, ...notModified }), expected);
    });
  }
  test('a stored Age is dropped when the 304 has none', () => {
    assert.deepEqual(mergeNotModified({ age: '100', etag: '"a"' }, { date: httpDate(5) }), {
      etag: '"a"',
      date: httpDate(5),
    });
  });
  test('a 304 without Date: the stored Date is dropped (it would make the refresh look old)', () => {
    assert.deepEqual(mergeNotModified({ date: httpDate(-999), etag: '"a"' }, {}), { etag: '"a"' });
  });
  test('a 304 without Date: receivedAtMs becomes the Date (RFC 9110 §6.6.1)', () => {
    assert.deepEqual(mergeNotModified({ date: httpDate(-999) }, {}, at(7)), { date: httpDate(7) });
  });
  test('a 304 Date beats receivedAtMs', () => {
    assert.deepEqual(mergeNotModified({}, { date: httpDate(3) }, at(7)), { date: httpDate(3) });
  });
  test('the inputs are not modified', () => {
    const s = { etag: '"a"' };
    const n = { etag: '"b"' };
    mergeNotModified(s, n);
    assert.deepEqual([s, n], [{ etag: '"a"' }, { etag: '"b"' }]);
  });
});
