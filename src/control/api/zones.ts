// /client/v4/zones: create, list, get, change, delete.
import { z } from 'zod';
import { ZoneInputSchema, ZonePatchSchema, type Zone } from '../../common/config/zone.ts';
import { StoreConflictError } from '../store/types.ts';
import type { ControlStore } from '../store/types.ts';
import { conflict, forbidden, notFound, ok } from './envelope.ts';
import { pageOf, resultInfo, type Router } from './router.ts';

export const ZoneSchema = ZoneInputSchema.extend({
  id: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).meta({ id: 'Zone' });

export interface ZoneRouteOptions {
  /** Called after a zone is created or changed (the ACME engine orders for settings.acme at once). */
  onSaved?: (zone: Zone) => void;
}

export function zoneRoutes(router: Router, store: ControlStore, options: ZoneRouteOptions = {}): void {
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones',
      operationId: 'listZones',
      summary: 'List zones (?name= : only the zone of that name, as in Cloudflare v4)',
      scope: 'zones:read',
      tag: 'zones',
      result: z.array(ZoneSchema),
      queryParams: ['page', 'per_page', 'name'],
    },
    async ({ reply, query, token }) => {
      const page = pageOf(query);
      if (query.name !== undefined) {
        // Names are unique: the answer is that zone or nothing (nor a zone outside the token's zones).
        const zone = await store.getZoneByName(query.name);
        const items =
          zone !== undefined && (token.zones === null || token.zones.includes(zone.id)) ? [zone] : [];
        return ok(reply, items, 200, resultInfo(page, items.length, items.length));
      }
      const { items, total } = await store.listZones(page, token.zones);
      return ok(reply, items, 200, resultInfo(page, items.length, total));
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/client/v4/zones',
      operationId: 'createZone',
      summary: 'Create a zone',
      scope: 'zones:write',
      tag: 'zones',
      body: ZoneInputSchema,
      result: ZoneSchema,
    },
    async ({ reply, body, token, actor }) => {
      if (token.zones !== null) throw forbidden('a token limited to zones cannot create zones');
      const zone = await translateConflicts(() => store.createZone(body, actor));
      options.onSaved?.(zone);
      return ok(reply, zone, 201);
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id',
      operationId: 'getZone',
      summary: 'Get a zone',
      scope: 'zones:read',
      tag: 'zones',
      result: ZoneSchema,
    },
    async ({ reply, params }) => {
      const zone = await store.getZone(params.zone_id as string);
      if (zone === undefined) throw notFound('zone');
      return ok(reply, zone);
    },
  );
  router.add(
    {
      method: 'PATCH',
      path: '/client/v4/zones/:zone_id',
      operationId: 'patchZone',
      summary: 'Change a zone',
      scope: 'zones:write',
      tag: 'zones',
      body: ZonePatchSchema,
      result: ZoneSchema,
    },
    async ({ reply, params, body, actor }) => {
      const zone = await translateConflicts(() => store.patchZone(params.zone_id as string, body, actor));
      if (zone === undefined) throw notFound('zone');
      options.onSaved?.(zone);
      return ok(reply, zone);
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: '/client/v4/zones/:zone_id',
      operationId: 'deleteZone',
      summary: 'Delete a zone',
      scope: 'zones:write',
      tag: 'zones',
      result: z.object({ id: z.string() }),
    },
    async ({ reply, params, actor }) => {
      if (!(await store.deleteZone(params.zone_id as string, actor))) throw notFound('zone');
      return ok(reply, { id: params.zone_id });
    },
  );
}

/** Store conflicts (duplicate name, hostname taken) become 409 naming the field. */
export async function translateConflicts<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof StoreConflictError) throw conflict(`${err.field}: ${err.message}`);
    throw err;
  }
}
