// meridian zones create|list|get|delete
import { parseArgs } from 'node:util';
import { parseSeconds, parseSize, UsageError } from '../args.ts';
import { printTable } from '../table.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const ZONES_HELP = `meridian zones — manage zones

Usage:
  meridian zones create --name NAME --hostname HOST [--hostname HOST...] --origin URL [--origin URL...]
                        [--shield POP] [--default-ttl TTL]   (TTL: seconds or 90s, 5m, 1h, 1d)
  meridian zones list
  meridian zones get ZONE
  meridian zones delete ZONE
  meridian zones settings ZONE [--set KEY=VALUE ...]    show the zone's settings, or change some

--set values are JSON (true, 300, null, ["fra"]) or plain text; nested keys use dots
(hsts.enabled=true). TTL settings (default_ttl, stale_while_revalidate, stale_if_error) also take
90s, 5m, 1h, 1d; max_object_size takes 512M, 1G. Unknown keys are refused, naming the key.
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
      set: { type: 'string', multiple: true },
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
      if (values['default-ttl'] !== undefined)
        body.settings = { default_ttl: parseSeconds('default-ttl', values['default-ttl']) };
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
      else
        printTable(
          ['ID', 'NAME', 'HOSTNAMES'],
          res.result.map((z) => [z.id, z.name, z.hostnames.join(',')]),
        );
      return;
    }
    case 'settings': {
      const zone = positionals[0];
      if (zone === undefined) throw new UsageError('zones settings: ZONE (id or name) is required');
      const changes = (values.set ?? []).map(parseSetting);
      const id = await zoneIdOf(target, zone);
      const current = await callApi<{ settings: Record<string, unknown> }>(
        target,
        'GET',
        `/client/v4/zones/${id}`,
      );
      let settings = current.result.settings;
      if (changes.length > 0) {
        const patch = settingsPatch(settings, changes);
        const res = await callApi<{ settings: Record<string, unknown> }>(
          target,
          'PATCH',
          `/client/v4/zones/${id}`,
          {
            settings: patch,
          },
        );
        settings = res.result.settings;
      }
      if (values.json) printJson(settings);
      else printTable(['SETTING', 'VALUE'], flattenSettings(settings));
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
      throw new UsageError(`zones: unknown verb "${verb}" (create, list, get, delete, settings)`);
  }
}

const SECONDS_SETTINGS = new Set(['default_ttl', 'stale_while_revalidate', 'stale_if_error', 'hsts.max_age']);
const SIZE_SETTINGS = new Set(['max_object_size']);

/** `--set key=value`: JSON where it parses, durations and sizes where the key takes them, else text. */
export function parseSetting(text: string): { path: string[]; value: unknown } {
  const eq = text.indexOf('=');
  const key = eq === -1 ? '' : text.slice(0, eq).trim();
  if (!/^[a-z_]+(\.[a-z_]+)?$/.test(key))
    throw new UsageError(`--set: expected KEY=VALUE (e.g. default_ttl=1h), got "${text}"`);
  const raw = text.slice(eq + 1).trim();
  const flag = `set ${key}`;
  let value: unknown;
  if (raw === 'null') value = null;
  else if (SECONDS_SETTINGS.has(key)) value = parseSeconds(flag, raw);
  else if (SIZE_SETTINGS.has(key)) value = parseSize(flag, raw);
  else {
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
  }
  return { path: key.split('.'), value };
}

/** The PATCH settings: top-level keys as given; a nested key sends its whole object, merged into the stored one. */
export function settingsPatch(
  current: Record<string, unknown>,
  changes: readonly { path: string[]; value: unknown }[],
): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const { path, value } of changes) {
    const [top, inner] = path as [string, string | undefined];
    if (inner === undefined) {
      patch[top] = value;
      continue;
    }
    const base = patch[top] ?? current[top];
    patch[top] = { ...(typeof base === 'object' && base !== null ? base : {}), [inner]: value };
  }
  return patch;
}

/** Settings as SETTING / VALUE rows, nested objects as dotted keys. */
function flattenSettings(settings: Record<string, unknown>, prefix = ''): string[][] {
  return Object.entries(settings).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? flattenSettings(value as Record<string, unknown>, `${prefix}${key}.`)
      : [[`${prefix}${key}`, JSON.stringify(value)]],
  );
}
