import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WTinyLfu } from '../../../../src/lib/admission/tinylfu.ts';
import { Lru } from '../../../../src/lib/admission/lru.ts';
import type { ByteCache } from '../../../../src/lib/admission/byte-cache.ts';
import { seededRandom } from '../../../helpers/random.ts';
import { byteCacheTests } from './byte-cache-contract.ts';

byteCacheTests(
  'WTinyLfu',
  (maxBytes, onEvict) => new WTinyLfu({ maxBytes, seed: 1, ...(onEvict ? { onEvict } : {}) }),
);

/** What a CDN does on each request: look up, and on a miss store what the origin sent. */
function request(cache: ByteCache<string>, key: string, sizeBytes: number): boolean {
  if (cache.get(key) !== undefined) return true;
  cache.set(key, key, sizeBytes);
  return false;
}

function countHeld(cache: ByteCache<string>, keys: string[]): number {
  return keys.filter((key) => cache.has(key)).length;
}

describe('WTinyLfu', () => {
  it('records misses in the sketch, so a key asked for often is known before it is stored', () => {
    const cache = new WTinyLfu<string>({ maxBytes: 1000, seed: 1 });
    for (let i = 0; i < 3; i++) assert.equal(cache.get('often'), undefined);
    assert.equal(cache.frequency('often'), 3);
    cache.peek('often');
    cache.has('often');
    cache.set('often', 'x', 10);
    assert.equal(cache.frequency('often'), 3, 'peek, has and set record nothing');
    cache.get('often');
    assert.equal(cache.frequency('often'), 4);
  });

  it('a scan of one-hit wonders does not flush the frequently used keys (LRU is flushed)', () => {
    const hot = Array.from({ length: 50 }, (_, i) => `/hot/${i}`);
    const tinyLfu = new WTinyLfu<string>({ maxBytes: 1000, seed: 1 });
    const lru = new Lru<string>({ maxBytes: 1000 });
    for (const cache of [tinyLfu, lru]) {
      for (let round = 0; round < 20; round++) for (const key of hot) request(cache, key, 10);
      for (let i = 0; i < 1000; i++) request(cache, `/scan/${i}`, 10);
      assert.ok(cache.bytes <= 1000);
    }
    // The sketch of a 100-entry cache is 1 KiB, so a one-time key now and then collides with hot keys
    // in all four rows and looks hot itself: allow a couple of such false admissions.
    const held = countHeld(tinyLfu, hot);
    assert.ok(held >= 48, `${held} of 50 hot keys held`);
    assert.equal(countHeld(lru, hot), 0);
    let hits = 0;
    for (const key of hot) if (request(tinyLfu, key, 10)) hits++;
    assert.equal(hits, held);
  });

  it('a scan mixed into the hot traffic still leaves the hot keys hitting', () => {
    const random = seededRandom(3);
    const cache = new WTinyLfu<string>({ maxBytes: 20_000, seed: 2 });
    let hotHits = 0;
    let hotRequests = 0;
    for (let i = 0; i < 40_000; i++) {
      if (random() < 0.5) {
        request(cache, `/scan/${i}`, 100);
      } else {
        hotRequests++;
        if (request(cache, `/hot/${Math.floor(random() * 150)}`, 100)) hotHits++;
      }
    }
    assert.ok(hotHits / hotRequests > 0.9, `hot hit ratio ${hotHits / hotRequests}`);
  });

  it('admits a candidate more frequent than its victim and rejects a colder one', () => {
    const evicted: string[] = [];
    // window: 1% of 1000 = 10 bytes, one entry of 10 bytes.
    const cache = new WTinyLfu<string>({ maxBytes: 1000, seed: 1, onEvict: (key) => evicted.push(key) });
    for (let i = 0; i < 99; i++) {
      const key = `/resident/${i}`;
      cache.get(key);
      cache.set(key, key, 10);
      cache.get(key);
    }
    assert.deepEqual([cache.count, cache.bytes, evicted.length], [99, 990, 0]);
    // Cold: seen once; it waits in the window, then loses to a resident seen twice when pushed out.
    cache.get('/cold');
    cache.set('/cold', 'c', 10);
    cache.get('/other');
    cache.set('/other', 'o', 10);
    assert.equal(cache.has('/cold'), false);
    assert.deepEqual(evicted, ['/cold']);
    // Warm: asked for three times while missing; it displaces the probation LRU resident.
    for (let i = 0; i < 3; i++) cache.get('/warm');
    cache.set('/warm', 'w', 10);
    cache.get('/next');
    cache.set('/next', 'n', 10);
    assert.equal(cache.has('/warm'), true);
    assert.deepEqual(evicted, ['/cold', '/other', '/resident/0']);
    assert.ok(cache.bytes <= 1000);
  });

  it('a large candidate must beat every victim it displaces: all or nothing', () => {
    const evicted: string[] = [];
    const cache = new WTinyLfu<string>({
      maxBytes: 100,
      windowRatio: 0,
      seed: 1,
      onEvict: (key) => evicted.push(key),
    });
    // Probation in LRU order: a (freq 1), b (freq 4), c, d (freq 1).
    const residents: [string, number][] = [
      ['a', 1],
      ['b', 4],
      ['c', 1],
      ['d', 1],
    ];
    for (const [key, frequency] of residents) {
      for (let i = 0; i < frequency; i++) cache.get(key);
      assert.equal(cache.set(key, key, 25), true);
    }
    // Needs 50 bytes: victims a and b. Frequency 3 beats a (1) but not b (4): rejected, nobody evicted.
    for (let i = 0; i < 3; i++) cache.get('big');
    assert.equal(cache.set('big', 'B', 50), false);
    assert.deepEqual(evicted, []);
    assert.deepEqual([...cache.keys()].sort(), ['a', 'b', 'c', 'd']);
    // Frequency 5 beats both.
    for (let i = 0; i < 2; i++) cache.get('big');
    assert.equal(cache.set('big', 'B', 50), true);
    assert.deepEqual(evicted, ['a', 'b']);
    assert.deepEqual([cache.count, cache.bytes], [3, 100]);
  });

  it('a hit in probation moves to protected, which keeps it against colder candidates', () => {
    const cache = new WTinyLfu<string>({ maxBytes: 100, windowRatio: 0, seed: 1 });
    for (const key of ['a', 'b', 'c', 'd']) {
      cache.get(key);
      cache.set(key, key, 25);
    }
    cache.get('a'); // a: frequency 2, protected
    for (let i = 0; i < 3; i++) cache.get('new');
    assert.equal(cache.set('new', 'n', 25), true);
    assert.equal(cache.has('a'), true, 'the protected entry stays');
    assert.equal(cache.has('b'), false, 'the probation LRU is the victim');
  });

  it('replacing a value with a larger one keeps the bound, evicting others rather than itself', () => {
    const cache = new WTinyLfu<string>({ maxBytes: 100, windowRatio: 0, seed: 1 });
    for (const key of ['a', 'b', 'c', 'd']) {
      cache.get(key);
      cache.set(key, key, 25);
    }
    assert.equal(cache.set('a', 'A', 60), true);
    assert.equal(cache.peek('a'), 'A');
    assert.ok(cache.bytes <= 100, `bytes ${cache.bytes}`);
    assert.equal(cache.bytes, 60 + 25 * (cache.count - 1));
  });

  it('validates windowRatio', () => {
    assert.throws(
      () => new WTinyLfu({ maxBytes: 10, windowRatio: 1 }),
      /windowRatio must be in \[0, 1\), got 1/,
    );
  });
});
