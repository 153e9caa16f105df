// Cache keys. The primary key names a URL (scheme, host, path, query); the variant key adds the
// Vary selection, so every request header that changes the response is part of the key (no cache
// poisoning through unkeyed headers). Zone key rules (query sorting, dropped parameters) plug in here.
import { varySelector } from '../../lib/http-cache/vary.ts';
import type { Headers } from '../../lib/http-cache/headers.ts';

/** Lower-cases the host and drops the scheme's default port. */
export function normalizeHost(host: string, scheme: 'http' | 'https'): string {
  const lower = host.toLowerCase();
  const defaultPort = scheme === 'https' ? ':443' : ':80';
  return lower.endsWith(defaultPort) ? lower.slice(0, -defaultPort.length) : lower;
}

/** The primary key of a request: its absolute URL with a normalised authority. */
export function primaryKeyOf(scheme: 'http' | 'https', host: string, pathAndQuery: string): string {
  return `${scheme}://${normalizeHost(host, scheme)}${pathAndQuery}`;
}

/** The primary key of an absolute URL (purge and RFC 9111 §4.4 invalidation). */
export function primaryKeyOfUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
  const scheme = parsed.protocol === 'https:' ? 'https' : 'http';
  return primaryKeyOf(scheme, parsed.host, `${parsed.pathname}${parsed.search}`);
}

/** The variant key: the primary key alone when the response does not vary. */
export function variantKeyOf(primaryKey: string, varyNames: readonly string[], req: Headers): string {
  if (varyNames.length === 0) return primaryKey;
  // '\n' cannot occur in a URL or a header value, so the two parts never run together.
  return `${primaryKey}\n${varySelector(varyNames, req)}`;
}
