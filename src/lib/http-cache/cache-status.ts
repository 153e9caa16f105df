// RFC 9211 Cache-Status: one list member per cache, serialised as a Structured Field (RFC 8941).

/** One cache's entry. Parameters are written in the order of RFC 9211 §2.1-§2.8; false/absent ones are left out. */
export interface CacheStatusEntry {
  /** The cache's identifier; a Token when it is one, else a String (RFC 9211 §2). */
  cache: string;
  /** §2.1: the request was satisfied by the cache without contacting the next hop. */
  hit?: boolean;
  /** §2.2: why the request went forward. */
  fwd?: 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';
  /** §2.3: the status the next hop returned. */
  fwdStatus?: number;
  /** §2.4: remaining freshness in seconds; negative when stale. */
  ttl?: number;
  /** §2.5: the response was stored. */
  stored?: boolean;
  /** §2.6: the request was collapsed with another one. */
  collapsed?: boolean;
  /** §2.7: the cache key (a String). */
  key?: string;
  /** §2.8: implementation-specific detail (a String). */
  detail?: string;
}

/** e.g. `Meridian; hit; ttl=300`, `Meridian; fwd=miss; fwd-status=200; stored; collapsed`. */
export function formatCacheStatus(e: CacheStatusEntry): string {
  const params: string[] = [];
  if (e.hit === true) params.push('hit');
  if (e.fwd !== undefined) params.push(`fwd=${e.fwd}`);
  if (e.fwdStatus !== undefined && isSfInteger(e.fwdStatus))
    params.push(`fwd-status=${Math.trunc(e.fwdStatus)}`);
  if (e.ttl !== undefined && isSfInteger(e.ttl)) params.push(`ttl=${Math.trunc(e.ttl)}`);
  if (e.stored === true) params.push('stored');
  if (e.collapsed === true) params.push('collapsed');
  if (e.key !== undefined) params.push(`key=${sfString(e.key)}`);
  if (e.detail !== undefined) params.push(`detail=${sfString(e.detail)}`);
  return [sfItem(e.cache), ...params].join('; ');
}

// RFC 8941 §3.3.1: integers have at most 15 digits.
function isSfInteger(n: number): boolean {
  return Number.isFinite(n) && Math.abs(Math.trunc(n)) <= 999_999_999_999_999;
}

// RFC 8941 §3.3.4: sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ).
function sfItem(name: string): string {
  return /^[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*$/.test(name) ? name : sfString(name);
}

/**
 * RFC 8941 §4.1.6: a String holds printable ASCII only, with "\" and DQUOTE escaped. Other characters
 * cannot be serialised; each is replaced by "?" rather than failing the whole header.
 */
function sfString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else out += code >= 0x20 && code <= 0x7e ? ch : '?';
  }
  return `${out}"`;
}
