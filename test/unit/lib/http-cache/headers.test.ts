import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  firstHeaderValue,
  formatHttpDate,
  hasHeader,
  headerValue,
  parseDeltaSeconds,
  parseHttpDate,
  splitList,
  unquote,
} from '../../../../src/lib/http-cache/headers.ts';

const NOV_6_1994 = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('headerValue', () => {
  const h = { a: 'x', b: ['y', 'z'], c: undefined, d: [] };
  const rows: [string, string | undefined, string | undefined][] = [
    ['a', 'x', 'x'],
    ['b', 'y, z', 'y'],
    ['c', undefined, undefined],
    ['missing', undefined, undefined],
    ['d', '', undefined],
  ];
  for (const [name, joined, first] of rows) {
    test(`${name}: joined ${String(joined)}, first ${String(first)}`, () => {
      assert.equal(headerValue(h, name), joined);
      assert.equal(firstHeaderValue(h, name), first);
    });
  }
  test('hasHeader: an empty value is present, an empty array is not', () => {
    assert.equal(hasHeader({ a: '' }, 'a'), true);
    assert.equal(hasHeader({ a: [] }, 'a'), false);
    assert.equal(hasHeader({ a: undefined }, 'a'), false);
  });
});

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  const now = Date.UTC(2025, 0, 1);
  const rows: [string, string | undefined, number | null][] = [
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT', NOV_6_1994],
    ['IMF-fixdate with surrounding whitespace', '  Sun, 06 Nov 1994 08:49:37 GMT ', NOV_6_1994],
    ['rfc850-date', 'Sunday, 06-Nov-94 08:49:37 GMT', NOV_6_1994],
    ['asctime-date with space-padded day', 'Sun Nov  6 08:49:37 1994', NOV_6_1994],
    ['asctime-date with two-digit day', 'Sun Nov 16 08:49:37 1994', Date.UTC(1994, 10, 16, 8, 49, 37)],
    ['leap second 60', 'Wed, 31 Dec 2014 23:59:60 GMT', Date.UTC(2015, 0, 1)],
    ['year 2038+', 'Tue, 19 Jan 2038 03:14:08 GMT', Date.UTC(2038, 0, 19, 3, 14, 8)],
    ['undefined', undefined, null],
    ['empty', '', null],
    ['"0" (common invalid Expires)', '0', null],
    ['"-1"', '-1', null],
    // RFC 9111 §4.2: "a cache recipient SHOULD match the field value case-insensitively".
    ['lower-case gmt', 'Sun, 06 Nov 1994 08:49:37 gmt', NOV_6_1994],
    ['mixed-case Gmt', 'Sun, 06 Nov 1994 08:49:37 Gmt', NOV_6_1994],
    ['lower-case month', 'Sun, 06 nov 1994 08:49:37 GMT', NOV_6_1994],
    ['upper-case day and month', 'SUN, 06 NOV 1994 08:49:37 GMT', NOV_6_1994],
    ['rfc850-date in lower case', 'sunday, 06-nov-94 08:49:37 gmt', NOV_6_1994],
    ['asctime-date in upper case', 'SUN NOV  6 08:49:37 1994', NOV_6_1994],
    ['lower-case utc (not GMT)', 'Sun, 06 Nov 1994 08:49:37 utc', null],
    ['unknown day name', 'Sux, 06 Nov 1994 08:49:37 GMT', null],
    ['other time zone', 'Sun, 06 Nov 1994 08:49:37 UTC', null],
    ['numeric offset', 'Sun, 06 Nov 1994 08:49:37 +0000', null],
    ['one-digit day in IMF-fixdate', 'Sun, 6 Nov 1994 08:49:37 GMT', null],
    ['31 February', 'Mon, 31 Feb 2025 00:00:00 GMT', null],
    ['hour 24', 'Sun, 06 Nov 1994 24:00:00 GMT', null],
    ['minute 60', 'Sun, 06 Nov 1994 08:60:00 GMT', null],
    ['second 61', 'Sun, 06 Nov 1994 08:49:61 GMT', null],
    ['trailing garbage', 'Sun, 06 Nov 1994 08:49:37 GMT x', null],
    ['ISO 8601', '1994-11-06T08:49:37Z', null],
    ['epoch seconds', '784111777', null],
    [
      'two dates joined (repeated field)',
      'Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT',
      null,
    ],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => assert.equal(parseHttpDate(input, now), expected));
  }

  // RFC 9110 §5.6.7: a two-digit year "more than 50 years in the future" is in the past century.
  const years: [string, number][] = [
    ['Thursday, 01-Jan-75 00:00:00 GMT', 2075],
    ['Friday, 01-Jan-76 00:00:00 GMT', 1976],
    ['Wednesday, 01-Jan-25 00:00:00 GMT', 2025],
    ['Saturday, 01-Jan-00 00:00:00 GMT', 2000],
  ];
  for (const [input, year] of years) {
    test(`rfc850 two-digit year in 2025: ${input} → ${year}`, () => {
      assert.equal(new Date(parseHttpDate(input, now) ?? NaN).getUTCFullYear(), year);
    });
  }
  test('rfc850 two-digit year follows the clock passed in', () => {
    const in2090 = Date.UTC(2090, 0, 1);
    assert.equal(
      new Date(parseHttpDate('Sunday, 01-Jan-40 00:00:00 GMT', in2090) ?? NaN).getUTCFullYear(),
      2140,
    );
  });
});

describe('formatHttpDate', () => {
  test('writes IMF-fixdate', () => assert.equal(formatHttpDate(NOV_6_1994), 'Sun, 06 Nov 1994 08:49:37 GMT'));
  test('round-trips through parseHttpDate (whole seconds)', () => {
    const ms = Date.UTC(2025, 5, 30, 23, 59, 59);
    assert.equal(parseHttpDate(formatHttpDate(ms)), ms);
  });
});

describe('parseDeltaSeconds (RFC 9111 §1.2.2)', () => {
  const rows: [string, number | null][] = [
    ['0', 0],
    ['60', 60],
    ['007', 7],
    ['2147483648', 2147483648],
    ['99999999999999999999', 2147483648],
    ['', null],
    ['-1', null],
    ['+1', null],
    ['1.5', null],
    ['1e3', null],
    [' 1', null],
    ['abc', null],
  ];
  for (const [input, expected] of rows) {
    test(JSON.stringify(input), () => assert.equal(parseDeltaSeconds(input), expected));
  }
});

describe('splitList and unquote (RFC 9110 §5.6)', () => {
  const rows: [string, string[]][] = [
    ['a, b,c', ['a', 'b', 'c']],
    ['a,,b, ,', ['a', 'b']],
    ['no-cache="a, b", max-age=1', ['no-cache="a, b"', 'max-age=1']],
    ['x="a\\", b", y', ['x="a\\", b"', 'y']],
    ['', []],
  ];
  for (const [input, expected] of rows) {
    test(`split ${JSON.stringify(input)}`, () => assert.deepEqual(splitList(input), expected));
  }
  const quoted: [string, string][] = [
    ['"abc"', 'abc'],
    ['"a\\"b"', 'a"b'],
    ['"a\\\\b"', 'a\\b'],
    ['"unterminated', 'unterminated'],
    ['token', 'token'],
  ];
  for (const [input, expected] of quoted) {
    test(`unquote ${input}`, () => assert.equal(unquote(input), expected));
  }
});
