// meridian rules list|add|delete
import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const RULES_HELP = `meridian rules — a zone's ordered cache rules

Usage:
  meridian rules list --zone ZONE
  meridian rules add --zone ZONE [--path GLOB] [--ext EXT...] [--method M...] [--bypass] [--edge-ttl S]
                     [--browser-ttl S] [--override-origin] [--description TEXT] [--position N] [--json-body JSON]
  meridian rules delete --zone ZONE RULE_ID

--json-body gives the whole rule as JSON ({"match": {...}, "action": {...}}); see the OpenAPI document.
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

export async function runRules(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      path: { type: 'string' },
      ext: { type: 'string', multiple: true },
      method: { type: 'string', multiple: true },
      bypass: { type: 'boolean', default: false },
      'edge-ttl': { type: 'string' },
      'browser-ttl': { type: 'string' },
      'override-origin': { type: 'boolean', default: false },
      description: { type: 'string' },
      position: { type: 'string' },
      'json-body': { type: 'string' },
    },
  });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(RULES_HELP);
    return;
  }
  if (values.zone === undefined) throw new UsageError('--zone: required');
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  switch (verb) {
    case 'list': {
      const res = await callApi<
        { id: string; position: number; description: string; match: unknown; action: unknown }[]
      >(target, 'GET', `/client/v4/zones/${zoneId}/rules`);
      if (values.json) printJson(res.result);
      else
        for (const r of res.result)
          process.stdout.write(
            `${r.position}  ${r.id}  ${JSON.stringify(r.match)} → ${JSON.stringify(r.action)}  ${r.description}\n`,
          );
      return;
    }
    case 'add': {
      let body: Record<string, unknown>;
      if (values['json-body'] !== undefined) {
        try {
          body = JSON.parse(values['json-body']) as Record<string, unknown>;
        } catch {
          throw new UsageError('--json-body: not valid JSON');
        }
      } else {
        const match: Record<string, unknown> = {};
        if (values.path !== undefined) match.path = values.path;
        if (values.ext !== undefined) match.extensions = values.ext;
        if (values.method !== undefined) match.methods = values.method.map((m) => m.toUpperCase());
        const action: Record<string, unknown> = {
          bypass: values.bypass,
          override_origin: values['override-origin'],
        };
        if (values['edge-ttl'] !== undefined) action.edge_ttl = Number(values['edge-ttl']);
        if (values['browser-ttl'] !== undefined) action.browser_ttl = Number(values['browser-ttl']);
        body = { match, action, description: values.description ?? '' };
      }
      if (values.position !== undefined) body.position = Number(values.position);
      const res = await callApi<{ id: string }>(target, 'POST', `/client/v4/zones/${zoneId}/rules`, body);
      if (values.json) printJson(res.result);
      else process.stdout.write(`added rule ${res.result.id}\n`);
      return;
    }
    case 'delete': {
      const ruleId = positionals[0];
      if (ruleId === undefined) throw new UsageError('rules delete: RULE_ID is required');
      await callApi(target, 'DELETE', `/client/v4/zones/${zoneId}/rules/${ruleId}`);
      process.stdout.write(`deleted rule ${ruleId}\n`);
      return;
    }
    default:
      throw new UsageError(`rules: unknown verb "${verb}" (list, add, delete)`);
  }
}
