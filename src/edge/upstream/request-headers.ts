// The request a proxy sends upstream (RFC 9110 §7.6): end-to-end fields only, Via appended,
// X-Forwarded-For / X-Forwarded-Proto set, Host preserved or replaced by the origin's. An HTTP/2
// request's pseudo-headers (:method, :path, :authority, :scheme) describe its request line, which the
// upstream request states itself: they are never forwarded as fields.
import type { IncomingHttpHeaders } from 'node:http';
import { endToEndHeaders } from '../../common/http/hop-by-hop.ts';
import { UNKEYED_OVERRIDE_HEADERS } from '../security/poisoning.ts';

/** A fill fetches the whole object for everyone: the client's own preconditions stay behind. */
const NOT_FOR_FILLS = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'expect',
  'host',
  'meridian-hop',
  // A fill sends no body (a "fat GET"'s body is not in the key and never reaches the origin), so
  // none of its framing either.
  'content-length',
  'content-type',
  ...UNKEYED_OVERRIDE_HEADERS,
]);
/** undici manages Expect itself; Host is set below; the internal-hop header is per hop (cluster/hop.ts). */
const NOT_FOR_PASS = new Set(['expect', 'host', 'meridian-hop', ...UNKEYED_OVERRIDE_HEADERS]);

export interface ForwardOptions {
  /** The Host header to send. */
  host: string;
  /** This hop's Via entry, e.g. "1.1 edge-1". */
  via: string;
  /** The scheme the client used (X-Forwarded-Proto): the connection's, or a verified hop's. */
  proto: 'http' | 'https';
  /** true: a shared fill (drop the client's preconditions and ranges). */
  forFill: boolean;
}

/** The parts of a client request (HTTP/1.x or HTTP/2) the upstream head is made from. */
export interface ForwardedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly socket: { readonly remoteAddress?: string | undefined };
}

export function forwardHeaders(
  req: ForwardedRequest,
  options: ForwardOptions,
): Record<string, string | string[]> {
  const headers = endToEndHeaders(req.headers, options.forFill ? NOT_FOR_FILLS : NOT_FOR_PASS);
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) delete headers[name];
  }
  headers.host = options.host;
  const clientIp = req.socket.remoteAddress ?? '';
  const xff = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = xff === undefined || xff === '' ? clientIp : `${xff}, ${clientIp}`;
  headers['x-forwarded-proto'] = options.proto;
  const via = req.headers.via;
  headers.via = via === undefined || via === '' ? options.via : `${via}, ${options.via}`;
  return headers;
}
