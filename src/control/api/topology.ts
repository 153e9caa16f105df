// /client/v4/pops and /client/v4/nodes: where the CDN runs (operator resources: admin scope).
import { z } from 'zod';
import { PopInputSchema } from '../../common/config/topology.ts';
import type { ControlStore } from '../store/types.ts';
import { badRequest, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { translateConflicts } from './zones.ts';

const PopSchema = PopInputSchema.extend({ created_at: z.string() });
const NodeSchema = z.object({
  name: z.string(),
  pop: z.string(),
  url: z.string(),
  admin_url: z.string().nullable(),
  status: z.enum(['up', 'down']),
  last_heartbeat_at: z.string().nullable(),
  applied_seq: z.number(),
  registered_at: z.string(),
});

export function topologyRoutes(router: Router, store: ControlStore): void {
  router.add(
    {
      method: 'GET',
      path: '/client/v4/pops',
      summary: 'List PoPs',
      scope: 'zones:read',
      tag: 'topology',
      result: z.array(PopSchema),
    },
    async ({ reply }) => ok(reply, await store.listPops()),
  );
  router.add(
    {
      method: 'PUT',
      path: '/client/v4/pops/:pop_name',
      summary: 'Create or change a PoP',
      scope: 'admin',
      tag: 'topology',
      body: PopInputSchema.omit({ name: true }),
      result: PopSchema,
    },
    async ({ reply, params, body, actor }) => {
      const parsed = PopInputSchema.shape.name.safeParse(params.pop_name);
      if (!parsed.success) throw badRequest(`pop_name: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return ok(
        reply,
        await translateConflicts(() => store.upsertPop({ ...body, name: parsed.data }, actor)),
      );
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: '/client/v4/pops/:pop_name',
      summary: 'Delete a PoP',
      scope: 'admin',
      tag: 'topology',
      result: z.object({ name: z.string() }),
    },
    async ({ reply, params, actor }) => {
      if (!(await translateConflicts(() => store.deletePop(params.pop_name as string, actor))))
        throw notFound('pop');
      return ok(reply, { name: params.pop_name });
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/nodes',
      summary: 'List nodes with status, last heartbeat and applied event sequence',
      scope: 'zones:read',
      tag: 'topology',
      result: z.array(NodeSchema),
    },
    async ({ reply }) => ok(reply, await store.listNodes()),
  );
}
