// Per-zone, per-minute analytics of one node, filled by the `log` step. The hot path only adds to
// numbers in memory (Maps, a DDSketch per latency, Space-Saving summaries): no I/O, no allocation
// beyond a first request of a zone in a minute or a new key. The shipper (shipper.ts) takes what was
// counted every few seconds with drain(); a minute's counts may so travel in several batches, which
// the control plane adds up.
//
// Counted: client requests of a zone. Not counted: internal hops (another node of the cluster
// fetching through this one: the client's request was counted where it arrived) and requests that
// found no zone (421/503, in /metrics only).
import type { DDSketch } from '@datadog/sketches-js';
import {
  EDGE_TOP_CAPACITY,
  emptyTally,
  encodeSketch,
  newSketch,
  topToWire,
  type CacheStatusName,
  type Tally,
} from '../../common/analytics/tally.ts';
import type { ZoneMinute } from '../../common/analytics/batch.ts';
import { SpaceSaving } from '../../lib/analytics/space-saving.ts';

/** One request as the log step sees it (fields read off the RequestContext). */
export interface RequestFacts {
  zoneId: string;
  /** How it was answered (the phase, or upstream-hit: see CACHE_STATUSES). */
  phase: CacheStatusName;
  status: number;
  bytes: number;
  method: string;
  protocol: string;
  contentType: string;
  country: string | null;
  secure: boolean;
  ttfbMs: number;
  /** ms to the upstream response head; < 0: did not go upstream. */
  originMs: number;
  path: string;
  ip: string;
  userAgent: string;
  referrer: string;
}

/** The longest key a heavy hitter keeps (a batch refuses longer ones). */
const MAX_KEY_CHARS = 2_048;

class ZoneAgg {
  requests = 0;
  bytes = 0;
  readonly cache = new Map<CacheStatusName, { requests: number; bytes: number }>();
  readonly status = new Map<number, number>();
  readonly method = new Map<string, number>();
  readonly protocol = new Map<string, number>();
  readonly contentType = new Map<string, number>();
  readonly country = new Map<string, number>();
  encrypted = 0;
  unencrypted = 0;
  readonly ttfb: DDSketch = newSketch();
  readonly origin: DDSketch = newSketch();
  readonly path = new SpaceSaving(EDGE_TOP_CAPACITY);
  readonly ip = new SpaceSaving(EDGE_TOP_CAPACITY);
  readonly userAgent = new SpaceSaving(EDGE_TOP_CAPACITY);
  readonly referrer = new SpaceSaving(EDGE_TOP_CAPACITY);

  add(f: RequestFacts): void {
    this.requests++;
    this.bytes += f.bytes;
    const c = this.cache.get(f.phase);
    if (c === undefined) this.cache.set(f.phase, { requests: 1, bytes: f.bytes });
    else {
      c.requests++;
      c.bytes += f.bytes;
    }
    bump(this.status, f.status);
    bump(this.method, f.method);
    bump(this.protocol, f.protocol);
    bump(this.contentType, f.contentType);
    if (f.country !== null) bump(this.country, f.country);
    if (f.secure) this.encrypted++;
    else this.unencrypted++;
    this.ttfb.accept(f.ttfbMs);
    if (f.originMs >= 0) this.origin.accept(f.originMs);
    this.path.add(clip(f.path));
    this.ip.add(f.ip);
    if (f.userAgent !== '') this.userAgent.add(clip(f.userAgent));
    if (f.referrer !== '') this.referrer.add(clip(f.referrer));
  }

  toTally(): Tally {
    const t = emptyTally();
    t.requests = this.requests;
    t.bytes = this.bytes;
    for (const [phase, c] of this.cache) t.cache[phase] = { ...c };
    for (const [code, n] of this.status) t.status[String(code)] = n;
    t.method = Object.fromEntries(this.method);
    t.protocol = Object.fromEntries(this.protocol);
    t.content_type = Object.fromEntries(this.contentType);
    t.country = Object.fromEntries(this.country);
    t.ssl = { encrypted: this.encrypted, unencrypted: this.unencrypted };
    t.ttfb_ms = encodeSketch(this.ttfb);
    t.origin_ms = encodeSketch(this.origin);
    t.top = {
      path: topToWire(this.path),
      ip: topToWire(this.ip),
      user_agent: topToWire(this.userAgent),
      referrer: topToWire(this.referrer),
    };
    return t;
  }
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function clip(key: string): string {
  return key.length > MAX_KEY_CHARS ? key.slice(0, MAX_KEY_CHARS) : key;
}

/** Distinct values kept per counter map and zone-minute (the batch's limit); more fold into "other". */
const MAX_MAP_KEYS = 200;

export class AnalyticsCollector {
  /** The minute being counted (ms since the epoch of its start). */
  #minuteMs = 0;
  #zones = new Map<string, ZoneAgg>();
  /** The last zone counted and its aggregate: consecutive requests of one zone skip the lookup. */
  #lastZoneId = '';
  #lastAgg: ZoneAgg | null = null;
  /** Minutes that ended since the last drain. */
  #ended: { minuteMs: number; zones: Map<string, ZoneAgg> }[] = [];

  /** Counts one request. `nowMs`: when it ended (its minute), ms since the epoch (may be fractional). */
  record(f: RequestFacts, nowMs: number): void {
    const minuteMs = Math.floor(nowMs / 60_000) * 60_000;
    if (minuteMs !== this.#minuteMs) this.#rotate(minuteMs);
    let agg = f.zoneId === this.#lastZoneId ? this.#lastAgg : this.#zones.get(f.zoneId);
    if (agg === undefined || agg === null) {
      agg = new ZoneAgg();
      this.#zones.set(f.zoneId, agg);
    }
    this.#lastZoneId = f.zoneId;
    this.#lastAgg = agg;
    // Bounded: a client inventing methods or an origin inventing media types cannot grow the maps.
    if (agg.method.size >= MAX_MAP_KEYS && !agg.method.has(f.method)) f.method = 'other';
    if (agg.contentType.size >= MAX_MAP_KEYS && !agg.contentType.has(f.contentType)) f.contentType = 'other';
    agg.add(f);
  }

  #rotate(minuteMs: number): void {
    if (this.#zones.size > 0) this.#ended.push({ minuteMs: this.#minuteMs, zones: this.#zones });
    this.#zones = new Map();
    this.#lastAgg = null;
    this.#minuteMs = minuteMs;
  }

  /** Everything counted since the last drain, per zone and minute; the counters start again at zero. */
  drain(): ZoneMinute[] {
    const out: ZoneMinute[] = [];
    const all = [...this.#ended, { minuteMs: this.#minuteMs, zones: this.#zones }];
    this.#ended = [];
    this.#zones = new Map();
    this.#lastAgg = null;
    for (const { minuteMs, zones } of all) {
      const minute = new Date(minuteMs).toISOString();
      for (const [zoneId, agg] of zones) out.push({ zone_id: zoneId, minute, tally: agg.toTally() });
    }
    return out;
  }
}
