// One zone as the edge runs it: settings turned into PolicyOptions, origins into a weighted picker,
// rules into compiled closures. Built whenever the zone or its rules change, never mutated after
// (only the picker's round-robin state moves), so a request keeps a consistent view of its zone.
// Origin health is not kept here (a rebuilt zone would forget it) but in the node's registry
// (upstream/health.ts), which the fetch path consults.
import type { Zone } from '../../common/config/zone.ts';
import { DEFAULT_POLICY_OPTIONS } from '../../lib/http-cache/policy.ts';
import type { PolicyOptions } from '../../lib/http-cache/policy.ts';
import { primaryKeyOf } from '../cache/key.ts';
import type { CompiledCacheKey } from './cache-key.ts';
import { holds } from './compiled-rules.ts';
import type { CompiledRule } from './compiled-rules.ts';
import { RequestView } from './request-view.ts';
import type { OriginChoice, OriginUsable, RequestDecision, RuleRequest, ZoneRuntime } from './types.ts';
import { WeightedOrigins } from './weighted-origins.ts';

const NO_RULE_IDS: readonly string[] = Object.freeze([]);
const NO_HEADERS: RuleRequest['headers'] = Object.freeze({});

export class CompiledZone implements ZoneRuntime {
  readonly zone: Zone;
  readonly policy: PolicyOptions;
  /** null when the zone has no enabled rules: `decide` takes the fast path. */
  readonly #rules: readonly CompiledRule[] | null;
  readonly #isDevelopmentMode: boolean;
  readonly #origins: WeightedOrigins;

  constructor(zone: Zone, rules: readonly CompiledRule[] | null) {
    this.zone = zone;
    this.#rules = rules;
    this.policy = Object.freeze({
      ...DEFAULT_POLICY_OPTIONS,
      defaultTtlSec: zone.settings.default_ttl,
      honorOriginCacheControl: zone.settings.honor_origin_headers,
      defaultStaleWhileRevalidateSec: zone.settings.stale_while_revalidate,
      defaultStaleIfErrorSec: zone.settings.stale_if_error,
    });
    this.#isDevelopmentMode = zone.settings.development_mode;
    this.#origins = new WeightedOrigins(
      zone.origins,
      zone.settings.authenticated_origin_pulls ? zone.id : null,
    );
  }

  pickOrigin(exclude?: ReadonlySet<number>, isUsable?: OriginUsable): OriginChoice | undefined {
    return this.#origins.pick(exclude, isUsable);
  }

  decide(req: RuleRequest): RequestDecision {
    const rules = this.#rules;
    if (rules === null) return this.#defaults(req);
    const view = new RequestView(req);
    let ruleIds: string[] | null = null;
    let bypass = this.#isDevelopmentMode;
    let edgeTtlSec: number | null = null;
    let browserTtlSec: number | null = null;
    let overrideOrigin = false;
    let ignoreSetCookie = false;
    let statusTtl: ReadonlyMap<number, number> | null = null;
    let isStatusTtlOwned = false;
    let key: CompiledCacheKey | null = null;
    let sliceBytes = this.zone.settings.slice_size ?? null;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as CompiledRule;
      if (!holds(rule.lineConditions, view) || !holds(rule.headerConditions, view)) continue;
      (ruleIds ??= []).push(rule.id);
      // Booleans default to false in the schema, so an explicit false cannot be told from an
      // omitted one: a true from any matching rule stands.
      bypass ||= rule.bypass;
      overrideOrigin ||= rule.overrideOrigin;
      ignoreSetCookie ||= rule.ignoreSetCookie;
      if (rule.edgeTtlSec !== null) edgeTtlSec = rule.edgeTtlSec;
      if (rule.browserTtlSec !== null) browserTtlSec = rule.browserTtlSec;
      if (rule.key !== null) key = rule.key;
      if (rule.sliceBytes !== undefined) sliceBytes = rule.sliceBytes;
      if (rule.statusTtl !== null) {
        statusTtl =
          statusTtl === null ? rule.statusTtl : mergeStatusTtl(statusTtl, rule.statusTtl, isStatusTtlOwned);
        isStatusTtlOwned = statusTtl !== rule.statusTtl;
      }
    }
    return {
      bypass,
      primaryKey: key === null ? primaryKeyOf(req.scheme, req.host, req.target) : keyOf(key, view),
      keyExtra: key === null ? '' : key.extraOf(view),
      edgeTtlSec,
      overrideOrigin: overrideOrigin && edgeTtlSec !== null,
      browserTtlSec,
      statusTtl,
      ignoreSetCookie,
      ruleIds: ruleIds ?? NO_RULE_IDS,
      sliceBytes,
    };
  }

  primaryKeysFor(scheme: 'http' | 'https', host: string, target: string): readonly string[] {
    const rules = this.#rules;
    if (rules === null) return [primaryKeyOf(scheme, host, target)];
    const view = new RequestView({ method: 'GET', host, target, headers: NO_HEADERS, scheme });
    // The key rule that wins without headers, then every later key rule that some header or cookie
    // could make match: any of them may be the last matching rule with cache_key for some request.
    let candidates: (CompiledCacheKey | null)[] = [null];
    for (const rule of rules) {
      if (rule.key === null || !holds(rule.lineConditions, view)) continue;
      if (rule.headerConditions.length === 0) candidates = [rule.key];
      else candidates.push(rule.key);
    }
    const keys = candidates.map((k) => (k === null ? primaryKeyOf(scheme, host, target) : keyOf(k, view)));
    return [...new Set(keys)];
  }

  #defaults(req: RuleRequest): RequestDecision {
    return {
      bypass: this.#isDevelopmentMode,
      primaryKey: primaryKeyOf(req.scheme, req.host, req.target),
      keyExtra: '',
      edgeTtlSec: null,
      overrideOrigin: false,
      browserTtlSec: null,
      statusTtl: null,
      ignoreSetCookie: false,
      ruleIds: NO_RULE_IDS,
      sliceBytes: this.zone.settings.slice_size ?? null,
    };
  }
}

/** Later rules win per status. One rule's map is shared as is; the copy is made on the second contributor. */
function mergeStatusTtl(
  acc: ReadonlyMap<number, number>,
  add: ReadonlyMap<number, number>,
  isOwned: boolean,
): Map<number, number> {
  const merged = isOwned ? (acc as Map<number, number>) : new Map(acc);
  for (const [status, sec] of add) merged.set(status, sec);
  return merged;
}

function keyOf(key: CompiledCacheKey, view: RequestView): string {
  return primaryKeyOf(view.req.scheme, view.req.host, view.path + key.searchOf(view));
}
