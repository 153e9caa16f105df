import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter, LineTooLongError } from '../../../../src/edge/sync/ndjson.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

test('lines split across and packed into chunks come out whole, in order', () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push(bytes('{"a":1}\n{"b"')), ['{"a":1}']);
  assert.deepEqual(splitter.push(bytes(':2}\n{"c":3}\n{"d":4}\n')), ['{"b":2}', '{"c":3}', '{"d":4}']);
  assert.deepEqual(splitter.push(bytes('')), []);
});

test('CRLF endings and blank lines are tolerated', () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push(bytes('{"a":1}\r\n\n  \n{"b":2}\r\n')), ['{"a":1}', '{"b":2}']);
});

test('a multi-byte character split between chunks is decoded once whole', () => {
  const encoded = bytes('{"city":"Zürich"}\n');
  const cut = encoded.indexOf(0xc3) + 1; // inside "ü"
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push(encoded.subarray(0, cut)), []);
  assert.deepEqual(splitter.push(encoded.subarray(cut)), ['{"city":"Zürich"}']);
});

test('an endless line fails instead of growing without bound', () => {
  const splitter = new LineSplitter(10);
  assert.deepEqual(splitter.push(bytes('0123456789')), []);
  assert.throws(() => splitter.push(bytes('x')), LineTooLongError);
});
