// meridian zones create|list|get|delete
import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const ZONES_HELP = `meridian zones — manage zones

Usage:
  meridian zones create --name NAME --hostname HOST [--hostname HOST...] --origin URL [--origin URL...]
                        [--shield POP] [--default-ttl SECONDS]
  meridian zones list
  meridian zones get ZONE
  meridian zones delete ZONE

ZONE is a zone id or name. Common options: --api URL (or MERIDIAN_API, default http://127.0.0.1:8700),
--token TOKEN (or MERIDIAN_TOKEN), --json (print the raw result).
`;

export async function runZones(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      name: { type: 'string' },
      hostname: { type: 'string', multiple: true },
      origin: { type: 'string', multiple: true },
      shield: { type: 'string' },
      'default-ttl': { type: 'string' },
    },
  });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(ZONES_HELP);
    return;
  }
  const target = apiTarget(values);
  switch (verb) {
    case 'create': {
      const body: Record<string, unknown> = {
        name: values.name,
        hostnames: values.hostname ?? [],
        origins: (values.origin ?? []).map((url) => ({ url })),
      };
      if (values.shield !== undefined) body.shield_pop = values.shield;
      if (values['default-ttl'] !== undefined) body.settings = { default_ttl: Number(values['default-ttl']) };
      const res = await callApi<{ id: string; name: string }>(target, 'POST', '/client/v4/zones', body);
      if (values.json) printJson(res.result);
      else process.stdout.write(`created zone ${res.result.name} (${res.result.id})\n`);
      return;
    }
    case 'list': {
      const res = await callApi<{ id: string; name: string; hostnames: string[] }[]>(
        target,
        'GET',
        '/client/v4/zones?per_page=100',
      );
      if (values.json) printJson(res.result);
      else for (const z of res.result) process.stdout.write(`${z.id}  ${z.name}  ${z.hostnames.join(',')}\n`);
      return;
    }
    case 'get':
    case 'delete': {
      const zone = positionals[0];
      if (zone === undefined) throw new UsageError(`zones ${verb}: ZONE (id or name) is required`);
      const id = await zoneIdOf(target, zone);
      const res = await callApi<unknown>(target, verb === 'get' ? 'GET' : 'DELETE', `/client/v4/zones/${id}`);
      if (verb === 'get' || values.json) printJson(res.result);
      else process.stdout.write(`deleted zone ${id}\n`);
      return;
    }
    default:
      throw new UsageError(`zones: unknown verb "${verb}" (create, list, get, delete)`);
  }
}
