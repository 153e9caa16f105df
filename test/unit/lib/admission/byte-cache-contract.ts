// One suite for every ByteCache (lru.ts, tinylfu.ts): the behaviour both promise, whatever their policy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ByteCache, EvictListener } from '../../../../src/lib/admission/byte-cache.ts';
import { seededRandom } from '../../../helpers/random.ts';

export type ByteCacheFactory = (maxBytes: number, onEvict?: EvictListener<string>) => ByteCache<string>;

export function byteCacheTests(name: string, create: ByteCacheFactory): void {
  describe(`${name}: ByteCache contract`, () => {
    it('returns what was set and counts its bytes', () => {
      const cache = create(1000);
      assert.equal(cache.set('a', 'A', 10), true);
      assert.equal(cache.get('a'), 'A');
      assert.equal(cache.peek('a'), 'A');
      assert.equal(cache.has('a'), true);
      assert.equal(cache.get('b'), undefined);
      assert.equal(cache.has('b'), false);
      assert.deepEqual([cache.count, cache.bytes, cache.maxBytes], [1, 10, 1000]);
      assert.deepEqual([...cache.keys()], ['a']);
    });

    it('replacing a key updates its value and size, not the count', () => {
      const cache = create(1000);
      cache.set('a', 'A1', 10);
      cache.set('b', 'B', 5);
      assert.equal(cache.set('a', 'A2', 40), true);
      assert.equal(cache.get('a'), 'A2');
      assert.deepEqual([cache.count, cache.bytes], [2, 45]);
      cache.set('a', 'A3', 1);
      assert.deepEqual([cache.count, cache.bytes], [2, 6]);
    });

    it('delete removes a key and its bytes without calling onEvict', () => {
      const evicted: string[] = [];
      const cache = create(1000, (key) => evicted.push(key));
      cache.set('a', 'A', 10);
      cache.set('b', 'B', 20);
      assert.equal(cache.delete('a'), true);
      assert.equal(cache.delete('a'), false);
      assert.equal(cache.has('a'), false);
      assert.deepEqual([cache.count, cache.bytes], [1, 20]);
      assert.deepEqual(evicted, []);
    });

    it('rejects a value larger than maxBytes and drops the one it would have replaced', () => {
      const cache = create(100);
      assert.equal(cache.set('big', 'X', 101), false);
      assert.equal(cache.has('big'), false);
      cache.set('a', 'A', 10);
      assert.equal(cache.set('a', 'A2', 101), false);
      assert.equal(cache.has('a'), false);
      assert.deepEqual([cache.count, cache.bytes], [0, 0]);
      assert.equal(cache.set('exact', 'E', 100), true);
      assert.equal(cache.bytes, 100);
    });

    it('rejects sizes that are not non-negative integers, naming the field', () => {
      const cache = create(100);
      assert.throws(() => cache.set('a', 'A', -1), /sizeBytes must be a non-negative integer, got -1/);
      assert.throws(() => cache.set('a', 'A', Number.NaN), /sizeBytes .* got NaN/);
      assert.throws(() => create(0), /maxBytes must be a positive integer, got 0/);
    });

    it('never holds more than maxBytes, and accounts exactly, under a random workload', () => {
      const evicted = new Set<string>();
      const cache = create(5000, (key) => evicted.add(key));
      const sizes = new Map<string, number>();
      const random = seededRandom(42);
      for (let op = 0; op < 20_000; op++) {
        const key = `k${Math.floor(random() ** 2 * 400)}`;
        const roll = random();
        if (roll < 0.5) {
          if (cache.get(key) === undefined) {
            const size = Math.floor(random() * 600);
            if (cache.set(key, key, size)) sizes.set(key, size);
          }
        } else if (roll < 0.9) {
          const size = Math.floor(random() * 600);
          if (cache.set(key, key, size)) sizes.set(key, size);
        } else {
          cache.delete(key);
        }
        assert.ok(cache.bytes <= cache.maxBytes, `bytes ${cache.bytes} > ${cache.maxBytes} after op ${op}`);
      }
      let total = 0;
      for (const key of cache.keys()) {
        assert.equal(cache.peek(key), key);
        total += sizes.get(key) ?? Number.NaN;
      }
      assert.equal(cache.bytes, total);
      assert.equal(cache.count, [...cache.keys()].length);
      assert.ok(evicted.size > 0, 'the workload evicts');
    });

    it('accounts for every key offered: held, evicted (onEvict) or refused (set returned false)', () => {
      const evicted: string[] = [];
      const cache = create(100, (key, value) => {
        assert.equal(value, key.toUpperCase());
        evicted.push(key);
      });
      let refused = 0;
      for (let i = 0; i < 50; i++) if (!cache.set(`k${i}`, `K${i}`, 10)) refused++;
      for (const key of evicted) assert.equal(cache.has(key), false);
      assert.equal(cache.count, 10);
      assert.equal(cache.count + evicted.length + refused, 50);
    });
  });
}
