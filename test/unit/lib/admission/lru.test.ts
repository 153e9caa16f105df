import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lru } from '../../../../src/lib/admission/lru.ts';
import { byteCacheTests } from './byte-cache-contract.ts';

byteCacheTests('Lru', (maxBytes, onEvict) => new Lru({ maxBytes, ...(onEvict ? { onEvict } : {}) }));

describe('Lru', () => {
  it('evicts the least recently used first; get refreshes recency, peek does not', () => {
    const evicted: string[] = [];
    const cache = new Lru<string>({ maxBytes: 30, onEvict: (key) => evicted.push(key) });
    cache.set('a', 'A', 10);
    cache.set('b', 'B', 10);
    cache.set('c', 'C', 10);
    cache.get('a');
    cache.peek('b');
    cache.set('d', 'D', 10);
    assert.deepEqual(evicted, ['b']);
    cache.set('e', 'E', 20);
    assert.deepEqual(evicted, ['b', 'c', 'a']);
    assert.deepEqual([...cache.keys()].sort(), ['d', 'e']);
  });

  it('admits every value that fits: a scan of one-time keys flushes the frequently used ones', () => {
    const cache = new Lru<string>({ maxBytes: 1000 });
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) if (cache.get(`hot${i}`) === undefined) cache.set(`hot${i}`, 'H', 10);
    }
    for (let i = 0; i < 2000; i++) if (cache.get(`scan${i}`) === undefined) cache.set(`scan${i}`, 'S', 10);
    const hotLeft = [...Array(50).keys()].filter((i) => cache.has(`hot${i}`)).length;
    assert.equal(hotLeft, 0);
  });
});
