// meridian rules list|add|delete
import { parseArgs } from 'node:util';
import { parseSeconds, UsageError } from '../args.ts';
import { printTable } from '../table.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const RULES_HELP = `meridian rules — a zone's ordered cache rules

Usage:
  meridian rules list --zone ZONE
  meridian rules add --zone ZONE (--path GLOB | --ext EXT... | --method M... | --all) [--bypass]
                     [--edge-ttl TTL] [--browser-ttl TTL] [--override-origin] [--description TEXT]
                     [--position N] [--json-body JSON]
  meridian rules delete --zone ZONE RULE_ID

A rule needs at least one match condition (--path, --ext, --method); a rule for every request must
say so with --all. --path is a glob starting with "/" (* any run except "/", ** anything).
TTLs are seconds or 90s, 5m, 1h, 1d. --edge-ttl is a fallback for responses without freshness
information unless --override-origin. --json-body gives the whole rule as JSON ({"match": {...},
"action": {...}}); see the OpenAPI document.
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
      all: { type: 'boolean', default: false },
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
  // Flags are checked before the control plane is asked anything.
  const addBody = verb === 'add' ? ruleBodyOf(values) : undefined;
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  switch (verb) {
    case 'list': {
      const res = await callApi<
        { id: string; position: number; description: string; match: unknown; action: unknown }[]
      >(target, 'GET', `/client/v4/zones/${zoneId}/rules`);
      if (values.json) printJson(res.result);
      else
        printTable(
          ['POSITION', 'ID', 'MATCH', 'ACTION', 'DESCRIPTION'],
          res.result.map((r) => [
            String(r.position),
            r.id,
            JSON.stringify(r.match),
            JSON.stringify(r.action),
            r.description,
          ]),
        );
      return;
    }
    case 'add': {
      const res = await callApi<{ id: string }>(target, 'POST', `/client/v4/zones/${zoneId}/rules`, addBody);
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

interface RuleFlags {
  'json-body'?: string | undefined;
  path?: string | undefined;
  ext?: string[] | undefined;
  method?: string[] | undefined;
  all: boolean;
  bypass: boolean;
  'override-origin': boolean;
  'edge-ttl'?: string | undefined;
  'browser-ttl'?: string | undefined;
  description?: string | undefined;
  position?: string | undefined;
}

/** The POST body from the flags, each checked here so that the error names the flag, not a field. */
export function ruleBodyOf(values: RuleFlags): Record<string, unknown> {
  let body: Record<string, unknown>;
  if (values['json-body'] !== undefined) {
    try {
      body = JSON.parse(values['json-body']) as Record<string, unknown>;
    } catch {
      throw new UsageError('--json-body: not valid JSON');
    }
  } else {
    const match: Record<string, unknown> = {};
    if (values.path !== undefined) {
      if (!values.path.startsWith('/'))
        throw new UsageError(`--path: must start with "/" (e.g. /img/*), got "${values.path}"`);
      match.path = values.path;
    }
    if (values.ext !== undefined) match.extensions = values.ext.map((e) => e.replace(/^\./, ''));
    if (values.method !== undefined) match.methods = values.method.map((m) => m.toUpperCase());
    const conditions = Object.keys(match).length;
    // An empty match is a catch-all: with a typo'd or forgotten flag it would bypass or re-time
    // the whole zone, so it must be asked for.
    if (conditions === 0 && !values.all)
      throw new UsageError(
        'rules add: no match condition: give --path, --ext or --method, or --all for a rule that matches every request',
      );
    if (conditions > 0 && values.all)
      throw new UsageError(
        '--all: matches every request; it cannot be combined with --path, --ext or --method',
      );
    const action: Record<string, unknown> = {
      bypass: values.bypass,
      override_origin: values['override-origin'],
    };
    if (values['edge-ttl'] !== undefined) action.edge_ttl = parseSeconds('edge-ttl', values['edge-ttl']);
    if (values['browser-ttl'] !== undefined)
      action.browser_ttl = parseSeconds('browser-ttl', values['browser-ttl']);
    if (values['override-origin'] && action.edge_ttl === undefined)
      throw new UsageError("--override-origin: needs --edge-ttl (the lifetime that replaces the origin's)");
    body = { match, action, description: values.description ?? '' };
  }
  if (values.position !== undefined) {
    if (!/^\d+$/.test(values.position))
      throw new UsageError(`--position: expected 0 or a positive integer, got "${values.position}"`);
    body.position = Number(values.position);
  }
  return body;
}
