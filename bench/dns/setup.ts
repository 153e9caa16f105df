// Fills a fresh control plane for bench/dns/dnsperf.sh and writes what the peers need, so that
// Meridian and Knot DNS serve the same names with the same answers:
//   - PoPs nyc, fra, sin; two nodes each (registered through the internal API, probed at --health);
//   - ZONES zones, each with the hostname www.customerN.com → label www-customerN-com;
//   - OUT/queries.txt     the dnsperf query file (every label A, plus the apex SOA and one NXDOMAIN);
//   - OUT/cdn.example.net.zone   the static zone Knot serves: what Meridian answers a New York client
//     (the bench runs Meridian with --default-location in New York, so loopback clients are there).
//
//   node bench/dns/setup.ts --control URL --token ADMIN_TOKEN --health URL --zones 100 --out DIR
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';

const { values } = parseArgs({
  options: {
    control: { type: 'string' },
    token: { type: 'string' },
    health: { type: 'string' },
    zones: { type: 'string', default: '100' },
    out: { type: 'string' },
  },
});
const control = values.control as string;
const token = values.token as string;
const zones = Number(values.zones);
const out = values.out as string;
const ZONE = 'cdn.example.net';

async function call(
  method: string,
  path: string,
  body: unknown,
  bearer = token,
): Promise<{ result: { value?: string } }> {
  const res = await request(`${control}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.body.json()) as { success: boolean; errors: unknown; result: { value?: string } };
  if (!json.success) throw new Error(`${method} ${path}: ${res.statusCode} ${JSON.stringify(json.errors)}`);
  return json;
}

const POPS: Record<string, { city: string; latitude: number; longitude: number; third: number }> = {
  nyc: { city: 'New York', latitude: 40.71, longitude: -74.01, third: 1 },
  fra: { city: 'Frankfurt', latitude: 50.11, longitude: 8.68, third: 2 },
  sin: { city: 'Singapore', latitude: 1.35, longitude: 103.82, third: 3 },
};
const nodeToken = (await call('POST', '/client/v4/tokens', { name: 'bench-nodes', scopes: ['node'] })).result
  .value as string;
for (const [name, pop] of Object.entries(POPS)) {
  await call('PUT', `/client/v4/pops/${name}`, {
    city: pop.city,
    latitude: pop.latitude,
    longitude: pop.longitude,
  });
  for (const n of [1, 2]) {
    await call(
      'POST',
      '/internal/v1/nodes/register',
      {
        name: `${name}-${n}`,
        pop: name,
        url: `http://127.0.${pop.third}.${n}:8080`,
        admin_url: values.health,
      },
      nodeToken,
    );
  }
}
const labels: string[] = [];
for (let i = 1; i <= zones; i++) {
  await call('POST', '/client/v4/zones', {
    name: `customer${i}`,
    hostnames: [`www.customer${i}.com`],
    origins: [{ url: 'http://127.0.0.1:9' }],
  });
  labels.push(`www-customer${i}-com`);
}

const queries = [...labels.map((l) => `${l}.${ZONE} A`), `${ZONE} SOA`, `nothere.${ZONE} A`];
await writeFile(join(out, 'queries.txt'), `${queries.join('\n')}\n`);
const zoneFile = [
  `$ORIGIN ${ZONE}.`,
  '$TTL 30',
  `@ 3600 IN SOA ns1.${ZONE}. hostmaster.${ZONE}. 1 3600 600 604800 30`,
  '@ 3600 IN NS ns1',
  'ns1 3600 IN A 127.0.0.1',
  ...labels.flatMap((l) => [`${l} IN A 127.0.1.1`, `${l} IN A 127.0.1.2`]),
];
await writeFile(join(out, `${ZONE}.zone`), `${zoneFile.join('\n')}\n`);
process.stdout.write(`${zones} zones, ${queries.length} query names\n`);
