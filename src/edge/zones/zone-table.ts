// The edge node's view of customer configuration: zones by Host, each with its compiled rules. Fed
// by the sync module (a snapshot, then the event log's tail); read by `route` on every request.
// Pure: no I/O, no clock. Events are full statements of new state (common/events/types.ts), so
// applying one twice, or one the snapshot already holds, changes nothing.
import type { Rule, Zone } from '../../common/config/zone.ts';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import { primaryKeyOf } from '../cache/key.ts';
import { compileRules } from './compiled-rules.ts';
import type { CompiledRule } from './compiled-rules.ts';
import type { ZoneRuntime } from './types.ts';
import { CompiledZone } from './zone-runtime.ts';

export type { OriginChoice, RequestDecision, RuleRequest, ZoneRuntime } from './types.ts';

export class ZoneTable {
  #seq = 0;
  readonly #zones = new Map<string, CompiledZone>();
  /** Compiled rules by zone id, kept apart from zones: a zone upsert reuses them as they are. */
  readonly #rules = new Map<string, readonly CompiledRule[] | null>();
  /** hostname → zone id. */
  readonly #hosts = new Map<string, string>();
  /** Hostnames claimed by more than one zone at some point (a control-plane race): re-resolved on release. */
  readonly #contested = new Set<string>();

  /** The sequence number of the last applied snapshot or event. */
  get seq(): number {
    return this.#seq;
  }

  /** Replaces everything with the snapshot's state (zones, their rules), whatever its seq. */
  applySnapshot(snapshot: Snapshot): void {
    this.#zones.clear();
    this.#rules.clear();
    this.#hosts.clear();
    this.#contested.clear();
    for (const [zoneId, rules] of Object.entries(snapshot.rules))
      this.#rules.set(zoneId, compileRules(rules));
    for (const zone of snapshot.zones) this.#upsertZone(zone);
    this.#seq = snapshot.seq;
  }

  /**
   * Applies one event idempotently (zone.upsert / zone.delete / rules.replace; pop and node events
   * only advance seq). Events with seq <= this.seq are ignored. Gaps are the source's business
   * (EventSource.onGap): events are applied in the order given.
   */
  applyEvent(event: ControlEvent): void {
    if (event.seq <= this.#seq) return;
    switch (event.type) {
      case 'zone.upsert':
        this.#upsertZone(event.zone);
        break;
      case 'zone.delete':
        this.#deleteZone(event.zone_id);
        break;
      case 'rules.replace':
        this.#replaceRules(event.zone_id, event.rules);
        break;
      case 'pop.upsert':
      case 'pop.delete':
      case 'node.upsert':
      case 'node.delete':
      case 'certificate.upsert': // the TLS listener's business (edge/server/cert-store.ts)
      case 'certificate.delete':
      case 'acme.challenge.upsert':
      case 'acme.challenge.delete':
      case 'purge': // the cache's business (edge/purge)
      case 'prewarm': // the cache's business (edge/prewarm)
      case 'worker.script.upsert': // the workers' (edge/compute/registry.ts)
      case 'worker.script.delete':
      case 'worker.routes.replace':
      case 'kv.namespace.upsert':
      case 'kv.namespace.delete':
      case 'kv.put':
      case 'kv.delete':
      case 'security.replace': // the filter's business (edge/security/security-table.ts)
        break;
      default:
        assertNever(event);
    }
    this.#seq = event.seq;
  }

  /** The zone serving a Host (lower-case, without port): exact hostname match. O(1). */
  resolve(host: string): ZoneRuntime | undefined {
    const id = this.#hosts.get(host);
    return id === undefined ? undefined : this.#zones.get(id);
  }

  /** The zone with this id (purges and events name zones by id). */
  get(zoneId: string): ZoneRuntime | undefined {
    return this.#zones.get(zoneId);
  }

  zones(): Iterable<ZoneRuntime> {
    return this.#zones.values();
  }

  #upsertZone(zone: Zone): void {
    const previous = this.#zones.get(zone.id);
    this.#zones.set(zone.id, new CompiledZone(zone, this.#rules.get(zone.id) ?? null));
    const hostnames = new Set(zone.hostnames);
    if (previous !== undefined) {
      for (const h of previous.zone.hostnames) if (!hostnames.has(h)) this.#releaseHost(h, zone.id);
    }
    for (const h of hostnames) {
      const owner = this.#hosts.get(h);
      // The newest statement wins a hostname; the loser keeps listing it until its next upsert.
      if (owner !== undefined && owner !== zone.id) this.#contested.add(h);
      this.#hosts.set(h, zone.id);
    }
  }

  #deleteZone(zoneId: string): void {
    const zone = this.#zones.get(zoneId);
    this.#zones.delete(zoneId);
    this.#rules.delete(zoneId);
    if (zone !== undefined) for (const h of zone.zone.hostnames) this.#releaseHost(h, zoneId);
  }

  /** Rules may arrive before their zone: they are kept and used when the zone appears. */
  #replaceRules(zoneId: string, rules: readonly Rule[]): void {
    const compiled = compileRules(rules);
    this.#rules.set(zoneId, compiled);
    const zone = this.#zones.get(zoneId);
    if (zone !== undefined) this.#zones.set(zoneId, new CompiledZone(zone.zone, compiled));
  }

  /** `zoneId` no longer lists `host`: unmap it, or hand it to another zone that still lists it. */
  #releaseHost(host: string, zoneId: string): void {
    if (this.#hosts.get(host) !== zoneId) return;
    this.#hosts.delete(host);
    if (!this.#contested.has(host)) return;
    this.#contested.delete(host);
    for (const other of this.#zones.values()) {
      if (other.zone.id !== zoneId && other.zone.hostnames.includes(host)) {
        this.#hosts.set(host, other.zone.id);
        return;
      }
    }
  }
}

/**
 * The primary key of a GET of `url` (purge by URL, RFC 9111 §4.4 invalidation): the same
 * normalisation as `decide`, with header and cookie conditions taken as absent. null when `url` is
 * not an absolute http(s) URL. The URL is parsed with WHATWG rules (dot segments resolved, spaces
 * and non-ASCII percent-encoded), which is what clients send for it.
 */
export function primaryKeyForUrl(zone: ZoneRuntime | undefined, url: string): string | null {
  return primaryKeysForUrl(zone, url)?.[0] ?? null;
}

/** Every primary key a GET of `url` may have under the zone's rules (ZoneRuntime.primaryKeysFor). */
export function primaryKeysForUrl(zone: ZoneRuntime | undefined, url: string): readonly string[] | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
  const scheme = parsed.protocol === 'https:' ? 'https' : 'http';
  const target = `${parsed.pathname}${parsed.search}`;
  if (zone === undefined) return [primaryKeyOf(scheme, parsed.host, target)];
  return zone.primaryKeysFor(scheme, parsed.host, target);
}

/**
 * A URL's primary keys under both schemes. The cache keys http and https apart (an origin may answer
 * them differently), but whoever purges "https://host/p", or changes it with an unsafe request, means
 * the resource whichever way a client fetched it. null when `url` is not an absolute http(s) URL.
 */
export function primaryKeysForUrlBothSchemes(
  zone: ZoneRuntime | undefined,
  url: string,
): readonly string[] | null {
  const given = primaryKeysForUrl(zone, url);
  if (given === null) return null;
  const other = new URL(url);
  other.protocol = other.protocol === 'https:' ? 'http:' : 'https:';
  return [...given, ...(primaryKeysForUrl(zone, other.href) ?? [])];
}

function assertNever(value: never): never {
  throw new Error(`unexpected event ${JSON.stringify(value)}`);
}
