import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HeaderMap, MemoryObject, ObjectMeta } from '../../../../../src/edge/cache/storage.ts';
import { MemoryStore, estimateHeadBytes } from '../../../../../src/edge/cache/memory/memory-tier.ts';

const MiB = 1024 * 1024;

function makeMeta(key: string, headers: HeaderMap = {}): ObjectMeta {
  return {
    key,
    primaryKey: key,
    url: `https://example.com${key}`,
    status: 200,
    headers,
    varyNames: [],
    tags: [],
    storedAtMs: 1_700_000_000_000,
    bodySize: 0,
    // The freshness shape belongs to lib/http-cache/policy.ts; the tier never looks inside it.
    freshness: {} as ObjectMeta['freshness'],
  };
}

function makeObject(key: string, bodyBytes: number, headers: HeaderMap = {}): MemoryObject {
  const body = Buffer.alloc(bodyBytes, 0x61);
  return { meta: { ...makeMeta(key, headers), bodySize: bodyBytes }, body };
}

/** A request as the edge makes it: look up, store on a miss. True on a hit. */
function request(store: MemoryStore, key: string, bodyBytes: number): boolean {
  if (store.get(key) !== undefined) return true;
  store.set(makeObject(key, bodyBytes));
  return false;
}

describe('MemoryStore', () => {
  it('returns the very object stored, synchronously, and charges body + estimated head', () => {
    const store = new MemoryStore({ maxBytes: MiB, seed: 1 });
    const object = makeObject('/a', 1000, { 'content-type': 'text/plain', 'set-cookie': ['x=1', 'y=2'] });
    assert.equal(store.set(object), true);
    assert.equal(store.get('/a'), object);
    assert.equal(store.get('/missing'), undefined);
    const headBytes = estimateHeadBytes(object.meta);
    // 200 overhead + key (2) + url (21) + content-type (12 + 10) + set-cookie (10 + 3 + 3)
    assert.equal(headBytes, 200 + 2 + 21 + 22 + 16);
    assert.deepEqual(store.stats(), { objects: 1, bytes: 1000 + headBytes, maxBytes: MiB });
  });

  it('defaults maxObjectBytes to min(maxBytes / 8, 16 MiB) and rejects larger bodies', () => {
    assert.equal(new MemoryStore({ maxBytes: 8000 }).maxObjectBytes, 1000);
    assert.equal(new MemoryStore({ maxBytes: 1024 * MiB }).maxObjectBytes, 16 * MiB);
    const store = new MemoryStore({ maxBytes: 8000, seed: 1 });
    assert.equal(store.set(makeObject('/big', 1001)), false);
    assert.equal(store.get('/big'), undefined);
    assert.equal(store.set(makeObject('/fits', 1000)), true);
  });

  it('an oversize replacement drops the object it would have superseded', () => {
    const store = new MemoryStore({ maxBytes: 100_000, maxObjectBytes: 5000, seed: 1 });
    store.set(makeObject('/a', 100));
    assert.equal(store.set(makeObject('/a', 6000)), false);
    assert.equal(store.get('/a'), undefined);
    assert.deepEqual(store.stats().bytes, 0);
  });

  it('honours an explicit maxObjectBytes, but never takes an object above maxBytes', () => {
    const store = new MemoryStore({ maxBytes: 1000, maxObjectBytes: 5000, seed: 1 });
    assert.equal(
      store.set(makeObject('/a', 900)),
      false,
      'body fits maxObjectBytes, body + head exceed maxBytes',
    );
    assert.equal(store.set(makeObject('/b', 700)), true);
  });

  it('replacing a key updates the bytes', () => {
    const store = new MemoryStore({ maxBytes: MiB, seed: 1 });
    store.set(makeObject('/a', 1000));
    const replacement = makeObject('/a', 3000);
    assert.equal(store.set(replacement), true);
    assert.equal(store.get('/a'), replacement);
    assert.deepEqual(store.stats(), {
      objects: 1,
      bytes: 3000 + estimateHeadBytes(replacement.meta),
      maxBytes: MiB,
    });
  });

  it('updateMeta swaps the head, keeps the body and recharges the size; false when absent', () => {
    const store = new MemoryStore({ maxBytes: MiB, seed: 1 });
    const object = makeObject('/a', 1000, { etag: '"v1"' });
    store.set(object);
    const meta = { ...object.meta, headers: { etag: '"v1"', 'x-revalidated': 'yes' }, storedAtMs: 1 };
    assert.equal(store.updateMeta(meta), true);
    const updated = store.get('/a');
    assert.equal(updated?.meta, meta);
    assert.equal(updated?.body, object.body);
    assert.equal(store.stats().bytes, 1000 + estimateHeadBytes(meta));
    assert.equal(store.updateMeta(makeMeta('/absent')), false);
    assert.equal(store.get('/absent'), undefined);
  });

  it('delete removes the object and its bytes, without onEvict', () => {
    const evicted: string[] = [];
    const store = new MemoryStore({ maxBytes: MiB, seed: 1, onEvict: (key) => evicted.push(key) });
    store.set(makeObject('/a', 1000));
    assert.equal(store.delete('/a'), true);
    assert.equal(store.delete('/a'), false);
    assert.deepEqual([store.get('/a'), store.stats().objects, store.stats().bytes], [undefined, 0, 0]);
    assert.deepEqual(evicted, []);
  });

  it('never exceeds maxBytes, and reports each eviction by key', () => {
    let justEvicted: string[] = [];
    let evictions = 0;
    const store = new MemoryStore({ maxBytes: 200_000, seed: 1, onEvict: (key) => justEvicted.push(key) });
    let state = 7;
    for (let i = 0; i < 5000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      request(store, `/objects/${state % 800}`, (state >>> 8) % 20_000);
      assert.ok(store.stats().bytes <= 200_000);
      for (const key of justEvicted) assert.equal(store.get(key), undefined, `${key} was reported evicted`);
      evictions += justEvicted.length;
      justEvicted = [];
    }
    assert.ok(evictions > 100, `${evictions} evictions`);
  });

  it('a scan of one-time URLs does not flush the popular objects', () => {
    const store = new MemoryStore({ maxBytes: 1000 * 1200, seed: 3 });
    const popular = Array.from({ length: 300 }, (_, i) => `/popular/${i}`);
    for (let round = 0; round < 10; round++) for (const key of popular) request(store, key, 1000);
    for (let i = 0; i < 3000; i++) request(store, `/crawl/${i}`, 1000);
    const hits = popular.filter((key) => request(store, key, 1000)).length;
    assert.ok(hits >= 295, `${hits} of 300 popular objects still hit`);
  });

  it('validates its options, naming the field and the value', () => {
    assert.throws(() => new MemoryStore({ maxBytes: -1 }), /maxBytes must be a positive integer, got -1/);
    assert.throws(
      () => new MemoryStore({ maxBytes: 1000, maxObjectBytes: 1.5 }),
      /maxObjectBytes must be a positive integer, got 1.5/,
    );
  });
});
