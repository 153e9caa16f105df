// Cache keys. The primary key names a URL (scheme, host, path, query); the variant key adds the
// Vary selection, so every request header that changes the response is part of the key (no cache
// poisoning through unkeyed headers). Zone key rules (query sorting, dropped parameters) plug in here.
import { varySelector } from '../../lib/http-cache/vary.ts';
import type { Headers } from '../../lib/http-cache/headers.ts';

/**
 * Lower-cases the host, drops the scheme's default port and a trailing dot ("example.com." names the
 * same host, RFC 1034 §3.1: one key and one zone, not a second cache entry).
 */
export function normalizeHost(host: string, scheme: 'http' | 'https'): string {
  let lower = host.toLowerCase();
  const dot = lower.endsWith('.') ? lower.length - 1 : lower.lastIndexOf('.:');
  if (dot > 0 && !lower.startsWith('[')) lower = lower.slice(0, dot) + lower.slice(dot + 1);
  const defaultPort = scheme === 'https' ? ':443' : ':80';
  return lower.endsWith(defaultPort) ? lower.slice(0, -defaultPort.length) : lower;
}

/** The primary key of a request: its absolute URL with a normalised authority. */
export function primaryKeyOf(scheme: 'http' | 'https', host: string, pathAndQuery: string): string {
  return `${scheme}://${normalizeHost(host, scheme)}${pathAndQuery}`;
}

/**
 * The variant key: the primary key, then the Vary selection when the response varies, then the
 * zone's extra key material (cache key rules: headers, cookies, device class) when there is any.
 * '\n' and '\0' cannot occur in a URL or a header value, so the parts never run together.
 */
export function variantKeyOf(
  primaryKey: string,
  varyNames: readonly string[],
  req: Headers,
  keyExtra = '',
): string {
  const base = varyNames.length === 0 ? primaryKey : `${primaryKey}\n${varySelector(varyNames, req)}`;
  return keyExtra === '' ? base : `${base}\0${keyExtra}`;
}

/**
 * Where a variant's stored partial response (a 206 holding one byte range, RFC 9111 §3.3) lives:
 * beside the whole object's key, never under it, so that a request without Range can never be
 * answered from a part. '\u0001' occurs in no URL, header value or key rule output.
 */
export function partialKeyOf(variantKey: string): string {
  return `${variantKey}\u0001partial`;
}
