// /internal/v1: what edge and DNS nodes call with their `node` token — register, heartbeat, the
// snapshot and the event stream. A node token grants nothing else.
import { z } from 'zod';
import type { Zone } from '../../common/config/zone.ts';
import type { ControlStore } from '../store/types.ts';
import { streamEvents } from '../events/http-stream.ts';
import { badRequest, forbidden, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { translateConflicts } from './zones.ts';

const RegisterSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lower-case letters, digits and "-"'),
  pop: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a PoP name'),
  url: z.string().url(),
  admin_url: z.string().url().nullable().default(null),
  /** The role the node was started with; must match its PoP's (a shield node in an edge PoP is a mistake). */
  role: z.enum(['edge', 'shield']).optional(),
});
const HeartbeatSchema = z.object({ applied_seq: z.number().int().min(0) });
const PurgeAcksSchema = z.object({
  acks: z
    .array(z.object({ purge_id: z.string().min(1).max(64), applied_at: z.string().datetime() }))
    .min(1)
    .max(1000),
});

export function internalRoutes(router: Router, store: ControlStore): void {
  router.add(
    {
      method: 'POST',
      path: '/internal/v1/nodes/register',
      summary: 'A node announces itself',
      scope: 'node',
      tag: 'internal',
      body: RegisterSchema,
    },
    async ({ reply, body, actor }) => {
      const pop = (await store.listPops()).find((p) => p.name === body.pop);
      if (pop === undefined) throw badRequest(`pop: unknown PoP "${body.pop}"`);
      if (body.role !== undefined && body.role !== pop.role)
        throw badRequest(`role: PoP "${pop.name}" is a ${pop.role} PoP, the node says ${body.role}`);
      const { role: _role, ...node } = body;
      return ok(reply, await translateConflicts(() => store.registerNode(node, actor)));
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/internal/v1/nodes/:node_name/heartbeat',
      summary: 'A node reports that it lives and the sequence it applied',
      scope: 'node',
      tag: 'internal',
      body: HeartbeatSchema,
    },
    async ({ reply, params, body }) => {
      const node = await store.heartbeat(params.node_name as string, body.applied_seq);
      if (node === undefined) throw notFound('node');
      // Propagation history (analytics): when this node first reported this seq.
      await store.analytics.noteApplied(node.name, body.applied_seq);
      return ok(reply, node);
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/internal/v1/nodes/:node_name/purge-acks',
      summary: 'A node reports the purges it applied, with its time of application',
      scope: 'node',
      tag: 'internal',
      body: PurgeAcksSchema,
    },
    async ({ reply, params, body }) => {
      const recorded = await store.recordPurgeAcks(params.node_name as string, body.acks);
      return ok(reply, { recorded });
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/internal/v1/snapshot',
      summary: 'All state a node needs, and the sequence it reflects',
      scope: 'node',
      tag: 'internal',
    },
    async ({ reply }) =>
      ok(reply, {
        ...(await store.snapshot()),
        hop_key: await store.hopKey(),
        ticket_key: await store.ticketKey(),
      }),
  );
  router.add(
    {
      method: 'GET',
      path: '/internal/v1/certificates/:cert_id',
      summary: "A certificate's chain and private key, for a node (?node=NAME) of a PoP that serves its zone",
      scope: 'node',
      tag: 'internal',
      queryParams: ['node'],
    },
    async ({ reply, params, query }) => {
      const nodeName = query.node;
      if (nodeName === undefined || nodeName === '') throw badRequest('node: required (the node name)');
      const found = await store.getCertificateMaterial(params.cert_id as string);
      if (found === undefined) throw notFound('certificate');
      const node = (await store.listNodes()).find((n) => n.name === nodeName);
      if (node === undefined) throw forbidden(`node: no registered node named "${nodeName}"`);
      const zone = await store.getZone(found.meta.zone_id);
      if (zone === undefined) throw notFound('certificate');
      if (!popServesZone(node.pop, zone)) {
        throw forbidden(`node: PoP "${node.pop}" does not serve this certificate's zone`);
      }
      if (found.material === null) throw notFound('certificate material (the ACME order is pending)');
      return ok(reply, found.material);
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/internal/v1/events',
      summary: 'The event log after ?after=N as NDJSON, then live',
      scope: 'node',
      tag: 'internal',
      queryParams: ['after'],
    },
    async ({ req, reply, query }) => {
      const after = query.after ?? '0';
      if (!/^\d+$/.test(after)) throw badRequest(`after: expected a sequence number, got "${after}"`);
      reply.hijack();
      await streamEvents(store, req.raw, reply.raw, Number(after));
    },
  );
}

/**
 * A PoP serves a zone when the zone's GeoDNS answers may name it (settings.dns_pops absent or null:
 * every PoP) or when it is the zone's shield. Only such nodes receive the zone's private keys.
 */
export function popServesZone(pop: string, zone: Zone): boolean {
  const pops = zone.settings.dns_pops;
  return pops === undefined || pops === null || pops.includes(pop) || zone.shield_pop === pop;
}
