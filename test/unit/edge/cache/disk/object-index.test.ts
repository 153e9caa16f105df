import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiskEntry, ObjectIndex } from '../../../../../src/edge/cache/disk/object-index.ts';
import { makeMeta } from '../../../../contract/fixtures/stored-objects.ts';

const entry = (key: string, bodySize: number, headBytes = 10): DiskEntry =>
  new DiskEntry(makeMeta(key, bodySize), 'h', '0000000000000000', headBytes);

test('bytes count bodies and heads, and follow set, replace and delete', () => {
  const index = new ObjectIndex();
  index.set(entry('a', 100));
  index.set(entry('b', 50));
  assert.equal(index.bytes, 170);
  const a2 = entry('a', 10);
  assert.equal(index.set(a2)?.meta.bodySize, 100, 'set returns the entry it replaced');
  assert.equal(index.bytes, 80);
  assert.equal(index.delete('b')?.meta.key, 'b');
  assert.equal(index.delete('b'), undefined);
  assert.deepEqual([index.size, index.bytes], [1, 20]);
});

test('an entry whose head changed is re-counted when set again', () => {
  const index = new ObjectIndex();
  const a = entry('a', 100, 10);
  index.set(a);
  a.headBytes = 30;
  assert.equal(index.set(a), undefined, 'setting the same entry replaces nothing');
  assert.equal(index.bytes, 130);
});

test('eviction takes least recently used first; get touches, peek does not', () => {
  const index = new ObjectIndex();
  for (const key of ['a', 'b', 'c', 'd']) index.set(entry(key, 90));
  index.get('a');
  index.peek('b');
  const evicted = index.evictOver(250);
  assert.deepEqual(
    evicted.map((e) => e.meta.key),
    ['b', 'c'],
  );
  assert.deepEqual(
    [...index.values()].map((e) => e.meta.key),
    ['d', 'a'],
  );
  assert.equal(index.bytes, 200);
  assert.deepEqual(index.evictOver(1_000), []);
});

test('values() is a snapshot: touching while iterating visits each entry once', () => {
  const index = new ObjectIndex();
  for (const key of ['a', 'b', 'c']) index.set(entry(key, 1));
  const seen: string[] = [];
  for (const e of index.values()) {
    seen.push(e.meta.key);
    index.get(e.meta.key);
  }
  assert.deepEqual(seen, ['a', 'b', 'c']);
});
