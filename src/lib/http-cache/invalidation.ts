// RFC 9111 §4.4: what a successful unsafe request invalidates. Re-exported by policy.ts.
import { firstHeaderValue } from './headers.ts';
import type { Headers } from './headers.ts';

// RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe. Method names are case-sensitive (§9.1), and
// §4.4 counts "methods whose safety is unknown" as unsafe.
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * URLs a response to an unsafe request invalidates: none unless the method is unsafe and the status
 * is 2xx or 3xx; then the target URI plus Location and Content-Location when they have the target's
 * origin. Absolute URLs without fragment, target first, no duplicates. A target that is not an
 * absolute URL is returned as given (the caller must still invalidate it).
 */
export function invalidatedUrls(method: string, status: number, targetUrl: string, res: Headers): string[] {
  // RFC 9111 §4.4: "A cache MUST invalidate the target URI when it receives a non-error status code in
  // response to an unsafe request method (including methods whose safety is unknown)."
  if (SAFE_METHODS.has(method) || status < 200 || status > 399) return [];
  const target = parseUrl(targetUrl);
  if (target === null) return [targetUrl];
  const urls = new Set([target.href]);
  for (const name of ['location', 'content-location']) {
    const value = firstHeaderValue(res, name);
    const url = value === undefined ? null : parseUrl(value.trim(), target);
    // RFC 9111 §4.4: "the URI(s) in the Location and Content-Location response header fields (if
    // present) are candidates for invalidation ... However, a cache MUST NOT trigger an invalidation
    // under these conditions if the origin ... of the URI to be invalidated differs from that of the
    // target URI." Location may be relative (RFC 9110 §10.2.2): resolved against the target.
    if (url !== null && url.origin === target.origin) urls.add(url.href);
  }
  return [...urls];
}

function parseUrl(s: string, base?: URL): URL | null {
  const url = URL.parse(s, base?.href);
  if (url === null || url.origin === 'null') return null; // opaque origins (data:, about:) never match
  url.hash = '';
  return url;
}
