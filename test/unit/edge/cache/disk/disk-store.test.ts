// DiskStore behaviour that depends on its files (the interface-level behaviour is in
// test/contract/disk-tier.ts): layout, cleanup at open, byte accounting against the real files.
import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { hashKey } from '../../../../../src/edge/cache/disk/disk-layout.ts';
import { DiskStore } from '../../../../../src/edge/cache/disk/disk-store.ts';
import { storeBody } from '../../../../contract/disk-tier.ts';
import { makeMeta, makeTempDir, patternBody, readAll } from '../../../../contract/fixtures/stored-objects.ts';

let dir: string;
let remove: () => Promise<void>;
let store: DiskStore;

beforeEach(async () => {
  ({ dir, remove } = await makeTempDir('disk-store'));
  store = new DiskStore({ dir, maxBytes: 10_000_000 });
  await store.open();
});
afterEach(async () => {
  await store.close();
  await remove();
});

async function reopen(maxBytes = 10_000_000): Promise<DiskStore> {
  await store.close();
  store = new DiskStore({ dir, maxBytes });
  await store.open();
  return store;
}

/** Every file under objects/ as `<shard>/<name>` → size. */
async function objectFiles(): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for (const shard of await readdir(join(dir, 'objects'))) {
    for (const name of await readdir(join(dir, 'objects', shard))) {
      files.set(`${shard}/${name}`, (await stat(join(dir, 'objects', shard, name))).size);
    }
  }
  return files;
}

const sum = (sizes: Iterable<number>): number => [...sizes].reduce((a, b) => a + b, 0);
const headFile = (key: string): string =>
  join(dir, 'objects', hashKey(key).slice(0, 2), `${hashKey(key)}.head`);

async function bodyFileOf(key: string): Promise<string> {
  const hash = hashKey(key);
  const names = await readdir(join(dir, 'objects', hash.slice(0, 2)));
  const bodies = names.filter((name) => name.startsWith(`${hash}.`) && name.endsWith('.body'));
  assert.equal(bodies.length, 1, `one body file for ${key}`);
  return join(dir, 'objects', hash.slice(0, 2), bodies[0] ?? '');
}

test('an object is one head and one body in the shard of its key hash; tmp/ is left empty', async () => {
  await storeBody(store, 'https://a.test/x', patternBody('x', 5_000));
  const hash = hashKey('https://a.test/x');
  const files = [...(await objectFiles()).keys()];
  assert.equal(files.length, 2);
  assert.ok(files.includes(`${hash.slice(0, 2)}/${hash}.head`));
  assert.ok(
    files.some((name) => new RegExp(`^${hash.slice(0, 2)}/${hash}\\.[0-9a-f]{16}\\.body$`).test(name)),
  );
  assert.equal((await objectFiles()).size, 2);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  assert.equal((await readdir(join(dir, 'objects'))).length, 256);
});

test('stats count exactly the bytes of the files, after replace, delete, update and restart', async () => {
  for (let i = 0; i < 20; i++) await storeBody(store, `k${i % 7}`, patternBody(`k${i}`, 1_000 * i));
  await store.delete('k3');
  const k1 = store.get('k1')?.meta.bodySize ?? -1;
  assert.equal(
    await store.updateMeta(makeMeta('k1', k1, { etag: '"a much longer etag than before"' })),
    true,
  );
  assert.equal(store.stats().bytes, sum((await objectFiles()).values()));
  const before = store.stats();
  await reopen();
  assert.deepEqual(store.stats(), before);
});

test('eviction deletes the files of the objects it drops', async () => {
  await reopen(50_000);
  for (let i = 0; i < 30; i++) await storeBody(store, `e${i}`, patternBody(`e${i}`, 9_000));
  const files = await objectFiles();
  assert.ok(sum(files.values()) <= 50_000);
  assert.equal(sum(files.values()), store.stats().bytes);
  assert.equal(files.size, store.stats().objects * 2);
});

test('open() with a smaller maxBytes keeps the most recently committed objects', async () => {
  for (let i = 0; i < 10; i++) {
    await storeBody(store, `o${i}`, patternBody(`o${i}`, 10_000));
    await new Promise((resolve) => setTimeout(resolve, 5)); // distinct body mtimes
  }
  await reopen(35_000);
  assert.deepEqual(
    [...store.objects()].map((o) => o.meta.key),
    ['o7', 'o8', 'o9'],
  );
  assert.equal(sum((await objectFiles()).values()), store.stats().bytes);
});

test('abort and release without commit delete the temp file', async () => {
  const aborted = store.createWriter();
  await aborted.write(Buffer.alloc(1_000));
  assert.equal((await readdir(join(dir, 'tmp'))).length, 1);
  await aborted.abort();
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  assert.ok((await aborted.readAt(0, 10)).equals(Buffer.alloc(10)), 'readAt still works until release');
  await aborted.release();
  const dropped = store.createWriter();
  await dropped.write(Buffer.alloc(1_000));
  await dropped.release();
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
});

test('updateMeta rewrites only the head: the body file is untouched', async () => {
  const body = patternBody('big', 3_000_000);
  await storeBody(store, 'big', body);
  const bodyFile = await bodyFileOf('big');
  const before = await stat(bodyFile);
  const headBefore = await readFile(headFile('big'));
  assert.equal(await store.updateMeta(makeMeta('big', body.length, { etag: '"v2"' })), true);
  const after = await stat(bodyFile);
  assert.deepEqual([after.ino, after.mtimeMs, after.size], [before.ino, before.mtimeMs, before.size]);
  assert.notDeepEqual(await readFile(headFile('big')), headBefore);
  assert.equal(await store.updateMeta(makeMeta('big', 5)), false, 'a head for another body is refused');
  assert.equal(store.get('big')?.meta.headers['etag'], '"v2"');
});

test('open() deletes leftovers and damaged objects and keeps every intact one', async () => {
  for (const key of ['ok1', 'ok2', 'short-body', 'short-head', 'long-body', 'moved']) {
    await storeBody(store, key, patternBody(key, 20_000));
  }
  await store.close();
  await writeFile(join(dir, 'tmp', '0123456789abcdef.body'), 'half a body');
  await writeFile(join(dir, 'tmp', 'fedcba9876543210.head'), 'half a head');
  await truncate(await bodyFileOf('short-body'), 19_999);
  await appendFile(await bodyFileOf('long-body'), 'x');
  await truncate(headFile('short-head'), 30);
  // A valid head under another key's name: the key inside no longer hashes to the file name.
  await rename(headFile('moved'), headFile('elsewhere'));
  const orphan = join(dir, 'objects', '00', `${'0'.repeat(64)}.0000000000000000.body`);
  await writeFile(orphan, 'nobody points here');
  await writeFile(join(dir, 'objects', 'ab', `${'ab'.repeat(32)}.head`), 'garbage head');
  const foreign = join(dir, 'objects', '00', 'README');
  await writeFile(foreign, 'not ours');

  store = new DiskStore({ dir, maxBytes: 10_000_000 });
  await store.open();
  assert.deepEqual([...store.objects()].map((o) => o.meta.key).sort(), ['ok1', 'ok2']);
  for (const key of ['ok1', 'ok2']) {
    assert.ok((await readAll(store.read(store.get(key) as never))).equals(patternBody(key, 20_000)));
  }
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  const left = [...(await objectFiles()).keys()].filter((name) => name !== '00/README');
  assert.equal(left.length, 4, `only ok1 and ok2 remain: ${left.join(', ')}`);
  assert.equal(await readFile(foreign, 'utf8'), 'not ours', 'names that are not ours are left alone');
  assert.equal(store.stats().bytes, sum((await objectFiles()).values()) - 'not ours'.length);
});

test('concurrent commits, updates, deletes and evictions on few keys leave disk and index in agreement', async () => {
  await reopen(400_000);
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    const key = keys[i % keys.length] as string;
    const size = (i * 7_919) % 60_000;
    const meta = makeMeta(key, size, { 'x-gen': String(i) });
    if (i % 5 === 3) ops.push(store.delete(key));
    else if (i % 5 === 4) {
      const current = store.get(key);
      if (current)
        ops.push(store.updateMeta({ ...current.meta, headers: { ...current.meta.headers, 'x-up': `${i}` } }));
    } else ops.push(storeBody(store, key, patternBody(`${key}/${i}`, size), { meta, chunkBytes: 16_384 }));
  }
  await Promise.all(ops);
  const index = new Map([...store.objects()].map((o) => [o.meta.key, o.meta]));
  for (const [key, meta] of index) {
    const body = await readAll(store.read(store.get(key) as never));
    assert.ok(body.equals(patternBody(`${key}/${meta.headers['x-gen'] as string}`, meta.bodySize)), key);
  }
  const files = await objectFiles();
  assert.equal(files.size, index.size * 2, 'no orphan or missing file');
  assert.equal(sum(files.values()), store.stats().bytes);
  await reopen(400_000);
  assert.deepEqual(new Map([...store.objects()].map((o) => [o.meta.key, o.meta])), index);
});

test('options are checked when the store is built, and a store is used only once open', async () => {
  assert.throws(() => new DiskStore({ dir, maxBytes: 0 }), /maxBytes must be a positive integer, got 0/);
  assert.throws(() => new DiskStore({ dir: '', maxBytes: 1 }), /dir must be/);
  const unopened = new DiskStore({ dir, maxBytes: 1_000 });
  assert.throws(() => unopened.createWriter(), /closed/);
  assert.equal(unopened.get('x'), undefined);
  await assert.rejects(store.open(), /already open/);
});

test('a commit whose temp file vanished fails with a MeridianError and leaves nothing', async () => {
  const writer = store.createWriter();
  await writer.write(Buffer.from('body'));
  const [tmpName = ''] = await readdir(join(dir, 'tmp'));
  await rm(join(dir, 'tmp', tmpName));
  await assert.rejects(writer.commit(makeMeta('vanished', 4)), { name: 'MeridianError', code: 'INTERNAL' });
  await assert.rejects(writer.write(Buffer.from('more')), /failed/, 'the writer stays failed');
  await writer.abort();
  await writer.release();
  assert.equal(store.get('vanished'), undefined);
  assert.deepEqual([...(await objectFiles()).keys()], []);
});
