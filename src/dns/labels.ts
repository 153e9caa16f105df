// The label rule: which names under the CDN zone exist. Pure; no I/O.
//
// Every hostname of every zone, and every zone's name, becomes one label directly under the CDN
// zone: lower-cased, with each "." and "_" replaced by "-".
//
//   www.customer.com  →  www-customer-com.cdn.example.net
//   zone "shop"        →  shop.cdn.example.net
//
// A customer points `www.customer.com CNAME www-customer-com.cdn.example.net`. A label longer than
// 63 characters cannot exist in DNS: such a hostname gets no label of its own (its zone's name label
// still works). Two names that map to one label (a-b.com and a.b-com) are a collision: the zone
// listed first by name keeps the label, and the collision is reported.
import type { Zone } from '../common/config/zone.ts';

/** The label for a hostname or zone name; null when it cannot be a DNS label. */
export function cdnLabel(name: string): string | null {
  const label = name.toLowerCase().replace(/[._]/g, '-');
  if (label.length === 0 || label.length > 63 || !/^[a-z0-9-]+$/.test(label)) return null;
  return label;
}

export interface LabelTarget {
  /** The zone this label answers for. */
  zoneId: string;
  zoneName: string;
  /** PoP names the zone is restricted to (settings.dns_pops); null: every edge PoP. */
  pops: readonly string[] | null;
}

export interface LabelTable {
  labels: Map<string, LabelTarget>;
  /** Human-readable problems: labels that collide or cannot exist. */
  problems: string[];
}

/** Builds label → zone for every zone. Zones are taken in name order, so collisions resolve stably. */
export function buildLabels(zones: readonly Zone[]): LabelTable {
  const labels = new Map<string, LabelTarget>();
  const problems: string[] = [];
  const ordered = [...zones].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const zone of ordered) {
    const target: LabelTarget = {
      zoneId: zone.id,
      zoneName: zone.name,
      pops: zone.settings.dns_pops ?? null,
    };
    for (const name of [...new Set([zone.name.toLowerCase(), ...zone.hostnames])]) {
      const label = cdnLabel(name);
      if (label === null) {
        problems.push(`zone ${zone.name}: "${name}" has no label (longer than 63 characters)`);
        continue;
      }
      const taken = labels.get(label);
      if (taken === undefined) labels.set(label, target);
      else if (taken.zoneId !== zone.id) {
        problems.push(
          `label ${label} of zone ${zone.name} ("${name}") already belongs to zone ${taken.zoneName}`,
        );
      }
    }
  }
  return { labels, problems };
}
