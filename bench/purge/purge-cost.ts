// What a prefix purge and purge_everything cost on a node holding many objects: the purge itself
// must not grow with the object count (it records a rule; lookups test it; a background sweep
// removes the matched objects). In-process, on the node's real cache (memory tier, empty disk tier).
//   node bench/purge/purge-cost.ts [--counts 10000,100000,1000000]
// Prints, per object count: the time to apply each purge (median of 5: the call, after which
// lookups miss what it purged), the time until it is also durable (purge-rules.json written and
// fsynced in the background; the first purge's, and the median: purges 2-5 share the event loop
// with the sweep of the earlier ones, 2,000 objects per turn), a lookup's cost before and after
// (ns, median of 5 runs of 200k lookups), how long the background sweep took to finish, and the
// process's peak RSS so far. The objects are put straight into the memory tier, sharing their
// constant parts (1M objects: under 1 GB).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Purge } from '../../src/common/config/purge.ts';
import { createLogger } from '../../src/common/log.ts';
import { Cache } from '../../src/edge/cache/cache.ts';
import { DiskStore } from '../../src/edge/cache/disk/disk-store.ts';
import { MemoryStore } from '../../src/edge/cache/memory/memory-tier.ts';
import type { ObjectMeta } from '../../src/edge/cache/storage.ts';
import { Purger } from '../../src/edge/purge/purger.ts';
import { DEFAULT_POLICY_OPTIONS, freshnessOf } from '../../src/lib/http-cache/freshness.ts';

const { values } = parseArgs({ options: { counts: { type: 'string', default: '10000,100000,1000000' } } });
const log = createLogger('bench', 'error');
const BODY = Buffer.alloc(64, 0x61);
const median = (xs: number[]): number => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function urlOf(i: number): string {
  return `http://bench.test/${i % 2 === 0 ? 'img' : 'css'}/${i}.bin`;
}

async function fill(cache: Cache, count: number): Promise<void> {
  const at = Date.now() - 60_000;
  const freshness = freshnessOf(200, { 'cache-control': 'max-age=3600' }, at, at, DEFAULT_POLICY_OPTIONS);
  const headers = { 'content-type': 'application/octet-stream' };
  const none: string[] = [];
  for (let i = 0; i < count; i++) {
    const url = urlOf(i);
    const meta: ObjectMeta = {
      key: url,
      primaryKey: url,
      url,
      status: 200,
      headers,
      varyNames: none,
      tags: none,
      storedAtMs: at,
      bodySize: BODY.length,
      freshness,
    };
    // Straight into the memory tier: W-TinyLFU admission would turn most one-off objects away.
    cache.memory.set({ meta, body: BODY });
  }
}

function lookupNs(cache: Cache, count: number): number {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const n = 200_000;
    const start = process.hrtime.bigint();
    // Odd objects (/css/) only: a prefix purge of /img/ leaves them, so this is the cost the rule
    // adds to every hit; after purge_everything they are misses.
    for (let i = 0; i < n; i++) cache.lookup(urlOf(((i * 7919) % count) | 1), {});
    runs.push(Number(process.hrtime.bigint() - start) / n);
  }
  return median(runs);
}

async function measure(
  count: number,
  purge: (i: number) => Purge,
): Promise<{
  applyUs: number;
  durableUs: number;
  firstDurableUs: number;
  beforeNs: number;
  afterNs: number;
  sweepMs: number;
  left: number;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-purge-cost-'));
  const cache = new Cache(
    new MemoryStore({ maxBytes: 4 * 1024 * 1024 * 1024 }),
    new DiskStore({ dir, maxBytes: 1024 * 1024 * 1024 }),
  );
  await cache.open();
  await fill(cache, count);
  const beforeNs = lookupNs(cache, count);
  const purger = new Purger({
    cache,
    zoneOf: () => undefined,
    stateDir: dir,
    log,
    retryMs: 60_000,
    sweepBatch: 5000,
  });
  const applies: number[] = [];
  const durables: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = process.hrtime.bigint();
    const applied = purger.apply(purge(i)); // in effect when the call returns
    applies.push(Number(process.hrtime.bigint() - start) / 1000);
    await applied;
    await purger.flush();
    durables.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  const afterNs = lookupNs(cache, count);
  const sweepStart = performance.now();
  while (purger.activeRules.length > 0 && performance.now() - sweepStart < 600_000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const sweepMs = performance.now() - sweepStart;
  const left = cache.memory.stats().objects;
  await purger.close();
  await cache.disk.close();
  await rm(dir, { recursive: true, force: true });
  return {
    applyUs: median(applies),
    durableUs: median(durables),
    firstDurableUs: durables[0] as number,
    beforeNs,
    afterNs,
    sweepMs,
    left,
  };
}

const kinds: [string, (i: number) => Purge][] = [
  [
    'prefix',
    (i) => ({ id: `p${i}`, zone_id: 'z', created_at: '', soft: false, prefixes: ['bench.test/img/'] }),
  ],
  ['everything', (i) => ({ id: `e${i}`, zone_id: 'z', created_at: '', soft: false, purge_everything: true })],
];
const rows: string[] = [];
for (const count of values.counts.split(',').map(Number)) {
  for (const [kind, purge] of kinds) {
    const r = await measure(count, purge);
    rows.push(
      `| ${count.toLocaleString('en')} | ${kind} | ${r.applyUs.toFixed(0)} | ${r.firstDurableUs.toFixed(0)} / ${r.durableUs.toFixed(0)} | ${r.beforeNs.toFixed(0)} | ${r.afterNs.toFixed(0)} | ${(r.sweepMs / 1000).toFixed(2)} | ${r.left.toLocaleString('en')} | ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} |`,
    );
  }
}
process.stdout.write(
  `| objects | purge | apply µs (median of 5) | durable µs: first / median | lookup ns before | lookup ns after (everything: misses) | background sweep s | objects left | peak RSS MB |\n|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
