// Cache-poisoning defences: what a client sends that an origin may act on but the cache key does
// not hold is removed, or normalised so that the key and the origin read the same request.
// docs/security.md lists each vector and the test that shows it fails.

/**
 * Request fields origins (frameworks, rewrite modules) read as the request's host, scheme, path or
 * method. None is in the cache key, so a client could change a cached answer for everyone with one:
 * they are never forwarded. The node states the client's scheme in X-Forwarded-Proto itself.
 */
export const UNKEYED_OVERRIDE_HEADERS: readonly string[] = [
  'x-forwarded-host',
  'x-host',
  'x-forwarded-server',
  'x-original-host',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-url-scheme',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'forwarded',
];

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * The path of a request target normalised as RFC 3986 §6.2.2 allows without changing what it names:
 * percent-encodings of unreserved characters decoded (%61 → a, %2E → .), other escapes in upper case
 * (%2f → %2F), then dot segments removed (§5.2.4). The query is left as sent. null when an encoded
 * slash or backslash would make a dot segment for an origin that decodes it (/a/..%2Fb): such a
 * target names one thing to the cache and another to the origin, and is refused.
 */
export function normalizeTarget(target: string): string | null {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  let path = rawPath;
  if (path.includes('%')) {
    path = path.replace(/%([0-9A-Fa-f]{2})/g, (whole, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
    });
  }
  if (path.includes('/.')) path = removeDotSegments(path);
  if (/%2F|%5C|\\/i.test(path)) {
    const asOrigin = path.replace(/%2F|%5C|\\/gi, '/');
    if (/(?:^|\/)\.\.?(?:\/|$)/.test(asOrigin)) return null;
  }
  return path === rawPath ? target : `${path}${query}`;
}

/** RFC 3986 §5.2.4. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    if (s === '..') {
      if (out.length > 0) out.pop();
      if (i === segments.length - 1) out.push('');
    } else if (s === '.') {
      if (i === segments.length - 1) out.push('');
    } else out.push(s);
  }
  return `/${out.join('/')}`;
}
