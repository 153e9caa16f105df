// meridian pops list|get|put|delete and meridian nodes list: where the CDN runs (the control plane's
// PoP registry, and the nodes that registered with it).
import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson } from '../api-client.ts';
import { printTable } from '../table.ts';

export const POPS_HELP = `meridian pops — the PoPs (points of presence) nodes run in

Usage:
  meridian pops list
  meridian pops get NAME
  meridian pops put NAME --city CITY [--latitude DEG --longitude DEG] [--role edge|shield] [--capacity N]
  meridian pops delete NAME
  meridian pops drain NAME | undrain NAME

put creates or changes a PoP. A known city or code (Frankfurt, fra, New York, nyc, Singapore, …)
needs no coordinates; any other city needs --latitude and --longitude (GeoDNS answers by distance).
--capacity: new users per second DNS may send before the PoP counts as full (0: unlimited).
drain takes a PoP out of service: its anycast agents withdraw its prefixes (new connections go to
the next PoP, established ones finish) and DNS stops answering with it; undrain puts it back.
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

export const NODES_HELP = `meridian nodes — the nodes registered with the control plane

Usage:
  meridian nodes list

Each node's PoP, status (up: heartbeats arrive; down: they stopped), last heartbeat and the last event
sequence it applied. Common options: --api URL, --token TOKEN, --json.
`;

interface PopRow {
  name: string;
  city: string;
  latitude: number;
  longitude: number;
  role: string;
  capacity: number;
  drained?: boolean;
}

const POP_OPTIONS = {
  ...API_CLIENT_OPTIONS,
  city: { type: 'string' },
  latitude: { type: 'string' },
  longitude: { type: 'string' },
  role: { type: 'string' },
  capacity: { type: 'string' },
} as const;

export async function runPops(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: POP_OPTIONS });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(POPS_HELP);
    return;
  }
  const name = (): string => {
    const given = positionals[0];
    if (given === undefined) throw new UsageError(`pops ${verb}: NAME is required`);
    return encodeURIComponent(given);
  };
  const show = (pop: PopRow): void => (values.json ? printJson(pop) : printPops([pop]));
  switch (verb) {
    case 'list': {
      const res = await callApi<PopRow[]>(apiTarget(values), 'GET', '/client/v4/pops');
      return values.json ? printJson(res.result) : printPops(res.result);
    }
    case 'get':
      return show((await callApi<PopRow>(apiTarget(values), 'GET', `/client/v4/pops/${name()}`)).result);
    case 'put': {
      const path = `/client/v4/pops/${name()}`;
      const body = popBodyOf(values);
      return show((await callApi<PopRow>(apiTarget(values), 'PUT', path, body)).result);
    }
    case 'delete': {
      const pop = name();
      await callApi(apiTarget(values), 'DELETE', `/client/v4/pops/${pop}`);
      process.stdout.write(`deleted pop ${decodeURIComponent(pop)}\n`);
      return;
    }
    case 'drain':
    case 'undrain': {
      const body = { drained: verb === 'drain' };
      const path = `/client/v4/pops/${name()}`;
      const pop = (await callApi<PopRow>(apiTarget(values), 'PATCH', path, body)).result;
      if (values.json) return printJson(pop);
      process.stdout.write(`pop ${pop.name}: ${pop.drained === true ? 'drained' : 'in service'}\n`);
      return;
    }
    default:
      throw new UsageError(`pops: unknown verb "${verb}" (list, get, put, delete, drain, undrain)`);
  }
}

/** The PUT body from the flags; numbers checked here so the error names the flag. */
export function popBodyOf(values: {
  city?: string | undefined;
  latitude?: string | undefined;
  longitude?: string | undefined;
  role?: string | undefined;
  capacity?: string | undefined;
}): Record<string, unknown> {
  if (values.city === undefined) throw new UsageError('--city: required (a city name or code, e.g. fra)');
  const body: Record<string, unknown> = { city: values.city };
  const number = (flag: 'latitude' | 'longitude', limit: number): void => {
    const raw = values[flag];
    if (raw === undefined) return;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || Math.abs(value) > limit)
      throw new UsageError(`--${flag}: expected degrees from -${limit} to ${limit}, got "${raw}"`);
    body[flag] = value;
  };
  number('latitude', 90);
  number('longitude', 180);
  if ((body.latitude === undefined) !== (body.longitude === undefined))
    throw new UsageError('--latitude and --longitude: give both, or neither for a known city');
  if (values.role !== undefined) {
    if (values.role !== 'edge' && values.role !== 'shield')
      throw new UsageError(`--role: expected edge or shield, got "${values.role}"`);
    body.role = values.role;
  }
  if (values.capacity !== undefined) {
    if (!/^\d+$/.test(values.capacity))
      throw new UsageError(
        `--capacity: expected new users per second (0: unlimited), got "${values.capacity}"`,
      );
    body.capacity = Number(values.capacity);
  }
  return body;
}

function printPops(pops: readonly PopRow[]): void {
  printTable(
    ['NAME', 'ROLE', 'CITY', 'LATITUDE', 'LONGITUDE', 'CAPACITY'],
    pops.map((p) => [
      p.name,
      p.role,
      p.city,
      String(p.latitude),
      String(p.longitude),
      p.capacity === 0 ? 'unlimited' : String(p.capacity),
    ]),
  );
}

interface NodeRow {
  name: string;
  pop: string;
  url: string;
  status: string;
  last_heartbeat_at: string | null;
  applied_seq: number;
}

export async function runNodes(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values } = parseArgs({ args: rest, allowPositionals: false, options: API_CLIENT_OPTIONS });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(NODES_HELP);
    return;
  }
  if (verb !== 'list') throw new UsageError(`nodes: unknown verb "${verb}" (list)`);
  const res = await callApi<NodeRow[]>(apiTarget(values), 'GET', '/client/v4/nodes');
  if (values.json) return printJson(res.result);
  printTable(
    ['NAME', 'POP', 'STATUS', 'LAST HEARTBEAT', 'APPLIED SEQ', 'URL'],
    res.result.map((n) => [
      n.name,
      n.pop,
      n.status,
      n.last_heartbeat_at ?? 'never',
      String(n.applied_seq),
      n.url,
    ]),
  );
}
