// Interim (1xx) responses from upstream, forwarded to the client as they arrive: 103 Early Hints
// lets a browser preload while the origin still computes the page, 102 Processing keeps a client
// waiting on a slow answer. RFC 9110 §15.2: "A proxy MUST forward 1xx responses unless the proxy
// itself requested the generation of the 1xx response" — 100 Continue belongs to the request-body
// handshake of each hop (Node and undici each do their own) and 101 to a protocol switch, so those
// two are never forwarded. Interim responses are never stored: a hit replays none (RFC 9111 §3:
// only a final response is stored).
import type { ServerResponse } from 'node:http';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { endToEndHeaders } from '../../common/http/hop-by-hop.ts';
import type { RequestContext } from './context.ts';

/** undici's view of an interim response: its status and fields (lower-case names). */
export type InterimListener = (status: number, headers: Record<string, string | string[]>) => void;

/**
 * At most this many interim responses reach one client: an origin that streams 1xx without end
 * cannot make the node write to a client forever before the final response (undici's headers
 * timeout bounds the time, this bounds the bytes).
 */
const MAX_INTERIM_PER_REQUEST = 16;

/** The listener that forwards interim responses to this request's client. */
export function interimForwarder(ctx: RequestContext): InterimListener {
  let sent = 0;
  return (status, headers) => {
    if (sent >= MAX_INTERIM_PER_REQUEST) return;
    if (forwardInterim(ctx, status, headers)) sent++;
  };
}

/** Sends one interim response to the client; false when it was not sent. */
function forwardInterim(
  ctx: RequestContext,
  status: number,
  headers: Record<string, string | string[]>,
): boolean {
  if (status < 102 || status > 199) return false;
  const res = ctx.res;
  // Too late once the final head went out; nothing to say to a client that left.
  if (res.headersSent || res.destroyed || res.writableEnded) return false;
  // RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client".
  if (!ctx.h2 && ctx.req.httpVersionMajor === 1 && ctx.req.httpVersionMinor === 0) return false;
  const fields = interimFields(headers);
  if (fields === null) return false;
  try {
    if (ctx.h2) {
      // RFC 9113 §8.1: interim responses are HEADERS frames before the final one on the stream.
      const stream = (res as unknown as Http2ServerResponse).stream;
      if (stream.headersSent || stream.destroyed) return false;
      stream.additionalHeaders({ ...fields, ':status': status });
    } else {
      const h1 = res as unknown as ServerResponse;
      // writeInformation: Node 24.18+; before it, the two codes Node had a writer for.
      if (typeof h1.writeInformation === 'function') h1.writeInformation(status, fields);
      else if (status === 103) h1.writeEarlyHints(fields);
      else if (status === 102) h1.writeProcessing();
      else return false;
    }
    return true;
  } catch {
    // A field Node refuses to send (it validates again): the interim response is dropped, the
    // final response is unaffected.
    return false;
  }
}

/**
 * End-to-end fields only (RFC 9110 §7.6.1 applies to every message a proxy forwards), each checked
 * as Node checks final response fields; null when a field is invalid (undici parsed it leniently):
 * the whole interim response is then dropped rather than forwarded in part.
 */
function interimFields(headers: Record<string, string | string[]>): Record<string, string | string[]> | null {
  const fields = endToEndHeaders(headers);
  try {
    for (const name in fields) {
      validateHeaderName(name);
      const value = fields[name] as string | string[];
      for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, v);
    }
  } catch {
    return null;
  }
  return fields;
}
