// The anycast lab's network, as data: namespaces, links, addresses, BGP sessions and the BIRD
// configurations, and which PoP each region's clients should reach. Pure (no I/O), so the plan is
// tested without root and the builder (lab.ts) only carries it out.
//
// Addresses (all in the benchmarking range 198.18.0.0/15, RFC 2544):
//   198.18.0.0/30         the host (root namespace, 198.18.0.1: control plane, origin, DNS) ↔ router 1
//   198.18.1.0/24         router ↔ router links, one /30 each
//   198.18.2.0/24         router ↔ PoP speaker links, one /30 each (router .4i+1, PoP .4i+2)
//   198.18.3.0/24         router ↔ region client links (router .4i+1, client .4i+2)
//   198.18.(16+p).0/24    PoP p's nodes, one /30 each (PoP side .4j+1, node .4j+2: its unicast address)
//   198.19.0.0/24         the anycast prefix every healthy edge PoP announces; 198.19.0.1 the HTTP
//                         service address on every edge node, 198.19.0.53 reserved for DNS anycast
import { greatCircleKm } from '../../dns/geo.ts';

export const LAB_PREFIX = 'mrd-';
export const ANYCAST_PREFIX = '198.19.0.0/24';
export const ANYCAST_ADDRESS = '198.19.0.1';
export const DNS_ANYCAST_ADDRESS = '198.19.0.53';
export const HOST_ADDRESS = '198.18.0.1';
/** The root namespace's end of the host link (the only interface the lab makes outside its namespaces). */
export const HOST_LINK = 'mrd-host0';

export interface LabPopInput {
  name: string;
  role: 'edge' | 'shield';
  latitude: number;
  longitude: number;
  nodes: number;
}

export interface LabLink {
  /** [namespace, interface, address/len]; namespace null: the root namespace. */
  a: [string | null, string, string];
  b: [string, string, string];
}

export interface LabRouter {
  netns: string;
  region: string;
  asn: number;
  routerId: string;
}

export interface LabNode {
  name: string;
  netns: string;
  /** Its unicast address (public URL host) and the PoP speaker's end of its link (its gateway). */
  address: string;
  gateway: string;
}

export interface LabPop {
  name: string;
  role: 'edge' | 'shield';
  netns: string;
  asn: number;
  routerId: string;
  /** The PoP's end of its link to its router, and the router's end (its default gateway). */
  address: string;
  gateway: string;
  /** The router it peers with. */
  router: string;
  nodesPrefix: string;
  nodes: LabNode[];
}

export interface LabClient {
  region: string;
  netns: string;
  address: string;
  gateway: string;
}

export interface LabPlan {
  routers: LabRouter[];
  pops: LabPop[];
  clients: LabClient[];
  links: LabLink[];
  /** BGP sessions: [netns, peer address, peer ASN, extra AS-path prepends on export]. */
  sessions: { netns: string; peer: string; peerAsn: number; prepend: number }[];
  /** region → the PoP its clients reach while every PoP is up. */
  expected: Record<string, string>;
  /** region → the PoP its clients reach when their own PoP is withdrawn. */
  next: Record<string, string>;
  namespaces: string[];
}

/** The cost of a router↔router link: one AS-path hop per 2 500 km of great circle, at least 1. */
export function linkCost(a: LabPopInput, b: LabPopInput): number {
  return Math.max(1, Math.min(8, Math.round(greatCircleKm(a, b) / 2_500)));
}

const slash30 = (base: string, i: number, end: 1 | 2): string => `${base}.${4 * i + end}`;

export function planLab(pops: readonly LabPopInput[]): LabPlan {
  const edges = pops.filter((p) => p.role === 'edge');
  if (edges.length === 0) throw new Error('the anycast lab needs at least one edge PoP');
  if (pops.length > 40) throw new Error('the anycast lab takes at most 40 PoPs');
  const plan: LabPlan = {
    routers: [],
    pops: [],
    clients: [],
    links: [],
    sessions: [],
    expected: {},
    next: {},
    namespaces: [],
  };
  edges.forEach((pop, i) => {
    plan.routers.push({
      netns: `${LAB_PREFIX}r-${pop.name}`,
      region: pop.name,
      asn: 65001 + i,
      routerId: slash30('198.18.2', i, 1),
    });
  });
  const routerOf = (region: string): LabRouter => plan.routers.find((r) => r.region === region) as LabRouter;
  const first = plan.routers[0] as LabRouter;
  plan.links.push({ a: [null, HOST_LINK, `${HOST_ADDRESS}/30`], b: [first.netns, 'host', '198.18.0.2/30'] });

  // Routers: a full mesh, each link with its cost as AS-path prepends.
  let k = 0;
  for (let a = 0; a < edges.length; a++)
    for (let b = a + 1; b < edges.length; b++) {
      const ra = plan.routers[a] as LabRouter;
      const rb = plan.routers[b] as LabRouter;
      const cost = linkCost(edges[a] as LabPopInput, edges[b] as LabPopInput);
      const addrA = slash30('198.18.1', k, 1);
      const addrB = slash30('198.18.1', k, 2);
      plan.links.push({
        a: [ra.netns, `to-${rb.region}`.slice(0, 15), `${addrA}/30`],
        b: [rb.netns, `to-${ra.region}`.slice(0, 15), `${addrB}/30`],
      });
      plan.sessions.push({ netns: ra.netns, peer: addrB, peerAsn: rb.asn, prepend: cost - 1 });
      plan.sessions.push({ netns: rb.netns, peer: addrA, peerAsn: ra.asn, prepend: cost - 1 });
      k++;
    }

  // PoPs: an edge PoP hangs off its region's router, a shield off the nearest region's.
  pops.forEach((pop, p) => {
    const router =
      pop.role === 'edge'
        ? routerOf(pop.name)
        : routerOf(
            [...edges].sort((x, y) => greatCircleKm(pop, x) - greatCircleKm(pop, y))[0]?.name ?? first.region,
          );
    const netns = `${LAB_PREFIX}p-${pop.name}`;
    const address = slash30('198.18.2', p, 2);
    const gateway = slash30('198.18.2', p, 1);
    plan.links.push({
      a: [router.netns, `pop-${pop.name}`.slice(0, 15), `${gateway}/30`],
      b: [netns, 'uplink', `${address}/30`],
    });
    const asn = 65100 + p;
    plan.sessions.push({ netns: router.netns, peer: address, peerAsn: asn, prepend: 0 });
    plan.sessions.push({ netns, peer: gateway, peerAsn: router.asn, prepend: 0 });
    const nodes: LabNode[] = [];
    for (let j = 0; j < pop.nodes; j++) {
      const node: LabNode = {
        name: `${pop.name}-${j + 1}`,
        netns: `${LAB_PREFIX}n-${pop.name}-${j + 1}`,
        address: slash30(`198.18.${16 + p}`, j, 2),
        gateway: slash30(`198.18.${16 + p}`, j, 1),
      };
      plan.links.push({
        a: [netns, `n${j + 1}`, `${node.gateway}/30`],
        b: [node.netns, 'pop', `${node.address}/30`],
      });
      nodes.push(node);
    }
    plan.pops.push({
      name: pop.name,
      role: pop.role,
      netns,
      asn,
      routerId: address,
      address,
      gateway,
      router: router.netns,
      nodesPrefix: `198.18.${16 + p}.0/24`,
      nodes,
    });
  });

  edges.forEach((pop, i) => {
    const router = plan.routers[i] as LabRouter;
    const client: LabClient = {
      region: pop.name,
      netns: `${LAB_PREFIX}c-${pop.name}`,
      address: slash30('198.18.3', i, 2),
      gateway: slash30('198.18.3', i, 1),
    };
    plan.links.push({
      a: [router.netns, 'clients', `${client.gateway}/30`],
      b: [client.netns, 'uplink', `${client.address}/30`],
    });
    plan.clients.push(client);
    plan.expected[pop.name] = pop.name;
  });
  for (const region of edges) plan.next[region.name] = nextPop(edges, region.name);
  plan.namespaces = [
    ...plan.routers.map((r) => r.netns),
    ...plan.pops.flatMap((p) => [p.netns, ...p.nodes.map((n) => n.netns)]),
    ...plan.clients.map((c) => c.netns),
  ];
  return plan;
}

/**
 * Where a region's clients go when their own PoP is gone: BGP prefers the shortest AS path, which
 * here is the cheapest path over the router mesh (Dijkstra on link costs; ties to the lower name,
 * as the lower ASN's router id is lower too). With one region there is nowhere: itself.
 */
function nextPop(edges: readonly LabPopInput[], region: string): string {
  const dist = new Map<string, number>(edges.map((e) => [e.name, e.name === region ? 0 : Infinity]));
  const done = new Set<string>();
  while (done.size < edges.length) {
    const [u] =
      [...dist].filter(([n]) => !done.has(n)).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))[0] ?? [];
    if (u === undefined) break;
    done.add(u);
    const from = edges.find((e) => e.name === u) as LabPopInput;
    for (const e of edges)
      if (e.name !== u)
        dist.set(e.name, Math.min(dist.get(e.name) as number, (dist.get(u) as number) + linkCost(from, e)));
  }
  const others = [...dist]
    .filter(([n]) => n !== region)
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  return others[0]?.[0] ?? region;
}

const TIMERS =
  '    hold time 3;\n    keepalive time 1;\n    connect retry time 1;\n    connect delay time 1;\n    error wait time 1, 4;\n';

/** A router: every route learned over BGP goes to its kernel table; connected nets and BGP routes are passed on. */
export function routerConfig(plan: LabPlan, router: LabRouter): string {
  const sessions = plan.sessions.filter((s) => s.netns === router.netns);
  return [
    `# generated by meridian up --anycast, do not edit`,
    `router id ${router.routerId};`,
    'protocol device { scan time 10; }',
    'protocol direct { ipv4; interface "*"; }',
    'protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }',
    ...sessions.map(
      (s, i) =>
        `protocol bgp peer${i + 1} {\n    local as ${router.asn};\n    neighbor ${s.peer} as ${s.peerAsn};\n${TIMERS}    ipv4 {\n        import all;\n        export filter { ${Array.from({ length: s.prepend }, () => `bgp_path.prepend(${router.asn});`).join(' ')} accept; };\n    };\n}`,
    ),
    '',
  ].join('\n');
}

/**
 * A PoP's speaker: its nodes' prefix always, the anycast prefix while its agent puts it into the
 * included file; the anycast route also goes to the kernel (ECMP over the healthy nodes).
 */
export function popConfig(plan: LabPlan, pop: LabPop, includeFile: string): string {
  const session = plan.sessions.find((s) => s.netns === pop.netns);
  if (session === undefined) throw new Error(`no BGP session for PoP ${pop.name}`);
  return [
    `# generated by meridian up --anycast, do not edit`,
    `router id ${pop.routerId};`,
    'protocol device { scan time 10; }',
    `protocol static pop_nodes { ipv4; route ${pop.nodesPrefix} blackhole; }`,
    pop.role === 'edge' ? `include "${includeFile}";` : '',
    'protocol kernel { ipv4 { import none; export where proto ~ "meridian_anycast*"; }; merge paths on; }',
    `protocol bgp upstream {\n    local as ${pop.asn};\n    neighbor ${session.peer} as ${session.peerAsn};\n${TIMERS}    ipv4 {\n        import none;\n        export where proto = "pop_nodes" || proto = "meridian_anycast";\n    };\n}`,
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}
