// The node side of purges on a real cache (memory tier + disk tier in a temporary folder): rules are
// checked at lookup, swept in the background, dropped only when nothing older can remain, and
// survive a restart; the tag index is rebuilt from the disk tier.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { Purge } from '../../../../src/common/config/purge.ts';
import { createLogger } from '../../../../src/common/log.ts';
import { Cache } from '../../../../src/edge/cache/cache.ts';
import { DiskStore } from '../../../../src/edge/cache/disk/disk-store.ts';
import { targetOf } from '../../../../src/edge/cache/invalidation.ts';
import { MemoryStore } from '../../../../src/edge/cache/memory/memory-tier.ts';
import type { ObjectMeta } from '../../../../src/edge/cache/storage.ts';
import { Purger } from '../../../../src/edge/purge/purger.ts';
import { loadRules } from '../../../../src/edge/purge/rules-file.ts';
import { saveLastKnownGood } from '../../../../src/edge/sync/last-known-good.ts';
import { stateWritesSettled } from '../../../../src/edge/sync/state-writes.ts';
import { DEFAULT_POLICY_OPTIONS, freshnessOf } from '../../../../src/lib/http-cache/freshness.ts';
import { evaluate } from '../../../../src/lib/http-cache/policy.ts';

const log = createLogger('test', 'error');
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function openCache(dir?: string): Promise<{ cache: Cache; dir: string }> {
  const folder = dir ?? (await mkdtemp(join(tmpdir(), 'meridian-purger-')));
  if (dir === undefined) dirs.push(folder);
  const cache = new Cache(
    new MemoryStore({ maxBytes: 64 * 1024 * 1024 }),
    new DiskStore({ dir: join(folder, 'objects'), maxBytes: 64 * 1024 * 1024 }),
  );
  await cache.open();
  return { cache, dir: folder };
}

function metaOf(url: string, storedAtMs: number, tags: string[] = []): ObjectMeta {
  return {
    key: url,
    primaryKey: url,
    url,
    status: 200,
    headers: { 'cache-control': 'max-age=600', etag: '"v1"' },
    varyNames: [],
    tags,
    storedAtMs,
    bodySize: 5,
    freshness: freshnessOf(
      200,
      { 'cache-control': 'max-age=600' },
      storedAtMs,
      storedAtMs,
      DEFAULT_POLICY_OPTIONS,
    ),
  };
}

/** Stores an object in both tiers, as a fill does. */
async function store(cache: Cache, url: string, storedAtMs: number, tags: string[] = []): Promise<void> {
  const meta = metaOf(url, storedAtMs, tags);
  const writer = cache.disk.createWriter();
  await writer.write(Buffer.from('hello'));
  await writer.commit(meta);
  await writer.release();
  cache.admit(meta, Buffer.from('hello'));
}

const found = (cache: Cache, url: string) => {
  const result = cache.lookup(url, {});
  return result.kind === 'found' ? result.object : null;
};

function purgeOf(fields: Partial<Purge>): Purge {
  return {
    id: `p${Math.random().toString(36).slice(2)}`,
    zone_id: 'z',
    created_at: '',
    soft: false,
    ...fields,
  };
}

async function settle(purger: Purger, passes: number): Promise<void> {
  for (let i = 0; i < 200 && purger.passes < passes; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('Purger', () => {
  it('prefix and host rules hide matching objects at once and are swept, then dropped', async () => {
    const { cache } = await openCache();
    const t0 = Date.now() - 10_000;
    await store(cache, 'http://a.test/img/1.png', t0);
    await store(cache, 'http://a.test:8080/img/2.png', t0);
    await store(cache, 'http://a.test/css/site.css', t0);
    await store(cache, 'http://b.test/img/1.png', t0);
    const purger = new Purger({ cache, zoneOf: () => undefined, stateDir: null, log, retryMs: 5 });
    await purger.apply(purgeOf({ prefixes: ['a.test/img/'] }));
    assert.equal(found(cache, 'http://a.test/img/1.png'), null);
    assert.equal(found(cache, 'http://a.test:8080/img/2.png'), null, 'ports do not escape a prefix');
    assert.ok(found(cache, 'http://a.test/css/site.css'));
    assert.ok(found(cache, 'http://b.test/img/1.png'));
    await settle(purger, 1);
    assert.equal(purger.activeRules.length, 0, 'dropped after a complete pass');
    assert.equal(cache.disk.get('http://a.test:8080/img/2.png'), undefined, 'removed from disk by the sweep');
    await purger.apply(purgeOf({ hosts: ['b.test'] }));
    assert.equal(found(cache, 'http://b.test/img/1.png'), null);
    assert.ok(found(cache, 'http://a.test/css/site.css'));
    await purger.close();
  });

  it('objects stored after a rule are not matched; a rule waits for fills older than it', async () => {
    const { cache } = await openCache();
    const ticket = cache.beginFill(Date.now() - 1000); // a fetch under way since before the purge
    const purger = new Purger({ cache, zoneOf: () => undefined, stateDir: null, log, retryMs: 5 });
    await purger.apply(purgeOf({ purge_everything: true }));
    const racing = metaOf('http://a.test/racing', Date.now() - 1000);
    assert.equal(cache.isInvalidated(racing), true, 'the racing fill is not stored as fresh');
    await new Promise((r) => setTimeout(r, 5));
    await store(cache, 'http://a.test/new', Date.now());
    assert.ok(found(cache, 'http://a.test/new'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(purger.activeRules.length, 1, 'kept while an older fill runs');
    cache.endFill(ticket);
    await settle(purger, 1);
    assert.equal(purger.activeRules.length, 0);
    assert.ok(found(cache, 'http://a.test/new'));
    await purger.close();
  });

  it('soft rules make objects stale from the purge on, without removing them', async () => {
    const { cache } = await openCache();
    await store(cache, 'http://a.test/page', Date.now() - 5_000);
    const purger = new Purger({ cache, zoneOf: () => undefined, stateDir: null, log, retryMs: 5 });
    await purger.apply(purgeOf({ prefixes: ['a.test/'], soft: true }));
    const object = found(cache, 'http://a.test/page');
    assert.ok(object, 'still there');
    assert.equal(evaluate(object.meta.freshness, {}, Date.now()).kind, 'revalidate');
    await settle(purger, 1);
    const swept = cache.disk.get('http://a.test/page');
    assert.ok(swept, 'kept on disk');
    assert.equal(
      evaluate(swept.meta.freshness, {}, Date.now()).kind,
      'revalidate',
      'the stored head is stale',
    );
    await purger.close();
  });

  it('rules and the tag index survive a restart', async () => {
    const { cache, dir } = await openCache();
    const t0 = Date.now() - 10_000;
    await store(cache, 'http://a.test/1', t0, ['red', 'blue']);
    await store(cache, 'http://a.test/2', t0, ['green']);
    // A purger that never sweeps (closed at once): the rule is only on disk.
    const first = new Purger({ cache, zoneOf: () => undefined, stateDir: dir, log, retryMs: 60_000 });
    await first.close();
    await first.apply(purgeOf({ prefixes: ['a.test/2'] }));
    await first.flush(); // purge-rules.json is written in the background
    await cache.disk.close();

    const { cache: reopened } = await openCache(dir);
    assert.deepEqual(reopened.keysTagged('blue'), ['http://a.test/1'], 'tag index rebuilt from disk');
    const second = new Purger({ cache: reopened, zoneOf: () => undefined, stateDir: dir, log, retryMs: 5 });
    assert.equal(second.activeRules.length, 1);
    assert.equal(found(reopened, 'http://a.test/2'), null, 'still purged after the restart');
    await second.apply(purgeOf({ tags: ['blue'] }));
    assert.equal(found(reopened, 'http://a.test/1'), null);
    await settle(second, 2);
    assert.equal(second.activeRules.length, 0);
    assert.deepEqual(reopened.keysTagged('blue'), []);
    await second.close();
    await reopened.disk.close();
  });

  it('a URL or variant purge is in effect when apply returns; the disk side lands by flush()', async () => {
    const { cache, dir } = await openCache();
    const t0 = Date.now() - 10_000;
    await store(cache, 'http://a.test/url', t0);
    await store(cache, 'http://a.test/variant', t0);
    await store(cache, 'http://a.test/soft', t0);
    cache.memory.delete('http://a.test/soft'); // on disk only: the head rewrite is what expires it there
    const purger = new Purger({ cache, zoneOf: () => undefined, stateDir: dir, log, retryMs: 5 });
    const done = purger.apply(purgeOf({ files: ['http://a.test/url'] }));
    void purger.apply(purgeOf({ files: [{ url: 'http://a.test/variant', headers: {} }] }));
    void purger.apply(purgeOf({ files: [{ url: 'http://a.test/soft', headers: {} }], soft: true }));
    // No await yet: nothing on the way may wait for the disk.
    assert.equal(found(cache, 'http://a.test/url'), null);
    assert.equal(found(cache, 'http://a.test/variant'), null);
    const soft = found(cache, 'http://a.test/soft');
    assert.ok(soft, 'a soft purge keeps the object');
    assert.equal(evaluate(soft.meta.freshness, {}, Date.now()).kind, 'revalidate', 'stale at once');
    let isResolved = false;
    void done.then(() => (isResolved = true));
    await Promise.resolve();
    assert.equal(isResolved, true, 'apply resolves without waiting for I/O');
    await purger.flush();
    assert.equal(cache.disk.get('http://a.test/url'), undefined);
    assert.equal(cache.disk.get('http://a.test/variant'), undefined);
    const head = cache.disk.get('http://a.test/soft');
    assert.ok(head);
    assert.equal(evaluate(head.meta.freshness, {}, Date.now()).kind, 'revalidate', 'head rewritten');
    await purger.close();
  });

  it('a variant purge refuses a fill of that variant that started before it', async () => {
    const { cache } = await openCache();
    const purger = new Purger({ cache, zoneOf: () => undefined, stateDir: null, log, retryMs: 5 });
    const racing = metaOf('http://a.test/v', Date.now() - 1000);
    await purger.apply(purgeOf({ files: [{ url: 'http://a.test/v', headers: {} }] }));
    assert.equal(cache.isInvalidated(racing), true);
    assert.equal(cache.isInvalidated(metaOf('http://a.test/other', Date.now() - 1000)), false);
    await purger.close();
  });

  it('the node records a purge as applied only after its rules file and unlinks landed', async () => {
    const { cache, dir } = await openCache();
    await store(cache, 'http://a.test/x', Date.now() - 10_000);
    const purger = new Purger({ cache, zoneOf: () => undefined, stateDir: dir, log, retryMs: 60_000 });
    await purger.close(); // no sweep: the rule stays
    await purger.apply(purgeOf({ prefixes: ['a.test/'] }));
    await purger.apply(purgeOf({ files: ['http://a.test/x'] }));
    assert.equal(loadRules(dir).length, 0, 'not written yet: written in the background');
    await stateWritesSettled(dir);
    assert.equal(loadRules(dir).length, 1, 'purge-rules.json holds the rule');
    assert.equal(cache.disk.get('http://a.test/x'), undefined);
    // last-known-good.json waits the same way.
    await purger.apply(purgeOf({ hosts: ['b.test'] }));
    await saveLastKnownGood(dir, { seq: 7, zones: [], pops: [], nodes: [], rules: {} });
    assert.equal(loadRules(dir).length, 2);
  });

  it('a URL purge removes the object under both schemes (issue 20), and so does a variant purge', async () => {
    const { cache } = await openCache();
    const t0 = Date.now() - 10_000;
    await store(cache, 'http://a.test/page', t0);
    await store(cache, 'https://a.test/page', t0);
    await store(cache, 'https://a.test/other', t0);
    await store(cache, 'http://a.test/other', t0);
    await store(cache, 'https://a.test/kept', t0);
    const purger = new Purger({ cache, zoneOf: () => undefined, stateDir: null, log, retryMs: 5 });
    await purger.apply(purgeOf({ files: ['https://a.test/page'] }));
    assert.equal(found(cache, 'http://a.test/page'), null, 'the http object fetched over http');
    assert.equal(found(cache, 'https://a.test/page'), null);
    await purger.apply(purgeOf({ files: [{ url: 'http://a.test/other', headers: {} }] }));
    assert.equal(found(cache, 'https://a.test/other'), null, 'the https variant, purged by its http URL');
    assert.equal(found(cache, 'http://a.test/other'), null);
    assert.ok(found(cache, 'https://a.test/kept'));
    await purger.flush();
    assert.equal(cache.disk.get('http://a.test/page'), undefined);
    await purger.close();
  });

  it('targetOf strips scheme and port and keeps path and query', () => {
    assert.deepEqual(targetOf('https://A.test:8443/x/y?q=1'), { host: 'a.test', hostPath: 'a.test/x/y?q=1' });
    assert.deepEqual(targetOf('http://a.test'), { host: 'a.test', hostPath: 'a.test/' });
    assert.deepEqual(targetOf('http://[::1]:8080/p'), { host: '[::1]', hostPath: '[::1]/p' });
  });
});
