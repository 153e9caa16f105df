// Query + what DNS knows → the response. Pure: no sockets, no clock of its own.
//
//   outside the zone                 REFUSED, AA=0 (no recursion, RA is never set)
//   class other than IN (or ANY)     REFUSED
//   AXFR / IXFR                      REFUSED (no zone transfers: the data is computed per client)
//   apex SOA / NS / ANY              the SOA, the NS set (with addresses of in-zone name servers)
//   a CDN label, A / AAAA / ANY      the chosen nodes' addresses (choose.ts), ECS scope set
//   an in-zone name server, A/AAAA   its configured addresses
//   a known name, another type       NODATA: NOERROR, no answer, the SOA in the authority section
//   anything else in the zone        NXDOMAIN, the SOA in the authority section
//
// Every answer from the zone has AA=1. Negative answers are cacheable for the SOA's minimum (the TTL).
import type { Answer } from 'dns-packet';
import type { CapacityGate } from './capacity.ts';
import type { IpBytes } from './cidr.ts';
import { choose, type PopView } from './choose.ts';
import { clientSubnetReply } from './ecs.ts';
import type { GeoLocator, Location } from './geo.ts';
import type { LabelTarget } from './labels.ts';
import { QCLASS, QTYPE, RCODE, type Query, type ResponseSpec } from './wire.ts';

export interface NameServer {
  /** Fully qualified, lower case, no trailing dot. */
  name: string;
  /** Addresses, answered when the name server's name lies inside the zone. */
  v4: string[];
  v6: string[];
}

/** What does not change while the server runs (from the options). */
export interface ZoneConfig {
  /** The CDN zone, e.g. "cdn.example.net" (lower case). */
  origin: string;
  nameServers: NameServer[];
  /** The SOA RNAME as a name ("hostmaster.example.net"). */
  hostmaster: string;
  /** TTL of A/AAAA answers and of negative answers (SOA minimum), seconds. */
  ttl: number;
  /** TTL of the SOA and NS records, seconds. */
  apexTtl: number;
  maxAddresses: number;
}

/** What the control plane and the probes say (rebuilt when they change). */
export interface ServingData {
  labels: ReadonlyMap<string, LabelTarget>;
  pops: readonly PopView[];
  serial: number;
  /** False until the control plane answered once: CDN labels get SERVFAIL rather than NXDOMAIN. */
  loaded: boolean;
}

/** The zone's fixed names, prepared once from ZoneConfig. */
export class ZoneNames {
  readonly config: ZoneConfig;
  readonly originLabels: string[];
  /** Relative name ("ns1", "a.b") → an in-zone name server. */
  readonly servers = new Map<string, NameServer>();
  /** Relative names that exist only because names below them do (RFC 8020: NODATA, not NXDOMAIN). */
  readonly emptyNonTerminals = new Set<string>();

  constructor(config: ZoneConfig) {
    this.config = config;
    this.originLabels = config.origin.split('.');
    for (const ns of config.nameServers) {
      const labels = ns.name.split('.');
      if (!endsWith(labels, this.originLabels) || labels.length === this.originLabels.length) continue;
      const relative = labels.slice(0, labels.length - this.originLabels.length);
      this.servers.set(relative.join('.'), ns);
      for (let i = 1; i < relative.length; i++) this.emptyNonTerminals.add(relative.slice(i).join('.'));
    }
  }
}

function endsWith(labels: readonly string[], suffix: readonly string[]): boolean {
  if (labels.length < suffix.length) return false;
  const offset = labels.length - suffix.length;
  return suffix.every((l, i) => labels[offset + i] === l);
}

export interface ClientInfo {
  /** The resolver's address (the UDP/TCP peer). */
  resolver: IpBytes | null;
  resolverText: string;
}

export interface AnswerDeps {
  names: ZoneNames;
  data: ServingData;
  locator: GeoLocator;
  gate: CapacityGate;
  now: number;
  rotation: number;
}

export interface Answered {
  spec: ResponseSpec;
  /** The PoP chosen (A/AAAA answers only). */
  pop: string | null;
  failOpen: boolean;
}

export function answerQuery(query: Query, client: ClientInfo, deps: AnswerDeps): Answered {
  const { names, data } = deps;
  const config = names.config;
  const ecs = query.edns?.clientSubnet ?? null;
  let scope = 0;
  let pop: string | null = null;
  let failOpen = false;
  const answers: Answer[] = [];
  const authorities: Answer[] = [];
  const additionals: Answer[] = [];

  const respond = (rcode: number, aa: boolean): Answered => ({
    spec: {
      id: query.id,
      aa,
      rd: query.rd,
      cd: query.cd,
      rcode,
      question: query.question,
      answers,
      authorities,
      additionals,
      edns: query.edns,
      clientSubnetOption: ecs === null ? null : clientSubnetReply(ecs, scope),
    },
    pop,
    failOpen,
  });
  const soa = (ttl: number): Answer => ({
    type: 'SOA',
    name: config.origin,
    ttl,
    data: {
      mname: config.nameServers[0]?.name ?? config.origin,
      rname: config.hostmaster,
      serial: data.serial,
      refresh: 3600,
      retry: 600,
      expire: 604_800,
      minimum: config.ttl,
    },
  });
  const negative = (rcode: number): Answered => {
    authorities.push(soa(Math.min(config.apexTtl, config.ttl)));
    return respond(rcode, true);
  };
  const addressRecords = (owner: string, family: 4 | 6, list: readonly string[], ttl: number): void => {
    for (const address of list)
      answers.push({ type: family === 4 ? 'A' : 'AAAA', name: owner, ttl, data: address });
  };

  if (query.qclass !== QCLASS.IN && query.qclass !== QCLASS.ANY) return respond(RCODE.REFUSED, false);
  if (!endsWith(query.labels, names.originLabels)) return respond(RCODE.REFUSED, false);
  if (query.qtype === QTYPE.AXFR || query.qtype === QTYPE.IXFR) return respond(RCODE.REFUSED, false);
  const relative = query.labels.slice(0, query.labels.length - names.originLabels.length);
  const any = query.qtype === QTYPE.ANY;

  if (relative.length === 0) {
    if (query.qtype === QTYPE.SOA || any) answers.push({ ...soa(config.apexTtl), name: query.name });
    if (query.qtype === QTYPE.NS || any) {
      for (const ns of config.nameServers) {
        answers.push({ type: 'NS', name: query.name, ttl: config.apexTtl, data: ns.name });
      }
      for (const ns of names.servers.values()) {
        for (const a of ns.v4) additionals.push({ type: 'A', name: ns.name, ttl: config.apexTtl, data: a });
        for (const a of ns.v6)
          additionals.push({ type: 'AAAA', name: ns.name, ttl: config.apexTtl, data: a });
      }
    }
    return answers.length > 0 ? respond(RCODE.NOERROR, true) : negative(RCODE.NOERROR);
  }

  const key = relative.join('.');
  const server = names.servers.get(key);
  if (server !== undefined) {
    if (query.qtype === QTYPE.A || any) addressRecords(query.name, 4, server.v4, config.apexTtl);
    if (query.qtype === QTYPE.AAAA || any) addressRecords(query.name, 6, server.v6, config.apexTtl);
    return answers.length > 0 ? respond(RCODE.NOERROR, true) : negative(RCODE.NOERROR);
  }
  if (names.emptyNonTerminals.has(key)) return negative(RCODE.NOERROR);

  const target = relative.length === 1 ? data.labels.get(key) : undefined;
  if (target === undefined) {
    // Before the first data arrives, "unknown" may be wrong: say so (SERVFAIL is not cached long).
    return data.loaded ? negative(RCODE.NXDOMAIN) : respond(RCODE.SERVFAIL, false);
  }
  const families: (4 | 6)[] = any
    ? [4, 6]
    : query.qtype === QTYPE.A
      ? [4]
      : query.qtype === QTYPE.AAAA
        ? [6]
        : [];
  if (families.length === 0) return negative(RCODE.NOERROR);

  // Where the client is: the ECS address when the resolver sent one (and a non-zero prefix), else the resolver.
  const useEcs = ecs !== null && ecs.sourcePrefix > 0;
  const where = useEcs ? ecs.ip : client.resolver;
  const located: { location: Location | null; prefix: number } =
    where === null
      ? { location: null, prefix: 0 }
      : deps.locator.locate(where, useEcs ? ecs.text : client.resolverText);
  const user = useEcs ? `${ecs.text}/${ecs.sourcePrefix}` : client.resolverText;
  let dependsOnClient = false;
  for (const family of families) {
    const choice = choose({
      pops: data.pops,
      family,
      location: located.location,
      restrict: target.pops,
      gate: deps.gate,
      user,
      now: deps.now,
      maxAddresses: config.maxAddresses,
      rotation: deps.rotation,
    });
    pop ??= choice.pop;
    failOpen ||= choice.failOpen;
    dependsOnClient ||= choice.candidates > 1;
    addressRecords(query.name, family, choice.addresses, config.ttl);
  }
  if (useEcs && dependsOnClient) scope = located.prefix;
  return answers.length > 0 ? respond(RCODE.NOERROR, true) : negative(RCODE.NOERROR);
}
