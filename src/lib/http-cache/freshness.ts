// Freshness of a response for a shared cache: which cache-control field governs (RFC 9213), the
// freshness lifetime (RFC 9111 §4.2.1, §4.2.2) and the current age (RFC 9111 §4.2.3). policy.ts
// re-exports everything here; it lives apart so that policy.ts holds only the decisions.
import { parseCacheControl, toCacheControl } from './cache-control.ts';
import type { CacheControl } from './cache-control.ts';
import { firstHeaderValue, hasHeader, headerValue, parseDeltaSeconds, parseHttpDate } from './headers.ts';
import type { Headers } from './headers.ts';
import { parseSurrogateControl, parseTargetedField } from './targeted-field.ts';

export interface PolicyOptions {
  /** Fraction of (Date − Last-Modified) used as a heuristic lifetime; default 0.1 (RFC 9111 §4.2.2). */
  heuristicFraction: number;
  /** Cap for heuristic lifetimes, seconds; default 86400. */
  heuristicMaxSec: number;
  /**
   * Operator default lifetime when the origin gives no explicit freshness. Used instead of the
   * heuristic, and only where a heuristic is allowed; null = use the heuristic.
   */
  defaultTtlSec: number | null;
  /** RFC 5861 windows used when the response names none (a zone's defaults); 0 = none. */
  defaultStaleWhileRevalidateSec: number;
  defaultStaleIfErrorSec: number;
  /**
   * false ("ignore origin headers"): max-age, s-maxage, Expires, no-cache, must-revalidate and
   * proxy-revalidate are ignored and the lifetime is defaultTtlSec (or the heuristic). What decides
   * whether the response may be stored at all still applies: no-store, private, Authorization,
   * Set-Cookie, Vary: *. stale-while-revalidate, stale-if-error and immutable are still read.
   * Default true.
   */
  honorOriginCacheControl: boolean;
}

export const DEFAULT_POLICY_OPTIONS: PolicyOptions = Object.freeze({
  heuristicFraction: 0.1,
  heuristicMaxSec: 86400,
  defaultTtlSec: null,
  honorOriginCacheControl: true,
  defaultStaleWhileRevalidateSec: 0,
  defaultStaleIfErrorSec: 0,
});

export type FreshnessSource =
  | 'meridian-cdn-cache-control'
  | 'cdn-cache-control'
  | 'surrogate-control'
  | 'cache-control'
  | 'expires'
  | 'heuristic'
  | 'default';

/** Freshness inputs persisted with a stored object (JSON-serialisable: no Infinity, no Date objects). */
export interface StoredFreshness {
  /** RFC 9111 §4.2.3 request_time and response_time, ms since the epoch. */
  requestTimeMs: number;
  responseTimeMs: number;
  /** Date header as received (null when absent or invalid). */
  dateMs: number | null;
  /** Age header as received (0 when absent or invalid). */
  ageSec: number;
  /** Freshness lifetime chosen: s-maxage > max-age > Expires > heuristic/default. */
  lifetimeSec: number;
  /** RFC 5861 windows from the response (0 when none). */
  swrSec: number;
  sieSec: number;
  /** must-revalidate or proxy-revalidate (RFC 9111 §5.2.2.2, §5.2.2.8). */
  mustRevalidate: boolean;
  /**
   * s-maxage was present. RFC 9111 §5.2.2.10 gives it proxy-revalidate semantics, so a client's
   * max-stale cannot reuse it stale; the origin's own stale-while-revalidate / stale-if-error in the
   * same response (RFC 5861) are explicit permissions and still apply — CDN practice
   * (`s-maxage=60, stale-while-revalidate=600` is how most frameworks ask a CDN for SWR).
   */
  sharedMaxAge: boolean;
  /** no-cache (qualified forms count too, see policy.ts): every use needs revalidation. */
  noCache: boolean;
  immutable: boolean;
  source: FreshnessSource;
}

export type GoverningSource =
  'meridian-cdn-cache-control' | 'cdn-cache-control' | 'surrogate-control' | 'cache-control';

/** The cache-control field that governs this cache, parsed. */
export interface GoverningCacheControl {
  source: GoverningSource;
  cc: CacheControl;
}

/**
 * Which cache-control field governs this cache (RFC 9213): Meridian-CDN-Cache-Control, then
 * CDN-Cache-Control, then Surrogate-Control, then Cache-Control. A targeted field that is present
 * and valid wins entirely over Cache-Control for freshness and storability of THIS cache.
 */
export function targetedCacheControl(res: Headers): GoverningCacheControl {
  // RFC 9213 §2.2: "the cache MUST select the first (in target-list order) field with a valid,
  // non-empty value and use its value to determine the caching policy for the response, and it MUST
  // ignore the Cache-Control and Expires header fields in that response". Our target list is
  // [Meridian-CDN-Cache-Control, CDN-Cache-Control, Surrogate-Control]: RFC 9213 §2.2 orders a
  // target list from most to least applicable, so the field addressed to Meridian alone comes
  // before the one addressed to every CDN.
  const own = parseTargetedField(res['meridian-cdn-cache-control']);
  if (own) return { source: 'meridian-cdn-cache-control', cc: toCacheControl(own) };
  const cdn = parseTargetedField(res['cdn-cache-control']);
  if (cdn) return { source: 'cdn-cache-control', cc: toCacheControl(cdn) };
  const surrogate = parseSurrogateControl(res['surrogate-control']);
  if (surrogate) return { source: 'surrogate-control', cc: toCacheControl(surrogate) };
  return { source: 'cache-control', cc: parseCacheControl(res['cache-control']) };
}

/**
 * RFC 9110 §15.1: "Responses with status codes that are defined as heuristically cacheable (e.g.,
 * 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, and 501 in this specification) can be reused
 * by a cache with heuristic expiration unless otherwise indicated by the method definition or
 * explicit cache controls".
 */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([
  200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
]);

/** An explicit freshness lifetime found in the response, before Expires is resolved against a clock. */
export type ExplicitFreshness =
  { source: GoverningSource; lifetimeSec: number } | { source: 'expires'; expiresMs: number | null };

/** RFC 9111 §4.2.1, first three cases; null when the response has no explicit freshness. */
export function explicitFreshness(res: Headers, g: GoverningCacheControl): ExplicitFreshness | null {
  // RFC 9111 §4.2.1: "If the cache is shared and the s-maxage response directive is present, use its
  // value, or If the max-age response directive is present, use its value".
  const sec = g.cc.sMaxage ?? g.cc.maxAge;
  if (sec !== undefined) return { source: g.source, lifetimeSec: sec };
  // RFC 9213 §2.2: with a targeted field governing, Expires is ignored.
  if (g.source !== 'cache-control' || !hasHeader(res, 'expires')) return null;
  // RFC 9111 §5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0",
  // as representing a time in the past". Two Expires lines join into an invalid date: stale, which
  // RFC 9111 §4.2.1 allows for repeated fields.
  return { source: 'expires', expiresMs: parseHttpDate(headerValue(res, 'expires')) };
}

/** Expires − Date in whole seconds, never negative (RFC 9111 §4.2.1). */
export function expiresLifetimeSec(expiresMs: number | null, dateMs: number): number {
  return expiresMs === null ? 0 : Math.max(0, Math.floor((expiresMs - dateMs) / 1000));
}

/**
 * RFC 9111 §4.2.2: "heuristics can only be used on responses without explicit freshness whose status
 * codes are defined as heuristically cacheable ... and on responses without explicit freshness that
 * have been marked as explicitly cacheable (e.g., with a public response directive)".
 */
export function isHeuristicAllowed(status: number, cc: CacheControl): boolean {
  return HEURISTICALLY_CACHEABLE.has(status) || cc.public;
}

/**
 * The lifetime when no explicit freshness applies: the operator default, else RFC 9111 §4.2.2: "If
 * the response has a Last-Modified header field ..., caches are encouraged to use a heuristic
 * expiration value that is no more than some fraction of the interval since that time", capped.
 */
export function fallbackLifetime(
  res: Headers,
  dateMs: number,
  opts: PolicyOptions,
): { source: 'default' | 'heuristic'; lifetimeSec: number } {
  if (opts.defaultTtlSec !== null) return { source: 'default', lifetimeSec: Math.max(0, opts.defaultTtlSec) };
  const lastModifiedMs = parseHttpDate(firstHeaderValue(res, 'last-modified'));
  if (lastModifiedMs === null || lastModifiedMs >= dateMs) return { source: 'heuristic', lifetimeSec: 0 };
  const sec = Math.floor(((dateMs - lastModifiedMs) / 1000) * opts.heuristicFraction);
  return { source: 'heuristic', lifetimeSec: Math.max(0, Math.min(opts.heuristicMaxSec, sec)) };
}

/** RFC 9111 §5.1: the first member of a list-valued Age; an invalid value is ignored (0). */
export function parseAgeSec(res: Headers): number {
  const first = headerValue(res, 'age')?.split(',')[0]?.trim();
  return first === undefined ? 0 : (parseDeltaSeconds(first) ?? 0);
}

/** Everything `evaluate` needs later, computed once when the response is received (or revalidated). */
export function freshnessOf(
  status: number,
  res: Headers,
  requestTimeMs: number,
  responseTimeMs: number,
  opts: PolicyOptions,
): StoredFreshness {
  const g = targetedCacheControl(res);
  const honor = opts.honorOriginCacheControl;
  const dateMs = parseHttpDate(firstHeaderValue(res, 'date'));
  // RFC 9110 §6.6.1: a recipient of a response without Date records the time it was received.
  const baseMs = dateMs ?? responseTimeMs;
  const lifetime = lifetimeOf(status, res, g, baseMs, opts);
  const sharedMaxAge = honor && g.cc.sMaxage !== undefined;
  return {
    requestTimeMs,
    responseTimeMs,
    dateMs,
    ageSec: parseAgeSec(res),
    lifetimeSec: lifetime.lifetimeSec,
    // The zone's default windows stand in for a response without its own, except with s-maxage
    // (RFC 9111 §5.2.2.10: proxy-revalidate semantics): only the origin's own stale directive in
    // that response permits stale use, and an operator default is not the origin's.
    swrSec: g.cc.staleWhileRevalidate ?? (sharedMaxAge ? 0 : opts.defaultStaleWhileRevalidateSec),
    sieSec: g.cc.staleIfError ?? (sharedMaxAge ? 0 : opts.defaultStaleIfErrorSec),
    // RFC 9111 §5.2.2.8: proxy-revalidate is must-revalidate for shared caches.
    mustRevalidate: honor && (g.cc.mustRevalidate || g.cc.proxyRevalidate),
    // RFC 9111 §5.2.2.10: s-maxage "incorporates the semantics of the proxy-revalidate response directive".
    sharedMaxAge,
    noCache: honor && g.cc.noCache,
    immutable: g.cc.immutable,
    source: lifetime.source,
  };
}

function lifetimeOf(
  status: number,
  res: Headers,
  g: GoverningCacheControl,
  baseMs: number,
  opts: PolicyOptions,
): { source: FreshnessSource; lifetimeSec: number } {
  const explicit = opts.honorOriginCacheControl ? explicitFreshness(res, g) : null;
  if (explicit?.source === 'expires') {
    return { source: 'expires', lifetimeSec: expiresLifetimeSec(explicit.expiresMs, baseMs) };
  }
  if (explicit) return explicit;
  // RFC 9111 §4.2.2: "A cache MUST NOT use heuristics to determine freshness when an explicit
  // expiration time is present in the stored response."
  if (!isHeuristicAllowed(status, g.cc)) return { source: 'heuristic', lifetimeSec: 0 };
  return fallbackLifetime(res, baseMs, opts);
}

/**
 * RFC 9111 §4.2.3 current_age, in whole seconds (rounded down):
 *   apparent_age = max(0, response_time - date_value); response_delay = response_time - request_time;
 *   corrected_age_value = age_value + response_delay;
 *   corrected_initial_age = max(apparent_age, corrected_age_value);
 *   resident_time = now - response_time; current_age = corrected_initial_age + resident_time.
 */
export function currentAgeSec(f: StoredFreshness, nowMs: number): number {
  const apparentAgeMs = f.dateMs === null ? 0 : Math.max(0, f.responseTimeMs - f.dateMs);
  const responseDelayMs = Math.max(0, f.responseTimeMs - f.requestTimeMs);
  const correctedInitialAgeMs = Math.max(apparentAgeMs, f.ageSec * 1000 + responseDelayMs);
  const residentTimeMs = nowMs - f.responseTimeMs;
  return Math.max(0, Math.floor((correctedInitialAgeMs + residentTimeMs) / 1000));
}

/**
 * The same stored response, stale from `atMs` on (a soft purge): its lifetime ends at its age at
 * that moment, so the next use revalidates, and stale-while-revalidate / stale-if-error windows
 * count from the purge, not from the original expiry.
 */
export function expiredAt(f: StoredFreshness, atMs: number): StoredFreshness {
  const lifetimeSec = Math.min(f.lifetimeSec, currentAgeSec(f, atMs));
  if (lifetimeSec === f.lifetimeSec && !f.immutable) return f;
  return { ...f, lifetimeSec, immutable: false };
}
