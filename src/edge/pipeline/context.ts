// The state of one client request as it moves through the steps. Every field is set in the
// constructor (one V8 shape); the comment on each names the step that fills it.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Readable, Writable } from 'node:stream';
import type { MeridianError } from '../../common/errors.ts';
import type { CacheStatusEntry } from '../../lib/http-cache/cache-status.ts';
import type { Verdict } from '../../lib/http-cache/policy.ts';
import type { CachedObject } from '../cache/cache.ts';
import type { ObjectMeta } from '../cache/storage.ts';
import type { BodyFill } from '../fetch/body-fill.ts';
import type { BufferedResponse } from '../fetch/fetch-task.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import type { EdgeRuntime } from '../runtime.ts';
import type { RequestDecision, ZoneRuntime } from '../zones/types.ts';
import { primaryKeyOf } from '../cache/key.ts';
import type { Hop } from '../cluster/hop.ts';
import type { SecurityDecision } from '../security/edge-security.ts';

/** What deliver sends. */
export type Delivery =
  /** A stored object (hit, revalidated, stale). */
  | { kind: 'object'; object: CachedObject }
  /** An object still arriving from upstream. */
  | { kind: 'fill'; meta: ObjectMeta; fill: BodyFill }
  /** An upstream response passed through unstored. */
  | { kind: 'upstream'; response: UpstreamResponse }
  /** A small upstream error response shared by collapsed requests. */
  | { kind: 'buffered'; response: BufferedResponse }
  /** An object stored as slices (pipeline/slice.ts): its head, size, and a body assembled from slices. */
  | { kind: 'sliced'; meta: ObjectMeta; size: number; open(start: number, endExclusive: number): Readable };

/** How the request was answered, for Cache-Status and metrics. */
export type Phase = 'hit' | 'stale' | 'miss' | 'revalidated' | 'pass' | 'stale-if-error' | 'synth';

/**
 * A client request: HTTP/1.x (node:http, on the plain or the TLS port) or HTTP/2 (node:http2's
 * compatibility API, TLS port). Both run the same steps; the few differences (Host from :authority,
 * no connection-specific fields in HTTP/2) are decided on `ctx.h2`.
 */
export type ClientRequest = IncomingMessage | Http2ServerRequest;

/** What the steps use of a response; node:http's ServerResponse and node:http2's Http2ServerResponse both have it. */
export interface ClientResponse extends Writable {
  statusCode: number;
  readonly headersSent: boolean;
  writeHead(statusCode: number, headers: string[]): unknown;
  writeHead(statusCode: number, headers: OutgoingHttpHeaders): unknown;
}

/** Both response kinds satisfy ClientResponse (checked here, once). */
export type AnyClientResponse = ServerResponse | Http2ServerResponse;
const _responsesFit: (res: AnyClientResponse) => ClientResponse = (res) => res;
void _responsesFit;

export class RequestContext {
  readonly req: ClientRequest;
  readonly res: ClientResponse;
  readonly edge: EdgeRuntime;
  readonly startMs: number;
  /** The client's connection to this node is TLS (the HTTPS listener). */
  readonly secure: boolean;
  /** HTTP/2 (RFC 9113): pseudo-headers in, no connection-specific fields out. */
  readonly h2: boolean;
  /**
   * The request's scheme, part of the cache key (http and https are different objects: an origin may
   * answer them differently, e.g. redirect http to https). The connection's, or, on a verified internal
   * hop, the one the first node received (route).
   */
  scheme: 'http' | 'https';
  /** route: path and query as sent upstream. */
  path = '';
  /** route: the primary cache key. */
  primaryKey = '';
  /** route: the request's Host (normalised, without a default port). */
  host = '';
  /** route: the verified internal hop that brought the request (another Meridian node's fetch). */
  hop: Hop | null = null;
  /** route: the hop's sender applied purges this node has not yet (after a wait): the cache is not used. */
  hopBehind = false;
  /** route: the zone serving the Host. */
  zone: ZoneRuntime | null = null;
  /** route: what the zone's rules say of this request (bypass, key, TTLs). */
  decision: RequestDecision | null = null;
  /** lookup: the stored object found for the request, if any (also kept for revalidation). */
  object: CachedObject | null = null;
  /** lookup: what the freshness policy said of `object`. */
  verdict: Verdict | null = null;
  /** every step: how the request is being answered. */
  phase: Phase = 'miss';
  /** lookup / miss / pass: Cache-Status fwd parameter, when the request went upstream. */
  fwd: NonNullable<CacheStatusEntry['fwd']> | null = null;
  /** miss / pass: the upstream status. */
  fwdStatus = 0;
  /** miss: the response was stored. */
  stored = false;
  /** miss: this request waited on another request's fetch. */
  collapsed = false;
  /** any: a short reason for Cache-Status detail. */
  detail: string | null = null;
  /** hit / miss / pass: what deliver sends. */
  delivery: Delivery | null = null;
  /** synth: the error being answered. */
  error: MeridianError | null = null;
  /** synth: status for an error page without an error object. */
  synthStatus = 0;
  /** route / synth: where a redirect (always_use_https) points; synthStatus is its status. */
  redirect: string | null = null;
  /** deliver / synth: body bytes sent. */
  bytesSent = 0;
  /** route: a sibling worker's fill (edge/multicore): this worker owns the key. */
  sibling = false;
  /** When the request started, performance.now() ms (analytics: TTFB and upstream time, sub-ms); 0 without analytics. */
  readonly startHrMs: number;
  /** miss / pass: performance.now() ms when the upstream response head arrived; 0: no upstream. */
  upstreamHrMs = 0;
  /** deliver: performance.now() ms when the head went out before a streamed body; 0: sent with the body. */
  headHrMs = 0;
  /** filter: the security rule that matched, what it did (null: none), for metrics and the access log. */
  security: SecurityDecision | null = null;

  constructor(req: ClientRequest, res: ClientResponse, edge: EdgeRuntime, startMs: number, secure = false) {
    this.req = req;
    this.res = res;
    this.edge = edge;
    this.startMs = startMs;
    this.secure = secure;
    this.h2 = req.httpVersionMajor === 2;
    this.scheme = secure ? 'https' : 'http';
    // Read only when a node counts analytics: a clock read is not free on the hit path.
    this.startHrMs = edge.analytics === null ? 0 : performance.now();
  }

  /** The absolute URL as requested (scheme://host/path?query); built only off the hit path. */
  url(): string {
    return primaryKeyOf(this.scheme, this.host, this.path);
  }

  /** Records a failure; the driver moves to synth. */
  fail(error: MeridianError): void {
    this.error = error;
    this.phase = 'synth';
  }
}
