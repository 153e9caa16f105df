// Which addresses a client gets. Pure: the topology, the client's location and the capacity gate
// come in; an ordered list of addresses goes out.
//
// 1. Candidates: PoPs with role "edge" (never shields), limited to the zone's dns_pops when it has
//    them, that have nodes with an address of the asked family.
// 2. Healthy: a node is healthy when the control plane says "up" and DNS's own probes pass. PoPs
//    without a healthy node drop out. When none is left at all, every candidate node is answered
//    (fail open, as Route 53 does: a guess beats an empty answer).
// 3. Order: by great-circle distance from the client, nearest first (ties by name). Without a
//    location the order is by name.
// 4. Capacity: the first PoP in that order that admits the client as a new user (CapacityGate) is the
//    primary; when every PoP is full, the nearest one takes the overflow.
// 5. Answer: the primary's healthy nodes (rotated per query, so clients spread over them), at most
//    maxAddresses; when that is fewer than two, the next PoP's nodes top it up to two, so that a
//    client always has somewhere to fail over to (and most clients still land on the primary).
import type { CapacityGate } from './capacity.ts';
import { greatCircleKm, type Location } from './geo.ts';

export interface NodeView {
  name: string;
  /** The address in text form; its family is the one the list it sits in is for. */
  address: string;
  healthy: boolean;
}

export interface PopView {
  name: string;
  latitude: number;
  longitude: number;
  /** New users per second; 0: unlimited. */
  capacity: number;
  /** Nodes with an IPv4 address (A) and with an IPv6 address (AAAA). */
  v4: NodeView[];
  v6: NodeView[];
}

export interface Choice {
  /** The PoP that got the client (null: no candidate at all). */
  pop: string | null;
  addresses: string[];
  /** Every candidate was unhealthy: these are addresses nobody vouches for. */
  failOpen: boolean;
  /** How many PoPs were in the running (more than one: the answer depends on where the client is). */
  candidates: number;
}

export interface ChooseInput {
  pops: readonly PopView[];
  family: 4 | 6;
  location: Location | null;
  /** PoP names the zone is limited to; null: all. */
  restrict: readonly string[] | null;
  gate: CapacityGate;
  /** The user, for capacity (see CapacityGate). */
  user: string;
  now: number;
  maxAddresses: number;
  /** Rotates the order of a PoP's nodes (any integer; a counter per query). */
  rotation: number;
}

/** PoPs ordered nearest first (by name when there is no location or at equal distance). */
export function rankPops<P extends { name: string; latitude: number; longitude: number }>(
  pops: readonly P[],
  location: Location | null,
): P[] {
  const byName = (a: P, b: P): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (location === null) return [...pops].sort(byName);
  return pops
    .map((pop) => ({ pop, km: greatCircleKm(location, pop) }))
    .sort((a, b) => a.km - b.km || byName(a.pop, b.pop))
    .map((e) => e.pop);
}

interface Ranked {
  /** PoPs in the running, nearest first, each with the nodes it answers with. */
  order: { name: string; capacity: number; nodes: NodeView[] }[];
  failOpen: boolean;
}

/**
 * Rankings per PoP list (a new list comes with every change of data or health, so a stale ranking
 * is never used), then per location, zone restriction and family. Locations and restrictions are
 * keyed by identity: the locator hands out the same object for the same place (geo.ts), and a
 * zone's restriction is one array for as long as the data stands. Bounded: cleared when full.
 */
type ByFamily = [Ranked | undefined, Ranked | undefined];
const rankings = new WeakMap<
  readonly PopView[],
  Map<Location | null, Map<readonly string[] | null, ByFamily>>
>();
const MAX_LOCATIONS = 10_000;

function ranked(input: ChooseInput): Ranked {
  let byLocation = rankings.get(input.pops);
  if (byLocation === undefined) rankings.set(input.pops, (byLocation = new Map()));
  let byRestrict = byLocation.get(input.location);
  if (byRestrict === undefined) {
    if (byLocation.size >= MAX_LOCATIONS) byLocation.clear();
    byLocation.set(input.location, (byRestrict = new Map()));
  }
  let families = byRestrict.get(input.restrict);
  if (families === undefined) byRestrict.set(input.restrict, (families = [undefined, undefined]));
  const slot = input.family === 4 ? 0 : 1;
  return (families[slot] ??= rank(input));
}

function rank(input: ChooseInput): Ranked {
  const restrict = input.restrict === null ? null : new Set(input.restrict);
  const nodesOf = (pop: PopView): NodeView[] => (input.family === 4 ? pop.v4 : pop.v6);
  const candidates = input.pops.filter(
    (pop) => (restrict === null || restrict.has(pop.name)) && nodesOf(pop).length > 0,
  );
  let pool = candidates
    .map((pop) => ({ pop, nodes: nodesOf(pop).filter((n) => n.healthy) }))
    .filter((e) => e.nodes.length > 0);
  const failOpen = pool.length === 0 && candidates.length > 0;
  if (failOpen) pool = candidates.map((pop) => ({ pop, nodes: nodesOf(pop) }));
  const order = rankPops(
    pool.map((e) => ({
      name: e.pop.name,
      latitude: e.pop.latitude,
      longitude: e.pop.longitude,
      capacity: e.pop.capacity,
      nodes: e.nodes,
    })),
    input.location,
  ).map(({ name, capacity, nodes }) => ({ name, capacity, nodes }));
  return { order, failOpen };
}

export function choose(input: ChooseInput): Choice {
  const { order: ranking, failOpen } = ranked(input);
  if (ranking.length === 0) return { pop: null, addresses: [], failOpen: false, candidates: 0 };
  let primary = ranking.findIndex((e) => input.gate.admit(e.name, e.capacity, input.user, input.now));
  if (primary < 0) primary = 0;

  const addresses: string[] = [];
  for (let i = -1; i < ranking.length; i++) {
    // The primary first, then the others in order of distance.
    if (i === primary) continue;
    const entry = ranking[i < 0 ? primary : i] as Ranked['order'][number];
    if (i >= 0 && addresses.length >= 2) break;
    // The primary fills up to maxAddresses; the others only top the answer up to two addresses.
    const limit = i < 0 ? input.maxAddresses : Math.min(2, input.maxAddresses);
    const nodes = entry.nodes;
    const start = Math.abs(input.rotation) % nodes.length;
    for (let k = 0; k < nodes.length && addresses.length < limit; k++) {
      const address = (nodes[(start + k) % nodes.length] as NodeView).address;
      if (!addresses.includes(address)) addresses.push(address);
    }
  }
  return {
    pop: (ranking[primary] as Ranked['order'][number]).name,
    addresses,
    failOpen,
    candidates: ranking.length,
  };
}
