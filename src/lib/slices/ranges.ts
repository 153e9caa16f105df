// Byte ranges for slice caching (docs/media.md): the client's Range header reduced to at most one
// range, the slices a range covers, and the Content-Range an upstream answers with. Pure: values in,
// values out; the edge's slice step (edge/pipeline/slice.ts) does the I/O.

/** A Range header as the slice step uses it. */
export type RangeRequest =
  /** No Range, or one that RFC 9110 §14.2 says to ignore (unknown unit, a syntax error): the whole object. */
  | { kind: 'none' }
  /** More ranges than a cache should serve: refused with 416 (RFC 9110 §14.2 "MAY ... reject"). */
  | { kind: 'too-many' }
  /** first-last (last null: to the end), or the last `suffix` bytes. Several ranges are coalesced. */
  | { kind: 'range'; first: number; last: number | null }
  | { kind: 'suffix'; suffix: number };

/** The most ranges one request may name; more is refused (RFC 9110 §14.2 lets a server reject "more than a few"). */
export const MAX_RANGES = 16;

const BYTES_UNIT = /^\s*bytes\s*=/i;
const SPEC = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

/**
 * Several ranges are answered as the one range that covers them all (RFC 9110 §14.2: a server "MAY
 * coalesce" ranges; a single part then needs no multipart/byteranges body). A suffix range among
 * int ranges makes the cover run to the end.
 */
export function parseRangeRequest(header: string | undefined): RangeRequest {
  if (header === undefined || !BYTES_UNIT.test(header)) return NONE;
  const specs = header.slice(header.indexOf('=') + 1).split(',');
  if (specs.length > MAX_RANGES) return { kind: 'too-many' };
  let first = Infinity;
  let last: number | null = -1;
  let suffix = -1;
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (m === null || (m[1] === '' && m[2] === '')) return NONE; // RFC 9110 §14.2: invalid → ignore
    const a = m[1] === '' ? null : Number(m[1]);
    const b = m[2] === '' ? null : Number(m[2]);
    if (a === null) {
      suffix = Math.max(suffix, b as number);
      continue;
    }
    if (b !== null && b < a) return NONE; // RFC 9110 §14.1.1: last-pos < first-pos is invalid
    if (!Number.isSafeInteger(a) || (b !== null && !Number.isSafeInteger(b))) return NONE;
    first = Math.min(first, a);
    last = last === null || b === null ? null : Math.max(last, b);
  }
  if (first === Infinity) return { kind: 'suffix', suffix };
  // A suffix among int ranges: the cover is from the first int range to the end.
  if (suffix >= 0) return { kind: 'range', first, last: null };
  return { kind: 'range', first, last };
}

const NONE: RangeRequest = { kind: 'none' };

/** The Range header value that states `request` exactly (after coalescing), for the stored-object delivery. */
export function rangeHeaderOf(request: RangeRequest, size: number): string | undefined {
  switch (request.kind) {
    case 'none':
      return undefined;
    case 'too-many':
      // Unsatisfiable by construction: delivery answers 416 with Content-Range: bytes */size.
      return `bytes=${size}-`;
    case 'suffix':
      return `bytes=-${request.suffix}`;
    case 'range':
      return `bytes=${request.first}-${request.last ?? ''}`;
  }
}

/** The byte the first slice needed for `request` starts at, given the size when known (null: not yet). */
export function firstByteOf(request: RangeRequest, size: number | null): number {
  switch (request.kind) {
    case 'none':
    case 'too-many':
      return 0;
    case 'suffix':
      return size === null ? 0 : Math.max(0, size - request.suffix);
    case 'range':
      // Past the end: slice 0 gives the metadata the 416 is answered from.
      return size !== null && request.first >= size ? 0 : request.first;
  }
}

/** The Range one slice is fetched with: bytes [index·sliceBytes, (index+1)·sliceBytes). */
export function sliceRangeOf(index: number, sliceBytes: number): { start: number; endInclusive: number } {
  const start = index * sliceBytes;
  return { start, endInclusive: start + sliceBytes - 1 };
}

export interface ContentRange {
  start: number;
  endInclusive: number;
  /** The complete length. */
  size: number;
}

/**
 * RFC 9110 §14.4: Content-Range = range-unit SP ( range-resp / unsatisfied-range ); range-resp =
 * incl-range "/" ( complete-length / "*" ). Null unless it is a satisfied byte range with a known
 * complete length and first ≤ last < length (a slice cannot be placed without the length).
 */
export function parseContentRange(value: string | undefined): ContentRange | null {
  if (value === undefined) return null;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i.exec(value);
  if (m === null) return null;
  const [start, endInclusive, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![start, endInclusive, size].every(Number.isSafeInteger)) return null;
  if (start > endInclusive || endInclusive >= size) return null;
  return { start, endInclusive, size };
}

/** RFC 9110 §14.4: unsatisfied-range = "*" "/" complete-length (the length a 416 states); null otherwise. */
export function parseUnsatisfiedRange(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value);
  return m === null ? null : Number(m[1]);
}

/** What one slice of an object of `size` bytes must hold: [start, endInclusive]. */
export function expectedSliceOf(
  index: number,
  sliceBytes: number,
  size: number,
): { start: number; endInclusive: number } | null {
  const start = index * sliceBytes;
  if (start >= size) return null;
  return { start, endInclusive: Math.min(size, start + sliceBytes) - 1 };
}
