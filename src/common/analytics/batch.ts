// A node's analytics batch: `POST /internal/v1/analytics/batches`. The node sends one every few
// seconds with what it counted since the last; the batch id makes a re-sent batch count once. The
// schema is strict and bounded: a node with a bug (or a forged body) gets a 400 naming the field and
// nothing of the batch is stored.
import { z } from 'zod';
import { CACHE_STATUSES, TOP_DIMENSIONS, type Tally } from './tally.ts';

export const BATCH_LIMITS = Object.freeze({
  /** Zone-minutes per batch. */
  minutes: 2_000,
  /** Distinct keys per counter map (status codes, methods, countries ...). */
  mapKeys: 512,
  /** Heavy hitters per dimension. */
  topItems: 256,
  /** Length of a heavy hitter's key (a path, a user agent). */
  keyChars: 2_048,
  /** Bins of one latency sketch (1% accuracy: 1 µs to 1 h is ~1 100 bins). */
  sketchBins: 4_096,
});

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const counts = z
  .record(z.string().min(1).max(128), count)
  .refine((r) => Object.keys(r).length <= BATCH_LIMITS.mapKeys, `at most ${BATCH_LIMITS.mapKeys} keys`);
const finite = z.number().min(-1e15).max(1e15);
const sketch = z
  .object({
    key: z.number().int().min(-100_000).max(100_000),
    bins: z.array(count).max(BATCH_LIMITS.sketchBins),
    zero: count,
    count,
    sum: finite,
    min: finite,
    max: finite,
  })
  .strict()
  .refine(
    (s) => s.bins.reduce((a, b) => a + b, 0) + s.zero === s.count,
    'bins and zero do not add up to count',
  )
  .nullable();
const top = z
  .object({
    total: count,
    evicted: z.boolean(),
    items: z.array(z.tuple([z.string().max(BATCH_LIMITS.keyChars), count, count])).max(BATCH_LIMITS.topItems),
  })
  .strict();

const cacheEntry = z.object({ requests: count, bytes: count }).strict();

export const TallySchema = z
  .object({
    requests: count,
    bytes: count,
    cache: z.partialRecord(z.enum(CACHE_STATUSES), cacheEntry),
    status: counts.refine(
      (r) => Object.keys(r).every((k) => /^[1-5]\d\d$/.test(k)),
      'keys must be HTTP status codes (100-599)',
    ),
    method: counts,
    protocol: counts,
    content_type: counts,
    country: counts,
    ssl: z.object({ encrypted: count, unencrypted: count }).strict(),
    ttfb_ms: sketch,
    origin_ms: sketch,
    top: z
      .object(
        Object.fromEntries(TOP_DIMENSIONS.map((d) => [d, top])) as Record<
          (typeof TOP_DIMENSIONS)[number],
          typeof top
        >,
      )
      .strict(),
  })
  .strict()
  .refine((t) => Object.values(t.cache).reduce((sum, c) => sum + (c?.requests ?? 0), 0) === t.requests, {
    message: 'the cache statuses do not add up to requests',
    path: ['cache'],
  })
  .refine((t) => Object.values(t.cache).reduce((sum, c) => sum + (c?.bytes ?? 0), 0) === t.bytes, {
    message: 'the cache statuses do not add up to bytes',
    path: ['cache'],
  });

const MINUTE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/;

export const ZoneMinuteSchema = z
  .object({
    zone_id: z.string().min(1).max(64),
    /** The minute's start, ISO 8601 UTC ("2026-12-03T12:34:00.000Z"). */
    minute: z.string().regex(MINUTE, 'an ISO minute start (YYYY-MM-DDTHH:MM:00.000Z)'),
    tally: TallySchema,
  })
  .strict();

export const AnalyticsBatchSchema = z
  .object({
    /** Chosen by the node (a UUID); the control plane stores a batch id once. */
    batch_id: z.string().uuid(),
    node: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a node name'),
    pop: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a PoP name'),
    minutes: z.array(ZoneMinuteSchema).max(BATCH_LIMITS.minutes),
  })
  .strict();

export interface ZoneMinute {
  zone_id: string;
  minute: string;
  tally: Tally;
}

export interface AnalyticsBatch {
  batch_id: string;
  node: string;
  pop: string;
  minutes: ZoneMinute[];
}

/** What the control plane answers a batch with. */
export interface BatchReceipt {
  /** The batch was stored before (a re-send): nothing was added. */
  duplicate: boolean;
  /** Zones someone tails now: the node sends their requests live (tail.ts). */
  tails: string[];
}
