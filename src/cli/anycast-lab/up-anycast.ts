// `meridian up --anycast`: the parts of up that differ on the lab network. up.ts builds the
// cluster as always; with the lab it binds the host's services to the lab's host address, starts
// each node inside its own namespace, and then (here) starts one `meridian anycast` agent per edge
// PoP in the PoP speaker's namespace and waits until every region's router routes the anycast
// prefix to its own PoP.
import { join } from 'node:path';
import { birdCommand } from '../../anycast/bird.ts';
import type { Supervisor } from '../supervisor.ts';
import { buildLab, type Lab } from './lab.ts';
import { preflight } from './netns.ts';
import {
  ANYCAST_ADDRESS,
  ANYCAST_PREFIX,
  DNS_ANYCAST_ADDRESS,
  HOST_ADDRESS,
  planLab,
  type LabNode,
  type LabPopInput,
} from './plan.ts';

export interface AnycastDescription {
  /** The anycast HTTP service address every healthy edge PoP serves. */
  address: string;
  prefix: string;
  /** Reserved for DNS anycast (docs/anycast.md); the lab's DNS answers at the host address. */
  dns_address: string;
  /** The host's address on the lab network (control plane, origin, DNS). */
  host: string;
  /** region → the namespace of that region's clients. */
  clients: Record<string, string>;
  /** region → the PoP its clients reach. */
  expected: Record<string, string>;
  /** region → the PoP its clients reach when their own PoP is withdrawn. */
  next: Record<string, string>;
  /** node → its namespace. */
  nodes: Record<string, string>;
  /** PoP → its BIRD speaker's namespace. */
  pops: Record<string, string>;
}

export { HOST_ADDRESS };

/** Checks root and BIRD, removes a leftover lab, builds the network and its BIRDs. */
export async function startAnycastLab(pops: LabPopInput[], dir: string): Promise<Lab> {
  await preflight();
  const plan = planLab(pops);
  return buildLab(plan, dir, (line) => process.stderr.write(`meridian up: ${line}\n`));
}

export function labNode(lab: Lab, name: string): LabNode {
  const node = lab.plan.pops.flatMap((p) => p.nodes).find((n) => n.name === name);
  if (node === undefined) throw new Error(`no lab node ${name}`);
  return node;
}

/** One agent per edge PoP, next to that PoP's BIRD; then every region routed to its own PoP. */
export async function startAgents(
  lab: Lab,
  supervisor: Supervisor,
  controlUrl: string,
  token: string,
): Promise<AnycastDescription> {
  const edges = lab.plan.pops.filter((p) => p.role === 'edge');
  await Promise.all(
    edges.map((pop) =>
      supervisor.start(
        `anycast-${pop.name}`,
        [
          'anycast',
          '--pop',
          pop.name,
          '--control',
          controlUrl,
          '--token',
          token,
          '--prefix',
          ANYCAST_PREFIX,
          '--bird-socket',
          lab.sockets.get(pop.netns) as string,
          '--include',
          lab.includes.get(pop.name) as string,
          ...pop.nodes.flatMap((n) => ['--nexthop', `${n.name}=${n.address}`]),
          '--community',
          '65535:666',
          // Short, so the lab shows failover in about a second; docs/anycast.md has production values.
          '--probe-interval',
          '200ms',
          '--probe-timeout',
          '300ms',
          '--announce-delay',
          '1s',
        ],
        (line) => line.includes('"anycast agent running"'),
        {},
        30_000,
        pop.netns,
      ),
    ),
  );
  await waitForRoutes(lab, 30_000);
  return {
    address: ANYCAST_ADDRESS,
    prefix: ANYCAST_PREFIX,
    dns_address: DNS_ANYCAST_ADDRESS,
    host: HOST_ADDRESS,
    clients: Object.fromEntries(lab.plan.clients.map((c) => [c.region, c.netns])),
    expected: lab.plan.expected,
    next: lab.plan.next,
    nodes: Object.fromEntries(lab.plan.pops.flatMap((p) => p.nodes.map((n) => [n.name, n.netns]))),
    pops: Object.fromEntries(lab.plan.pops.map((p) => [p.name, p.netns])),
  };
}

/** The PoP a region's router sends the anycast prefix to now (null: no route), from its BIRD. */
export async function routedPop(lab: Lab, region: string, depth = 0): Promise<string | null> {
  const router = lab.plan.routers.find((r) => r.region === region);
  if (router === undefined || depth > lab.plan.routers.length) return null;
  const reply = await birdCommand(
    lab.sockets.get(router.netns) as string,
    `show route for ${ANYCAST_ADDRESS} primary`,
  );
  const via = /via (\d+\.\d+\.\d+\.\d+)/.exec(reply.lines.join('\n'))?.[1];
  if (via === undefined) return null;
  const local = lab.plan.pops.find((p) => p.address === via);
  if (local !== undefined) return local.name;
  // Via a neighbour router: the PoP that router routes to (its own, or further on).
  const ends = lab.plan.links.flatMap((l) => [l.a, l.b]);
  const holder = ends.find((end) => end[2] === `${via}/30`)?.[0];
  const neighbour = lab.plan.routers.find((r) => r.netns === holder);
  return neighbour === undefined ? null : routedPop(lab, neighbour.region, depth + 1);
}

async function waitForRoutes(lab: Lab, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await Promise.all(
      Object.keys(lab.plan.expected).map(async (r) => [r, await routedPop(lab, r)] as const),
    );
    if (now.every(([r, pop]) => pop === lab.plan.expected[r])) return;
    const last = now.map(([r, pop]) => `${r}→${pop ?? 'none'}`).join(', ');
    if (Date.now() > deadline)
      throw new Error(
        `the anycast routes did not converge within ${timeoutMs} ms (${last}); see the anycast-* logs in ${join('<dir>', 'logs')}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}
