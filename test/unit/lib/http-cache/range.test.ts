import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseContentRange,
  parseRange,
  rangeWithin,
  singleByteRange,
} from '../../../../src/lib/http-cache/conditional.ts';
import type { RangeDecision } from '../../../../src/lib/http-cache/conditional.ts';
import type { Headers } from '../../../../src/lib/http-cache/headers.ts';
import { httpDate } from './fixtures.ts';

const NONE: RangeDecision = { kind: 'none' };
const UNSAT: RangeDecision = { kind: 'unsatisfiable' };
const range = (start: number, end: number): RangeDecision => ({ kind: 'range', start, end });

describe('parseRange: byte ranges of a 1000-byte object (RFC 9110 §14)', () => {
  const rows: [string | string[] | undefined, RangeDecision][] = [
    [undefined, NONE],
    ['bytes=0-499', range(0, 499)],
    ['bytes=0-0', range(0, 0)],
    ['bytes=500-999', range(500, 999)],
    ['bytes=500-', range(500, 999)],
    ['bytes=999-', range(999, 999)],
    ['bytes=-200', range(800, 999)],
    ['bytes=-1', range(999, 999)],
    ['bytes=-1000', range(0, 999)],
    ['bytes=-5000 (suffix longer than the object: all of it)', range(0, 999)],
    ['bytes=500-5000 (last-pos past the end is clipped)', range(500, 999)],
    ['bytes=0-99999999999999999999', range(0, 999)],
    ['Bytes=0-1 (unit is case-insensitive)', range(0, 1)],
    ['bytes=0-1, (empty list member ignored)', range(0, 1)],
    [' bytes=0-1', range(0, 1)],
    ['bytes= 0-1', range(0, 1)],
    ['bytes=1000-', UNSAT],
    ['bytes=1000-2000', UNSAT],
    ['bytes=-0', UNSAT],
    ['bytes=5-4 (last < first: invalid, ignored)', NONE],
    ['bytes=0-1,5-6 (several ranges: whole body)', NONE],
    ['bytes=0-1, 0-1', NONE],
    ['bytes=-', NONE],
    ['bytes=', NONE],
    ['bytes=a-b', NONE],
    ['bytes=1.5-2', NONE],
    ['bytes=-1-2', NONE],
    ['bytes=0 - 1', NONE],
    ['items=0-1 (other unit)', NONE],
    ['bytes 0-1 (no "=")', NONE],
    ['0-1', NONE],
  ];
  for (const [value, expected] of rows) {
    const name = Array.isArray(value) ? value.join(' | ') : String(value);
    test(name, () => {
      const header = Array.isArray(value) ? value : value?.replace(/ \(.*\)$/, '');
      assert.deepEqual(parseRange(header === undefined ? {} : { range: header }, 1000, {}), expected);
    });
  }
  test('two Range lines make several ranges: whole body', () => {
    assert.deepEqual(parseRange({ range: ['bytes=0-1', 'bytes=2-3'] }, 1000, {}), NONE);
  });
});

describe('parseRange: empty and tiny objects', () => {
  const rows: [number, string, RangeDecision][] = [
    [0, 'bytes=0-', UNSAT],
    [0, 'bytes=0-0', UNSAT],
    [0, 'bytes=-1', UNSAT],
    [1, 'bytes=0-', range(0, 0)],
    [1, 'bytes=-5', range(0, 0)],
    [1, 'bytes=1-', UNSAT],
  ];
  for (const [size, header, expected] of rows) {
    test(`size ${size}, ${header}`, () =>
      assert.deepEqual(parseRange({ range: header }, size, {}), expected));
  }
});

describe('parseRange with If-Range (RFC 9110 §13.1.5)', () => {
  // Last-Modified one hour before Date: a strong validator (RFC 9110 §8.8.2.2).
  const strong: Headers = { etag: '"v1"', 'last-modified': httpDate(-3600), date: httpDate(0) };
  const rows: [string, string, Headers, RangeDecision][] = [
    ['matching strong ETag', '"v1"', strong, range(0, 9)],
    ['different ETag: whole body', '"v2"', strong, NONE],
    ['weak If-Range never matches', 'W/"v1"', strong, NONE],
    ['weak stored ETag never matches', '"v1"', { etag: 'W/"v1"' }, NONE],
    ['no stored ETag', '"v1"', { 'last-modified': httpDate(-3600), date: httpDate(0) }, NONE],
    ['date equal to a strong Last-Modified', httpDate(-3600), strong, range(0, 9)],
    ['date later than Last-Modified: no match (equality only)', httpDate(-3599), strong, NONE],
    ['date earlier than Last-Modified', httpDate(-3601), strong, NONE],
    [
      'Last-Modified less than 1 s before Date is weak',
      httpDate(0),
      { 'last-modified': httpDate(0), date: httpDate(0) },
      NONE,
    ],
    ['Last-Modified without Date is weak', httpDate(-3600), { 'last-modified': httpDate(-3600) }, NONE],
    ['no Last-Modified', httpDate(-3600), { date: httpDate(0) }, NONE],
    ['invalid If-Range', 'yesterday', strong, NONE],
  ];
  for (const [name, ifRange, s, expected] of rows) {
    test(name, () =>
      assert.deepEqual(parseRange({ range: 'bytes=0-9', 'if-range': ifRange }, 100, s), expected),
    );
  }
  test('If-Range mismatch turns an unsatisfiable range into the whole body', () => {
    assert.deepEqual(parseRange({ range: 'bytes=500-', 'if-range': '"v2"' }, 100, strong), NONE);
  });
  test('If-Range without Range: none', () => {
    assert.deepEqual(parseRange({ 'if-range': '"v1"' }, 100, strong), NONE);
  });
});

describe('parseContentRange (RFC 9110 §14.4)', () => {
  const rows: [string | undefined, ReturnType<typeof parseContentRange>][] = [
    ['bytes 0-99/1000', { start: 0, end: 99, size: 1000 }],
    ['bytes 999-999/1000', { start: 999, end: 999, size: 1000 }],
    ['BYTES 0-0/1', { start: 0, end: 0, size: 1 }],
    [' bytes 1-2/3 ', { start: 1, end: 2, size: 3 }],
    ['bytes 0-99/*', null],
    ['bytes */1000', null],
    ['bytes 99-0/1000', null],
    ['bytes 0-1000/1000', null],
    ['items 0-1/2', null],
    ['bytes 0-1/2, bytes 3-4/5', null],
    [undefined, null],
  ];
  for (const [input, expected] of rows) {
    test(String(input), () => assert.deepEqual(parseContentRange(input), expected));
  }
});

describe('singleByteRange: the Range a miss forwards', () => {
  const rows: [string | undefined, string | null][] = [
    ['bytes=0-99', 'bytes=0-99'],
    ['Bytes = 0-99', 'bytes=0-99'],
    ['bytes=0100-', 'bytes=100-'],
    ['bytes=-500', 'bytes=-500'],
    ['bytes=0-1,5-6', null],
    ['bytes=5-1', null],
    ['bytes=-0', null],
    ['bytes=-', null],
    ['bytes=a-b', null],
    ['items=0-1', null],
    ['bytes=0-99\r\nx: y', null],
    [undefined, null],
  ];
  for (const [input, expected] of rows) {
    test(String(input), () =>
      assert.equal(singleByteRange(input === undefined ? {} : { range: input }), expected),
    );
  }
});

describe('rangeWithin: may a stored part answer (RFC 9111 §3.3)', () => {
  const part = { start: 100, end: 199, size: 1000 };
  const rows: [string, { start: number; end: number } | null][] = [
    ['bytes=100-199', { start: 100, end: 199 }],
    ['bytes=120-130', { start: 120, end: 130 }],
    ['bytes=99-150', null],
    ['bytes=150-200', null],
    ['bytes=150-', null],
    ['bytes=-100', null],
    ['bytes=0-1,150-160', null],
  ];
  for (const [input, expected] of rows) {
    test(input, () => assert.deepEqual(rangeWithin({ range: input }, part, {}), expected));
  }
  test('If-Range that does not match: not answered from the part', () => {
    const stored = { etag: '"a"' };
    assert.equal(rangeWithin({ range: 'bytes=120-130', 'if-range': '"b"' }, part, stored), null);
    assert.deepEqual(rangeWithin({ range: 'bytes=120-130', 'if-range': '"a"' }, part, stored), {
      start: 120,
      end: 130,
    });
  });
});
