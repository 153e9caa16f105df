// /client/v4/zones/{id}/rulesets/phases/{phase}/entrypoint: a zone's rulesets in Cloudflare's shape,
// one route per phase (each with its own body schema in the OpenAPI document), and
// /client/v4/zones/{id}/security/settings (under-attack mode, challenge settings). Expressions are
// compiled here once to refuse what a node could not run (400 with the field and the position).
import {
  MAX_RULESET_BYTES,
  PHASES,
  RulesetBodySchemas,
  RulesetSchema,
  SecuritySettingsSchema,
  type Phase,
} from '../../common/config/ruleset.ts';
import type { z } from 'zod';
import type { ControlStore } from '../store/types.ts';
import { badRequest, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { translateConflicts } from './zones.ts';

interface RulesetBody {
  name?: string | undefined;
  description?: string | undefined;
  rules: unknown[];
}

export function rulesetRoutes(router: Router, store: ControlStore): void {
  const zoneExists = async (zoneId: string): Promise<void> => {
    if ((await store.getZone(zoneId)) === undefined) throw notFound('zone');
  };
  for (const phase of PHASES) addPhase(router, store, phase, zoneExists);
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/security/settings',
      operationId: 'getSecuritySettings',
      summary: "A zone's security settings (under attack mode, challenge lifetime and difficulty)",
      scope: 'firewall:read',
      tag: 'rulesets',
      result: SecuritySettingsSchema,
    },
    async ({ reply, params }) => {
      await zoneExists(params.zone_id as string);
      return ok(reply, (await store.getSecurity(params.zone_id as string)).settings);
    },
  );
  router.add(
    {
      method: 'PUT',
      path: '/client/v4/zones/:zone_id/security/settings',
      operationId: 'putSecuritySettings',
      summary: "Replace a zone's security settings",
      scope: 'firewall:write',
      tag: 'rulesets',
      body: SecuritySettingsSchema,
      result: SecuritySettingsSchema,
    },
    async ({ reply, params, body, actor }) => {
      await zoneExists(params.zone_id as string);
      return ok(
        reply,
        await translateConflicts(() => store.putSecuritySettings(params.zone_id as string, body, actor)),
      );
    },
  );
}

function addPhase(
  router: Router,
  store: ControlStore,
  phase: Phase,
  zoneExists: (zoneId: string) => Promise<void>,
): void {
  const path = `/client/v4/zones/:zone_id/rulesets/phases/${phase}/entrypoint`;
  const name = phase.replace(/(^|_)([a-z])/g, (_m, _s: string, c: string) => c.toUpperCase());
  router.add(
    {
      method: 'GET',
      path,
      operationId: `get${name}Entrypoint`,
      summary: `The zone's ${phase} entrypoint ruleset (404 when none was put)`,
      scope: 'firewall:read',
      tag: 'rulesets',
      result: RulesetSchema,
    },
    async ({ reply, params }) => {
      await zoneExists(params.zone_id as string);
      const ruleset = (await store.getSecurity(params.zone_id as string)).rulesets[phase];
      if (ruleset === undefined) throw notFound('ruleset');
      return ok(reply, ruleset);
    },
  );
  router.add(
    {
      method: 'PUT',
      path,
      operationId: `put${name}Entrypoint`,
      summary: `Replace the zone's ${phase} entrypoint ruleset (every rule; ids kept when given)`,
      scope: 'firewall:write',
      tag: 'rulesets',
      // Each phase's own schema; the handler reads only what they share.
      body: RulesetBodySchemas[phase] as z.ZodType<RulesetBody>,
      result: RulesetSchema,
    },
    async ({ reply, params, body, actor }) => {
      await zoneExists(params.zone_id as string);
      const size = Buffer.byteLength(JSON.stringify(body.rules));
      if (size > MAX_RULESET_BYTES) {
        throw badRequest(`rules: the ruleset is ${size} bytes, over the limit of ${MAX_RULESET_BYTES}`);
      }
      return ok(
        reply,
        await translateConflicts(() =>
          store.putRuleset(
            params.zone_id as string,
            phase,
            {
              name: body.name,
              description: body.description,
              rules: body.rules as Record<string, unknown>[],
            },
            actor,
          ),
        ),
      );
    },
  );
}
