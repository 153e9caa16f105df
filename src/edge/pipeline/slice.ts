// slice: a request for an object of a zone with slice_size (docs/media.md), when no whole copy is
// stored. The object is read as fixed-size slices, each a cache object of its own under the URL
// (key: the variant key plus "slice <size> <index>"), fetched with a Range for exactly that slice
// by an ordinary fetch task (collapsed, stored, counted, purged with the URL) and routed to the
// slice's own owner in the PoP, so one large file spreads over the PoP's nodes. This step gets the
// first slice the client's range needs (it gives the object's size, validators and head), then
// hands deliver a stored object whose body is assembled from slices as it streams; deliver does
// the 304, 206 and 416 from that head as for any stored object. By default (slice_size null) no
// request comes here.
//
// Goes to `miss` (the object is fetched and cached whole) when the upstream ignores Range or
// answers something other than a range (404, 5xx: the ordinary path handles those).
import { Readable } from 'node:stream';
import { MeridianError } from '../../common/errors.ts';
import { headerValue } from '../../lib/http-cache/headers.ts';
import { evaluate } from '../../lib/http-cache/policy.ts';
import type { ContentRange, RangeRequest } from '../../lib/slices/ranges.ts';
import { firstByteOf, parseRangeRequest, rangeHeaderOf, sliceRangeOf } from '../../lib/slices/ranges.ts';
import type { CachedObject } from '../cache/cache.ts';
import { isInMemory } from '../cache/cache.ts';
import { variantKeyOf } from '../cache/key.ts';
import { sliceIndexOf, type SliceIndex } from '../cache/slice-index.ts';
import type { ObjectMeta } from '../cache/storage.ts';
import type { FetchSpec } from '../fetch/fetch-task.ts';
import { FetchTask } from '../fetch/fetch-task.ts';
import type { SliceSignal } from '../fetch/slices.ts';
import {
  SLICE_FIELD,
  asSliceSpec,
  discard,
  sliceDepsOf,
  slicePlaceOf,
  sliceSignalOf,
} from '../fetch/slices.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

/** Is this request for the slice step? (lookup asks, after finding no whole copy.) */
export function isSliced(ctx: RequestContext): boolean {
  const sliceBytes = ctx.decision?.sliceBytes;
  if (sliceBytes === undefined || sliceBytes === null) return false;
  const method = ctx.req.method;
  if (method !== 'GET' && method !== 'HEAD') return false;
  return !sliceIndexOf(ctx.edge.cache).isNoRange(ctx.primaryKey, Date.now());
}

export async function slice(ctx: RequestContext): Promise<Next<'slice'>> {
  const session = new SliceSession(ctx, ctx.decision?.sliceBytes as number);
  const req = ctx.req;
  const request: RangeRequest =
    req.method === 'GET' ? parseRangeRequest(headerValue(req.headers, 'range')) : { kind: 'none' };
  const known = session.index.versionOf(ctx.primaryKey);
  const first = session.indexAt(firstByteOf(request, known?.size ?? null));
  let got = await session.get(first, false);
  // A cold range past the end: the upstream's 416 named no slice; slice 0 gives the head to answer from.
  if (got.kind === 'signal' && got.signal.kind === 'unsatisfiable' && first !== 0) {
    got = await session.get(0, false);
  }
  switch (got.kind) {
    case 'signal':
      ctx.detail = `slice-${got.signal.kind}`;
      if (got.signal.kind !== 'no-range') return 'miss';
      session.index.markNoRange(ctx.primaryKey, Date.now());
      return (await session.whole()) ? 'deliver' : 'miss';
    case 'failed':
      ctx.fail(got.error);
      return 'synth';
    case 'slice':
      break;
  }
  const firstSlice = got.slice;
  const size = firstSlice.place.size;
  session.version = versionOf(firstSlice.meta, size);
  session.index.note(ctx.primaryKey, { size, version: session.version });
  // deliver ranges the assembled object like a stored one; it reads one range, the cover of the client's.
  const range = rangeHeaderOf(request, size);
  if (range === undefined) delete req.headers.range;
  else req.headers.range = range;
  ctx.phase = firstSlice.hit ? 'hit' : 'miss';
  if (!firstSlice.hit) {
    ctx.fwd = 'uri-miss';
    ctx.fwdStatus = 206;
    ctx.stored = true;
  }
  ctx.delivery = {
    kind: 'sliced',
    meta: objectMetaOf(firstSlice.meta, ctx.primaryKey, size),
    size,
    open: (start, endExclusive) => Readable.from(session.assemble(start, endExclusive, firstSlice)),
  };
  return 'deliver';
}

/** One slice as delivery reads it. */
interface Slice {
  index: number;
  place: ContentRange;
  meta: ObjectMeta;
  /** Found stored (not fetched for this request). */
  hit: boolean;
  /** Bytes [from, to) of the slice (offsets within it). */
  chunks(from: number, to: number): AsyncIterable<Buffer> | Iterable<Buffer>;
}

type SliceResult =
  | { kind: 'slice'; slice: Slice }
  | { kind: 'signal'; signal: SliceSignal }
  | { kind: 'failed'; error: MeridianError };

/** The slices of one request: lookups and fetches share the request's fetch spec and version. */
class SliceSession {
  readonly ctx: RequestContext;
  readonly sliceBytes: number;
  readonly index: SliceIndex;
  /** The version of the first slice; every other slice must have it. */
  version = '';
  #base: FetchSpec | null = null;

  constructor(ctx: RequestContext, sliceBytes: number) {
    this.ctx = ctx;
    this.sliceBytes = sliceBytes;
    this.index = sliceIndexOf(ctx.edge.cache);
  }

  indexAt(byte: number): number {
    return Math.floor(byte / this.sliceBytes);
  }

  /** Slice `i` from the cache (fresh, or stale where the policy allows), else fetched; `refetch`: skip the cache. */
  async get(i: number, refetch: boolean): Promise<SliceResult> {
    const ctx = this.ctx;
    const cache = ctx.edge.cache;
    const extra = this.#extraOf(i);
    let stale: CachedObject | null = null;
    if (!refetch) {
      const found = cache.lookup(ctx.primaryKey, ctx.req.headers, extra);
      if (found.kind === 'found') {
        const verdict = evaluate(found.object.meta.freshness, ctx.req.headers, Date.now());
        const object = found.object;
        if (verdict.kind !== 'revalidate') {
          const slice = this.#fromObject(i, object, true);
          if (slice !== null) return { kind: 'slice', slice };
        } else {
          stale = object;
        }
      }
    }
    return this.#fetch(i, extra, stale);
  }

  async #fetch(i: number, extra: string, stored: CachedObject | null): Promise<SliceResult> {
    const ctx = this.ctx;
    const edge = ctx.edge;
    let key = edge.cache.variantKeyFor(ctx.primaryKey, ctx.req.headers, extra);
    // Two rounds at most, as in miss: a fetch collapsed under a key that turned out to vary differently.
    for (let round = 0; round < 2; round++) {
      const { task, created } = edge.inflight.join(
        key,
        () => new FetchTask(sliceDepsOf(edge.fetchDeps), this.#specOf(i, key, extra, stored)),
      );
      const outcome = await task.outcome;
      switch (outcome.kind) {
        case 'fill': {
          const mine = variantKeyOf(ctx.primaryKey, outcome.meta.varyNames, ctx.req.headers, extra);
          if (mine !== outcome.meta.key) {
            key = mine;
            continue;
          }
          const place = slicePlaceOf(outcome.meta.headers);
          if (place === null) break;
          const fill = outcome.fill;
          const slice: Slice = {
            index: i,
            place,
            meta: outcome.meta,
            hit: false,
            chunks: (from, to) => fill.createReader(from, to) as AsyncIterable<Buffer>,
          };
          return { kind: 'slice', slice };
        }
        case 'revalidated': {
          const slice = this.#fromObject(i, outcome.object, false);
          if (slice !== null) return { kind: 'slice', slice };
          break;
        }
        case 'uncacheable': {
          // A slice the upstream marks private or no-store: the ordinary path answers the URL.
          const response = created ? task.claimResponse() : null;
          if (response !== null) discard(response.body);
          return { kind: 'signal', signal: { kind: 'not-partial', status: outcome.status, size: null } };
        }
        case 'failed': {
          const signal = sliceSignalOf(outcome.error);
          return signal === null ? { kind: 'failed', error: outcome.error } : { kind: 'signal', signal };
        }
      }
      break;
    }
    return { kind: 'failed', error: new MeridianError('ORIGIN_BAD_RANGE', `slice ${i} has no usable place`) };
  }

  /**
   * The upstream serves whole objects only: one fetch of the whole object, stored as any object
   * (the client's range is served from it, as from any stored object). False when it is not
   * storable after all: the ordinary miss answers.
   */
  async whole(): Promise<boolean> {
    const ctx = this.ctx;
    const edge = ctx.edge;
    const key = edge.cache.variantKeyFor(ctx.primaryKey, ctx.req.headers, ctx.decision?.keyExtra ?? '');
    const { task, created } = edge.inflight.join(
      key,
      () => new FetchTask(edge.fetchDeps, withoutRange(edge.fillSpec(ctx, key))),
    );
    const outcome = await task.outcome;
    if (outcome.kind !== 'fill') {
      const response = created && outcome.kind === 'uncacheable' ? task.claimResponse() : null;
      if (response !== null) discard(response.body);
      return false;
    }
    ctx.collapsed = !created;
    ctx.phase = 'miss';
    ctx.stored = task.route?.store !== 'none';
    ctx.fwdStatus = outcome.meta.status;
    ctx.delivery = { kind: 'fill', meta: outcome.meta, fill: outcome.fill };
    return true;
  }

  #specOf(i: number, key: string, extra: string, stored: CachedObject | null): FetchSpec {
    const ctx = this.ctx;
    // The request's fill spec (origin, headers, policy) once; each slice adds its Range and route.
    const base = (this.#base ??= withoutRange(ctx.edge.fillSpec(ctx, key)));
    const { start, endInclusive } = sliceRangeOf(i, this.sliceBytes);
    const spec: FetchSpec = {
      ...base,
      key,
      keyExtra: extra,
      upstreamHeaders: { ...base.upstreamHeaders, range: `bytes=${start}-${endInclusive}` },
      stored,
      // The slice's own owner in the PoP (and the shield's): a big object spreads over the nodes.
      route:
        ctx.edge.cluster?.plan(
          ctx.zone?.zone.shield_pop ?? null,
          `${ctx.primaryKey}\0${extra}`,
          ctx.hop,
          ctx.host,
          ctx.path,
          ctx.scheme,
        ) ?? null,
    };
    return asSliceSpec(spec, { start, sliceBytes: this.sliceBytes });
  }

  #extraOf(i: number): string {
    const extra = this.ctx.decision?.keyExtra ?? '';
    return `${extra}\u0001slice ${this.sliceBytes} ${i}`;
  }

  #fromObject(i: number, object: CachedObject, hit: boolean): Slice | null {
    const place = slicePlaceOf(object.meta.headers);
    if (place === null || place.start !== i * this.sliceBytes) return null;
    const cache = this.ctx.edge.cache;
    const chunks = isInMemory(object)
      ? (from: number, to: number): Iterable<Buffer> => [object.body.subarray(from, to)]
      : (from: number, to: number): AsyncIterable<Buffer> =>
          cache.read(object, from, to - 1) as AsyncIterable<Buffer>;
    return { index: i, place, meta: object.meta, hit, chunks };
  }

  /** Slice `i`, of the request's version (a stored slice of another version is fetched again). */
  async #checked(i: number): Promise<Slice> {
    let got = await this.get(i, false);
    if (got.kind === 'slice' && got.slice.hit && this.#isOtherVersion(got.slice))
      got = await this.get(i, true);
    if (got.kind !== 'slice') {
      throw got.kind === 'failed'
        ? got.error
        : new MeridianError('ORIGIN_BAD_RESPONSE', `slice ${i}: upstream ${got.signal.status}`);
    }
    if (this.#isOtherVersion(got.slice)) {
      // The object changed while it was delivered: this response cannot be completed. Every stored
      // slice of the URL goes, so the next request reads the new version from its first byte.
      const ctx = this.ctx;
      this.index.forget(ctx.primaryKey);
      await ctx.edge.cache.removeUrl(ctx.primaryKey);
      throw new MeridianError('ORIGIN_BAD_RESPONSE', `the object changed while slice ${i} was fetched`);
    }
    return got.slice;
  }

  #isOtherVersion(slice: Slice): boolean {
    return versionOf(slice.meta, slice.place.size) !== this.version;
  }

  /** The body bytes [start, endExclusive), slice by slice; the next slice is fetched while one streams. */
  async *assemble(start: number, endExclusive: number, first: Slice): AsyncGenerator<Buffer> {
    const last = this.indexAt(endExclusive - 1);
    let next: Promise<Slice> | null = null;
    for (let i = this.indexAt(start); i <= last; i++) {
      const current: Slice = i === first.index ? first : await (next ?? this.#checked(i));
      next = i < last ? this.#checked(i + 1) : null;
      // Awaited on the next turn; if the client leaves first, its failure must not go unhandled.
      next?.catch(() => undefined);
      const from = Math.max(start, current.place.start) - current.place.start;
      const to = Math.min(endExclusive, current.place.endInclusive + 1) - current.place.start;
      if (to > from) yield* current.chunks(from, to);
    }
  }
}

/**
 * The client's Range is the delivery's business: a slice's storability (lib/http-cache, which
 * stores no answer to a ranged request) is judged as for a plain GET of the slice.
 */
function withoutRange(spec: FetchSpec): FetchSpec {
  const clientHeaders = { ...spec.clientHeaders };
  delete clientHeaders.range;
  delete clientHeaders['if-range'];
  // Slices and whole copies of sliced objects are stored as the upstream sent them (large media).
  return { ...spec, clientHeaders, compression: null };
}

/** ETag, Last-Modified and length: two slices belong to one version when all three agree. */
function versionOf(meta: ObjectMeta, size: number): string {
  return `${headerValue(meta.headers, 'etag') ?? ''}\n${headerValue(meta.headers, 'last-modified') ?? ''}\n${size}`;
}

const objectMetas = new WeakMap<ObjectMeta, ObjectMeta>();

/** The whole object's head, made from its first slice's (once per stored slice head). */
function objectMetaOf(sliceMeta: ObjectMeta, primaryKey: string, size: number): ObjectMeta {
  let meta = objectMetas.get(sliceMeta);
  if (meta === undefined) {
    const headers = { ...sliceMeta.headers };
    delete headers[SLICE_FIELD];
    meta = { ...sliceMeta, key: primaryKey, status: 200, headers, bodySize: size };
    objectMetas.set(sliceMeta, meta);
  }
  return meta;
}
