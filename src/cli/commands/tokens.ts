// meridian tokens create|list|delete
import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { printTable } from '../table.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const TOKENS_HELP = `meridian tokens — API tokens

Usage:
  meridian tokens create --name NAME --scope SCOPE [--scope SCOPE...] [--zone ZONE...]
  meridian tokens list
  meridian tokens delete TOKEN_ID

Scopes: zones:read zones:write purge analytics:read tokens:write audit:read node admin.
The secret of a new token is printed once. Common options: --api URL, --token TOKEN, --json.
`;

export async function runTokens(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      zone: { type: 'string', multiple: true },
    },
  });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(TOKENS_HELP);
    return;
  }
  const target = apiTarget(values);
  switch (verb) {
    case 'create': {
      const zones =
        values.zone === undefined
          ? undefined
          : await Promise.all(values.zone.map((z) => zoneIdOf(target, z)));
      const res = await callApi<{ id: string; value: string }>(target, 'POST', '/client/v4/tokens', {
        name: values.name,
        scopes: values.scope ?? [],
        ...(zones === undefined ? {} : { zones }),
      });
      if (values.json) printJson(res.result);
      else process.stdout.write(`created token ${res.result.id}\nsecret (shown once): ${res.result.value}\n`);
      return;
    }
    case 'list': {
      const res = await callApi<{ id: string; name: string; scopes: string[]; zones: string[] | null }[]>(
        target,
        'GET',
        '/client/v4/tokens?per_page=100',
      );
      if (values.json) printJson(res.result);
      else
        printTable(
          ['ID', 'NAME', 'SCOPES', 'ZONES'],
          res.result.map((t) => [
            t.id,
            t.name,
            t.scopes.join(','),
            t.zones === null ? 'all zones' : t.zones.join(','),
          ]),
        );
      return;
    }
    case 'delete': {
      const id = positionals[0];
      if (id === undefined) throw new UsageError('tokens delete: TOKEN_ID is required');
      await callApi(target, 'DELETE', `/client/v4/tokens/${id}`);
      process.stdout.write(`revoked token ${id}\n`);
      return;
    }
    default:
      throw new UsageError(`tokens: unknown verb "${verb}" (create, list, delete)`);
  }
}
