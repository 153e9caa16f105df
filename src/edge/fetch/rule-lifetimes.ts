// How a zone's cache rules change what the HTTP caching policy decided for a response:
//   edge_ttl              the lifetime when the origin gave none (like the zone's default TTL)
//   edge_ttl + override   the lifetime whatever the origin said; no-cache/private/no-store ignored
//   status_ttl {404: 60}  responses with that status are stored for that long
//   ignore_set_cookie     a Set-Cookie does not prevent storing (the cookie is never stored)
// Structural refusals (method, Vary: *, partial content) are never overridden.
import type { NoCacheReason, Storability, StoredFreshness } from '../../lib/http-cache/policy.ts';
import type { RequestDecision } from '../zones/types.ts';

/** Reasons a rule may override: they concern the origin's wishes, not what the cache can store. */
const OVERRIDABLE: ReadonlySet<NoCacheReason> = new Set(['no-store', 'private', 'no-freshness', 'status']);

function ruleLifetime(status: number, rules: RequestDecision | null): number | null {
  if (rules === null) return null;
  const forStatus = rules.statusTtl?.get(status);
  if (forStatus !== undefined) return forStatus;
  return rules.overrideOrigin ? rules.edgeTtlSec : null;
}

export const applyRuleLifetimes = {
  storability(verdict: Storability, status: number, rules: RequestDecision | null): Storability {
    if (verdict.storable || rules === null) return verdict;
    if (verdict.reason === 'set-cookie' && rules.ignoreSetCookie) return { storable: true };
    if (ruleLifetime(status, rules) !== null && OVERRIDABLE.has(verdict.reason)) return { storable: true };
    if (verdict.reason === 'no-freshness' && rules.edgeTtlSec !== null) return { storable: true };
    return verdict;
  },

  freshness(f: StoredFreshness, status: number, rules: RequestDecision | null): StoredFreshness {
    if (rules === null) return f;
    const forced = ruleLifetime(status, rules);
    if (forced !== null)
      return { ...f, lifetimeSec: forced, noCache: false, mustRevalidate: false, source: 'default' };
    // Without override, edge_ttl stands in only where the origin gave no explicit lifetime.
    if (rules.edgeTtlSec !== null && (f.source === 'heuristic' || f.source === 'default')) {
      return { ...f, lifetimeSec: rules.edgeTtlSec, source: 'default' };
    }
    return f;
  },
};
