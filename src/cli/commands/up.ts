// meridian up: a whole CDN on this machine, on loopback and embedded defaults. A control plane on
// SQLite, edge PoPs of several nodes each, a shield PoP, the demo origin (or --origin) and the
// GeoDNS server; each node its own process on its own loopback address (all of 127.0.0.0/8 is
// loopback on Linux) and one shared HTTP port, so that DNS answers and per-PoP addresses mean what
// they would in production. Prints the URLs, the admin token and example commands; Ctrl-C stops all.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemoOrigin } from '../../demo/origin.ts';
import type { DemoOrigin } from '../../demo/origin.ts';
import { cdnLabel } from '../../dns/labels.ts';
import { knownCity, type CityLocation } from '../../common/config/cities.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../../common/tls/local-ca.ts';
import { UsageError } from '../args.ts';
import { callApi } from '../api-client.ts';
import type { ApiTarget } from '../api-client.ts';
import { Supervisor } from '../supervisor.ts';
import type { Lab } from '../anycast-lab/lab.ts';
import type { AnycastDescription } from '../anycast-lab/up-anycast.ts';

/** The CDN zone `meridian dns` serves, and the demo zone's hostname (its label is the DNS name). */
const DNS_ZONE = 'cdn.meridian.test';
const DEMO_HOSTNAME = 'demo.meridian.test';
/**
 * Client subnets placed at edge PoP 1, 2, 3: the RFC 5737 documentation ranges. PoP i > 3 gets
 * 100.64.i.0/24 (RFC 6598 shared space; DNS counts it as private, but the --locations file is
 * consulted before that).
 */
const TEST_SUBNETS = ['198.51.100.0/24', '192.0.2.0/24', '203.0.113.0/24'];

/** The test client subnet of edge PoP number i (1-based); see UP_HELP. */
function testSubnet(i: number): string {
  return TEST_SUBNETS[i - 1] ?? `100.64.${i}.0/24`;
}

export const UP_HELP = `meridian up — a local CDN cluster on loopback (control plane, PoPs, shield, DNS, demo origin)

Usage:
  meridian up [--pops nyc,fra,sin] [--shield iad] [--nodes 2]
              [--ports http=8080,https=8443,control=8700,dns=5353,admin=9180,origin=9080]
              [--origin URL] [--dir .meridian-up] [--describe FILE] [--internal-tls] [--anycast]
              [--workers N]

Options:
  --pops LIST       edge PoPs (names; known cities get their coordinates)  (default nyc,fra,sin)
  --shield NAME     the shield PoP ("none": no shield)                   (default iad)
  --nodes N         nodes per PoP                                          (default 2)
  --ports LIST      http and https (every node's client ports), admin (every node's metrics/health
                    port), control, dns, origin                            (defaults above)
  --origin URL      put the demo zone in front of this origin instead of the built-in demo origin
  --dir DIR         state (database, caches, logs); wiped at start         (default .meridian-up)
  --describe FILE   write the running cluster as JSON once everything answers (DNS included)
  --internal-tls    hops between nodes (non-owner to owner, edge PoP to shield) over TLS: each node
                    registers its https_url and verifies its peers against <dir>/tls/ca.pem
  --anycast         the cluster on a routed lab network of network namespaces (Linux, root, bird2):
                    every edge node serves the anycast address 198.19.0.1, each PoP's BIRD announces
                    198.19.0.0/24 over BGP while its \`meridian anycast\` agent finds it healthy, and
                    each region's client namespace (mrd-c-<pop>) reaches its nearest PoP. The control
                    plane, origin and DNS listen on 198.18.0.1. All of it is removed on exit, and a lab
                    left by a killed run at the next start (docs/anycast.md)
  --workers N       worker processes per edge node (default 1: the nodes already share the cores)

HTTPS: up makes a local CA (<dir>/tls/ca.pem), issues the demo zone's certificate from it and uploads
it through the certificate API, as a customer would; each node also gets a certificate of its own
address as its default. Trust the CA to call the nodes over HTTPS:
  curl --cacert <dir>/tls/ca.pem --resolve demo.meridian.test:8443:127.0.1.1 https://demo.meridian.test:8443/

Addresses: PoP number i (1, 2, 3 …) uses 127.0.i.1 … 127.0.i.N, the shield 127.0.100.x; the control
plane, DNS and the demo origin listen on 127.0.0.1.

DNS: \`meridian dns\` on 127.0.0.1:<dns port> is authoritative for cdn.meridian.test; the demo zone's
name there is demo-meridian-test.cdn.meridian.test (the label rule: see meridian dns --help). It answers
with the nodes of the nearest edge PoP, never the shield. Client subnets to try it with (kdig +subnet=)
sit at the edge PoPs' coordinates: PoP 1 198.51.100.0/24, PoP 2 192.0.2.0/24, PoP 3 203.0.113.0/24,
PoP i > 3 100.64.i.0/24. Resolvers on loopback (queries without ECS) are at PoP 1.
`;

export interface UpNode {
  name: string;
  url: string;
  https_url: string;
  admin_url: string;
}

export interface UpDescription {
  control: { url: string; token: string };
  origin: { url: string };
  zone: { id: string; hostname: string };
  /** The local CA that issued the demo zone's and the nodes' certificates (PEM file). */
  tls: { ca: string; internal: boolean };
  dns: { address: string; name: string; subnets: Record<string, string> } | null;
  pops: { name: string; role: 'edge' | 'shield'; nodes: UpNode[] }[];
  /** With --anycast: the lab network (docs/anycast.md). */
  anycast?: AnycastDescription;
}

interface Ports {
  http: number;
  https: number;
  admin: number;
  control: number;
  dns: number;
  origin: number;
}

const DEFAULT_PORTS: Ports = { http: 8080, https: 8443, admin: 9180, control: 8700, dns: 5353, origin: 9080 };

export function parsePorts(value: string | undefined): Ports {
  const ports = { ...DEFAULT_PORTS };
  if (value === undefined) return ports;
  for (const part of value.split(',')) {
    const [key, port] = part.split('=');
    if (
      key === undefined ||
      !(key in ports) ||
      port === undefined ||
      !/^\d{1,5}$/.test(port) ||
      Number(port) > 65535
    )
      throw new UsageError(`--ports: expected e.g. http=8080,control=8700, got "${part}"`);
    ports[key as keyof Ports] = Number(port);
  }
  return ports;
}

export function parsePops(value: string): string[] {
  const pops = value.split(',').map((p) => p.trim());
  if (pops.length === 0 || pops.length > 99 || pops.some((p) => !/^[a-z0-9][a-z0-9-]{0,31}$/.test(p)))
    throw new UsageError(`--pops: expected lower-case names separated by commas, got "${value}"`);
  if (new Set(pops).size !== pops.length) throw new UsageError(`--pops: names repeat in "${value}"`);
  return pops;
}

/** Coordinates for common PoP names (IATA-style); others get a spot derived from the name. */
function cityOf(name: string): CityLocation {
  const known = knownCity(name);
  if (known !== undefined) return known;
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return { city: name, latitude: (h % 120) - 60, longitude: ((h >>> 8) % 360) - 180 };
}

function workersPerNode(value: string): number {
  if (!/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > 64)
    throw new UsageError(`--workers: expected 1 to 64 worker processes per node, got "${value}"`);
  return Number(value);
}

export async function runUp(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pops: { type: 'string', default: 'nyc,fra,sin' },
      shield: { type: 'string', default: 'iad' },
      nodes: { type: 'string', default: '2' },
      ports: { type: 'string' },
      origin: { type: 'string' },
      dir: { type: 'string', default: '.meridian-up' },
      describe: { type: 'string' },
      'internal-tls': { type: 'boolean', default: false },
      anycast: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(UP_HELP);
    return;
  }
  const pops = parsePops(values.pops);
  const shield = values.shield === 'none' ? null : (parsePops(values.shield)[0] ?? null);
  if (shield !== null && pops.includes(shield))
    throw new UsageError(`--shield: ${shield} is also an edge PoP`);
  if (!/^\d+$/.test(values.nodes) || Number(values.nodes) < 1 || Number(values.nodes) > 50)
    throw new UsageError(`--nodes: expected 1 to 50, got "${values.nodes}"`);
  const nodesPerPop = Number(values.nodes);
  const ports = parsePorts(values.ports);
  if (values.origin !== undefined && !/^https?:\/\/[^/]+/.test(values.origin))
    throw new UsageError(`--origin: expected an http(s) URL, got "${values.origin}"`);

  // Root, iproute2, BIRD and nftables are checked before anything is touched.
  if (values.anycast) await (await import('../anycast-lab/netns.ts')).preflight();
  const dir = resolve(values.dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  // A description left by an earlier run must not pass for this cluster's before it is up.
  if (values.describe !== undefined) await rm(values.describe, { force: true });
  const supervisor = new Supervisor(join(dir, 'logs'));
  let origin: DemoOrigin | null = null;
  let lab: Lab | null = null;
  const stop = async (): Promise<void> => {
    await supervisor.stopAll();
    await origin?.close();
    await lab?.destroy();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));

  try {
    if (values.anycast) {
      const { startAnycastLab } = await import('../anycast-lab/up-anycast.ts');
      lab = await startAnycastLab(
        [
          ...pops.map((name) => ({ name, role: 'edge' as const, ...cityOf(name), nodes: nodesPerPop })),
          ...(shield === null
            ? []
            : [{ name: shield, role: 'shield' as const, ...cityOf(shield), nodes: nodesPerPop }]),
        ],
        dir,
      );
    }
    const description = await startCluster({
      dir,
      pops,
      shield,
      nodesPerPop,
      ports,
      originUrl: values.origin ?? null,
      internalTls: values['internal-tls'],
      lab,
      workers: workersPerNode(values.workers),
      supervisor,
      setOrigin: (o) => (origin = o),
    });
    if (values.describe !== undefined) {
      // Written whole and then renamed into place: a program that waits for the file never reads half.
      const partial = `${values.describe}.${process.pid}.tmp`;
      await writeFile(partial, `${JSON.stringify(description, null, 2)}\n`);
      await rename(partial, values.describe);
    }
    process.stdout.write(summary(description, dir, values.describe ?? null));
  } catch (err) {
    await stop();
    throw err;
  }
}

interface ClusterPlan {
  dir: string;
  pops: string[];
  shield: string | null;
  nodesPerPop: number;
  ports: Ports;
  originUrl: string | null;
  /** Nodes register their https:// URL and verify peers against the local CA (--peer-ca). */
  internalTls: boolean;
  /** --anycast: the lab network the nodes run in (null: loopback). */
  lab: Lab | null;
  /** Worker processes per edge node (--workers; 1: one process each, the default on one machine). */
  workers?: number;
  supervisor: Supervisor;
  setOrigin: (origin: DemoOrigin) => void;
}

async function startCluster(plan: ClusterPlan): Promise<UpDescription> {
  const { dir, ports, supervisor } = plan;
  const lab = plan.lab;
  // On the lab the nodes are in namespaces: the host's services listen on its lab address.
  const host = lab === null ? '127.0.0.1' : (await import('../anycast-lab/plan.ts')).HOST_ADDRESS;
  let originUrl = plan.originUrl;
  if (originUrl === null) {
    const origin = await startDemoOrigin(host, ports.origin);
    plan.setOrigin(origin);
    originUrl = origin.url;
  }

  const token = `mrd_up_${randomBytes(24).toString('hex')}`;
  const controlUrl = `http://${host}:${ports.control}`;
  await supervisor.start(
    'control',
    [
      'control',
      '--listen',
      `${host}:${ports.control}`,
      '--db',
      `sqlite:${join(dir, 'control', 'meridian.db')}`,
    ],
    (line) => line.startsWith('control plane:'),
    { MERIDIAN_ADMIN_TOKEN: token },
  );
  const api: ApiTarget = { api: controlUrl, token };

  const layout: { name: string; role: 'edge' | 'shield'; octet: number }[] = plan.pops.map((name, i) => ({
    name,
    role: 'edge',
    octet: i + 1,
  }));
  if (plan.shield !== null) layout.push({ name: plan.shield, role: 'shield', octet: 100 });
  for (const pop of layout) {
    await callApi(api, 'PUT', `/client/v4/pops/${pop.name}`, { ...cityOf(pop.name), role: pop.role });
  }
  const hostname = DEMO_HOSTNAME;
  const zone = await callApi<{ id: string }>(api, 'POST', '/client/v4/zones', {
    name: 'demo',
    hostnames: [hostname],
    origins: [{ url: originUrl }],
    shield_pop: plan.shield,
  });
  const nodeToken = (
    await callApi<{ value: string }>(api, 'POST', '/client/v4/tokens', { name: 'up-nodes', scopes: ['node'] })
  ).result.value;
  const ca = await createLocalCa(dir);
  // The demo zone's certificate takes the customer's path: uploaded through the API, followed by
  // every node through the event log.
  const demoCert = await ca.issue({ hosts: [hostname] });
  await callApi(api, 'POST', `/client/v4/zones/${zone.result.id}/custom_certificates`, {
    certificate: demoCert.chainPem,
    private_key: demoCert.keyPem,
  });

  // Every node at once: each is its own process, and they start independently.
  const described: UpDescription['pops'] = await Promise.all(
    layout.map(async (pop) => {
      const nodes = await Promise.all(
        Array.from({ length: plan.nodesPerPop }, async (_, i): Promise<UpNode> => {
          const name = `${pop.name}-${i + 1}`;
          const labNode =
            lab === null ? null : (await import('../anycast-lab/up-anycast.ts')).labNode(lab, name);
          const address = labNode?.address ?? `127.0.${pop.octet}.${i + 1}`;
          // In its own namespace a node listens on every address it has: its own and the anycast one.
          const bind = labNode === null ? address : '0.0.0.0';
          const url = `http://${address}:${ports.http}`;
          const httpsUrl = `https://${address}:${ports.https}`;
          const tls = await nodeCertificate(ca, dir, name, address, labNode === null ? [] : ['198.19.0.1']);
          // Peers call a node at its public URL: with --internal-tls its TLS listener, whose default
          // certificate (its address, from the local CA) they verify against the CA.
          const internal = plan.internalTls ? ['--peer-ca', join(dir, 'tls', 'ca.pem')] : [];
          await supervisor.start(
            name,
            [
              'edge',
              '--control',
              controlUrl,
              '--pop',
              pop.name,
              '--role',
              pop.role,
              '--node',
              name,
              '--token',
              nodeToken,
              '--listen',
              `${bind}:${ports.http}`,
              '--listen-tls',
              `${bind}:${ports.https}`,
              '--tls-cert',
              tls.certFile,
              '--tls-key',
              tls.keyFile,
              '--admin-listen',
              `${bind}:${ports.admin}`,
              '--public-url',
              plan.internalTls ? httpsUrl : url,
              ...internal,
              '--cache-dir',
              join(dir, 'nodes', name),
              '--workers',
              String(plan.workers ?? 1),
            ],
            (line) => line.includes('"edge listening"'),
            {},
            60_000,
            labNode?.netns ?? null,
          );
          return {
            name,
            url,
            https_url: httpsUrl,
            admin_url: `http://${address}:${ports.admin}`,
          };
        }),
      );
      return { name: pop.name, role: pop.role, nodes };
    }),
  );
  const dns = await startGeoDns(
    plan,
    api,
    layout.filter((pop) => pop.role === 'edge'),
    hostname,
    host,
  );
  let anycast: AnycastDescription | undefined;
  if (lab !== null) {
    const agentToken = (
      await callApi<{ value: string }>(api, 'POST', '/client/v4/tokens', {
        name: 'up-anycast',
        scopes: ['zones:read'],
      })
    ).result.value;
    anycast = await (
      await import('../anycast-lab/up-anycast.ts')
    ).startAgents(lab, supervisor, controlUrl, agentToken);
  }
  return {
    control: { url: controlUrl, token },
    origin: { url: originUrl },
    zone: { id: zone.result.id, hostname },
    tls: { ca: join(dir, 'tls', 'ca.pem'), internal: plan.internalTls },
    dns,
    pops: described,
    ...(anycast === undefined ? {} : { anycast }),
  };
}

/** The cluster's local CA: its certificate in <dir>/tls/ca.pem (to trust), its key beside it (0600). */
async function createLocalCa(dir: string): Promise<CertificateAuthority> {
  const ca = await createCertificateAuthority('Meridian up local CA');
  await mkdir(join(dir, 'tls'), { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'tls', 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'tls', 'ca.key'), ca.keyPem, { mode: 0o600 });
  return ca;
}

/**
 * A node's own certificate (its address and name), its default for handshakes without SNI or for a
 * name no zone certificate covers.
 */
async function nodeCertificate(
  ca: CertificateAuthority,
  dir: string,
  name: string,
  address: string,
  extra: readonly string[] = [],
): Promise<{ certFile: string; keyFile: string }> {
  const issued = await ca.issue({ hosts: [`${name}.nodes.meridian.test`, address, ...extra] });
  const certFile = join(dir, 'tls', `${name}.pem`);
  const keyFile = join(dir, 'tls', `${name}.key`);
  await writeFile(certFile, issued.chainPem);
  await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

/**
 * `meridian dns` for DNS_ZONE, started once the nodes are up, so that its first probes find them
 * healthy and its first answers are right. The --locations file places each edge PoP's test subnet
 * (testSubnet) at that PoP's coordinates, and --default-location puts resolvers on loopback at the
 * first PoP: the answers are the same on every machine, whatever GeoIP says.
 */
async function startGeoDns(
  plan: ClusterPlan,
  api: ApiTarget,
  edgePops: readonly { name: string; octet: number }[],
  hostname: string,
  host: string,
): Promise<NonNullable<UpDescription['dns']>> {
  const label = cdnLabel(hostname);
  const first = edgePops[0];
  if (label === null || first === undefined) throw new Error(`no DNS name for ${hostname}`);
  const token = (
    await callApi<{ value: string }>(api, 'POST', '/client/v4/tokens', {
      name: 'up-dns',
      scopes: ['zones:read'],
    })
  ).result.value;
  const subnets: Record<string, string> = {};
  const locations: Record<string, { city: string; latitude: number; longitude: number }> = {};
  for (const pop of edgePops) {
    subnets[pop.name] = testSubnet(pop.octet);
    locations[testSubnet(pop.octet)] = cityOf(pop.name);
  }
  const locationsFile = join(plan.dir, 'dns-locations.json');
  await writeFile(locationsFile, `${JSON.stringify(locations, null, 2)}\n`);
  const home = cityOf(first.name);
  const address = `${host}:${plan.ports.dns}`;
  await plan.supervisor.start(
    'dns',
    [
      'dns',
      '--listen',
      address,
      '--control',
      api.api,
      '--token',
      token,
      '--zone',
      DNS_ZONE,
      '--locations',
      locationsFile,
      '--default-location',
      `${home.latitude},${home.longitude}`,
    ],
    // Logged once UDP and TCP listen, after the first control-plane poll and the first probes.
    (line) => line.includes('"dns listening"'),
    {},
    60_000,
  );
  return { address, name: `${label}.${DNS_ZONE}`, subnets };
}

function summary(d: UpDescription, dir: string, describeFile: string | null): string {
  const lines = [
    '',
    'Meridian is up.',
    `  control plane  ${d.control.url}   (OpenAPI: ${d.control.url}/client/v4/openapi.json)`,
    `  admin token    ${d.control.token}`,
    `  dashboard      ${d.control.url}/dashboard/#token=${d.control.token}`,
    `  origin         ${d.origin.url}`,
    `  zone           ${d.zone.hostname} (${d.zone.id})`,
  ];
  if (d.dns !== null) lines.push(`  DNS            ${d.dns.address}  (${d.dns.name})`);
  if (d.tls.internal) lines.push(`  internal hops  over TLS (peers verified against ${d.tls.ca})`);
  for (const pop of d.pops) {
    lines.push(
      `  ${pop.role === 'shield' ? 'shield' : 'PoP   '} ${pop.name.padEnd(7)} ${pop.nodes.map((n) => n.url).join('  ')}`,
    );
  }
  const first = d.pops[0]?.nodes[0]?.url ?? '';
  const hostPort = first.replace('http://', '');
  lines.push(
    '',
    `State and logs in ${dir}${describeFile === null ? '' : `; cluster description in ${describeFile}`}.`,
    '',
    'Try:',
    `  export MERIDIAN_API=${d.control.url} MERIDIAN_TOKEN=${d.control.token}`,
  );
  for (const pop of d.pops.filter((p) => p.role === 'edge')) {
    lines.push(
      `  curl -si -H 'Host: ${d.zone.hostname}' ${pop.nodes[0]?.url}/static/app.js | grep -i cache-status   # via ${pop.name}`,
    );
  }
  const firstTls = (d.pops[0]?.nodes[0]?.https_url ?? '').replace('https://', '');
  const [tlsHost, tlsPort] = firstTls.split(':');
  lines.push(
    `  curl -si --resolve ${d.zone.hostname}:${hostPort.split(':')[1]}:${hostPort.split(':')[0]} http://${d.zone.hostname}:${hostPort.split(':')[1]}/tagged/news`,
    `  curl -si --cacert ${d.tls.ca} --resolve ${d.zone.hostname}:${tlsPort}:${tlsHost} https://${d.zone.hostname}:${tlsPort}/static/app.js   # HTTPS (HTTP/2)`,
    `  ./meridian purge --zone demo --tag news --wait`,
    `  ./meridian purge --zone demo --everything --wait`,
  );
  if (d.dns !== null) {
    const [host, port] = d.dns.address.split(':');
    const home = d.pops.find((p) => p.role === 'edge')?.name ?? '';
    lines.push(`  dig @${host} -p ${port} ${d.dns.name} A   # from loopback: lands on ${home}`);
    for (const [pop, subnet] of Object.entries(d.dns.subnets))
      lines.push(`  kdig @${host} -p ${port} +subnet=${subnet} ${d.dns.name} A   # lands on ${pop}`);
  }
  if (d.anycast !== undefined) {
    const port = hostPort.split(':')[1];
    lines.push(
      '',
      `Anycast lab (docs/anycast.md): ${d.anycast.address} (${d.anycast.prefix}) from each region's client namespace:`,
    );
    for (const [region, netns] of Object.entries(d.anycast.clients))
      lines.push(
        `  ip netns exec ${netns} curl -si -H 'Host: ${d.zone.hostname}' http://${d.anycast.address}:${port}/static/app.js | grep -i cache-status   # lands on ${d.anycast.expected[region]}`,
      );
    const first = Object.keys(d.anycast.clients)[0] ?? '';
    lines.push(
      `  ./meridian pops drain ${first}   # ${first}'s new connections go to ${d.anycast.next[first]}`,
    );
  }
  lines.push(
    `  curl -s ${d.origin.url}/__stats   # what reached the origin`,
    '',
    'Ctrl-C stops everything.',
    '',
  );
  return lines.join('\n');
}
