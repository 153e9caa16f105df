// Analytics: the nodes' batches in (/internal/v1/analytics/*, node token), the zone dashboard,
// every zone at a glance, purge and config-propagation history, and the live tail out
// (/client/v4/.../analytics/*, scope analytics:read).
import { z } from 'zod';
import { AnalyticsBatchSchema, type AnalyticsBatch } from '../../common/analytics/batch.ts';
import { buildDashboard } from '../analytics/dashboard.ts';
import { TailHub, type TailFilter, type TailRecord } from '../analytics/tail-hub.ts';
import { bucketOf, resolutionMs, RESOLUTIONS, type Resolution } from '../store/analytics.ts';
import type { ControlStore } from '../store/types.ts';
import { API_ERRORS, ApiError, badRequest, forbidden, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';

/** The widest range one query may span. */
const MAX_RANGE_MS = 366 * 86_400_000;
/** Buckets one answer may hold (a minute resolution over a week would be 10 080). */
const MAX_BUCKETS = 1_500;

const TailRecordSchema = z
  .object({
    time: z.string().max(40),
    node: z.string().max(64),
    pop: z.string().max(64).nullable(),
    zone: z.string().max(253),
    zone_id: z.string().min(1).max(64),
    client_ip: z.string().max(64),
    country: z.string().max(8).nullable(),
    method: z.string().max(32),
    scheme: z.enum(['http', 'https']),
    host: z.string().max(300),
    path: z.string().max(16_384),
    protocol: z.string().max(16),
    status: z.number().int().min(100).max(599),
    bytes: z.number().int().min(0),
    cache: z.string().max(32),
    content_type: z.string().max(128),
    ttfb_ms: z.number().min(0),
    origin_ms: z.number().min(0).nullable(),
    duration_ms: z.number().min(0),
    user_agent: z.string().max(4096),
    referrer: z.string().max(4096),
  })
  .strict();

const TailPostSchema = z
  .object({
    node: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a node name'),
    records: z.array(TailRecordSchema).max(1_000),
  })
  .strict();

export function analyticsRoutes(router: Router, store: ControlStore, hub: TailHub = new TailHub()): void {
  router.add(
    {
      method: 'POST',
      path: '/internal/v1/analytics/batches',
      summary: "A node's analytics batch (idempotent by batch_id); the answer names the zones being tailed",
      scope: 'node',
      tag: 'internal',
      body: AnalyticsBatchSchema,
    },
    async ({ reply, body }) => {
      const batch = body as AnalyticsBatch;
      const node = (await store.listNodes()).find((n) => n.name === batch.node);
      if (node === undefined) throw forbidden(`node: no registered node named "${batch.node}"`);
      if (node.pop !== batch.pop)
        throw badRequest(`pop: node ${batch.node} is in PoP "${node.pop}", not "${batch.pop}"`);
      const result = await store.analytics.ingest(batch);
      if (result.kind === 'unknown-zones') {
        throw new ApiError(
          404,
          API_ERRORS.analytics_unknown_zone,
          `minutes: unknown zone ${result.zoneIds.join(', ')}`,
        );
      }
      return ok(reply, { duplicate: result.kind === 'duplicate', tails: hub.tailedZones() });
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/internal/v1/analytics/tail',
      summary:
        'Live requests of the zones being tailed, from a node; the answer names the zones still tailed',
      scope: 'node',
      tag: 'internal',
      body: TailPostSchema,
    },
    async ({ reply, body }) => {
      hub.publish(body.records as TailRecord[]);
      return ok(reply, { tails: hub.tailedZones() });
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/analytics/dashboard',
      summary:
        "The zone's analytics over ?since=&until= (ISO times, or minutes relative to now such as -60): totals and timeseries",
      scope: 'analytics:read',
      tag: 'analytics',
      queryParams: ['since', 'until', 'resolution', 'top'],
    },
    async ({ reply, params, query }) => {
      const zone = await store.getZone(params.zone_id as string);
      if (zone === undefined) throw notFound('zone');
      const range = rangeOf(query, Date.now());
      const top = query.top === undefined ? 10 : Number(query.top);
      if (!Number.isInteger(top) || top < 1 || top > 64)
        throw badRequest(`top: expected an integer from 1 to 64, got "${query.top}"`);
      const rows = await store.analytics.rows(
        zone.id,
        range.resolution,
        iso(range.sinceMs),
        iso(range.untilMs),
      );
      return ok(reply, buildDashboard(rows, range.resolution, range.sinceMs, range.untilMs, top));
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/analytics/zones',
      summary: 'Requests and bandwidth of every zone the token may read, over ?since=&until=',
      scope: 'analytics:read',
      tag: 'analytics',
      queryParams: ['since', 'until'],
    },
    async ({ reply, query, token }) => {
      const range = rangeOf(query, Date.now());
      const totals = await store.analytics.zoneTotals(
        range.resolution,
        iso(range.sinceMs),
        iso(range.untilMs),
      );
      const zones = await store.listZones({ page: 1, per_page: 1_000 }, token.zones);
      return ok(
        reply,
        zones.items.map((z) => ({
          id: z.id,
          name: z.name,
          requests: totals.get(z.id)?.requests ?? 0,
          bandwidth: totals.get(z.id)?.bytes ?? 0,
        })),
      );
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/analytics/history',
      summary: "The zone's purges and config changes, each with when the last node applied it",
      scope: 'analytics:read',
      tag: 'analytics',
      queryParams: ['limit'],
    },
    async ({ reply, params, query }) => {
      const zone = await store.getZone(params.zone_id as string);
      if (zone === undefined) throw notFound('zone');
      const limit = query.limit === undefined ? 20 : Number(query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw badRequest(`limit: expected an integer from 1 to 100, got "${query.limit}"`);
      const nodes = await store.listNodes();
      const propagation = async (seq: number, acceptedAt: string, ackedAt: Map<string, string>) => {
        const appliedAt = await store.analytics.appliedAt(seq);
        const perNode = nodes.map((n) => {
          const at = ackedAt.get(n.name) ?? appliedAt.get(n.name) ?? null;
          return {
            node: n.name,
            pop: n.pop,
            applied_at: at,
            state: at !== null || n.applied_seq >= seq ? 'applied' : n.status === 'down' ? 'down' : 'pending',
          };
        });
        const times = perNode
          .map((n) => n.applied_at)
          .filter((t): t is string => t !== null)
          .sort();
        const last = times.at(-1) ?? null;
        return {
          accepted_at: acceptedAt,
          complete: perNode.every((n) => n.state !== 'pending'),
          last_applied_at: last,
          propagation_ms: last === null ? null : Date.parse(last) - Date.parse(acceptedAt),
          nodes: perNode,
        };
      };
      const purges = [];
      for (const p of await store.analytics.purges(zone.id, limit)) {
        const acks = new Map((await store.listPurgeAcks(p.id)).map((a) => [a.node, a.applied_at]));
        purges.push({
          id: p.id,
          seq: p.seq,
          request: p.request,
          ...(await propagation(p.seq, p.created_at, acks)),
        });
      }
      const changes = [];
      for (const c of await store.analytics.changes(zone.id, limit)) {
        changes.push({ seq: c.seq, type: c.type, ...(await propagation(c.seq, c.at, new Map())) });
      }
      return ok(reply, { purges, changes });
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/analytics/tail',
      summary: "The zone's requests live from every node, as NDJSON (?status=5xx|404, ?pop=NAME)",
      scope: 'analytics:read',
      tag: 'analytics',
      queryParams: ['status', 'pop'],
    },
    async ({ req, reply, params, query }) => {
      const zone = await store.getZone(params.zone_id as string);
      if (zone === undefined) throw notFound('zone');
      const filter: TailFilter = { status: query.status ?? null, pop: query.pop ?? null };
      if (filter.status !== null && !/^([1-5]xx|[1-5]\d\d)$/i.test(filter.status)) {
        throw badRequest(
          `status: expected a class such as 5xx or a code such as 404, got "${filter.status}"`,
        );
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      res.write(`${JSON.stringify({ type: 'hello', zone: zone.name, zone_id: zone.id })}\n`);
      const unsubscribe = hub.subscribe(zone.id, filter, (record) =>
        res.write(`${JSON.stringify(record)}\n`),
      );
      const heartbeat = setInterval(
        () => res.write(`${JSON.stringify({ type: 'heartbeat', at: new Date().toISOString() })}\n`),
        10_000,
      );
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearInterval(heartbeat);
          unsubscribe();
          resolve();
        };
        req.raw.once('close', done);
        res.once('close', done);
      });
    },
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** ISO 8601, or an integer ≤ 0: minutes relative to now (Cloudflare's since=-1440). */
function timeParam(name: string, raw: string | undefined, fallbackMs: number, nowMs: number): number {
  if (raw === undefined || raw === '') return fallbackMs;
  if (/^-?\d+$/.test(raw)) {
    const minutes = Number(raw);
    if (minutes > 0) throw badRequest(`${name}: relative times are minutes before now (≤ 0), got "${raw}"`);
    return nowMs + minutes * 60_000;
  }
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(ms)) {
    throw badRequest(
      `${name}: expected an ISO 8601 time (2026-12-03T12:00:00Z) or minutes such as -60, got "${raw}"`,
    );
  }
  return ms;
}

export interface QueryRange {
  sinceMs: number;
  untilMs: number;
  resolution: Resolution;
}

/**
 * since (default 24 h ago) and until (default now), aligned outward to the resolution's buckets.
 * Resolution: given, or the finest whose buckets stay few (≤ 6 h: minutes, ≤ 14 d: hours, else days).
 */
export function rangeOf(query: Record<string, string | undefined>, nowMs: number): QueryRange {
  const untilRaw = timeParam('until', query.until, nowMs, nowMs);
  const sinceRaw = timeParam('since', query.since, untilRaw - 86_400_000, nowMs);
  if (untilRaw <= sinceRaw) {
    throw new ApiError(400, API_ERRORS.analytics_range, `until: must be after since (${iso(sinceRaw)})`);
  }
  if (untilRaw - sinceRaw > MAX_RANGE_MS) {
    throw new ApiError(400, API_ERRORS.analytics_range, `since: the range may span at most 366 days`);
  }
  let resolution: Resolution;
  if (query.resolution !== undefined) {
    if (!(RESOLUTIONS as readonly string[]).includes(query.resolution)) {
      throw badRequest(`resolution: expected one of ${RESOLUTIONS.join(', ')}, got "${query.resolution}"`);
    }
    resolution = query.resolution as Resolution;
  } else {
    const span = untilRaw - sinceRaw;
    resolution = span <= 6 * 3_600_000 ? 'minute' : span <= 14 * 86_400_000 ? 'hour' : 'day';
  }
  const step = resolutionMs(resolution);
  const sinceMs = bucketOf(resolution, sinceRaw);
  const untilMs = bucketOf(resolution, untilRaw - 1) + step;
  if ((untilMs - sinceMs) / step > MAX_BUCKETS) {
    throw new ApiError(
      400,
      API_ERRORS.analytics_range,
      `resolution: ${resolution} buckets over this range would be more than ${MAX_BUCKETS}; choose a coarser one`,
    );
  }
  return { sinceMs, untilMs, resolution };
}
