// /client/v4/pops and /client/v4/nodes: where the CDN runs (operator resources: admin scope).
import { z } from 'zod';
import { knownCity } from '../../common/config/cities.ts';
import { PopInputSchema } from '../../common/config/topology.ts';
import type { ControlStore } from '../store/types.ts';
import { badRequest, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { translateConflicts } from './zones.ts';

const PopSchema = PopInputSchema.extend({
  drained: z.boolean().describe('Drained: anycast withdrawn, DNS does not answer with it (PATCH).'),
  created_at: z.string(),
});
/** The PATCH body: whether the PoP is drained (the only field that changes apart from PUT). */
const PopPatchSchema = z
  .object({
    drained: z
      .boolean()
      .describe(
        'true: the PoP is taken out of service; its anycast agents withdraw its prefixes (new connections go to the next PoP, established ones finish) and DNS stops answering with it. false: back in service.',
      ),
  })
  .strict();
/** The PUT body: coordinates may be left out when `city` is a known city or code (src/common/config/cities.ts). */
const PopBodySchema = PopInputSchema.omit({ name: true }).extend({
  city: PopInputSchema.shape.city.describe(
    'City name or IATA-style code; a known one (e.g. "Frankfurt", "fra") fills in latitude and longitude',
  ),
  latitude: PopInputSchema.shape.latitude.optional(),
  longitude: PopInputSchema.shape.longitude.optional(),
});
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

/** Coordinates as given, or those of the known city; a 400 naming the missing one otherwise. */
function located(body: z.infer<typeof PopBodySchema>): { city: string; latitude: number; longitude: number } {
  const known = knownCity(body.city);
  const latitude = body.latitude ?? known?.latitude;
  const longitude = body.longitude ?? known?.longitude;
  for (const [field, value] of [
    ['latitude', latitude],
    ['longitude', longitude],
  ] as const)
    if (value === undefined)
      throw badRequest(`${field}: required (city "${body.city}" is not in the built-in table of PoP cities)`);
  // A code alone ("fra") is stored as the city's name.
  const city = known !== undefined && body.city.trim().length <= 3 ? known.city : body.city;
  return { city, latitude: latitude as number, longitude: longitude as number };
}

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
      method: 'GET',
      path: '/client/v4/pops/:pop_name',
      summary: 'Get a PoP',
      scope: 'zones:read',
      tag: 'topology',
      result: PopSchema,
    },
    async ({ reply, params }) => {
      const pop = (await store.listPops()).find((p) => p.name === params.pop_name);
      if (pop === undefined) throw notFound('pop');
      return ok(reply, pop);
    },
  );
  router.add(
    {
      method: 'PUT',
      path: '/client/v4/pops/:pop_name',
      summary: 'Create or change a PoP',
      scope: 'admin',
      tag: 'topology',
      body: PopBodySchema,
      result: PopSchema,
    },
    async ({ reply, params, body, actor }) => {
      const parsed = PopInputSchema.shape.name.safeParse(params.pop_name);
      if (!parsed.success) throw badRequest(`pop_name: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      const pop = { ...body, ...located(body), name: parsed.data };
      return ok(reply, await translateConflicts(() => store.upsertPop(pop, actor)));
    },
  );
  router.add(
    {
      method: 'PATCH',
      path: '/client/v4/pops/:pop_name',
      summary: 'Drain a PoP or put it back in service',
      scope: 'admin',
      tag: 'topology',
      body: PopPatchSchema,
      result: PopSchema,
    },
    async ({ reply, params, body, actor }) => {
      const pop = await store.setPopDrained(params.pop_name as string, body.drained, actor);
      if (pop === undefined) throw notFound('pop');
      return ok(reply, pop);
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
