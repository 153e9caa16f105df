// Hit ratios of W-TinyLFU against plain LRU, both byte-bounded, on synthetic CDN traces, and the cost of
// a get hit. Run: node bench/admission/hit-ratio.ts   (seeded: the numbers repeat run to run)
//
// Traces: keys drawn from Zipf(s) over DISTINCT_KEYS objects whose sizes are log-normal (median 16 KiB,
// clamped to 1 KiB–1 MiB, independent of popularity). "zipf" is that alone; "zipf+scan" interleaves
// bursts of never-repeated keys (a crawler, a backup job) with the same Zipf core. Each request is a get,
// and on a miss a set of the object. Ratios count every request, cold start included. Cache sizes are
// fractions of the working set: the bytes of the distinct objects the trace asks for.
import { Lru } from '../../src/lib/admission/lru.ts';
import { WTinyLfu } from '../../src/lib/admission/tinylfu.ts';
import type { ByteCache } from '../../src/lib/admission/byte-cache.ts';
import { seededRandom } from '../../test/helpers/random.ts';
import { makeZipf } from '../lib/zipf.ts';

const DISTINCT_KEYS = 1_000_000;
const REQUESTS = 2_000_000;
const ZIPF_S = 0.9;
const SCAN_EVERY = 150_000; // Zipf requests between two scans
const SCAN_LENGTH = 50_000; // one-time keys per scan
const CACHE_FRACTIONS = [0.005, 0.01, 0.02, 0.05, 0.1];
const SEED = 20240601;
/** Ids DISTINCT_KEYS.. are the one-time keys of the scans. */
const SCAN_KEYS = Math.ceil(REQUESTS / (SCAN_EVERY + SCAN_LENGTH)) * SCAN_LENGTH;

interface Trace {
  readonly name: string;
  readonly ids: Int32Array;
  readonly workingSetBytes: number;
}

interface Result {
  byteHitRatio: number;
  objectHitRatio: number;
  requestsPerSec: number;
}

/** Log-normal sizes (Box–Muller), median 16 KiB, sigma 1.5, clamped to [1 KiB, 1 MiB]. */
function makeSizes(count: number, random: () => number): Int32Array {
  const sizes = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    sizes[i] = Math.round(
      Math.min(1024 * 1024, Math.max(1024, Math.exp(Math.log(16 * 1024) + 1.5 * normal))),
    );
  }
  return sizes;
}

function workingSetBytes(ids: Int32Array, sizes: Int32Array): number {
  const seen = new Uint8Array(sizes.length);
  let bytes = 0;
  for (const id of ids) {
    if (seen[id] === 0) bytes += sizes[id] ?? 0;
    seen[id] = 1;
  }
  return bytes;
}

function makeTraces(sizes: Int32Array, random: () => number): Trace[] {
  const zipf = makeZipf(DISTINCT_KEYS, ZIPF_S, random);
  const plain = new Int32Array(REQUESTS);
  for (let i = 0; i < REQUESTS; i++) plain[i] = zipf();
  const mixed = new Int32Array(REQUESTS);
  let nextScanId = DISTINCT_KEYS;
  for (let i = 0; i < REQUESTS; i++) {
    const isScan = i % (SCAN_EVERY + SCAN_LENGTH) >= SCAN_EVERY;
    mixed[i] = isScan ? nextScanId++ : zipf();
  }
  return [
    { name: `zipf(${ZIPF_S})`, ids: plain, workingSetBytes: workingSetBytes(plain, sizes) },
    { name: `zipf(${ZIPF_S})+scan`, ids: mixed, workingSetBytes: workingSetBytes(mixed, sizes) },
  ];
}

function replay(cache: ByteCache<number>, ids: Int32Array, keys: string[], sizes: Int32Array): Result {
  let hits = 0;
  let hitBytes = 0;
  let totalBytes = 0;
  const started = performance.now();
  for (const id of ids) {
    const key = keys[id] ?? '';
    const size = sizes[id] ?? 0;
    totalBytes += size;
    if (cache.get(key) !== undefined) {
      hits++;
      hitBytes += size;
    } else {
      cache.set(key, id, size);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    byteHitRatio: hitBytes / totalBytes,
    objectHitRatio: hits / ids.length,
    requestsPerSec: ids.length / seconds,
  };
}

const HELD_FOR_GET_HITS = 100_000;

/**
 * get() hits per second: 100k keys of 1 KiB filling the cache exactly (so W-TinyLFU holds them in its
 * window and main area, and uniform hits keep moving entries between probation and protected),
 * looked up in a seeded random order.
 */
function measureGetHits(cache: ByteCache<number>, random: () => number): number {
  const held = HELD_FOR_GET_HITS;
  const keys = Array.from({ length: held }, (_, i) => `https://example.com/assets/${i}.js`);
  for (const [i, key] of keys.entries()) cache.set(key, i, 1024);
  const order = Int32Array.from({ length: 1 << 20 }, () => Math.floor(random() * held));
  const lookups = 5_000_000;
  let sum = 0;
  for (let i = 0; i < lookups / 5; i++) sum += cache.get(keys[order[i & 0xfffff] ?? 0] ?? '') ?? 0; // warm-up
  const started = performance.now();
  for (let i = 0; i < lookups; i++) sum += cache.get(keys[order[i & 0xfffff] ?? 0] ?? '') ?? 0;
  const seconds = (performance.now() - started) / 1000;
  if (cache.count !== held) throw new Error(`expected ${held} held keys, got ${cache.count}`);
  if (sum < 0) throw new Error('unreachable; keeps the loop alive');
  return lookups / seconds;
}

const percent = (ratio: number): string => `${(ratio * 100).toFixed(2)}%`;
const rate = (perSec: number): string => `${(perSec / 1e6).toFixed(2)} M/s`;

function main(): void {
  const begun = performance.now();
  const random = seededRandom(SEED);
  const sizes = makeSizes(DISTINCT_KEYS + SCAN_KEYS, random);
  const traces = makeTraces(sizes, random);
  const keys = Array.from({ length: sizes.length }, (_, id) => `https://cdn.example/o/${id}`);
  console.log(
    `${DISTINCT_KEYS.toLocaleString('en')} objects, log-normal sizes 1 KiB–1 MiB (median 16 KiB), ` +
      `${REQUESTS.toLocaleString('en')} requests per trace, scans of ${SCAN_LENGTH.toLocaleString('en')} ` +
      `one-time keys every ${SCAN_EVERY.toLocaleString('en')} requests (seed ${SEED})\n`,
  );
  console.log(
    '| trace | cache (% of working set bytes) | W-TinyLFU byte HR | W-TinyLFU object HR | LRU byte HR | LRU object HR | byte HR ratio | object HR ratio |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  const speeds: number[][] = [[], []];
  for (const trace of traces) {
    for (const fraction of CACHE_FRACTIONS) {
      const maxBytes = Math.floor(trace.workingSetBytes * fraction);
      const tiny = replay(new WTinyLfu<number>({ maxBytes, seed: SEED }), trace.ids, keys, sizes);
      const lru = replay(new Lru<number>({ maxBytes }), trace.ids, keys, sizes);
      speeds[0]?.push(tiny.requestsPerSec);
      speeds[1]?.push(lru.requestsPerSec);
      console.log(
        `| ${trace.name} | ${(fraction * 100).toFixed(1)}% (${(maxBytes / 2 ** 30).toFixed(2)} GiB) | ` +
          `${percent(tiny.byteHitRatio)} | ${percent(tiny.objectHitRatio)} | ` +
          `${percent(lru.byteHitRatio)} | ${percent(lru.objectHitRatio)} | ` +
          `${(tiny.byteHitRatio / lru.byteHitRatio).toFixed(2)}x | ${(tiny.objectHitRatio / lru.objectHitRatio).toFixed(2)}x |`,
      );
    }
  }
  const maxBytes = HELD_FOR_GET_HITS * 1024;
  const tinyHits = measureGetHits(new WTinyLfu<number>({ maxBytes, seed: SEED }), seededRandom(1));
  const lruHits = measureGetHits(new Lru<number>({ maxBytes }), seededRandom(1));
  const mean = (values: number[] | undefined): number =>
    (values ?? []).reduce((a, b) => a + b, 0) / (values?.length ?? 1);
  console.log('\n| single thread | W-TinyLFU | LRU |');
  console.log('|---|---:|---:|');
  console.log(`| get hit (100k keys, random order) | ${rate(tinyHits)} | ${rate(lruHits)} |`);
  console.log(
    `| trace request (get, set on miss), mean | ${rate(mean(speeds[0]))} | ${rate(mean(speeds[1]))} |`,
  );
  console.log(`\nwall time ${((performance.now() - begun) / 1000).toFixed(1)} s`);
}

main();
