// The edge's view of a zone, as the pipeline uses it: what `route` resolves from Host and what
// `lookup` / the fetch task ask of it. Implemented by zone-runtime.ts; re-exported by zone-table.ts.
import type { Zone } from '../../common/config/zone.ts';
import type { PolicyOptions } from '../../lib/http-cache/policy.ts';
import type { OriginHealthSettings } from '../upstream/health-settings.ts';
import type { UpstreamTls } from '../upstream/origin-tls.ts';

/** The request facts rules read. Header names are lower-case (Node's shape). */
export interface RuleRequest {
  method: string;
  host: string;
  /** path and query as received */
  target: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  scheme: 'http' | 'https';
}

export interface RequestDecision {
  /** Any matching rule says bypass, or the zone is in development mode. */
  bypass: boolean;
  /**
   * scheme://host/path?query with the cache key rules applied to the query (kept/dropped/sorted/
   * tracking stripped). Purge by URL uses the same normalisation.
   */
  primaryKey: string;
  /** Extra key material from the key rules (headers, cookies, device class), '' when none; never contains '\n'. */
  keyExtra: string;
  /** From the last matching rule with edge_ttl; null when none. */
  edgeTtlSec: number | null;
  /** Some matching rule says override_origin, and edgeTtlSec is set (override_origin needs edge_ttl). */
  overrideOrigin: boolean;
  browserTtlSec: number | null;
  /** status → seconds, merged from matching rules; null when none. */
  statusTtl: ReadonlyMap<number, number> | null;
  ignoreSetCookie: boolean;
  /** Ids of the rules that matched, in order (for debugging headers/logs). */
  ruleIds: readonly string[];
  /** Slice caching (pipeline/slice.ts): bytes per slice from the zone or the last rule that says; null: off. */
  sliceBytes?: number | null;
}

/** An origin chosen for a fetch. Shared between calls: do not mutate `url`. */
export interface OriginChoice {
  /** Position in `zone.origins` (the id `exclude` takes). */
  readonly index: number;
  readonly url: URL;
  /** Host header to send instead of the client's, null to keep the client's. */
  readonly hostHeader: string | null;
  /** https:// origins: verification, SNI and the client certificate to present; null for http://. */
  readonly tls: UpstreamTls | null;
  /** Health checks and circuit breaker settings, and the key of the node's health record for it. */
  readonly health: OriginHealthSettings;
  /** The zone's origins this one was picked from: failover picks the next one here. */
  readonly group: OriginGroup;
}

/** May a request go to this origin now (upstream/health.ts)? */
export type OriginUsable = (origin: OriginChoice) => boolean;

/** A zone's origins (weight > 0) and its weighted choice among them. */
export interface OriginGroup {
  /** Number of origins that can be chosen. */
  readonly size: number;
  /** The origins that can be chosen, in zone order. */
  readonly choices: readonly OriginChoice[];
  /**
   * Smooth weighted round-robin (nginx's algorithm), skipping ids in `exclude` and origins that
   * `isUsable` refuses; undefined if none is left.
   */
  pick(exclude?: ReadonlySet<number>, isUsable?: OriginUsable): OriginChoice | undefined;
}

export interface ZoneRuntime {
  readonly zone: Zone;
  /** PolicyOptions for lib/http-cache from the zone's settings (default_ttl, honor_origin_headers). */
  readonly policy: PolicyOptions;
  /**
   * Smooth weighted round-robin over origins with weight > 0 (nginx's algorithm), skipping ids in
   * `exclude` and origins `isUsable` refuses (for failover); undefined if none left. Without
   * `isUsable`, health is not consulted: the fetch path checks it per attempt (upstream/failover.ts).
   */
  pickOrigin(exclude?: ReadonlySet<number>, isUsable?: OriginUsable): OriginChoice | undefined;
  /** Applies the zone's enabled rules, in order, to a request. */
  decide(req: RuleRequest): RequestDecision;
  /**
   * Every primary key a GET of this target may get, whatever its headers and cookies: rules that
   * match on headers or cookies may change the query normalisation. Purge by URL removes them all.
   * The first is the key of a GET without headers or cookies.
   */
  primaryKeysFor(scheme: 'http' | 'https', host: string, target: string): readonly string[];
}
