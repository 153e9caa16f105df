import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Headers, HeaderValue } from '../../../../src/lib/http-cache/headers.ts';
import {
  normalizeAcceptEncoding,
  normalizeAcceptLanguage,
  parseVary,
  varySelector,
} from '../../../../src/lib/http-cache/vary.ts';

describe('parseVary (RFC 9110 §12.5.5)', () => {
  const rows: [string, HeaderValue, string[] | '*'][] = [
    ['absent', undefined, []],
    ['empty', '', []],
    ['one name, lower-cased', 'Accept-Encoding', ['accept-encoding']],
    [
      'sorted, trimmed, deduplicated',
      ' User-Agent ,accept-encoding, ACCEPT-ENCODING',
      ['accept-encoding', 'user-agent'],
    ],
    ['empty members dropped', 'a,, ,b', ['a', 'b']],
    ['lines as an array', ['Origin', 'Accept-Language'], ['accept-language', 'origin']],
    ['*', '*', '*'],
    ['* among names', 'accept-encoding, *', '*'],
    ['* in a later line', ['accept', '*'], '*'],
  ];
  for (const [name, vary, expected] of rows) {
    test(name, () => assert.deepEqual(parseVary(vary === undefined ? {} : { vary }), expected));
  }
});

describe('normalizeAcceptEncoding: br > zstd > gzip > identity', () => {
  const rows: [HeaderValue, string][] = [
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['x-gzip', 'gzip'],
    ['deflate', 'identity'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip, zstd', 'zstd'],
    ['br;q=0.1, gzip;q=1', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['br; q=0.000, gzip', 'gzip'],
    ['br;Q=0, gzip', 'gzip'],
    ['br;q=0.001', 'br'],
    ['gzip;q=0', 'identity'],
    ['*', 'br'],
    ['*;q=0', 'identity'],
    ['*;q=0, gzip', 'gzip'],
    ['br;q=0, *', 'zstd'],
    ['br;q=0, zstd;q=0, *', 'gzip'],
    ['br;q=2', 'identity'],
    ['br;q=0.5.1, gzip', 'gzip'],
    ['br;q=1.000, gzip', 'br'],
    ['br;q=1.001', 'identity'],
    ['br, br;q=0', 'br'],
    [['gzip', 'br'], 'br'],
    [' , gzip ,', 'gzip'],
  ];
  for (const [input, expected] of rows) {
    test(`${JSON.stringify(input)} → ${expected}`, () =>
      assert.equal(normalizeAcceptEncoding(input), expected));
  }
});

describe('varySelector', () => {
  const rows: [string, string[], Headers, string][] = [
    ['no names', [], { 'accept-encoding': 'br' }, ''],
    [
      'accept-encoding is normalised',
      ['accept-encoding'],
      { 'accept-encoding': 'gzip, deflate, br' },
      'accept-encoding:br',
    ],
    ['absent accept-encoding is identity', ['accept-encoding'], {}, 'accept-encoding:identity'],
    ['other fields keep case', ['x-lang'], { 'x-lang': 'en-GB' }, 'x-lang:en-GB'],
    [
      'whitespace around commas removed',
      ['x-lang'],
      { 'x-lang': ' en-GB ,  fr;q=0.5 ' },
      'x-lang:en-GB,fr;q=0.5',
    ],
    ['lines combined', ['x-lang'], { 'x-lang': ['en', 'fr'] }, 'x-lang:en,fr'],
    [
      'accept-language is normalised',
      ['accept-language'],
      { 'accept-language': ' en-GB ,  fr;q=0.50 ' },
      'accept-language:en-gb,fr;q=0.5',
    ],
    [
      'accept-language lines combined',
      ['accept-language'],
      { 'accept-language': ['en', 'fr'] },
      'accept-language:en,fr',
    ],
    ['absent accept-language: name only', ['accept-language'], {}, 'accept-language'],
    ['absent field: name only', ['origin'], {}, 'origin'],
    ['empty field differs from absent', ['origin'], { origin: '' }, 'origin:'],
    ['names are lower-cased for lookup', ['Origin'], { origin: 'https://a' }, 'origin:https://a'],
    [
      'several names, in the given order, one per line',
      ['accept-encoding', 'origin'],
      { origin: 'https://a', 'accept-encoding': 'gzip' },
      'accept-encoding:gzip\norigin:https://a',
    ],
  ];
  for (const [name, names, req, expected] of rows) {
    test(name, () => assert.equal(varySelector(names, req), expected));
  }

  const same: [string, Headers, Headers][] = [
    [
      'equivalent encodings share a variant',
      { 'accept-encoding': 'gzip, br' },
      { 'accept-encoding': 'br;q=0.9, deflate' },
    ],
    [
      'whitespace differences share a variant',
      { 'accept-language': 'en,fr' },
      { 'accept-language': 'en , fr' },
    ],
  ];
  for (const [name, a, b] of same) {
    test(name, () => {
      const names = ['accept-encoding', 'accept-language'];
      assert.equal(varySelector(names, a), varySelector(names, b));
    });
  }
  const different: [string, string[], Headers, Headers][] = [
    ['absent vs empty', ['origin'], {}, { origin: '' }],
    ['value case matters', ['x-lang'], { 'x-lang': 'en' }, { 'x-lang': 'EN' }],
    [
      'accept-language: different preferences',
      ['accept-language'],
      { 'accept-language': 'en, fr;q=0.5' },
      { 'accept-language': 'fr, en;q=0.5' },
    ],
    ['accept-language: absent vs only q=0', ['accept-language'], {}, { 'accept-language': 'en;q=0' }],
    ['a value cannot forge a second entry', ['a', 'b'], { a: 'x', b: 'y' }, { a: 'x\nb:y' }],
    ['a value cannot forge a name', ['a', 'b'], { a: 'b:1' }, { b: '1' }],
  ];
  for (const [name, names, a, b] of different) {
    test(`distinct: ${name}`, () => assert.notEqual(varySelector(names, a), varySelector(names, b)));
  }
});

describe('normalizeAcceptLanguage (RFC 9110 §12.5.4)', () => {
  const rows: [string, HeaderValue, string | null][] = [
    ['one tag, lower-cased (RFC 4647 §2)', 'en-US', 'en-us'],
    ['q=1 and no q are the same', 'en;q=1.000, fr;q=0.5', 'en,fr;q=0.5'],
    ['q-values written without trailing zeros', 'fr;q=0.500', 'fr;q=0.5'],
    ['sorted by weight', 'fr;q=0.5, de;q=0.8, en', 'en,de;q=0.8,fr;q=0.5'],
    ['equal weights keep the client order', 'fr, en', 'fr,en'],
    ['q=0 kept, last', 'de;q=0, en', 'en,de;q=0'],
    ['upper-case Q', 'en;Q=0.5', 'en;q=0.5'],
    ['wildcard', '*;q=0.1, en', 'en,*;q=0.1'],
    ['whitespace everywhere', '  en-GB ;  q=0.9 ,fr ', 'fr,en-gb;q=0.9'],
    ['array of lines', ['en', 'fr;q=0.3'], 'en,fr;q=0.3'],
    ['empty', '', ''],
    // Not valid: keyed as received, so that distinct invalid values never share a variant.
    ['invalid q-value', 'en, fr;q=2', null],
    ['not a language range', 'en_US', null],
    ['a range listed twice', 'en;q=0.2, fr, en', null],
    ['another parameter', 'en;x=1', null],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => assert.equal(normalizeAcceptLanguage(input), expected));
  }
  test('a browser header and its reordered, re-cased form give one selector', () => {
    const a = varySelector(['accept-language'], { 'accept-language': 'en-US,en;q=0.9,fr;q=0.8' });
    const b = varySelector(['accept-language'], { 'accept-language': 'FR;q=0.8, en;q=0.90, EN-us' });
    assert.equal(a, b);
  });
  test('two invalid values stay two selectors', () => {
    const a = varySelector(['accept-language'], { 'accept-language': 'en_US' });
    const b = varySelector(['accept-language'], { 'accept-language': 'de_DE' });
    assert.notEqual(a, b);
    assert.equal(a, 'accept-language:en_US');
  });
});
