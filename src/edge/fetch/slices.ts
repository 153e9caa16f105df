// The upstream side of slice caching (docs/media.md): one slice is fetched by the ordinary fetch
// task (collapsed, stored, counted and purged like any object), with a Range for exactly that
// slice. Its send step is wrapped here: the upstream's 206 is checked against the slice asked for
// (start, end, complete length, Content-Length), then handed to the task as a 200 of the slice's
// bytes with its place recorded in a stored field, and the body is counted so that a short or long
// one fails the fill instead of being stored. An upstream that ignores Range (200), refuses it
// (416) or answers anything else comes back as a SliceSignal the slice step acts on.
import { Transform, type Readable } from 'node:stream';
import { MeridianError } from '../../common/errors.ts';
import { headerValue } from '../../lib/http-cache/headers.ts';
import { parseContentRange, parseUnsatisfiedRange, type ContentRange } from '../../lib/slices/ranges.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import type { FetchDeps, FetchSpec } from './fetch-task.ts';
import { contentLength } from './fetch-task.ts';

/** The stored field that places a slice in its object: "start-end/size" (never sent to clients). */
export const SLICE_FIELD = 'meridian-slice';

/** What a slice fetch asks for. */
export interface SliceWant {
  start: number;
  /** The slice covers [start, start + sliceBytes) or up to the end of the object. */
  sliceBytes: number;
}

/** Why a slice fetch gave no slice; the slice step decides what follows. */
export type SliceSignalKind =
  /** The upstream answered 200 to the Range: it serves whole objects only. */
  | 'no-range'
  /** 416: the slice starts past the end; `size` is the length it stated (null: none). */
  | 'unsatisfiable'
  /** Another status (404, 5xx, 3xx...): the ordinary path answers it. */
  | 'not-partial';

export class SliceSignal {
  readonly kind: SliceSignalKind;
  readonly size: number | null;
  readonly status: number;
  constructor(kind: SliceSignalKind, status: number, size: number | null = null) {
    this.kind = kind;
    this.status = status;
    this.size = size;
  }
}

/** The SliceSignal a failed slice fetch carries, if that is why it failed. */
export function sliceSignalOf(error: MeridianError): SliceSignal | null {
  return error.cause instanceof SliceSignal ? error.cause : null;
}

const wants = new WeakMap<FetchSpec, SliceWant>();

/** Marks a fetch spec as a slice fetch: the wrapped send checks its answer against `want`. */
export function asSliceSpec(spec: FetchSpec, want: SliceWant): FetchSpec {
  wants.set(spec, want);
  return spec;
}

/** The slice's place as stored with it; null for anything else. */
export function slicePlaceOf(headers: Record<string, string | string[] | undefined>): ContentRange | null {
  return parseContentRange(`bytes ${headerValue(headers, SLICE_FIELD) ?? ''}`);
}

const depsByBase = new WeakMap<FetchDeps, FetchDeps>();

/** The node's fetch deps with the slice check around send (made once per node). */
export function sliceDepsOf(base: FetchDeps): FetchDeps {
  let deps = depsByBase.get(base);
  if (deps === undefined) {
    deps = {
      ...base,
      send: async (spec, headers, onInfo) => {
        const res = await base.send(spec, headers, onInfo);
        const want = wants.get(spec);
        return want === undefined ? res : checkSlice(res, want);
      },
    };
    depsByBase.set(base, deps);
  }
  return deps;
}

/**
 * Drops an upstream body unread. undici's body emits 'error' (aborted) when destroyed; with no
 * listener that would end the process, so one is attached first.
 */
export function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

function signal(res: UpstreamResponse, s: SliceSignal, message: string): never {
  discard(res.body);
  throw new MeridianError('ORIGIN_BAD_RESPONSE', message, { cause: s });
}

function badRange(res: UpstreamResponse, message: string): never {
  discard(res.body);
  throw new MeridianError('ORIGIN_BAD_RANGE', message);
}

/** Checks an upstream answer to a slice's Range; returns it as the slice's 200, or throws. */
export function checkSlice(res: UpstreamResponse, want: SliceWant): UpstreamResponse {
  // A revalidation answered 304: the stored slice stays (the fetch task merges the head).
  if (res.status === 304) return res;
  if (res.status === 416) {
    const size = parseUnsatisfiedRange(headerValue(res.headers, 'content-range'));
    signal(res, new SliceSignal('unsatisfiable', 416, size), 'the slice starts past the end');
  }
  if (res.status === 200) return wholeAsSlice(res, want);
  if (res.status !== 206) signal(res, new SliceSignal('not-partial', res.status), `upstream ${res.status}`);
  const place = parseContentRange(headerValue(res.headers, 'content-range'));
  if (place === null) badRange(res, 'a 206 without a usable Content-Range (bytes first-last/length)');
  const endInclusive = Math.min(place.size, want.start + want.sliceBytes) - 1;
  if (place.start !== want.start || place.endInclusive !== endInclusive) {
    badRange(
      res,
      `asked for bytes ${want.start}-${want.start + want.sliceBytes - 1}, got ${place.start}-${place.endInclusive}/${place.size}`,
    );
  }
  // A complete length that differs from the other slices' is not a lie: the object changed. The
  // slice is the new version's and is stored; the slice step sees the versions differ.
  const length = place.endInclusive - place.start + 1;
  const declared = contentLength(res.headers);
  if (declared !== null && declared !== length) {
    badRange(res, `Content-Length ${declared} for a ${length}-byte range`);
  }
  return asSlice(res, place, length);
}

/**
 * A 200 to a slice's Range. When it is small enough to be slice 0 of itself (one slice holds the
 * whole object), it is stored as that slice; otherwise the upstream serves whole objects only.
 */
function wholeAsSlice(res: UpstreamResponse, want: SliceWant): UpstreamResponse {
  const declared = contentLength(res.headers);
  if (want.start !== 0 || declared === null || declared === 0 || declared > want.sliceBytes) {
    signal(res, new SliceSignal('no-range', 200), 'the upstream ignored the Range');
  }
  return asSlice(res, { start: 0, endInclusive: declared - 1, size: declared }, declared);
}

function asSlice(res: UpstreamResponse, place: ContentRange, length: number): UpstreamResponse {
  const headers = { ...res.headers };
  delete headers['content-range'];
  headers['content-length'] = String(length);
  headers[SLICE_FIELD] = `${place.start}-${place.endInclusive}/${place.size}`;
  return { ...res, status: 200, headers, body: exactly(res.body, length) };
}

/** The body, failing (so the fill is not stored) when it is longer or shorter than `length`. */
function exactly(body: Readable, length: number): Readable {
  let seen = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > length)
        done(new MeridianError('ORIGIN_BAD_RANGE', `range body longer than ${length} bytes`));
      else done(null, chunk);
    },
    flush(done) {
      if (seen !== length)
        done(new MeridianError('ORIGIN_BAD_RANGE', `range body of ${seen}, not ${length} bytes`));
      else done();
    },
  });
  body.on('error', (err) => counted.destroy(err));
  counted.on('close', () => {
    if (!body.destroyed) discard(body);
  });
  return body.pipe(counted);
}
