// The caching decisions of a shared cache (a CDN): may a response be stored (RFC 9111 §3), may a
// stored response answer this request (RFC 9111 §4, RFC 5861), may it answer despite an origin error.
// Pure: values and `now` in, a value out. Freshness inputs are computed in freshness.ts.
import { parseCacheControl } from './cache-control.ts';
import type { CacheControl } from './cache-control.ts';
import {
  explicitFreshness,
  expiresLifetimeSec,
  currentAgeSec,
  isHeuristicAllowed,
  targetedCacheControl,
} from './freshness.ts';
import type { GoverningCacheControl, PolicyOptions, StoredFreshness } from './freshness.ts';
import { parseContentRange } from './conditional.ts';
import { firstHeaderValue, hasHeader, headerValue, parseHttpDate, splitList } from './headers.ts';
import type { Headers } from './headers.ts';
import { parseVary } from './vary.ts';

export {
  DEFAULT_POLICY_OPTIONS,
  HEURISTICALLY_CACHEABLE,
  currentAgeSec,
  freshnessOf,
  targetedCacheControl,
} from './freshness.ts';
export type {
  FreshnessSource,
  GoverningCacheControl,
  GoverningSource,
  PolicyOptions,
  StoredFreshness,
} from './freshness.ts';
export { invalidatedUrls } from './invalidation.ts';

/**
 * Why a response is not stored. Every reason but 'too-large' is produced by `storability`; the caller
 * reports 'too-large' when the body exceeds what the storage tiers take.
 */
export type NoCacheReason =
  | 'method'
  | 'status'
  | 'no-store'
  | 'private'
  | 'authorization'
  | 'set-cookie'
  | 'vary-star'
  | 'no-freshness'
  | 'request-no-store'
  | 'too-large'
  | 'partial'
  | 'must-understand';

/**
 * The final status codes whose caching requirements this cache implements (RFC 9111 §5.2.2.3
 * must-understand): those RFC 9110 §15 defines, plus 429 (RFC 6585) and 451 (RFC 7725). For all of
 * them storing and reusing is generic (the status, head and body replayed as stored); 206 is
 * stored as a partial object that only serves the ranges it holds (see `storability`); 304 is never
 * stored (it updates a stored response, RFC 9111 §4.3.4). An unregistered code such as 299 or 599
 * may mean anything, so a response that asks for understanding is not stored.
 */
export const UNDERSTOOD_STATUS: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407,
  408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 429, 451, 500, 501, 502, 503, 504, 505,
]);

export type Storability = { storable: true } | { storable: false; reason: NoCacheReason };

const STORABLE: Storability = Object.freeze({ storable: true });
const notStorable = (reason: NoCacheReason): Storability => ({ storable: false, reason });

/**
 * May this response be stored by a shared cache? Checks, first failing one reported:
 * method (GET only), request no-store, a 206 without one byte range, status, no-store, private, Vary: *,
 * Authorization, Set-Cookie, then whether anything makes the response reusable at all.
 */
export function storability(
  method: string,
  status: number,
  req: Headers,
  res: Headers,
  opts: PolicyOptions,
): Storability {
  // RFC 9111 §3: the request method must be understood. The cache stores GET bodies only; a HEAD
  // response has no body to store (RFC 9110 §9.3.2), so HEAD is answered from stored GETs instead.
  if (method !== 'GET') return notStorable('method');
  // RFC 9111 §5.2.1.5: "a cache MUST NOT store any part of either this request or any response to it".
  if (parseCacheControl(req['cache-control']).noStore) return notStorable('request-no-store');
  // RFC 9111 §3.3: "A cache MAY store incomplete responses"; a 206 is stored as the part it holds
  // when it is a single byte range of a representation whose complete length is known (a
  // multipart/byteranges 206 has no Content-Range of its own and is not stored). A 200 to a Range
  // request is the whole representation and is stored like any other.
  if (status === 206 && parseContentRange(firstHeaderValue(res, 'content-range')) === null)
    return notStorable('partial');
  // RFC 9111 §3: "the response status code is final"; a 304 updates a stored response (§4.3.4), it is
  // not stored itself.
  if (!Number.isInteger(status) || status < 200 || status > 599 || status === 304)
    return notStorable('status');
  return responseStorability(status, req, res, targetedCacheControl(res), opts);
}

function responseStorability(
  status: number,
  req: Headers,
  res: Headers,
  g: GoverningCacheControl,
  opts: PolicyOptions,
): Storability {
  const { cc } = g;
  if (cc.mustUnderstand) {
    // RFC 9111 §3: "if the response status code is 206 or 304, or the must-understand cache
    // directive (see Section 5.2.2.3) is present: the cache understands the response status code".
    // §5.2.2.3: "When the must-understand directive is present, the cache MUST NOT store the
    // response if it doesn't understand the status code" ...
    if (!UNDERSTOOD_STATUS.has(status)) return notStorable('must-understand');
    // ... and "A cache that understands and conforms to the requirements of a response's status
    // code SHOULD ignore the no-store directive when must-understand is present" (the directive
    // exists so that origins can send `must-understand, no-store` for caches that predate it).
  } else if (cc.noStore) {
    // RFC 9111 §3: "the no-store cache directive is not present in the response".
    return notStorable('no-store');
  }
  // RFC 9111 §3: "if the cache is shared: the private response directive is either not present or
  // allows a shared cache to store a modified response". The qualified form (private="f") would need
  // the listed fields removed before storage; like many caches (RFC 9111 §5.2.2.7 notes this), we
  // treat it as unqualified so no caller can forget the removal.
  if (cc.private) return notStorable('private');
  // RFC 9111 §4.1: "A stored response with a Vary header field value containing * always fails to match".
  if (parseVary(res) === '*') return notStorable('vary-star');
  // RFC 9111 §3.5: a shared cache MUST NOT reuse a response to a request with Authorization unless
  // "must-revalidate (Section 5.2.2.2), public (Section 5.2.2.9), and s-maxage (Section 5.2.2.10)".
  const sharedByOrigin = cc.public || cc.sMaxage !== undefined;
  if (hasHeader(req, 'authorization') && !(sharedByOrigin || cc.mustRevalidate)) {
    return notStorable('authorization');
  }
  // Not in RFC 9111 (which allows storing Set-Cookie responses): Varnish's builtin protection against
  // handing one user's cookie to everybody. Stored only when the origin says so explicitly.
  const targeted = g.source !== 'cache-control';
  if (hasHeader(res, 'set-cookie') && !(sharedByOrigin || (targeted && cc.maxAge !== undefined))) {
    return notStorable('set-cookie');
  }
  return reusability(status, res, g, opts);
}

/**
 * RFC 9111 §3: the response must contain public, Expires, max-age, s-maxage, or have a heuristically
 * cacheable status (§4.2.2) — else 'status'. Then, a cache-specific choice: a response that would be
 * stale on arrival and has nothing to revalidate with (ETag, Last-Modified) and no stale window is
 * not stored ('no-freshness'): each use would be a full fetch and a rewrite of the object.
 */
function reusability(
  status: number,
  res: Headers,
  g: GoverningCacheControl,
  opts: PolicyOptions,
): Storability {
  const { cc } = g;
  const explicit = opts.honorOriginCacheControl ? explicitFreshness(res, g) : null;
  if (explicit === null && !isHeuristicAllowed(status, cc)) return notStorable('status');
  const hasValidator = hasHeader(res, 'etag') || hasHeader(res, 'last-modified');
  const hasStaleWindow = (cc.staleWhileRevalidate ?? 0) > 0 || (cc.staleIfError ?? 0) > 0;
  if (hasValidator || hasStaleWindow) return STORABLE;
  return knownLifetimeSec(res, explicit, opts) === 0 ? notStorable('no-freshness') : STORABLE;
}

/**
 * The lifetime as far as it is known without the response time (null: Expires without Date, relative
 * to the unknown receive time). Called only without validators, so there is no Last-Modified for a heuristic.
 */
function knownLifetimeSec(
  res: Headers,
  explicit: ReturnType<typeof explicitFreshness>,
  opts: PolicyOptions,
): number | null {
  if (explicit === null) return Math.max(0, opts.defaultTtlSec ?? 0);
  if ('lifetimeSec' in explicit) return explicit.lifetimeSec;
  if (explicit.expiresMs === null) return 0;
  const dateMs = parseHttpDate(firstHeaderValue(res, 'date'));
  return dateMs === null ? null : expiresLifetimeSec(explicit.expiresMs, dateMs);
}

export type Verdict =
  /** Serve from cache; ttlSec = remaining freshness (> 0). */
  | { kind: 'fresh'; ageSec: number; ttlSec: number }
  /** Serve stale now, refresh once in the background (ttlSec <= 0). */
  | { kind: 'stale-while-revalidate'; ageSec: number; ttlSec: number }
  /** The request's max-stale allows serving stale (never when mustRevalidate or noCache). */
  | { kind: 'stale-allowed'; ageSec: number; ttlSec: number }
  | {
      kind: 'revalidate';
      ageSec: number;
      ttlSec: number;
      reason: 'stale' | 'no-cache' | 'request-no-cache' | 'request-max-age' | 'request-min-fresh';
    };

type RevalidateReason = Extract<Verdict, { kind: 'revalidate' }>['reason'];

/**
 * Decide what to do with a stored response for this request.
 *
 * Request directives "are advisory; caches MAY implement them" (RFC 9111 §5.2.1). Those a CDN honours, and why:
 * - no-cache (RFC 9111 §5.2.1.4), and max-age=0 (what browsers send on reload) → revalidate. Cheap for
 *   the origin: the caller collapses concurrent revalidations of one object, so a reload storm costs
 *   one conditional request, and a 304 refreshes the object for everyone.
 * - max-age=N (§5.2.1.1): revalidate when the stored response is older than N seconds.
 * - min-fresh=N (§5.2.1.3): revalidate when it stays fresh for less than N more seconds.
 * - max-stale[=N] (§5.2.1.2): may serve a stale response (stale by at most N seconds; any staleness
 *   without a value) — never when the response says must-revalidate / proxy-revalidate / s-maxage or
 *   no-cache (RFC 9111 §4.2.4 "MUST NOT generate a stale response if it is prohibited by an explicit
 *   in-protocol directive").
 * - Pragma: no-cache when the request has no Cache-Control (RFC 7234 §5.4; RFC 9111 §5.4 deprecates
 *   Pragma, but HTTP/1.0-era clients and tools still send it alone).
 * - immutable (RFC 8246): a fresh immutable response does not change during its freshness lifetime
 *   (RFC 8246 §2), so no request directive forces its revalidation: revalidating could only return
 *   304. Common CDN practice; it also defuses reload storms on versioned assets.
 * Not decided here: only-if-cached (the caller answers 504 instead of fetching, RFC 9111 §5.2.1.7),
 * no-store (the stored response may still be used, RFC 9111 §5.2.1.5; `storability` rejects storing),
 * stale-if-error (`canServeStaleOnError`).
 */
export function evaluate(f: StoredFreshness, req: Headers, nowMs: number): Verdict {
  const ageSec = currentAgeSec(f, nowMs);
  const ttlSec = f.lifetimeSec - ageSec;
  // RFC 9111 §5.2.2.4: no-cache "indicates that the response MUST NOT be used to satisfy any other
  // request without forwarding it for validation and receiving a successful response".
  if (f.noCache) return { kind: 'revalidate', ageSec, ttlSec, reason: 'no-cache' };
  // RFC 9111 §4.2: "The stored response is considered fresh if its age does not exceed its freshness lifetime".
  const isFresh = ttlSec > 0;
  const cc = requestCacheControl(req);
  const requestReason = isFresh && f.immutable ? null : requestRevalidation(cc, ageSec, ttlSec);
  if (requestReason !== null) return { kind: 'revalidate', ageSec, ttlSec, reason: requestReason };
  if (isFresh) return { kind: 'fresh', ageSec, ttlSec };
  return staleVerdict(f, cc, ageSec, ttlSec) ?? { kind: 'revalidate', ageSec, ttlSec, reason: 'stale' };
}

/** A request without Cache-Control or Pragma (the common case) parses nothing: the hit path stays allocation-light. */
const NO_REQUEST_DIRECTIVES: Readonly<CacheControl> = Object.freeze(parseCacheControl(undefined));

/** The request's Cache-Control, with Pragma: no-cache standing in when it has none (RFC 7234 §5.4). */
function requestCacheControl(req: Headers): CacheControl {
  if (req['cache-control'] === undefined && req.pragma === undefined) return NO_REQUEST_DIRECTIVES;
  const cc = parseCacheControl(req['cache-control']);
  if (hasHeader(req, 'cache-control')) return cc;
  const pragma = headerValue(req, 'pragma');
  if (pragma !== undefined && splitList(pragma.toLowerCase()).includes('no-cache')) cc.noCache = true;
  return cc;
}

function requestRevalidation(cc: CacheControl, ageSec: number, ttlSec: number): RevalidateReason | null {
  if (cc.noCache) return 'request-no-cache';
  // RFC 9111 §5.2.1.1: "the client prefers a response whose age is less than or equal to the specified
  // number of seconds". max-age=0 always revalidates: ages are whole seconds, and reloads send it.
  if (cc.maxAge !== undefined && (cc.maxAge === 0 || ageSec > cc.maxAge)) return 'request-max-age';
  // RFC 9111 §5.2.1.3: "the client prefers a response whose freshness lifetime is no less than its
  // current age plus the specified time in seconds".
  if (cc.minFresh !== undefined && ttlSec < cc.minFresh) return 'request-min-fresh';
  return null;
}

/** A stale response: served while revalidating (RFC 5861 §3), or served as the client allows (max-stale). */
function staleVerdict(f: StoredFreshness, cc: CacheControl, ageSec: number, ttlSec: number): Verdict | null {
  // RFC 9111 §5.2.2.2 must-revalidate: "once the response has become stale, a cache MUST NOT reuse that
  // response to satisfy another request until it has been successfully validated by the origin".
  // §4.2.4 lists must-revalidate, proxy-revalidate and "an applicable s-maxage" among the directives
  // that prohibit generating a stale response; that holds for stale-while-revalidate too. §5.2.2.10:
  // "A shared cache MUST NOT reuse a stale response with s-maxage to satisfy another request until it
  // has been successfully validated by the origin". Origins that want a CDN lifetime *and* stale
  // serving can send CDN-Cache-Control: max-age=N, stale-while-revalidate=M (RFC 9213).
  if (f.mustRevalidate) return null;
  const stalenessSec = -ttlSec;
  // RFC 5861 §3: "caches MAY serve the response in which it appears after it becomes stale, up to the
  // indicated number of seconds". Preferred over max-stale: the object also gets refreshed. The
  // origin's own window applies with s-maxage too (see StoredFreshness.sharedMaxAge).
  if (withinWindow(stalenessSec, f.swrSec)) return { kind: 'stale-while-revalidate', ageSec, ttlSec };
  if (f.sharedMaxAge) return null;
  // RFC 9111 §5.2.1.2: the client "will accept a response that has exceeded its freshness lifetime" by
  // no more than the value (any amount without one). max-stale=0 grants nothing.
  if (withinWindow(stalenessSec, cc.maxStale ?? 0)) return { kind: 'stale-allowed', ageSec, ttlSec };
  return null;
}

/** A stale window of `windowSec` seconds (0 = none) admits a staleness up to and including it (RFC 5861 §4.1). */
function withinWindow(stalenessSec: number, windowSec: number): boolean {
  return windowSec > 0 && stalenessSec <= windowSec;
}

/**
 * RFC 5861 §4: may the stored response answer because the origin failed (an error that "would result
 * in a 500, 502, 503, or 504")? A fresh response may always be used (only a request directive sent
 * it to the origin). A stale one may when its staleness is within the window: the request's
 * stale-if-error when it has one ("its scope of application is the request it appears in"; a client
 * may narrow or widen the origin's window, RFC 9111 §4.2.4 allows stale responses "explicitly
 * permitted by the client"), else the response's; the request's max-stale also allows it.
 *
 * Never with no-cache, must-revalidate or proxy-revalidate; with s-maxage only the origin's own
 * stale-if-error window applies (StoredFreshness.sharedMaxAge). RFC 5861 §4 says a stale
 * response may be used "regardless of other freshness information", but must-revalidate is not
 * freshness information: it is a prohibition, and RFC 9111 (a later, standards-track document) is
 * explicit — §5.2.2.2: "if a cache is disconnected, the cache MUST generate an error response rather
 * than reuse the stale response", §4.2.4: a cache "MUST NOT generate a stale response if it is
 * prohibited by an explicit in-protocol directive (e.g., by a no-cache response directive, a
 * must-revalidate response directive, or an applicable s-maxage or proxy-revalidate response directive)".
 */
export function canServeStaleOnError(f: StoredFreshness, req: Headers, nowMs: number): boolean {
  // RFC 9111 §5.2.2.4: no-cache allows no use without a successful validation, fresh or not.
  if (f.noCache) return false;
  const stalenessSec = currentAgeSec(f, nowMs) - f.lifetimeSec;
  if (stalenessSec < 0) return true;
  if (f.mustRevalidate) return false;
  // With s-maxage only the origin's own stale-if-error window counts (see StoredFreshness.sharedMaxAge).
  if (f.sharedMaxAge) return withinWindow(stalenessSec, f.sieSec);
  const cc = parseCacheControl(req['cache-control']);
  const windowSec = cc.staleIfError ?? f.sieSec;
  return withinWindow(stalenessSec, windowSec) || withinWindow(stalenessSec, cc.maxStale ?? 0);
}
