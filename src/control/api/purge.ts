// /client/v4/zones/{id}/purge_cache: purge by URL (or one variant), prefix, host, tag or everything,
// hard or soft; and the purge's status per PoP and node, from the nodes' receipts.
import { z } from 'zod';
import { hostOfTarget, PurgeRequestSchema } from '../../common/config/purge.ts';
import type { PurgeRequest } from '../../common/config/purge.ts';
import type { Zone } from '../../common/config/zone.ts';
import type { ControlStore } from '../store/types.ts';
import { TokenBuckets, type BucketRate } from '../../lib/ratelimit/bucket.ts';
import { badRequest, notFound, ok } from './envelope.ts';
import { refuseOver } from './limits.ts';
import type { Router } from './router.ts';

/** Purge calls per second and zone, sustained, and the calls a zone may make at once. */
export type PurgeRateLimit = BucketRate;

export const DEFAULT_PURGE_RATE: PurgeRateLimit = { perSecond: 50, burst: 500 };

const NodeStatusSchema = z.object({
  name: z.string(),
  status: z.enum(['up', 'down']),
  applied: z.boolean(),
  /** applied; down (not applied, and the node is down: it applies the purge when it is back); pending. */
  state: z.enum(['applied', 'down', 'pending']),
  /** The node's time of application (null: applied, known from its reported sequence only; or not yet). */
  applied_at: z.string().nullable(),
});
const PurgeStatusSchema = z.object({
  id: z.string(),
  zone_id: z.string(),
  created_at: z.string(),
  seq: z.number(),
  request: z.record(z.string(), z.unknown()),
  /** Every node that is up has applied the purge (also true when no node is registered: see `nodes`). */
  complete: z.boolean(),
  /** Registered nodes by state: a purge is confirmed when `applied` > 0 and `pending` is 0. */
  nodes: z.object({ total: z.number(), applied: z.number(), down: z.number(), pending: z.number() }),
  pops: z.array(
    z.object({
      name: z.string(),
      applied: z.number(),
      down: z.number(),
      pending: z.number(),
      total: z.number(),
      nodes: z.array(NodeStatusSchema),
    }),
  ),
});
const PurgeCreatedSchema = z.object({ id: z.string(), seq: z.number(), created_at: z.string() });

export function purgeRoutes(
  router: Router,
  store: ControlStore,
  rate: PurgeRateLimit = DEFAULT_PURGE_RATE,
): void {
  // Per zone and per control-plane replica: with N replicas the sum is N times the rate.
  const limiter = new TokenBuckets(rate);
  router.add(
    {
      method: 'POST',
      path: '/client/v4/zones/:zone_id/purge_cache',
      summary:
        'Purge cached content: files (URLs or {url, headers}), prefixes, hosts, tags or purge_everything; soft marks stale',
      scope: 'purge',
      tag: 'purge',
      body: PurgeRequestSchema,
      result: PurgeCreatedSchema,
    },
    async ({ reply, params, body, actor }) => {
      const zoneId = params.zone_id as string;
      const zone = await store.getZone(zoneId);
      if (zone === undefined) throw notFound('zone');
      checkTargetsBelongTo(zone, body);
      refuseOver(
        reply,
        limiter.take(zoneId, Date.now()),
        `purge rate limit for this zone: ${rate.perSecond}/s (burst ${rate.burst})`,
      );
      const purge = await store.createPurge(zoneId, body, actor);
      if (purge === undefined) throw notFound('zone');
      return ok(reply, { id: purge.id, seq: purge.seq, created_at: purge.created_at });
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/purge_cache/:purge_id',
      summary: 'A purge: when each node (by PoP) applied it, and whether every live node has',
      scope: 'purge',
      tag: 'purge',
      result: PurgeStatusSchema,
    },
    async ({ reply, params }) => {
      const purge = await store.getPurge(params.zone_id as string, params.purge_id as string);
      if (purge === undefined) throw notFound('purge');
      const [acks, nodes] = await Promise.all([store.listPurgeAcks(purge.id), store.listNodes()]);
      const ackAt = new Map(acks.map((a) => [a.node, a.applied_at]));
      const pops = new Map<string, z.infer<typeof PurgeStatusSchema>['pops'][number]>();
      const counts = { total: 0, applied: 0, down: 0, pending: 0 };
      for (const node of nodes) {
        const appliedAt = ackAt.get(node.name) ?? null;
        const applied = appliedAt !== null || node.applied_seq >= purge.seq;
        const state = applied ? 'applied' : node.status === 'down' ? 'down' : 'pending';
        let pop = pops.get(node.pop);
        if (pop === undefined)
          pops.set(
            node.pop,
            (pop = { name: node.pop, applied: 0, down: 0, pending: 0, total: 0, nodes: [] }),
          );
        pop.total += 1;
        pop[state] += 1;
        counts.total += 1;
        counts[state] += 1;
        pop.nodes.push({ name: node.name, status: node.status, applied, state, applied_at: appliedAt });
      }
      const { id, zone_id, created_at, seq, ...request } = purge;
      return ok(reply, {
        id,
        zone_id,
        created_at,
        seq,
        request,
        complete: counts.pending === 0,
        nodes: counts,
        pops: [...pops.values()].sort((a, b) => a.name.localeCompare(b.name)),
      });
    },
  );
}

/** URLs, prefixes and hosts must name one of the zone's hostnames (a token scoped to one zone cannot purge another's). */
function checkTargetsBelongTo(zone: Zone, request: PurgeRequest): void {
  const hostnames = new Set(zone.hostnames);
  const check = (field: string, targets: readonly string[]): void => {
    targets.forEach((target, i) => {
      const host = hostOfTarget(target);
      if (!hostnames.has(host))
        throw badRequest(`${field}.${i}: ${host} is not a hostname of zone ${zone.name}`);
    });
  };
  if (request.files !== undefined)
    check(
      'files',
      request.files.map((f) => (typeof f === 'string' ? f : f.url)),
    );
  if (request.prefixes !== undefined) check('prefixes', request.prefixes);
  if (request.hosts !== undefined) check('hosts', request.hosts);
}
