// /internal/v1 for edge workers: what a node fetches with its `node` token — a deployed version's
// source and bindings (secret texts opened), the entries of a KV namespace, a large KV value — and
// where it sends its workers' KV writes. Only nodes of a PoP that serves the zone get its material.
import { z } from 'zod';
import { checkKvWrite } from '../../common/workers/kv-limits.ts';
import type { ControlStore } from '../store/types.ts';
import { badRequest, forbidden, notFound, ok } from './envelope.ts';
import { popServesZone } from './internal.ts';
import type { Router } from './router.ts';

const WriteSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('put'),
      key: z.string().min(1),
      value_b64: z.string(),
      metadata: z.string().nullable(),
      expiration: z.number().int().nullable(),
    })
    .strict(),
  z.object({ kind: z.literal('delete'), key: z.string().min(1) }).strict(),
]);

export function workerInternalRoutes(router: Router, store: ControlStore): void {
  const workers = store.workers();
  /** 403 unless `node` is registered in a PoP that serves the zone. */
  const checkNode = async (nodeName: string | undefined, zoneId: string): Promise<void> => {
    if (nodeName === undefined || nodeName === '') throw badRequest('node: required (the node name)');
    const node = (await store.listNodes()).find((n) => n.name === nodeName);
    if (node === undefined) throw forbidden(`node: no registered node named "${nodeName}"`);
    const zone = await store.getZone(zoneId);
    if (zone === undefined) throw notFound('zone');
    if (!popServesZone(node.pop, zone)) throw forbidden(`node: PoP "${node.pop}" does not serve this zone`);
  };
  const namespaceZone = async (id: string): Promise<string> => {
    const ns = await workers.getNamespace(id);
    if (ns === undefined) throw notFound('namespace');
    return ns.zone_id;
  };
  router.add(
    {
      method: 'GET',
      path: '/internal/v1/workers/:zone_id/:script_name',
      summary: "A worker version's source and bindings, for a node (?node=NAME&version=N)",
      scope: 'node',
      tag: 'internal',
      queryParams: ['node', 'version'],
    },
    async ({ reply, params, query }) => {
      const zoneId = params.zone_id as string;
      await checkNode(query.node, zoneId);
      if (query.version === undefined || !/^\d+$/.test(query.version))
        throw badRequest('version: expected a version number');
      const script = await workers.getScriptMaterial(
        zoneId,
        params.script_name as string,
        Number(query.version),
      );
      if (script === undefined) throw notFound('script version');
      return ok(reply, script);
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/internal/v1/kv/:namespace_id/entries',
      summary: 'Every entry of a KV namespace (large values by reference), for a node (?node=NAME)',
      scope: 'node',
      tag: 'internal',
      queryParams: ['node'],
    },
    async ({ reply, params, query }) => {
      const ns = params.namespace_id as string;
      await checkNode(query.node, await namespaceZone(ns));
      return ok(reply, await workers.allEntries(ns));
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/internal/v1/kv/:namespace_id/value',
      summary: 'One KV value (?key=), for a node (?node=NAME) that got it by reference',
      scope: 'node',
      tag: 'internal',
      queryParams: ['node', 'key'],
    },
    async ({ reply, params, query }) => {
      const ns = params.namespace_id as string;
      await checkNode(query.node, await namespaceZone(ns));
      const found = await workers.getValue(ns, query.key ?? '');
      if (found === undefined) throw notFound('key');
      return ok(reply, { value_b64: found.value.toString('base64'), etag: found.etag });
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/internal/v1/kv/:namespace_id/write',
      summary: "A worker's KV put or delete, from a node (?node=NAME)",
      scope: 'node',
      tag: 'internal',
      queryParams: ['node'],
      body: WriteSchema,
    },
    async ({ reply, params, query, body, actor }) => {
      const ns = params.namespace_id as string;
      await checkNode(query.node, await namespaceZone(ns));
      if (body.kind === 'delete') {
        await workers.deleteValue(ns, body.key, actor);
        return ok(reply, { key: body.key });
      }
      const value = Buffer.from(body.value_b64, 'base64');
      const problem = checkKvWrite(body.key, value.length, body.metadata, null, null, Date.now() / 1000);
      if (problem !== null) throw badRequest(problem);
      const entry = await workers.putValue(ns, body.key, value, body.metadata, body.expiration, actor);
      return ok(reply, { key: body.key, etag: entry.etag });
    },
  );
}
