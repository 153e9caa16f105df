// Rows to domain objects and back. JSON columns are parsed here and nowhere else; the values were
// validated by the API's schemas before they were written, so they are trusted on the way out.
import { randomBytes } from 'node:crypto';
import type { NodeInfo, Pop } from '../../common/config/topology.ts';
import type { Origin, Rule, RuleAction, RuleMatch, Zone, ZoneSettings } from '../../common/config/zone.ts';
import type { NodeRow, PopRow, RuleRow, TokenRow, ZoneRow } from './schema.ts';
import type { Page, Scope, TokenRecord } from './types.ts';

/** 32 lower-case hex characters (128 random bits): the id of zones, rules and tokens. */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

export function pageOffset(page: Page): number {
  if (!Number.isInteger(page.page) || page.page < 1)
    throw new RangeError(`page must be an integer >= 1, got ${page.page}`);
  if (!Number.isInteger(page.per_page) || page.per_page < 1) {
    throw new RangeError(`per_page must be an integer >= 1, got ${page.per_page}`);
  }
  return (page.page - 1) * page.per_page;
}

export function zoneToRow(zone: Zone): ZoneRow {
  return {
    id: zone.id,
    name: zone.name,
    origins: JSON.stringify(zone.origins),
    shield_pop: zone.shield_pop,
    settings: JSON.stringify(zone.settings),
    created_at: zone.created_at,
    updated_at: zone.updated_at,
  };
}

export function zoneFromRow(row: ZoneRow, hostnames: string[]): Zone {
  return {
    id: row.id,
    name: row.name,
    hostnames,
    origins: JSON.parse(row.origins) as Origin[],
    shield_pop: row.shield_pop,
    settings: JSON.parse(row.settings) as ZoneSettings,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function ruleToRow(rule: Rule): RuleRow {
  return {
    id: rule.id,
    zone_id: rule.zone_id,
    position: rule.position,
    description: rule.description,
    enabled: rule.enabled ? 1 : 0,
    match: JSON.stringify(rule.match),
    action: JSON.stringify(rule.action),
    created_at: rule.created_at,
    updated_at: rule.updated_at,
  };
}

export function ruleFromRow(row: RuleRow): Rule {
  return {
    id: row.id,
    zone_id: row.zone_id,
    position: row.position,
    description: row.description,
    enabled: row.enabled === 1,
    match: JSON.parse(row.match) as RuleMatch,
    action: JSON.parse(row.action) as RuleAction,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function popFromRow(row: PopRow): Pop {
  return {
    name: row.name,
    city: row.city,
    latitude: row.latitude,
    longitude: row.longitude,
    role: row.role as Pop['role'],
    capacity: row.capacity,
    drained: Number(row.drained) === 1,
    created_at: row.created_at,
  };
}

export function nodeFromRow(row: NodeRow): NodeInfo {
  return {
    name: row.name,
    pop: row.pop,
    url: row.url,
    admin_url: row.admin_url,
    status: row.status as NodeInfo['status'],
    last_heartbeat_at: row.last_heartbeat_at,
    applied_seq: Number(row.applied_seq),
    registered_at: row.registered_at,
  };
}

/** What the log and snapshots carry about a node (no heartbeat noise). */
export function nodeSummary(node: NodeInfo): {
  name: string;
  pop: string;
  url: string;
  status: 'up' | 'down';
} {
  return { name: node.name, pop: node.pop, url: node.url, status: node.status };
}

export function tokenFromRow(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as Scope[],
    zones: row.zones === null ? null : (JSON.parse(row.zones) as string[]),
    created_at: row.created_at,
    last_used_at: row.last_used_at,
  };
}
