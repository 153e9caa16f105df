// The defaults every zone starts from, as small named decisions (cf. Varnish's builtin.vcl).
// Customer rules run before these and may override them.
import type { Headers } from '../../lib/http-cache/headers.ts';
import { parseCacheControl } from '../../lib/http-cache/cache-control.ts';

/** Only GET and HEAD are looked up; other methods pass (HEAD is answered from a stored GET). */
export function isLookupMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** RFC 9111 §5.2.1.7: only-if-cached asks for a stored response or a 504. */
export function wantsOnlyIfCached(req: Headers): boolean {
  const cc = req['cache-control'];
  return cc !== undefined && parseCacheControl(cc).onlyIfCached;
}

/** RFC 9111 §4.4: a successful unsafe request invalidates what is stored for its URL. */
export function invalidatesOnSuccess(method: string | undefined, status: number): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && status >= 200 && status < 400;
}

/**
 * Response fields meant for this cache or for purging only: never sent to clients.
 * CDN-Cache-Control is not among them: it is addressed to every CDN, so it goes on downstream (as
 * other CDNs do, for a CDN or shared cache behind this one) unless the zone's
 * strip_cdn_cache_control setting removes it; Meridian-CDN-Cache-Control is addressed to Meridian
 * alone (RFC 9213 §2: a targeted field names the caches it is for).
 */
export const CACHE_ONLY_FIELDS: ReadonlySet<string> = new Set([
  'meridian-cdn-cache-control',
  'surrogate-control',
  'cache-tag',
  'surrogate-key',
]);
