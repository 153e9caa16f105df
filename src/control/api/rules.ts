// /client/v4/zones/{id}/rules: the zone's ordered cache rules.
import { z } from 'zod';
import { RuleInputSchema } from '../../common/config/zone.ts';
import type { ControlStore } from '../store/types.ts';
import { notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { translateConflicts } from './zones.ts';

const RuleSchema = RuleInputSchema.extend({
  id: z.string(),
  zone_id: z.string(),
  position: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
}).meta({ id: 'Rule' });
const CreateRuleSchema = RuleInputSchema.extend({ position: z.number().int().min(0).optional() });
const ReorderSchema = z.object({ rule_ids: z.array(z.string().min(1)).max(1000) }).strict();

export function ruleRoutes(router: Router, store: ControlStore): void {
  const zoneExists = async (zoneId: string): Promise<void> => {
    if ((await store.getZone(zoneId)) === undefined) throw notFound('zone');
  };
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/rules',
      operationId: 'listRules',
      summary: "List a zone's cache rules in order",
      scope: 'zones:read',
      tag: 'rules',
      result: z.array(RuleSchema),
    },
    async ({ reply, params }) => {
      await zoneExists(params.zone_id as string);
      return ok(reply, await store.listRules(params.zone_id as string));
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/client/v4/zones/:zone_id/rules',
      operationId: 'createRule',
      summary: 'Add a cache rule (last, or at `position`)',
      scope: 'zones:write',
      tag: 'rules',
      body: CreateRuleSchema,
      result: RuleSchema,
    },
    async ({ reply, params, body, actor }) => {
      await zoneExists(params.zone_id as string);
      const { position, ...input } = body;
      return ok(
        reply,
        await translateConflicts(() =>
          store.createRule(params.zone_id as string, input, position ?? null, actor),
        ),
        201,
      );
    },
  );
  router.add(
    {
      method: 'PUT',
      path: '/client/v4/zones/:zone_id/rules/:rule_id',
      operationId: 'replaceRule',
      summary: 'Replace a cache rule',
      scope: 'zones:write',
      tag: 'rules',
      body: RuleInputSchema,
      result: RuleSchema,
    },
    async ({ reply, params, body, actor }) => {
      const rule = await store.updateRule(params.zone_id as string, params.rule_id as string, body, actor);
      if (rule === undefined) throw notFound('rule');
      return ok(reply, rule);
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: '/client/v4/zones/:zone_id/rules/:rule_id',
      operationId: 'deleteRule',
      summary: 'Delete a cache rule',
      scope: 'zones:write',
      tag: 'rules',
      result: z.object({ id: z.string() }),
    },
    async ({ reply, params, actor }) => {
      if (!(await store.deleteRule(params.zone_id as string, params.rule_id as string, actor)))
        throw notFound('rule');
      return ok(reply, { id: params.rule_id });
    },
  );
  router.add(
    {
      method: 'PUT',
      path: '/client/v4/zones/:zone_id/rules',
      operationId: 'reorderRules',
      summary: 'Set the order of all rules',
      scope: 'zones:write',
      tag: 'rules',
      body: ReorderSchema,
      result: z.array(RuleSchema),
    },
    async ({ reply, params, body, actor }) => {
      await zoneExists(params.zone_id as string);
      return ok(
        reply,
        await translateConflicts(() => store.reorderRules(params.zone_id as string, body.rule_ids, actor)),
      );
    },
  );
}
