// The control plane's zones, PoPs and nodes, plus the probes' verdicts → what answers are made of
// (ServingData). Pure. The SOA serial moves whenever the result changes.
import { isIPv4, isIPv6 } from 'node:net';
import type { NodeInfo, Pop } from '../common/config/topology.ts';
import type { Zone } from '../common/config/zone.ts';
import type { ServingData } from './answer.ts';
import type { NodeView, PopView } from './choose.ts';
import { buildLabels } from './labels.ts';

export interface ControlData {
  zones: Zone[];
  pops: Pop[];
  nodes: NodeInfo[];
}

/** The address clients reach a node at: its `url`'s host when that is an IP literal (not 0.0.0.0 or ::). */
export function nodeAddress(url: string): { family: 4 | 6; address: string } | null {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return null;
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (isIPv4(host)) return host === '0.0.0.0' ? null : { family: 4, address: host };
  if (isIPv6(host)) return host === '::' ? null : { family: 6, address: host };
  return null;
}

export interface Built {
  data: Omit<ServingData, 'serial'>;
  /** Equal fingerprints: equal answers (the serial stays). */
  fingerprint: string;
  problems: string[];
}

/** `healthy(node)`: the probes' verdict; a node answers only when it is also "up" at the control plane. */
export function buildServingData(control: ControlData | null, healthy: (node: NodeInfo) => boolean): Built {
  if (control === null)
    return { data: { labels: new Map(), pops: [], loaded: false }, fingerprint: '', problems: [] };
  const { labels, problems } = buildLabels(control.zones);
  const byPop = new Map<string, { v4: NodeView[]; v6: NodeView[] }>();
  for (const node of control.nodes) {
    const address = nodeAddress(node.url);
    if (address === null) {
      problems.push(`node ${node.name}: url ${node.url} has no IP address to answer with`);
      continue;
    }
    const view: NodeView = {
      name: node.name,
      address: address.address,
      healthy: node.status === 'up' && healthy(node),
    };
    let lists = byPop.get(node.pop);
    if (lists === undefined) byPop.set(node.pop, (lists = { v4: [], v6: [] }));
    (address.family === 4 ? lists.v4 : lists.v6).push(view);
  }
  // A drained PoP's nodes count as unhealthy: it drops out of the answers like a PoP that is down
  // (and, as one, comes back only when every other PoP is down too: fail open, choose.ts).
  const drainedView = (nodes: NodeView[] | undefined): NodeView[] =>
    (nodes ?? []).map((n) => ({ ...n, healthy: false }));
  const pops: PopView[] = control.pops
    .filter((pop) => pop.role === 'edge')
    .map((pop) => ({
      name: pop.name,
      latitude: pop.latitude,
      longitude: pop.longitude,
      capacity: pop.capacity,
      v4: pop.drained === true ? drainedView(byPop.get(pop.name)?.v4) : (byPop.get(pop.name)?.v4 ?? []),
      v6: pop.drained === true ? drainedView(byPop.get(pop.name)?.v6) : (byPop.get(pop.name)?.v6 ?? []),
    }));
  const fingerprint = JSON.stringify([
    [...labels].map(([label, t]) => [label, t.zoneId, t.pops]).sort(),
    pops,
  ]);
  return { data: { labels, pops, loaded: true }, fingerprint, problems };
}

/** Serial for a change: one more than before, and at least the current time in seconds (RFC 1982 space). */
export function nextSerial(previous: number, nowMs: number): number {
  const next = Math.max(previous + 1, Math.floor(nowMs / 1000));
  return next >>> 0;
}
