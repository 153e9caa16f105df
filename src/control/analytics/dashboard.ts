// The zone analytics answer, in the shape of Cloudflare's classic zone analytics dashboard
// (`result.totals`, `result.timeseries[]`, each with `requests` and `bandwidth`), plus Meridian's
// additions: cache statuses, methods, protocols, latency quantiles, heavy hitters, per-PoP and
// per-node breakdowns. Pure: stored rows in, the answer out.
import {
  cachedOf,
  mergeSketches,
  mergeTallies,
  SKETCH_RELATIVE_ACCURACY,
  type Tally,
  type TopWire,
  type SketchWire,
} from '../../common/analytics/tally.ts';
import type { Resolution, RollupRow } from '../store/analytics.ts';
import { resolutionMs } from '../store/analytics.ts';

export const QUANTILES = [0.5, 0.75, 0.9, 0.95, 0.99] as const;

export interface LatencySummary {
  count: number;
  p50: number | null;
  p75: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

export interface Slice {
  since: string;
  until: string;
  requests: {
    all: number;
    cached: number;
    uncached: number;
    http_status: Record<string, number>;
    content_type: Record<string, number>;
    country: Record<string, number>;
    ssl: { encrypted: number; unencrypted: number };
    cache_status: Record<string, number>;
    method: Record<string, number>;
    protocol: Record<string, number>;
  };
  bandwidth: {
    all: number;
    cached: number;
    uncached: number;
    cache_status: Record<string, number>;
  };
  latency: { ttfb_ms: LatencySummary; origin_ms: LatencySummary; relative_accuracy: number };
}

export interface TopEntry {
  value: string;
  /** Upper bound of the true count (Space-Saving); `count - error` is a lower bound. */
  requests: number;
  error: number;
}

export interface Breakdown {
  requests: number;
  cached: number;
  bandwidth: number;
  cached_bandwidth: number;
}

export interface DashboardResult {
  query: { since: string; until: string; resolution: Resolution };
  totals: Slice & {
    top: { paths: TopEntry[]; client_ips: TopEntry[]; user_agents: TopEntry[]; referrers: TopEntry[] };
    pops: (Breakdown & { pop: string })[];
    nodes: (Breakdown & { node: string; pop: string })[];
  };
  timeseries: Slice[];
}

function latencyOf(encoded: readonly (SketchWire | null)[]): LatencySummary {
  const sketch = mergeSketches(encoded);
  if (sketch === null) return { count: 0, p50: null, p75: null, p90: null, p95: null, p99: null };
  const at = (q: number): number => Math.round(sketch.getValueAtQuantile(q) * 1000) / 1000;
  return { count: sketch.count, p50: at(0.5), p75: at(0.75), p90: at(0.9), p95: at(0.95), p99: at(0.99) };
}

export function sliceOf(since: string, until: string, t: Tally): Slice {
  const cached = cachedOf(t);
  const cacheRequests: Record<string, number> = {};
  const cacheBytes: Record<string, number> = {};
  for (const [name, c] of Object.entries(t.cache)) {
    cacheRequests[name] = c.requests;
    cacheBytes[name] = c.bytes;
  }
  return {
    since,
    until,
    requests: {
      all: t.requests,
      cached: cached.requests,
      uncached: t.requests - cached.requests,
      http_status: t.status,
      content_type: t.content_type,
      country: t.country,
      ssl: t.ssl,
      cache_status: cacheRequests,
      method: t.method,
      protocol: t.protocol,
    },
    bandwidth: {
      all: t.bytes,
      cached: cached.bytes,
      uncached: t.bytes - cached.bytes,
      cache_status: cacheBytes,
    },
    latency: {
      ttfb_ms: latencyOf([t.ttfb_ms]),
      origin_ms: latencyOf([t.origin_ms]),
      relative_accuracy: SKETCH_RELATIVE_ACCURACY,
    },
  };
}

function topOf(top: TopWire, limit: number): TopEntry[] {
  return top.items.slice(0, limit).map(([value, requests, error]) => ({ value, requests, error }));
}

function breakdownOf(t: Tally): Breakdown {
  const cached = cachedOf(t);
  return {
    requests: t.requests,
    cached: cached.requests,
    bandwidth: t.bytes,
    cached_bandwidth: cached.bytes,
  };
}

/**
 * Every bucket of [sinceMs, untilMs) appears in the timeseries (zeros where nothing was counted), so
 * a chart's x axis is the range asked for.
 */
export function buildDashboard(
  rows: readonly RollupRow[],
  resolution: Resolution,
  sinceMs: number,
  untilMs: number,
  topLimit = 10,
): DashboardResult {
  const step = resolutionMs(resolution);
  const byBucket = new Map<string, Tally[]>();
  const byNode = new Map<string, { pop: string; tallies: Tally[] }>();
  const byPop = new Map<string, Tally[]>();
  for (const row of rows) {
    push(byBucket, row.bucket, row.tally);
    push(byPop, row.pop, row.tally);
    const node = byNode.get(row.node);
    if (node === undefined) byNode.set(row.node, { pop: row.pop, tallies: [row.tally] });
    else node.tallies.push(row.tally);
  }
  const timeseries: Slice[] = [];
  for (let at = sinceMs; at < untilMs; at += step) {
    const since = new Date(at).toISOString();
    const until = new Date(Math.min(at + step, untilMs)).toISOString();
    const tallies = byBucket.get(since) ?? [];
    timeseries.push(sliceOf(since, until, mergeTallies(tallies)));
  }
  const total = mergeTallies(rows.map((r) => r.tally));
  return {
    query: { since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), resolution },
    totals: {
      ...sliceOf(new Date(sinceMs).toISOString(), new Date(untilMs).toISOString(), total),
      top: {
        paths: topOf(total.top.path, topLimit),
        client_ips: topOf(total.top.ip, topLimit),
        user_agents: topOf(total.top.user_agent, topLimit),
        referrers: topOf(total.top.referrer, topLimit),
      },
      pops: [...byPop]
        .map(([pop, tallies]) => ({ pop, ...breakdownOf(mergeTallies(tallies)) }))
        .sort((a, b) => a.pop.localeCompare(b.pop)),
      nodes: [...byNode]
        .map(([node, { pop, tallies }]) => ({ node, pop, ...breakdownOf(mergeTallies(tallies)) }))
        .sort((a, b) => a.node.localeCompare(b.node)),
    },
    timeseries,
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
