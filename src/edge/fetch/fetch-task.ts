// The fetch task: the second state machine of the edge (ARCHITECTURE.md phases 6 and 7). One key's
// miss or revalidation creates it; every request waiting on that key reads its outcome, so one
// origin fetch feeds all of them. Steps: request (upstream) → response (304 merge, storability,
// TTL, tags) → body (streams to storage and readers) → done, or error.
import type { Readable } from 'node:stream';
import type { MeridianError } from '../../common/errors.ts';
import { endToEndHeaders } from '../../common/http/hop-by-hop.ts';
import type { Headers } from '../../lib/http-cache/headers.ts';
import { firstHeaderValue, headerValue } from '../../lib/http-cache/headers.ts';
import type { NoCacheReason, PolicyOptions } from '../../lib/http-cache/policy.ts';
import { canServeStaleOnError, freshnessOf, storability } from '../../lib/http-cache/policy.ts';
import { mergeNotModified, parseContentRange } from '../../lib/http-cache/conditional.ts';
import { parseVary } from '../../lib/http-cache/vary.ts';
import type { Cache, CachedObject } from '../cache/cache.ts';
import { isInMemory } from '../cache/cache.ts';
import type { InFlight } from '../cache/collapse.ts';
import { partialKeyOf, variantKeyOf } from '../cache/key.ts';
import type { ObjectMeta } from '../cache/storage.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import { classify } from '../upstream/origin-client.ts';
import type { RoutePlan } from '../cluster/cluster.ts';
import type { OriginChoice, RequestDecision } from '../zones/types.ts';
import type { InterimListener } from '../pipeline/interim.ts';
import { BodyFill } from './body-fill.ts';
import type { CompressionPlan } from './compression.ts';
import type { StreamingPlan } from './streaming.ts';
import { applyRuleLifetimes } from './rule-lifetimes.ts';
import { parseTags } from './tags.ts';

export type FetchOutcome =
  /** Storable: the body streams into storage and to every reader. */
  | { kind: 'fill'; meta: ObjectMeta; fill: BodyFill }
  /** The origin answered a revalidation with 304: the stored head was updated, the body kept. */
  | { kind: 'revalidated'; object: CachedObject; status: number }
  /** Not storable: the response goes to the task's writer only; readers fetch for themselves. */
  | { kind: 'uncacheable'; reason: NoCacheReason; status: number }
  /** The origin failed: no answer (response null) or a server error with a small body. */
  | { kind: 'failed'; error: MeridianError; response: BufferedResponse | null };

export interface BufferedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface FetchSpec {
  primaryKey: string;
  /** The key the task is collapsed under (the variant key as far as the Vary index knows). */
  key: string;
  /** Extra key material from the zone's cache key rules ('' when none). */
  keyExtra: string;
  /** The zone's freshness options. */
  policy: PolicyOptions;
  /** What the zone's rules said of the request (edge TTL, status TTLs, Set-Cookie), null: none. */
  rules: RequestDecision | null;
  /** Where the fetch goes. */
  origin: OriginChoice;
  /** Largest body stored (the node's limit, or the zone's max_object_size when smaller). */
  maxObjectBytes: number;
  url: string;
  /** Path and query sent upstream. */
  path: string;
  /** Request headers for the origin (built by the caller; without the client's conditionals). */
  upstreamHeaders: Record<string, string | string[]>;
  /** The requesting client's headers (storability: Authorization, no-store; Vary selection). */
  clientHeaders: Headers;
  /** The stored object being revalidated, if any (its validators are sent). */
  stored: CachedObject | null;
  /** No client waits (stale-while-revalidate refresh): an uncacheable body is drained. */
  background: boolean;
  /** Managed mode: the PoP owner and shield to fetch through before the origin; null: the origin. */
  route: RoutePlan | null;
  /** The zone's on-the-fly compression (fetch/compression.ts); absent or null: none. */
  compression?: CompressionPlan | null;
  /** The zone's HLS/DASH lifetimes and prefetch (fetch/streaming.ts); absent or null: none. */
  streaming?: StreamingPlan | null;
  /**
   * A client's single byte range forwarded upstream (`bytes=0-99`), null: the whole object. A 206
   * answer is stored as the variant's partial object (cache/key.ts partialKeyOf); a 200 as the whole.
   */
  range: string | null;
  /**
   * Several workers (edge/multicore): another worker owns the key and keeps its disk copy; this one
   * keeps the object in memory only. Absent: this worker stores it as the route says.
   */
  memoryOnly?: boolean;
  /** Several workers: the fill goes through the worker that owns the key (edge/multicore/siblings.ts). */
  sibling?: SiblingFill;
}

/** What a fill sent to the key's owner worker carries beyond the origin request. */
export interface SiblingFill {
  readonly slot: number;
  readonly host: string;
  readonly scheme: 'http' | 'https';
  /** The client's verified Meridian-Hop (the owner routes it as this node would); null: none. */
  readonly hop: string | null;
  /** The client's own Via (the owner appends this node's entry once). */
  readonly via: string | undefined;
  /** Set when the owner answered from its cache: for the node, a hit. */
  hit: boolean;
}

export interface FetchDeps {
  cache: Cache;
  inflight: InFlight<FetchTask>;
  hitForPassMs: number;
  /** Sends the request upstream (owner, shield or origin) and returns the response head. */
  send(
    spec: FetchSpec,
    headers: Record<string, string | string[]>,
    onInfo: InterimListener,
  ): Promise<UpstreamResponse>;
  /** Called with the outcome of every fetch (metrics). */
  observe?(outcome: FetchOutcome, spec: FetchSpec): void;
  /** Called when a complete body could not be stored (disk full, I/O error). */
  onStoreError?(err: unknown, meta: ObjectMeta): void;
}

/** Error bodies up to this size are shared with every waiter; larger ones go to the writer only. */
const SHARED_ERROR_BODY_BYTES = 64 * 1024;

export class FetchTask {
  readonly key: string;
  readonly route: RoutePlan | null;
  /** Several workers: the fill went through the key's owner worker (edge/multicore); null: not. */
  readonly sibling: SiblingFill | null;
  readonly outcome: Promise<FetchOutcome>;
  /** The cache's ticket for this fetch (Cache.beginFill), ended when the body is stored or dropped. */
  fillTicket = 0;
  #response: UpstreamResponse | null = null;
  /** The waiting requests' interim-response forwarders (pipeline/interim.ts). */
  readonly #interim = new Set<InterimListener>();

  constructor(deps: FetchDeps, spec: FetchSpec) {
    this.key = spec.key;
    this.route = spec.route;
    this.sibling = spec.sibling ?? null;
    this.outcome = run(this, deps, spec);
  }

  /** Forwards the fetch's interim (1xx) responses to a waiting request until the returned function is called. */
  listenInterim(listener: InterimListener): () => void {
    this.#interim.add(listener);
    return () => void this.#interim.delete(listener);
  }

  /** An interim response arrived: every request waiting now gets it (none is stored). */
  interim(status: number, headers: Record<string, string | string[]>): void {
    for (const listener of this.#interim) listener(status, headers);
  }

  /** The uncacheable response, for the first caller only (the task's writer). */
  claimResponse(): UpstreamResponse | null {
    const response = this.#response;
    this.#response = null;
    return response;
  }

  /** Keeps an uncacheable response for the writer; a background task drains it instead. */
  hold(response: UpstreamResponse, background: boolean): void {
    if (background) response.body.resume();
    else this.#response = response;
  }
}

async function run(task: FetchTask, deps: FetchDeps, spec: FetchSpec): Promise<FetchOutcome> {
  // Purge rules stay until the fetches that started before them are done (cache/invalidation.ts).
  const ticket = (task.fillTicket = deps.cache.beginFill());
  let outcome: FetchOutcome;
  try {
    outcome = await respond(task, deps, spec);
  } catch (err) {
    outcome = { kind: 'failed', error: classify(err), response: null };
  }
  if (outcome.kind !== 'fill') deps.cache.endFill(ticket); // else pumpBody ends it
  if (outcome.kind !== 'fill') deps.inflight.leave(spec.key, task);
  deps.observe?.(outcome, spec);
  return outcome;
}

async function respond(task: FetchTask, deps: FetchDeps, spec: FetchSpec): Promise<FetchOutcome> {
  const headers = { ...spec.upstreamHeaders };
  if (spec.stored !== null) Object.assign(headers, validatorsOf(spec.stored.meta));
  if (spec.range !== null) headers.range = spec.range;
  const res = await deps.send(spec, headers, (status, fields) => task.interim(status, fields));

  if (spec.stored !== null && res.status === 304) return revalidated(task, deps, spec, spec.stored, res);

  const verdict = applyRuleLifetimes.storability(
    storability('GET', res.status, spec.clientHeaders, res.headers, spec.policy),
    res.status,
    spec.rules,
  );
  // A 5xx is stored when it is storable (RFC 9111 §3: explicit freshness makes any final status
  // storable; 501 is heuristically cacheable; a status_ttl rule). Otherwise, and whenever a stored
  // copy may stand in for it, it is a failure that every waiter shares: RFC 9111 §4.3.3: "if a 5xx
  // (Server Error) response is received, the cache can send this response to the requesting client
  // or act as if the server failed to respond" (stale-if-error, RFC 5861 §4).
  if (res.status >= 500 && (!verdict.storable || staleMayAnswer(spec))) {
    return serverError(task, res, spec.background);
  }
  const declared = contentLength(res.headers);
  const tooLarge = declared !== null && declared > spec.maxObjectBytes;
  if (!verdict.storable || tooLarge) {
    const reason = verdict.storable ? 'too-large' : verdict.reason;
    // Varnish's hit-for-pass: requests for this URL stop waiting on one another for a while.
    // Not for reasons that belong to this one request (its no-store, its Authorization).
    if (reason !== 'request-no-store' && reason !== 'authorization') {
      deps.cache.markHitForPass(spec.primaryKey, Date.now() + deps.hitForPassMs);
    }
    task.hold(res, spec.background);
    return { kind: 'uncacheable', reason, status: res.status };
  }
  return startFill(task, deps, spec, res, declared);
}

function startFill(
  task: FetchTask,
  deps: FetchDeps,
  spec: FetchSpec,
  res: UpstreamResponse,
  declared: number | null,
): FetchOutcome {
  const vary = parseVary(res.headers);
  const varyNames = vary === '*' ? [] : vary; // storability already refused Vary: *
  const stored = storedHeaders(res.headers);
  const variantKey = variantKeyOf(spec.primaryKey, varyNames, spec.clientHeaders, spec.keyExtra);
  // storability admitted a 206 only with one valid Content-Range.
  const part = res.status === 206 ? parseContentRange(firstHeaderValue(res.headers, 'content-range')) : null;
  // A part that holds the whole representation is the whole object (RFC 9111 §3.4 lets a cache
  // combine parts into a complete response; one part is the trivial case): stored as a 200, it
  // answers every later request, ranged or not.
  const whole = part !== null && part.start === 0 && part.end === part.size - 1;
  if (whole) delete stored['content-range'];
  const meta: ObjectMeta = {
    key: part === null || whole ? variantKey : partialKeyOf(variantKey),
    primaryKey: spec.primaryKey,
    url: spec.url,
    status: whole ? 200 : res.status,
    headers: stored,
    varyNames,
    tags: parseTags(res.headers),
    // The fetch's start (before the request went out), not its end: a purge applied while the
    // response was awaited or the body streamed must cover this object.
    storedAtMs: startOf(deps, task, res),
    bodySize: 0,
    freshness: applyRuleLifetimes.freshness(
      freshnessOf(res.status, res.headers, res.requestTimeMs, res.responseTimeMs, spec.policy),
      res.status,
      spec.rules,
    ),
  };
  const writer = deps.cache.disk.createWriter();
  const fill = new BodyFill(writer, deps.cache.memory.maxObjectBytes, declared);
  void pumpBody(task, deps, spec, res.body, fill, meta, writer);
  return { kind: 'fill', meta, fill };
}

async function pumpBody(
  task: FetchTask,
  deps: FetchDeps,
  spec: FetchSpec,
  body: Readable,
  fill: BodyFill,
  meta: ObjectMeta,
  writer: ReturnType<Cache['disk']['createWriter']>,
): Promise<void> {
  try {
    for await (const chunk of body) await fill.push(chunk as Buffer);
    fill.finish();
  } catch (err) {
    // The upstream body failed (or the disk refused a chunk): readers see the stream end in error.
    fill.fail(classify(err));
    await writer.abort().catch(() => undefined);
    body.destroy();
    deps.inflight.leave(spec.key, task);
    deps.cache.endFill(task.fillTicket);
    fill.seal();
    return;
  }
  try {
    await store(task, deps, spec, fill, meta, writer);
  } catch (err) {
    // Every reader already has the whole body; only the stored copy is lost.
    deps.onStoreError?.(err, meta);
    await writer.abort().catch(() => undefined);
  } finally {
    deps.inflight.leave(spec.key, task);
    deps.cache.endFill(task.fillTicket);
    fill.seal();
  }
}

async function store(
  task: FetchTask,
  deps: FetchDeps,
  spec: FetchSpec,
  fill: BodyFill,
  meta: ObjectMeta,
  writer: ReturnType<Cache['disk']['createWriter']>,
): Promise<void> {
  if (fill.bytes > spec.maxObjectBytes) {
    await writer.abort();
    deps.cache.markHitForPass(spec.primaryKey, Date.now() + deps.hitForPassMs);
    return;
  }
  meta.bodySize = fill.bytes;
  const body = fill.bodyInMemory();
  const routeTier = spec.route?.store ?? 'all';
  const tier = spec.memoryOnly === true && routeTier === 'all' ? 'memory' : routeTier;
  if (tier !== 'all') {
    // Fetched from this PoP's owner, which keeps the PoP's copy; a hot key stays in memory here too.
    if (tier === 'memory' && body !== null) deps.cache.admit(meta, body);
    // Later requests go to the owner (or this memory copy) rather than join a finished fetch.
    deps.inflight.leave(spec.key, task);
    await writer.abort();
    return;
  }
  // A body small enough for memory serves hits at once; the disk copy lands right after.
  if (body !== null) {
    deps.cache.admit(meta, body);
    deps.inflight.leave(spec.key, task);
  }
  await deps.cache.trackWrite(writer.commit(meta));
  // Invalidated while the body arrived or the commit ran: the copy must not stay.
  if (deps.cache.isInvalidated(meta)) await deps.cache.disk.delete(meta.key);
  else if (body === null) deps.cache.admit(meta, null);
}

async function revalidated(
  task: FetchTask,
  deps: FetchDeps,
  spec: FetchSpec,
  stored: CachedObject,
  res: UpstreamResponse,
): Promise<FetchOutcome> {
  res.body.resume();
  const headers = mergeNotModified(stored.meta.headers, res.headers);
  const meta: ObjectMeta = {
    ...stored.meta,
    headers,
    storedAtMs: startOf(deps, task, res),
    freshness: applyRuleLifetimes.freshness(
      freshnessOf(stored.meta.status, headers, res.requestTimeMs, res.responseTimeMs, spec.policy),
      stored.meta.status,
      spec.rules,
    ),
  };
  await deps.cache.updateMeta(meta);
  const object: CachedObject = isInMemory(stored) ? { meta, body: stored.body } : { meta };
  return { kind: 'revalidated', object, status: res.status };
}

/** A stored copy may answer if the origin fails (its freshness and the request allow it). */
function staleMayAnswer(spec: FetchSpec): boolean {
  const stored = spec.stored;
  return stored !== null && canServeStaleOnError(stored.meta.freshness, spec.clientHeaders, Date.now());
}

/** A 5xx: every waiter may use it (or its own stale copy), so a small body is buffered once. */
async function serverError(
  task: FetchTask,
  res: UpstreamResponse,
  background: boolean,
): Promise<FetchOutcome> {
  const declared = contentLength(res.headers);
  if (declared === null || declared > SHARED_ERROR_BODY_BYTES) {
    task.hold(res, background);
    return { kind: 'uncacheable', reason: 'status', status: res.status };
  }
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  const error = classify(
    Object.assign(new Error(`origin answered ${res.status}`), { code: 'UND_ERR_STATUS' }),
  );
  return {
    kind: 'failed',
    error,
    response: { status: res.status, headers: res.headers, body: Buffer.concat(chunks) },
  };
}

/** Framing fields (delivery sets its own) and Set-Cookie (never replayed to other clients). */
const NOT_STORED = new Set(['content-length', 'age', 'set-cookie']);

/** Headers kept with a stored object: end-to-end fields without framing (Content-Length, Age). */
function storedHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  return endToEndHeaders(headers, NOT_STORED);
}

/** When the fetch began, on the purge clock (falls back to the upstream request time). */
function startOf(deps: FetchDeps, task: FetchTask, res: UpstreamResponse): number {
  return deps.cache.fillStartMs(task.fillTicket) ?? res.requestTimeMs;
}

function validatorsOf(meta: ObjectMeta): Record<string, string> {
  const out: Record<string, string> = {};
  const etag = headerValue(meta.headers, 'etag');
  const lastModified = headerValue(meta.headers, 'last-modified');
  // RFC 9111 §4.3.1: send the stored validators; the origin answers 304 if they still match.
  if (etag !== undefined) out['if-none-match'] = etag;
  if (lastModified !== undefined) out['if-modified-since'] = lastModified;
  return out;
}

export function contentLength(headers: Record<string, string | string[] | undefined>): number | null {
  const value = headers['content-length'];
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return null;
  return Number(value);
}
