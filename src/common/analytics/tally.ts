// What a node counts per zone and minute, as it travels to the control plane and as the control
// plane keeps it (one row per zone, bucket and node): exact counters, two mergeable latency sketches
// (DDSketch, relative error SKETCH_RELATIVE_ACCURACY) and bounded heavy hitters (Space-Saving).
// Tallies merge: counters add, sketches merge, heavy hitters merge (lib/analytics/space-saving.ts).
import { DDSketch } from '@datadog/sketches-js';
import { SpaceSaving, type HeavyHitter } from '../../lib/analytics/space-saving.ts';

/** DDSketch's guarantee: a quantile it answers is within 1% of the true value (relative). */
export const SKETCH_RELATIVE_ACCURACY = 0.01;
/** Heavy hitters a node keeps per zone, minute and dimension. */
export const EDGE_TOP_CAPACITY = 64;
/** Heavy hitters the control plane keeps per stored row and dimension. */
export const STORED_TOP_CAPACITY = 64;

/**
 * How the request was answered: the edge's Phase, plus `upstream-hit`: a miss of this node that
 * its PoP's owner node or the shield answered from its cache (the nearest upstream Cache-Status
 * entry says hit), so no origin was asked.
 */
export const CACHE_STATUSES = [
  'hit',
  'stale',
  'miss',
  'revalidated',
  'pass',
  'stale-if-error',
  'synth',
  'upstream-hit',
] as const;
export type CacheStatusName = (typeof CACHE_STATUSES)[number];
/** Served from a stored object of Meridian: Cloudflare's "cached". The rest (miss, pass, synth) is "uncached". */
export const CACHED_STATUSES: ReadonlySet<string> = new Set([
  'hit',
  'stale',
  'revalidated',
  'stale-if-error',
  'upstream-hit',
]);

export const TOP_DIMENSIONS = ['path', 'ip', 'user_agent', 'referrer'] as const;
export type TopDimension = (typeof TOP_DIMENSIONS)[number];

/** A Space-Saving summary on the wire: held entries as [key, count, error]. */
export interface TopWire {
  total: number;
  evicted: boolean;
  items: [string, number, number][];
}

export interface Tally {
  requests: number;
  bytes: number;
  /** Per cache status: requests and body bytes. */
  cache: Partial<Record<CacheStatusName, { requests: number; bytes: number }>>;
  /** Per HTTP status code ("200"). */
  status: Record<string, number>;
  method: Record<string, number>;
  /** "HTTP/1.1", "HTTP/2". */
  protocol: Record<string, number>;
  /** Media type without parameters ("text/html"); "none" when the response had none. */
  content_type: Record<string, number>;
  /** ISO 3166 alpha-2, when the node's GeoIP database knows the client. */
  country: Record<string, number>;
  /** Client connections over TLS or not. */
  ssl: { encrypted: number; unencrypted: number };
  /** Time to first byte in ms (DDSketch bins); null: no sample. */
  ttfb_ms: SketchWire | null;
  /** Upstream (origin, shield or owner) time to response head in ms, for requests that went upstream. */
  origin_ms: SketchWire | null;
  top: Record<TopDimension, TopWire>;
}

export function emptyTally(): Tally {
  return {
    requests: 0,
    bytes: 0,
    cache: {},
    status: {},
    method: {},
    protocol: {},
    content_type: {},
    country: {},
    ssl: { encrypted: 0, unencrypted: 0 },
    ttfb_ms: null,
    origin_ms: null,
    top: {
      path: emptyTop(),
      ip: emptyTop(),
      user_agent: emptyTop(),
      referrer: emptyTop(),
    },
  };
}

function emptyTop(): TopWire {
  return { total: 0, evicted: false, items: [] };
}

export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
}

/**
 * A DDSketch on the wire: its positive store's bins from `key` on (the log-mapping index of the
 * first bin), the zero count, and the summary statistics. The library's own toProto needs
 * protobufjs, which it does not depend on; the bins are all a sketch is (fromProto reads the same).
 * Latencies are never negative, so the negative store is not carried.
 */
export interface SketchWire {
  key: number;
  bins: number[];
  zero: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export function encodeSketch(sketch: DDSketch): SketchWire | null {
  if (sketch.count === 0) return null;
  const store = sketch.store;
  const bins: number[] = [];
  for (let key = store.minKey; key <= store.maxKey && store.count > 0; key++) {
    bins.push(store.bins[key - store.offset] ?? 0);
  }
  return {
    key: store.count > 0 ? store.minKey : 0,
    bins,
    zero: sketch.zeroCount,
    count: sketch.count,
    sum: sketch.sum,
    min: sketch.min,
    max: sketch.max,
  };
}

export function decodeSketch(wire: SketchWire): DDSketch {
  const sketch = newSketch();
  wire.bins.forEach((n, i) => {
    if (n > 0) sketch.store.add(wire.key + i, n);
  });
  sketch.zeroCount = wire.zero;
  sketch.count = wire.count;
  sketch.sum = wire.sum;
  sketch.min = wire.min;
  sketch.max = wire.max;
  return sketch;
}

/** Merges sketches; null when none has a sample. */
export function mergeSketches(encoded: readonly (SketchWire | null)[]): DDSketch | null {
  let out: DDSketch | null = null;
  for (const e of encoded) {
    if (e === null) continue;
    const s = decodeSketch(e);
    if (out === null) out = newSketch();
    out.merge(s);
  }
  return out;
}

export function topToWire(summary: SpaceSaving): TopWire {
  return {
    total: summary.total,
    evicted: summary.hasEvicted,
    items: summary.top().map((h) => [h.key, h.count, h.error]),
  };
}

export function mergeTops(capacity: number, tops: readonly TopWire[]): TopWire {
  const merged = SpaceSaving.merge(
    capacity,
    tops.map((t) => ({
      top: t.items.map(([key, count, error]): HeavyHitter => ({ key, count, error })),
      total: t.total,
      full: t.evicted,
    })),
  );
  return topToWire(merged);
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const key in from) into[key] = (into[key] ?? 0) + (from[key] as number);
}

/** The sum of tallies (a new object; the inputs are not changed). */
export function mergeTallies(tallies: readonly Tally[], capacity = STORED_TOP_CAPACITY): Tally {
  const out = emptyTally();
  for (const t of tallies) {
    out.requests += t.requests;
    out.bytes += t.bytes;
    for (const name in t.cache) {
      const from = t.cache[name as CacheStatusName] as { requests: number; bytes: number };
      const into = (out.cache[name as CacheStatusName] ??= { requests: 0, bytes: 0 });
      into.requests += from.requests;
      into.bytes += from.bytes;
    }
    addCounts(out.status, t.status);
    addCounts(out.method, t.method);
    addCounts(out.protocol, t.protocol);
    addCounts(out.content_type, t.content_type);
    addCounts(out.country, t.country);
    out.ssl.encrypted += t.ssl.encrypted;
    out.ssl.unencrypted += t.ssl.unencrypted;
  }
  out.ttfb_ms = encodeOrNull(mergeSketches(tallies.map((t) => t.ttfb_ms)));
  out.origin_ms = encodeOrNull(mergeSketches(tallies.map((t) => t.origin_ms)));
  for (const dim of TOP_DIMENSIONS) {
    out.top[dim] = mergeTops(
      capacity,
      tallies.map((t) => t.top[dim]),
    );
  }
  return out;
}

function encodeOrNull(sketch: DDSketch | null): SketchWire | null {
  return sketch === null ? null : encodeSketch(sketch);
}

/** Requests and bytes served from a stored object. */
export function cachedOf(t: Tally): { requests: number; bytes: number } {
  let requests = 0;
  let bytes = 0;
  for (const name in t.cache) {
    if (!CACHED_STATUSES.has(name)) continue;
    const c = t.cache[name as CacheStatusName] as { requests: number; bytes: number };
    requests += c.requests;
    bytes += c.bytes;
  }
  return { requests, bytes };
}
