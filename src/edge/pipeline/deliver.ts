// deliver: the response head (Cache-Status, Age, Via, Content-Length), 304 for a matching
// precondition, 206 / 416 for a range of a stored object, then the body from memory, disk, a fill
// in progress or the upstream response. A memory hit is delivered synchronously. HTTP/1.x and HTTP/2
// responses are built the same way; the stored heads never hold connection-specific fields
// (Connection, Keep-Alive, Transfer-Encoding, Upgrade: fetch/fetch-task.ts stores end-to-end fields
// only), which HTTP/2 forbids (RFC 9113 §8.2.2) and Node refuses; only the serialised HTTP/1.1 hit
// head below carries Connection and Keep-Alive, and it is never used for HTTP/2.
import {
  STATUS_CODES,
  validateHeaderName,
  validateHeaderValue,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { pipeline, type Readable } from 'node:stream';
import { endToEndHeaders } from '../../common/http/hop-by-hop.ts';
import { formatCacheStatus, type CacheStatusEntry } from '../../lib/http-cache/cache-status.ts';
import {
  evaluateConditional,
  parseContentRange,
  parseRange,
  rangeWithin,
} from '../../lib/http-cache/conditional.ts';
import { headerValue } from '../../lib/http-cache/headers.ts';
import { currentAgeSec } from '../../lib/http-cache/policy.ts';
import { isInMemory } from '../cache/cache.ts';
import { isPooledChunk, releaseChunk } from '../cache/disk/read-pool.ts';
import type { ObjectMeta } from '../cache/storage.ts';
import type { BufferedResponse } from '../fetch/fetch-task.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import { CACHE_ONLY_FIELDS } from './builtin.ts';
import type { Delivery, RequestContext } from './context.ts';
import { hstsFor } from './https-zone.ts';
import type { Next } from './steps.ts';

export function deliver(ctx: RequestContext): Next<'deliver'> | Promise<Next<'deliver'>> {
  const delivery = ctx.delivery as Delivery;
  switch (delivery.kind) {
    case 'object': {
      const object = delivery.object;
      if (isInMemory(object)) {
        if (ctx.phase === 'hit' && ctx.hop === null && isPlainRequest(ctx))
          return deliverHit(ctx, object.meta, object.body);
        return deliverStored(ctx, object.meta, object.meta.bodySize, object.body, null);
      }
      const body = (start: number, end: number): Readable => ctx.edge.cache.read(object, start, end - 1);
      return deliverStored(ctx, object.meta, object.meta.bodySize, null, body);
    }
    case 'fill': {
      const fill = delivery.fill;
      const size = fill.done && fill.error === null ? fill.bytes : fill.expectedBytes;
      return deliverStored(ctx, delivery.meta, size, null, (start, end) => fill.createReader(start, end));
    }
    case 'upstream':
      return deliverUpstream(ctx, delivery.response);
    case 'buffered':
      return deliverBuffered(ctx, delivery.response);
    case 'sliced':
      return deliverStored(ctx, delivery.meta, delivery.size, null, delivery.open);
  }
}

/** No precondition and no range: the common hit. */
function isPlainRequest(ctx: RequestContext): boolean {
  const h = ctx.req.headers;
  return h.range === undefined && h['if-none-match'] === undefined && h['if-modified-since'] === undefined;
}

interface HitHead {
  /** The age the head was built for; ttl follows from it. */
  ageSec: number;
  /** The browser TTL the head was built with (rules may differ between requests). */
  browserTtlSec: number | null;
  /** The Strict-Transport-Security value it was built with (HTTPS only; the zone may change it). */
  hsts: string | null;
  secure: boolean;
  headers: Record<string, string | string[]>;
  /** The whole head, serialised, for keep-alive HTTP/1.1 exchanges. */
  raw: string;
  /** The same fields with :status, for an HTTP/2 stream's respond() (made on the first HTTP/2 hit). */
  h2: OutgoingHttpHeaders | null;
}

/**
 * The head of a fresh memory hit is built once per object and age (so at most once a second) and
 * handed to writeHead as is: no per-request copying or re-formatting of the stored head (Node only
 * reads the object when no header was set on the response before).
 */
const hitHeads = new WeakMap<ObjectMeta, HitHead>();

function deliverHit(ctx: RequestContext, meta: ObjectMeta, body: Buffer): Next<'deliver'> {
  const ageSec = currentAgeSec(meta.freshness, Date.now());
  const policy = headPolicyOf(ctx);
  let head = hitHeads.get(meta);
  if (
    head === undefined ||
    head.ageSec !== ageSec ||
    head.browserTtlSec !== policy.browserTtlSec ||
    head.hsts !== policy.hsts ||
    head.secure !== policy.secure
  ) {
    head = buildHitHead(ctx, meta, body.length, ageSec, policy);
    hitHeads.set(meta, head);
  }
  if (ctx.h2) return deliverHitH2(ctx, meta, body, head);
  const res = ctx.res as ServerResponse & { _header: string | null };
  if (res.shouldKeepAlive && ctx.req.httpVersionMinor === 1 && res._header === null) {
    // The serialised head is written as is. Node would otherwise re-validate and re-serialise every
    // field of the stored head on each hit; measured: 51k → 65k req/s for a 9-field 1 KiB response
    // on one core. Only for keep-alive HTTP/1.1 exchanges, whose Connection fields are fixed (HTTP/2
    // has its own framing: its responses take writeHead, with the same fields and none of those).
    res.statusCode = meta.status;
    res._header = head.raw;
  } else {
    res.writeHead(meta.status, head.headers);
  }
  if (ctx.req.method === 'HEAD') {
    res.end();
  } else {
    ctx.bytesSent = body.length;
    res.end(body);
  }
  return 'log';
}

/**
 * An HTTP/2 hit goes to the stream itself (respond + end) rather than through the compatibility
 * response's writeHead/end, which copies and re-validates every field per request: measured on one
 * core, a 1 KiB response at h2load -c 64 -m 10 costs about a third less CPU this way. The fields are
 * the same ones writeHead would send (the head was validated when built).
 */
function deliverHitH2(ctx: RequestContext, meta: ObjectMeta, body: Buffer, head: HitHead): Next<'deliver'> {
  const res = ctx.res as Http2ServerResponse;
  const stream = res.stream;
  res.statusCode = meta.status;
  // The client reset the stream already: nothing to send (compat's writeHead would do the same).
  if (stream.destroyed || stream.closed) return 'log';
  head.h2 ??= { ...head.headers, ':status': meta.status };
  if (ctx.req.method === 'HEAD') {
    stream.respond(head.h2, { endStream: true });
  } else {
    ctx.bytesSent = body.length;
    stream.respond(head.h2);
    stream.end(body);
  }
  return 'log';
}

function buildHitHead(
  ctx: RequestContext,
  meta: ObjectMeta,
  size: number,
  ageSec: number,
  policy: HeadPolicy,
): HitHead {
  const headers: Record<string, string | string[]> = {};
  const flat = flatten(meta.headers, ctx.edge.via, true, policy);
  flat.push('content-length', String(size), 'age', String(ageSec));
  flat.push('cache-status', cacheStatusOf(ctx, meta.freshness.lifetimeSec - ageSec, undefined));
  let raw = `HTTP/1.1 ${meta.status} ${STATUS_CODES[meta.status] ?? 'Unknown'}\r\n`;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string;
    const value = flat[i + 1] as string;
    // The same checks Node applies to each field (they throw on CR/LF or invalid characters).
    validateHeaderName(name);
    validateHeaderValue(name, value);
    raw += `${name}: ${value}\r\n`;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  raw += `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(ctx.edge.config.timeouts.clientKeepAliveMs / 1000)}\r\n\r\n`;
  return {
    ageSec,
    browserTtlSec: policy.browserTtlSec,
    hsts: policy.hsts,
    secure: policy.secure,
    headers,
    raw,
    h2: null,
  };
}

/**
 * Head fields of a stored object, flattened once per stored head (it changes only on a 304) and the
 * HTTPS settings they were made with (an object is keyed by scheme, so these rarely differ).
 */
const baseHeads = new WeakMap<ObjectMeta, { hsts: string | null; secure: boolean; fields: string[] }>();

/** RFC 9110 §15.4.5: the fields a 304 carries. */
const NOT_MODIFIED_FIELDS = new Set([
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'last-modified',
  'via',
]);

function deliverStored(
  ctx: RequestContext,
  meta: ObjectMeta,
  size: number | null,
  memoryBody: Buffer | null,
  openBody: ((start: number, endExclusive: number) => Readable) | null,
): Next<'deliver'> | Promise<Next<'deliver'>> {
  const req = ctx.req;
  const res = ctx.res;
  const ageSec = currentAgeSec(meta.freshness, Date.now());
  const policy = headPolicyOf(ctx);
  const isDefault =
    policy.browserTtlSec === null && !policy.keepTags && !policy.stripCdnCacheControl && !policy.internal;
  const base = isDefault ? baseHeads.get(meta) : undefined;
  let head: string[];
  if (base !== undefined && base.hsts === policy.hsts && base.secure === policy.secure) {
    head = base.fields;
  } else {
    head = flatten(meta.headers, ctx.edge.via, true, policy);
    if (isDefault) baseHeads.set(meta, { hsts: policy.hsts, secure: policy.secure, fields: head });
  }
  const cacheStatus = cacheStatusOf(ctx, meta.freshness.lifetimeSec - ageSec, meta.headers['cache-status']);
  if (meta.status === 200 && evaluateConditional(req.headers, meta.headers) === 'not-modified') {
    const fields: string[] = [];
    for (let i = 0; i < head.length; i += 2) {
      if (NOT_MODIFIED_FIELDS.has(head[i] as string)) fields.push(head[i] as string, head[i + 1] as string);
    }
    fields.push('age', String(ageSec), 'cache-status', cacheStatus);
    if (policy.hsts !== null) fields.push('strict-transport-security', policy.hsts);
    res.writeHead(304, fields);
    res.end();
    return 'log';
  }
  let status = meta.status;
  let start = 0;
  let end = size ?? Infinity; // exclusive
  let fields = head.slice();
  if (status === 206) {
    // A stored part (RFC 9111 §3.3): the range asked for, cut from it, when it lies within the part
    // (lookup.ts checked that for hits; a fill's waiters asked for the range fetched). Otherwise
    // the part as the origin sent it, which a client asking for that range accepts.
    const part = parseContentRange(headerValue(meta.headers, 'content-range'));
    const within = part === null ? null : rangeWithin(req.headers, part, meta.headers);
    if (part !== null && within !== null) {
      fields = withoutField(fields, 'content-range');
      fields.push('content-range', `bytes ${within.start}-${within.end}/${part.size}`);
      start = within.start - part.start;
      end = within.end - part.start + 1;
    }
  } else if (status === 200 && size !== null && req.headers.range !== undefined) {
    const range = parseRange(req.headers, size, meta.headers);
    if (range.kind === 'unsatisfiable') {
      fields.push('content-range', `bytes */${size}`, 'content-length', '0');
      fields.push('age', String(ageSec), 'cache-status', cacheStatus);
      res.writeHead(416, fields);
      res.end();
      return 'log';
    }
    if (range.kind === 'range') {
      status = 206;
      start = range.start;
      end = range.end + 1;
      fields.push('content-range', `bytes ${range.start}-${range.end}/${size}`);
    }
  }
  if (end !== Infinity) fields.push('content-length', String(end - start));
  fields.push('age', String(ageSec), 'cache-status', cacheStatus);
  res.writeHead(status, fields);
  if (req.method === 'HEAD') {
    res.end();
    return 'log';
  }
  if (memoryBody !== null) {
    const body = start === 0 && end >= memoryBody.length ? memoryBody : memoryBody.subarray(start, end);
    ctx.bytesSent = body.length;
    res.end(body);
    return 'log';
  }
  ctx.bytesSent = end === Infinity ? 0 : end - start;
  return stream(ctx, (openBody as (start: number, endExclusive: number) => Readable)(start, end));
}

function deliverUpstream(ctx: RequestContext, response: UpstreamResponse): Promise<Next<'deliver'>> {
  const fields = flatten(endToEndHeaders(response.headers), ctx.edge.via, false, headPolicyOf(ctx));
  fields.push('cache-status', cacheStatusOf(ctx, null, response.headers['cache-status']));
  ctx.res.writeHead(response.status, fields);
  ctx.bytesSent = Number(response.headers['content-length'] ?? 0) || 0;
  return stream(ctx, response.body);
}

function deliverBuffered(ctx: RequestContext, response: BufferedResponse): Next<'deliver'> {
  const fields = flatten(
    endToEndHeaders(response.headers, CONTENT_LENGTH),
    ctx.edge.via,
    false,
    headPolicyOf(ctx),
  );
  fields.push('content-length', String(response.body.length));
  fields.push('cache-status', cacheStatusOf(ctx, null, response.headers['cache-status']));
  ctx.res.writeHead(response.status, fields);
  ctx.bytesSent = response.body.length;
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : response.body);
  return 'log';
}

const CONTENT_LENGTH = new Set(['content-length']);

/** A flattened field list without `name`. */
function withoutField(fields: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] !== name) out.push(fields[i] as string, fields[i + 1] as string);
  }
  return out;
}

function stream(ctx: RequestContext, body: Readable): Promise<Next<'deliver'>> {
  ctx.headHrMs = performance.now();
  if (!ctx.h2) return pump(body, ctx.res as ServerResponse);
  return new Promise((resolve) => {
    pipeline(body, ctx.res, (err) => {
      // A body that fails mid-way cannot be repaired: the client sees the connection close.
      if (err) ctx.res.destroy();
      resolve('log');
    });
  });
}

/**
 * HTTP/1.x: the body chunk by chunk, with backpressure (the next chunk is read once the socket
 * drained). A chunk of a pooled disk read goes back to its pool when its write's callback fires,
 * i.e. once the socket no longer holds it (net: libuv wrote it to the kernel; TLS: it was encrypted
 * and written), so a warm download from disk allocates no buffer per chunk (read-pool.ts).
 * HTTP/2 keeps pipeline: its frames may hold a chunk past the write callback's moment, and its
 * chunks are never given back (the GC collects them).
 */
async function pump(body: Readable, res: ServerResponse): Promise<Next<'deliver'>> {
  // pipeline listened for the response's errors; so does this (a failed write is seen on 'close').
  res.on('error', ignoreError);
  // A client that leaves while the body waits (a trickling upstream) releases the body at once, as
  // pipeline did: the iteration below then fails and ends.
  const onClose = (): void => {
    if (!res.writableFinished) body.destroy();
  };
  res.once('close', onClose);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (res.destroyed) throw CLIENT_GONE;
      const fits = isPooledChunk(chunk)
        ? res.write(chunk, (err) => {
            if (err === null || err === undefined) releaseChunk(chunk);
          })
        : res.write(chunk);
      if (!fits) await drained(res);
    }
    if (!res.destroyed) {
      await new Promise<void>((resolve) => {
        res.once('finish', resolve);
        res.once('close', resolve);
        res.end();
      });
    }
  } catch {
    // A body that fails mid-way cannot be repaired: the client sees the connection close.
    // (Leaving the loop destroyed the body, which closes its file.)
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
  return 'log';
}

function ignoreError(): void {}

const CLIENT_GONE = new Error('the client closed the connection');

/** Resolves on 'drain'; rejects if the response closes first (a slow client that left). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(CLIENT_GONE);
      return;
    }
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      reject(CLIENT_GONE);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** What the zone changes in every response head it sends. */
interface HeadPolicy {
  /** browser_ttl rule: the Cache-Control clients get instead of the origin's. */
  browserTtlSec: number | null;
  /** Zone setting strip_tag_headers = false: Cache-Tag / Surrogate-Key reach the client. */
  keepTags: boolean;
  /** Zone setting strip_cdn_cache_control: CDN-Cache-Control does not reach the client. */
  stripCdnCacheControl: boolean;
  /**
   * An internal hop (another node's fetch): the head goes on as stored, with the fields only caches
   * read (CDN-Cache-Control, Surrogate-Control, tags) and no browser TTL, so that the next cache
   * computes the same freshness and indexes the same tags.
   */
  internal: boolean;
  /** The client's connection is TLS. */
  secure: boolean;
  /** The zone's Strict-Transport-Security value (HTTPS client responses only; https-zone.ts). */
  hsts: string | null;
}

function headPolicyOf(ctx: RequestContext): HeadPolicy {
  if (ctx.hop !== null) return INTERNAL_HEAD;
  return {
    browserTtlSec: ctx.decision?.browserTtlSec ?? null,
    keepTags: ctx.zone?.zone.settings.strip_tag_headers === false,
    stripCdnCacheControl: ctx.zone?.zone.settings.strip_cdn_cache_control === true,
    internal: false,
    secure: ctx.secure,
    hsts: hstsFor(ctx),
  };
}

const INTERNAL_HEAD: HeadPolicy = {
  browserTtlSec: null,
  keepTags: true,
  stripCdnCacheControl: false,
  internal: true,
  secure: false,
  hsts: null,
};

const TAG_FIELDS = new Set(['cache-tag', 'surrogate-key']);

/** Flattens headers for writeHead, dropping cache-only fields and appending this hop's Via. */
function flatten(
  headers: Record<string, string | string[] | undefined>,
  via: string,
  stored: boolean,
  policy: HeadPolicy,
): string[] {
  const out: string[] = [];
  let sawVia = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === 'cache-status') continue;
    if (CACHE_ONLY_FIELDS.has(name) && !policy.internal && !(policy.keepTags && TAG_FIELDS.has(name)))
      continue;
    if (name === 'cache-control' && policy.browserTtlSec !== null) continue;
    if (name === 'cdn-cache-control' && policy.stripCdnCacheControl) continue;
    // A stored object is served (and ranged, RFC 9110 §14.3) by this node: its own Accept-Ranges
    // replaces the one each upstream hop (shield, owner, origin) added, or it would repeat per hop.
    if (name === 'accept-ranges' && stored) continue;
    // The zone's HSTS replaces the origin's; none goes over plain HTTP (RFC 6797 §7.2).
    if (name === 'strict-transport-security' && !policy.internal && (policy.hsts !== null || !policy.secure))
      continue;
    if (name === 'via') {
      sawVia = true;
      out.push('via', `${headerValue(headers, 'via')}, ${via}`);
    } else if (typeof value === 'string') {
      out.push(name, value);
    } else {
      for (const item of value) out.push(name, item);
    }
  }
  if (!sawVia) out.push('via', via);
  if (stored) out.push('accept-ranges', 'bytes');
  if (policy.browserTtlSec !== null) out.push('cache-control', `max-age=${policy.browserTtlSec}`);
  if (policy.hsts !== null) out.push('strict-transport-security', policy.hsts);
  return out;
}

/** RFC 9211: this cache's entry, after any entries from caches further upstream. */
export function cacheStatusOf(
  ctx: RequestContext,
  ttlSec: number | null,
  upstream: string | string[] | undefined,
): string {
  const entry: CacheStatusEntry = { cache: ctx.edge.config.nodeName };
  switch (ctx.phase) {
    case 'hit':
      entry.hit = true;
      break;
    case 'stale':
      entry.hit = true;
      entry.detail = ctx.verdict?.kind === 'stale-allowed' ? 'max-stale' : 'stale-while-revalidate';
      break;
    case 'revalidated':
      entry.fwd = ctx.fwd ?? 'stale';
      entry.fwdStatus = ctx.fwdStatus;
      break;
    case 'stale-if-error':
      entry.fwd = ctx.fwd ?? 'stale';
      if (ctx.fwdStatus !== 0) entry.fwdStatus = ctx.fwdStatus;
      entry.detail = 'stale-if-error';
      break;
    default:
      if (ctx.fwd !== null) entry.fwd = ctx.fwd;
      if (ctx.fwdStatus !== 0) entry.fwdStatus = ctx.fwdStatus;
      if (ctx.stored) entry.stored = true;
      if (ctx.collapsed) entry.collapsed = true;
      if (ctx.detail !== null) entry.detail = ctx.detail;
  }
  if (ttlSec !== null && ctx.phase !== 'pass') entry.ttl = ttlSec;
  const own = formatCacheStatus(entry);
  if (upstream === undefined || ctx.phase === 'hit' || ctx.phase === 'stale') return own;
  return `${Array.isArray(upstream) ? upstream.join(', ') : upstream}, ${own}`;
}
