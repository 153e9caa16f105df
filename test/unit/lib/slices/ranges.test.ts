// Issue 18: the client's Range as the slice step reads it, and the Content-Range a slice comes with.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  expectedSliceOf,
  firstByteOf,
  parseContentRange,
  parseRangeRequest,
  parseUnsatisfiedRange,
  rangeHeaderOf,
} from '../../../../src/lib/slices/ranges.ts';

describe('parseRangeRequest', () => {
  const cases: [string | undefined, ReturnType<typeof parseRangeRequest>][] = [
    [undefined, { kind: 'none' }],
    ['bytes=0-0', { kind: 'range', first: 0, last: 0 }],
    ['bytes=10-', { kind: 'range', first: 10, last: null }],
    ['bytes=-5', { kind: 'suffix', suffix: 5 }],
    ['BYTES = 1-2', { kind: 'range', first: 1, last: 2 }],
    ['bytes=100-200, 150-300,10-20', { kind: 'range', first: 10, last: 300 }],
    ['bytes=0-1,-5', { kind: 'range', first: 0, last: null }],
    ['bytes=-5,-9', { kind: 'suffix', suffix: 9 }],
    ['bytes=5-1', { kind: 'none' }],
    ['bytes=abc', { kind: 'none' }],
    ['bytes=-', { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    ['bytes=99999999999999999999-', { kind: 'none' }],
    [`bytes=${Array.from({ length: 17 }, () => '0-1').join(',')}`, { kind: 'too-many' }],
  ];
  for (const [header, want] of cases) {
    test(String(header), () => assert.deepEqual(parseRangeRequest(header), want));
  }
});

test('rangeHeaderOf and firstByteOf', () => {
  assert.equal(rangeHeaderOf({ kind: 'too-many' }, 100), 'bytes=100-');
  assert.equal(rangeHeaderOf({ kind: 'range', first: 1, last: null }, 100), 'bytes=1-');
  assert.equal(rangeHeaderOf({ kind: 'none' }, 100), undefined);
  assert.equal(firstByteOf({ kind: 'suffix', suffix: 10 }, 100), 90);
  assert.equal(firstByteOf({ kind: 'suffix', suffix: 10 }, null), 0);
  assert.equal(firstByteOf({ kind: 'range', first: 500, last: null }, 100), 0, 'past the end: slice 0');
  assert.equal(firstByteOf({ kind: 'range', first: 50, last: null }, 100), 50);
});

test('parseContentRange accepts only a placed, satisfied byte range', () => {
  assert.deepEqual(parseContentRange('bytes 0-9/100'), { start: 0, endInclusive: 9, size: 100 });
  for (const bad of ['bytes 0-9/*', 'bytes 9-0/100', 'bytes 0-100/100', 'bytes */100', 'items 0-1/2', '']) {
    assert.equal(parseContentRange(bad), null, bad);
  }
  assert.equal(parseUnsatisfiedRange('bytes */100'), 100);
  assert.equal(parseUnsatisfiedRange('bytes 0-1/100'), null);
  assert.deepEqual(expectedSliceOf(1, 64, 100), { start: 64, endInclusive: 99 });
  assert.equal(expectedSliceOf(2, 64, 100), null);
});
