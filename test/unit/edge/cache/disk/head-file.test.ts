import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeHead, encodeHead, HEAD_PREFIX_BYTES } from '../../../../../src/edge/cache/disk/head-file.ts';
import { makeMeta } from '../../../../contract/fixtures/stored-objects.ts';

const record = { bodyId: '0123456789abcdef', meta: makeMeta('https://a.test/x', 42, { etag: '"é"' }) };

test('a head decodes to the record it was encoded from', () => {
  const decoded = decodeHead(encodeHead(record));
  assert.deepEqual(decoded, { kind: 'valid', record });
});

test('every damaged head is invalid, never a different record', () => {
  const good = encodeHead(record);
  const damaged: Record<string, Buffer> = {
    empty: Buffer.alloc(0),
    'prefix only': good.subarray(0, HEAD_PREFIX_BYTES),
    'truncated JSON': good.subarray(0, good.length - 1),
    'extra byte': Buffer.concat([good, Buffer.from([0])]),
    'bad magic': Buffer.from(good).fill(0, 0, 1),
    'unknown version': withByte(good, 4, 9),
    'flipped JSON bit': withByte(good, HEAD_PREFIX_BYTES + 10, (good[HEAD_PREFIX_BYTES + 10] ?? 0) ^ 1),
    'flipped checksum': withByte(good, 12, (good[12] ?? 0) ^ 0x80),
  };
  for (const [name, file] of Object.entries(damaged)) {
    assert.equal(decodeHead(file).kind, 'invalid', name);
  }
});

test('a head whose JSON checks out but lacks a field is invalid', () => {
  const { bodySize: _bodySize, ...noSize } = record.meta;
  for (const shape of [
    { bodyId: 'not-hex', meta: record.meta },
    { bodyId: record.bodyId, meta: noSize },
    { bodyId: record.bodyId, meta: { ...record.meta, bodySize: -1 } },
    { bodyId: record.bodyId, meta: { ...record.meta, tags: [1] } },
  ]) {
    assert.equal(decodeHead(encodeHead(shape as never)).kind, 'invalid', JSON.stringify(shape).slice(0, 60));
  }
});

function withByte(buffer: Buffer, index: number, value: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] = value;
  return copy;
}
