import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DirectiveValue } from '../../../../src/lib/http-cache/cache-control.ts';
import type { Headers, HeaderValue } from '../../../../src/lib/http-cache/headers.ts';
import { targetedCacheControl } from '../../../../src/lib/http-cache/policy.ts';
import { parseSurrogateControl, parseTargetedField } from '../../../../src/lib/http-cache/targeted-field.ts';

type Plain = Record<string, DirectiveValue[]> | null;
const plain = (d: ReadonlyMap<string, readonly DirectiveValue[]> | null): Plain =>
  d === null ? null : Object.fromEntries([...d].map(([k, v]) => [k, [...v]]));

describe('parseTargetedField: CDN-Cache-Control as an sf-dictionary (RFC 9213 §2.1, RFC 8941)', () => {
  const rows: [string, HeaderValue, Plain][] = [
    ['absent', undefined, null],
    ['empty: ignored', '', null],
    ['whitespace only: ignored', '   ', null],
    ['integer', 'max-age=600', { 'max-age': ['600'] }],
    ['boolean true', 'no-store', { 'no-store': [true] }],
    ['explicit ?1', 'no-store=?1', { 'no-store': [true] }],
    ['?0 means absent', 'no-store=?0, max-age=5', { 'max-age': ['5'] }],
    ['string value', 'no-cache="set-cookie"', { 'no-cache': ['set-cookie'] }],
    ['string with escapes', 'x="a\\"b"', { x: ['a"b'] }],
    ['token value of an extension', 'x=foo', { x: ['foo'] }],
    ['integer value of an extension', 'x=7', { x: ['7'] }],
    ['parameters are ignored', 'max-age=600;foo=1, public;bar', { 'max-age': ['600'], public: [true] }],
    [
      'inner list of an extension: present, value unused',
      'x=(a b), max-age=1',
      { x: [''], 'max-age': ['1'] },
    ],
    // RFC 9213 §2.1: values must fit the type the directive maps to; one that does not makes the
    // whole field ignored, so Cache-Control applies.
    ['string max-age: wrong type, field ignored', 'max-age="10"', null],
    ['string max-age beside valid members: whole field ignored', 'no-store, max-age="10"', null],
    ['decimal max-age: wrong type', 'max-age=1.5', null],
    ['negative max-age: invalid', 'max-age=-1', null],
    ['token s-maxage: wrong type', 's-maxage=ten', null],
    ['boolean max-age: wrong type', 'stale-if-error', null],
    ['integer no-store: wrong type', 'no-store=3', null],
    ['string public: wrong type', 'public="yes"', null],
    ['token private: wrong type (String or Boolean only)', 'private=foo', null],
    ['byte sequence no-cache: wrong type', 'no-cache=:AQI=:', null],
    [
      'must-understand is a Boolean',
      'must-understand, no-store',
      { 'must-understand': [true], 'no-store': [true] },
    ],
    ['duplicate keys: last wins (RFC 8941 §4.2.2)', 'max-age=1, max-age=2', { 'max-age': ['2'] }],
    [
      'field lines as an array',
      ['max-age=600', 'must-revalidate'],
      { 'max-age': ['600'], 'must-revalidate': [true] },
    ],
    ['unknown directive still makes the field valid ("none", RFC 9213 §3.1)', 'none', { none: [true] }],
    ['upper-case key: parse error, field ignored', 'Max-Age=600', null],
    ['trailing comma: parse error', 'max-age=600,', null],
    ['bad separator: parse error', 'max-age=600; ; x', null],
    ['missing comma: parse error', 'max-age=600 public', null],
    ['unterminated string: parse error', 'no-cache="set-cookie', null],
    ['16-digit integer: parse error', 'max-age=1234567890123456', null],
    ['decimal ending in ".": parse error', 'max-age=1.', null],
    ['value starting with an invalid character: parse error', 'max-age=#', null],
    ['non-ASCII: parse error', 'max-age=6\u00e9', null],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => assert.deepEqual(plain(parseTargetedField(input)), expected));
  }
});

describe('parseSurrogateControl (Edge Architecture 1.0)', () => {
  const rows: [string, HeaderValue, Plain][] = [
    ['absent', undefined, null],
    ['empty', '', null],
    ['max-age', 'max-age=60', { 'max-age': ['60'] }],
    ['max-age=N+M → stale-if-error=M', 'max-age=60+30', { 'max-age': ['60'], 'stale-if-error': ['30'] }],
    [
      'explicit stale-if-error beats the +M extension',
      'max-age=60+30, stale-if-error=5',
      { 'max-age': ['60'], 'stale-if-error': ['5'] },
    ],
    ['directives for a named device are skipped', 'max-age=60;edge1, no-store', { 'no-store': [true] }],
    ['only device-targeted directives: no directive', 'no-store;edge1', null],
    ['content= is a directive', 'content="ESI/1.0"', { content: ['ESI/1.0'] }],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => assert.deepEqual(plain(parseSurrogateControl(input)), expected));
  }
});

describe('targetedCacheControl: Meridian-CDN-Cache-Control > CDN-Cache-Control > Surrogate-Control > Cache-Control (RFC 9213 §2.2)', () => {
  const rows: [string, Headers, string, number | undefined][] = [
    ['only Cache-Control', { 'cache-control': 'max-age=60' }, 'cache-control', 60],
    [
      'CDN-Cache-Control beats Cache-Control',
      { 'cache-control': 'max-age=60', 'cdn-cache-control': 'max-age=600' },
      'cdn-cache-control',
      600,
    ],
    [
      'CDN-Cache-Control beats Surrogate-Control',
      { 'surrogate-control': 'max-age=300', 'cdn-cache-control': 'max-age=600' },
      'cdn-cache-control',
      600,
    ],
    [
      'Meridian-CDN-Cache-Control beats CDN-Cache-Control',
      { 'cdn-cache-control': 'max-age=600', 'meridian-cdn-cache-control': 'max-age=30' },
      'meridian-cdn-cache-control',
      30,
    ],
    [
      'an invalid Meridian-CDN-Cache-Control falls back to CDN-Cache-Control',
      { 'cdn-cache-control': 'max-age=600', 'meridian-cdn-cache-control': 'max-age=30.5' },
      'cdn-cache-control',
      600,
    ],
    [
      'Surrogate-Control beats Cache-Control',
      { 'cache-control': 'max-age=60', 'surrogate-control': 'max-age=300' },
      'surrogate-control',
      300,
    ],
    [
      'invalid CDN-Cache-Control falls back to Surrogate-Control',
      {
        'cdn-cache-control': 'Max-Age=600',
        'surrogate-control': 'max-age=300',
        'cache-control': 'max-age=60',
      },
      'surrogate-control',
      300,
    ],
    [
      'empty CDN-Cache-Control falls back to Cache-Control',
      { 'cdn-cache-control': '', 'cache-control': 'max-age=60' },
      'cache-control',
      60,
    ],
    [
      'a targeted field wins entirely: no max-age there means none, whatever Cache-Control says',
      { 'cdn-cache-control': 'public', 'cache-control': 'max-age=60' },
      'cdn-cache-control',
      undefined,
    ],
  ];
  for (const [name, res, source, maxAge] of rows) {
    test(name, () => {
      const g = targetedCacheControl(res);
      assert.equal(g.source, source);
      assert.equal(g.cc.maxAge, maxAge);
    });
  }
  test('CDN-Cache-Control: none lifts Cache-Control: no-store for this cache (RFC 9213 §3.1)', () => {
    const g = targetedCacheControl({ 'cache-control': 'no-store', 'cdn-cache-control': 'none' });
    assert.equal(g.cc.noStore, false);
  });
  test('Cache-Control: no-store does not leak into CDN-Cache-Control: max-age=600', () => {
    const g = targetedCacheControl({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' });
    assert.deepEqual([g.cc.noStore, g.cc.maxAge], [false, 600]);
  });
  test('a decimal max-age makes CDN-Cache-Control ignored: Cache-Control applies', () => {
    const g = targetedCacheControl({ 'cdn-cache-control': 'max-age=1.5', 'cache-control': 'max-age=9' });
    assert.deepEqual([g.source, g.cc.maxAge], ['cache-control', 9]);
  });
  test('max-age="10" in CDN-Cache-Control: ignored as a whole, Cache-Control: no-store applies', () => {
    const g = targetedCacheControl({ 'cdn-cache-control': 'max-age="10"', 'cache-control': 'no-store' });
    assert.deepEqual([g.source, g.cc.noStore, g.cc.maxAge], ['cache-control', true, undefined]);
  });
});
