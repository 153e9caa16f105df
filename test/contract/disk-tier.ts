// The contract every DiskTier implementation (src/edge/cache/storage.ts) passes, as undici's
// cacheStoreTests: one suite, run by storage-<impl>.test.ts files against each implementation.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { DiskObject, DiskTier, ObjectMeta } from '../../src/edge/cache/storage.ts';
import { makeMeta, makeTempDir, patternBody, readAll } from './fixtures/stored-objects.ts';

export interface DiskTierFactory {
  /** A tier over `dir` (not yet opened); the same dir again means "the same store after a restart". */
  create(dir: string, maxBytes: number): DiskTier;
}

/** Writes `body` in chunks, commits it under `key`, releases the writer. */
export async function storeBody(
  tier: DiskTier,
  key: string,
  body: Buffer,
  options: { chunkBytes?: number; meta?: ObjectMeta } = {},
): Promise<DiskObject> {
  const writer = tier.createWriter();
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  for (let at = 0; at < body.length; at += chunkBytes) await writer.write(body.subarray(at, at + chunkBytes));
  const object = await writer.commit(options.meta ?? makeMeta(key, body.length));
  await writer.release();
  return object;
}

export function testDiskTier(name: string, factory: DiskTierFactory): void {
  describe(`DiskTier contract: ${name}`, () => {
    const MAX_BYTES = 64 * 1024 * 1024;
    let dir: string;
    let remove: () => Promise<void>;
    let tier: DiskTier;
    const restart = async (maxBytes = MAX_BYTES): Promise<DiskTier> => {
      await tier.close();
      tier = factory.create(dir, maxBytes);
      await tier.open();
      return tier;
    };

    beforeEach(async () => {
      ({ dir, remove } = await makeTempDir('disk-tier'));
      tier = factory.create(dir, MAX_BYTES);
      await tier.open();
    });
    afterEach(async () => {
      await tier.close();
      await remove();
    });

    test('an empty store holds nothing', () => {
      assert.equal(tier.get('nope'), undefined);
      assert.deepEqual([...tier.objects()], []);
      assert.deepEqual(tier.stats(), { objects: 0, bytes: 0, maxBytes: MAX_BYTES });
    });

    test('a committed object is found with its meta and reads back whole and by range', async () => {
      const body = patternBody('a', 300_000);
      const meta = makeMeta('k/a', body.length, { etag: '"v1"' });
      const committed = await storeBody(tier, 'k/a', body, { meta, chunkBytes: 7_000 });
      assert.deepEqual(committed.meta, meta);
      const found = tier.get('k/a');
      assert.ok(found);
      assert.deepEqual(found.meta, meta);
      assert.ok((await readAll(tier.read(found))).equals(body));
      assert.ok((await readAll(tier.read(found, 1000))).equals(body.subarray(1000)));
      assert.ok((await readAll(tier.read(found, 1000, 1999))).equals(body.subarray(1000, 2000)));
      assert.ok((await readAll(tier.read(found, 0, 0))).equals(body.subarray(0, 1)));
      const last = body.length - 1;
      assert.ok((await readAll(tier.read(found, last, last))).equals(body.subarray(last)));
      assert.equal(tier.stats().objects, 1);
      assert.ok(tier.stats().bytes >= body.length);
    });

    test('an empty body is stored and reads back empty', async () => {
      await storeBody(tier, 'empty', Buffer.alloc(0));
      const found = tier.get('empty');
      assert.ok(found);
      assert.equal(found.meta.bodySize, 0);
      assert.equal((await readAll(tier.read(found))).length, 0);
    });

    test('a range outside the body fails the stream instead of throwing', async () => {
      const found = await storeBody(tier, 'r', patternBody('r', 10));
      await assert.rejects(readAll(tier.read(found, 5, 10)));
      await assert.rejects(readAll(tier.read(found, -1, 3)));
    });

    test('readAt returns written bytes during the write and after commit, until release', async () => {
      const body = patternBody('w', 50_000);
      const writer = tier.createWriter();
      assert.equal(writer.bytesWritten, 0);
      await writer.write(body.subarray(0, 20_000));
      assert.equal(writer.bytesWritten, 20_000);
      assert.ok((await writer.readAt(0, 20_000)).equals(body.subarray(0, 20_000)));
      await writer.write(body.subarray(20_000));
      assert.ok((await writer.readAt(15_000, 10_000)).equals(body.subarray(15_000, 25_000)));
      await assert.rejects(writer.readAt(40_000, 10_001), 'bytes not written yet are refused');
      assert.equal(tier.get('w'), undefined, 'nothing is visible before commit');
      await writer.commit(makeMeta('w', body.length));
      assert.ok((await writer.readAt(49_000, 1_000)).equals(body.subarray(49_000)));
      await writer.release();
      await assert.rejects(writer.readAt(0, 1));
    });

    test('writes issued without waiting land in order and bytesWritten counts them all', async () => {
      const body = patternBody('unawaited', 100_000);
      const writer = tier.createWriter();
      const writes: Promise<void>[] = [];
      for (let at = 0; at < body.length; at += 1_000)
        writes.push(writer.write(body.subarray(at, at + 1_000)));
      await Promise.all(writes);
      assert.equal(writer.bytesWritten, body.length);
      const found = await writer.commit(makeMeta('unawaited', body.length));
      await writer.release();
      assert.ok((await readAll(tier.read(found))).equals(body));
    });

    test('commit refuses a meta whose bodySize differs from the bytes written', async () => {
      const writer = tier.createWriter();
      await writer.write(Buffer.from('hello'));
      await assert.rejects(writer.commit(makeMeta('short', 4)));
      await writer.abort();
      await writer.release();
      assert.equal(tier.get('short'), undefined);
    });

    test('an aborted write leaves nothing visible', async () => {
      const writer = tier.createWriter();
      await writer.write(Buffer.from('partial'));
      await writer.abort();
      await writer.release();
      assert.equal(tier.get('aborted'), undefined);
      assert.equal(tier.stats().objects, 0);
      await restart();
      assert.equal(tier.stats().objects, 0);
    });

    test('a commit replaces the object under the same key and its bytes', async () => {
      await storeBody(tier, 'same', patternBody('v1', 100_000));
      const bytesBefore = tier.stats().bytes;
      const v2 = patternBody('v2', 10_000);
      await storeBody(tier, 'same', v2, { meta: makeMeta('same', v2.length, { etag: '"v2"' }) });
      const found = tier.get('same');
      assert.ok(found);
      assert.equal(found.meta.headers['etag'], '"v2"');
      assert.ok((await readAll(tier.read(found))).equals(v2));
      assert.equal(tier.stats().objects, 1);
      assert.ok(tier.stats().bytes < bytesBefore - 80_000, 'the old body is no longer counted');
      await restart();
      assert.ok((await readAll(tier.read(tier.get('same') as DiskObject))).equals(v2));
    });

    test('delete removes the object, now and after a restart', async () => {
      await storeBody(tier, 'gone', patternBody('gone', 1_000));
      await storeBody(tier, 'kept', patternBody('kept', 1_000));
      assert.equal(await tier.delete('gone'), true);
      assert.equal(await tier.delete('gone'), false);
      assert.equal(tier.get('gone'), undefined);
      assert.deepEqual(
        [...tier.objects()].map((o) => o.meta.key),
        ['kept'],
      );
      await restart();
      assert.equal(tier.get('gone'), undefined);
      assert.ok(tier.get('kept'));
    });

    test('a stream started before a delete reads to the end', async () => {
      const body = patternBody('streaming', 2_000_000);
      const found = await storeBody(tier, 'streaming', body);
      const stream = tier.read(found);
      const reading = readAll(stream);
      assert.equal(await tier.delete('streaming'), true);
      assert.ok((await reading).equals(body));
    });

    test('reading an object deleted before read() fails the stream, not the process', async () => {
      const found = await storeBody(tier, 'deleted', patternBody('deleted', 1_000));
      await tier.delete('deleted');
      await assert.rejects(readAll(tier.read(found)));
    });

    test('updateMeta replaces the head, keeps the body and survives a restart', async () => {
      const body = patternBody('u', 123_456);
      await storeBody(tier, 'u', body);
      const updated = makeMeta('u', body.length, { etag: '"v2"', 'x-revalidated': ['1', '2'] });
      updated.storedAtMs += 5_000;
      assert.equal(await tier.updateMeta(updated), true);
      assert.deepEqual(tier.get('u')?.meta, updated);
      assert.equal(await tier.updateMeta(makeMeta('absent', 1)), false);
      await restart();
      const found = tier.get('u');
      assert.ok(found);
      assert.deepEqual(found.meta, updated);
      assert.ok((await readAll(tier.read(found))).equals(body));
    });

    test('every committed object survives a restart byte for byte', async () => {
      const sizes = [0, 1, 4_095, 4_096, 65_537, 3_000_000];
      for (const [i, size] of sizes.entries()) await storeBody(tier, `p/${i}`, patternBody(`p/${i}`, size));
      const before = tier.stats();
      await restart();
      assert.deepEqual(tier.stats(), before);
      for (const [i, size] of sizes.entries()) {
        const found = tier.get(`p/${i}`);
        assert.ok(found, `p/${i}`);
        assert.deepEqual(found.meta, makeMeta(`p/${i}`, size));
        assert.ok((await readAll(tier.read(found))).equals(patternBody(`p/${i}`, size)));
      }
    });

    test('the least recently used objects make room under the byte bound', async () => {
      const small = await restart(100_000);
      for (const key of ['a', 'b', 'c']) await storeBody(small, key, patternBody(key, 30_000));
      small.get('a'); // touch: b is now the least recently used
      await storeBody(small, 'd', patternBody('d', 30_000));
      assert.equal(small.get('b'), undefined);
      assert.deepEqual(
        ['a', 'c', 'd'].map((key) => small.get(key) !== undefined),
        [true, true, true],
      );
      assert.ok(small.stats().bytes <= 100_000);
      await restart(100_000);
      assert.equal(tier.get('b'), undefined);
      assert.equal(tier.stats().objects, 3);
    });

    test('an object larger than the whole tier is refused at commit', async () => {
      const small = await restart(10_000);
      const writer = small.createWriter();
      await writer.write(patternBody('huge', 20_000));
      await assert.rejects(writer.commit(makeMeta('huge', 20_000)));
      await writer.abort();
      await writer.release();
      assert.equal(small.get('huge'), undefined);
      assert.equal(small.stats().bytes, 0);
    });
  });
}
