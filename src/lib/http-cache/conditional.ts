// Conditional requests answered from cache (RFC 9110 §13), byte ranges of stored objects (RFC 9110
// §14), and the validators and header update of revalidation (RFC 9111 §4.3).
import { firstHeaderValue, formatHttpDate, headerValue, parseHttpDate, splitList } from './headers.ts';
import type { Headers } from './headers.ts';

/** An entity-tag (RFC 9110 §8.8.3) split into weakness and opaque-tag (with its quotes). */
interface EntityTag {
  weak: boolean;
  opaque: string;
}

// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE. An unquoted value (a common origin
// mistake) is taken as the opaque tag it was meant to be.
function parseEntityTag(s: string): EntityTag {
  const t = s.trim();
  const weak = t.startsWith('W/');
  const opaque = weak ? t.slice(2) : t;
  return { weak, opaque: opaque.startsWith('"') ? opaque : `"${opaque}"` };
}

/** RFC 9110 §13.1.2 If-None-Match list; commas inside quotes belong to the tag. */
function parseEntityTagList(s: string): EntityTag[] {
  return splitList(s).map(parseEntityTag);
}

/**
 * RFC 9110 §13.2.2 evaluation for GET/HEAD answered from cache: If-None-Match (step 3), else
 * If-Modified-Since (step 4). 'not-modified' → answer 304. If-Match, If-Unmodified-Since and other
 * methods are the caller's (such requests go to the origin).
 */
export function evaluateConditional(req: Headers, stored: Headers): 'not-modified' | 'none' {
  const ifNoneMatch = headerValue(req, 'if-none-match');
  if (ifNoneMatch !== undefined) return ifNoneMatchFails(ifNoneMatch, stored) ? 'not-modified' : 'none';
  return ifModifiedSinceFails(req, stored) ? 'not-modified' : 'none';
}

// RFC 9110 §13.1.2: "If the field value is "*", the condition is false if the origin server has a
// current representation for the target resource" (a stored response is one). "If the field value is
// a list of entity tags, the condition is false if one of the listed tags matches the entity tag of
// the selected representation." "A recipient MUST use the weak comparison function".
function ifNoneMatchFails(value: string, stored: Headers): boolean {
  if (value.trim() === '*') return true;
  const etag = firstHeaderValue(stored, 'etag');
  if (etag === undefined) return false;
  const current = parseEntityTag(etag);
  return parseEntityTagList(value).some((tag) => tag.opaque === current.opaque);
}

// RFC 9110 §13.1.3: "A recipient MUST ignore the If-Modified-Since header field if the received
// field value is not a valid HTTP-date". RFC 9111 §4.3.2: compare with the stored Last-Modified, or
// "if no Last-Modified field is present, the Date field value"; the condition is false ("not
// modified") when "the selected representation's last modification date is earlier or equal to the
// date provided in the field value".
function ifModifiedSinceFails(req: Headers, stored: Headers): boolean {
  const sinceMs = parseHttpDate(headerValue(req, 'if-modified-since'));
  if (sinceMs === null) return false;
  const modifiedMs =
    parseHttpDate(firstHeaderValue(stored, 'last-modified')) ??
    parseHttpDate(firstHeaderValue(stored, 'date'));
  return modifiedMs !== null && modifiedMs <= sinceMs;
}

export type RangeDecision =
  | { kind: 'none' }
  | { kind: 'range'; start: number; end: number } // inclusive byte offsets
  | { kind: 'unsatisfiable' };

const NO_RANGE: RangeDecision = Object.freeze({ kind: 'none' });
const UNSATISFIABLE: RangeDecision = Object.freeze({ kind: 'unsatisfiable' });

/**
 * A single byte range of a stored full 200 object of `size` bytes (RFC 9110 §14). 'none' (send the
 * whole body with 200) when: no Range; a unit other than bytes; malformed; several ranges (RFC 9110
 * §14.2: "A server MAY ignore the Range header field"); or If-Range does not match. 'unsatisfiable'
 * (416) when the range starts at or after the end, is a zero-length suffix, or the object is empty.
 */
export function parseRange(req: Headers, size: number, stored: Headers): RangeDecision {
  const range = headerValue(req, 'range');
  if (range === undefined || !ifRangeMatches(req, stored)) return NO_RANGE;
  const eq = range.indexOf('=');
  // RFC 9110 §14.1: "range unit names are case-insensitive"; §14.1.2: ranges-specifier = range-unit "=" range-set.
  if (eq < 0 || range.slice(0, eq).trim().toLowerCase() !== 'bytes') return NO_RANGE;
  const specs = splitList(range.slice(eq + 1));
  if (specs.length !== 1 || specs[0] === undefined) return NO_RANGE;
  return byteRange(specs[0], size);
}

// RFC 9110 §14.1.2: int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length.
function byteRange(spec: string, size: number): RangeDecision {
  const m = /^([0-9]*)-([0-9]*)$/.exec(spec);
  if (!m || (m[1] === '' && m[2] === '')) return NO_RANGE;
  const [first, last] = [m[1] === '' ? null : Number(m[1]), m[2] === '' ? null : Number(m[2])];
  if (first === null) {
    // RFC 9110 §14.1.3: a suffix-range "with a non-zero suffix-length" is satisfiable; "If the selected
    // representation is shorter than the specified suffix-length, the entire representation is used."
    if (last === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'range', start: Math.max(0, size - (last ?? 0)), end: size - 1 };
  }
  // RFC 9110 §14.1.1: "A range with a last-pos less than its first-pos is invalid" → ignore the header.
  if (last !== null && last < first) return NO_RANGE;
  // RFC 9110 §14.1.3: satisfiable when "the first-pos is less than the current length".
  if (first >= size) return UNSATISFIABLE;
  // RFC 9110 §14.1.2: a last-pos at or past the end "is interpreted as the remainder of the representation".
  return { kind: 'range', start: first, end: Math.min(last ?? size - 1, size - 1) };
}

/** A Content-Range of a single part (RFC 9110 §14.4): inclusive byte offsets and the complete length. */
export interface ContentRange {
  start: number;
  end: number;
  size: number;
}

/**
 * RFC 9110 §14.4: Content-Range = range-unit SP ( range-resp / unsatisfied-range ), range-resp =
 * incl-range "/" ( complete-length / "*" ). Null unless it is a satisfied byte range with a known
 * complete length and `first-pos <= last-pos < complete-length` (RFC 9110 §14.4: "A Content-Range
 * field value is invalid if it contains a range-resp that has a last-pos value less than its
 * first-pos value, or a complete-length value less than or equal to its last-pos value").
 */
export function parseContentRange(v: string | string[] | undefined): ContentRange | null {
  if (typeof v !== 'string') return null;
  const m = /^bytes ([0-9]{1,15})-([0-9]{1,15})\/([0-9]{1,15})$/i.exec(v.trim());
  if (m === null) return null;
  const [start, end, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return start <= end && end < size ? { start, end, size } : null;
}

/**
 * The request's Range when it asks for one byte range (RFC 9110 §14.1.2), as a canonical field value
 * to send upstream (`bytes=0-99`, `bytes=100-`, `bytes=-500`); null for no Range, another unit, a
 * malformed or invalid one, or several ranges (those are answered from a whole object instead).
 */
export function singleByteRange(req: Headers): string | null {
  const range = headerValue(req, 'range');
  if (range === undefined) return null;
  const eq = range.indexOf('=');
  if (eq < 0 || range.slice(0, eq).trim().toLowerCase() !== 'bytes') return null;
  const specs = splitList(range.slice(eq + 1));
  const m = specs.length === 1 ? /^([0-9]{0,15})-([0-9]{0,15})$/.exec(specs[0] as string) : null;
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  // RFC 9110 §14.1.1: "A range with a last-pos less than its first-pos is invalid"; a zero-length
  // suffix is unsatisfiable (§14.1.3).
  if (m[1] !== '' && m[2] !== '' && Number(m[2]) < Number(m[1])) return null;
  if (m[1] === '' && Number(m[2]) === 0) return null;
  return `bytes=${m[1] === '' ? '' : Number(m[1])}-${m[2] === '' ? '' : Number(m[2])}`;
}

/**
 * RFC 9111 §3.3: a stored partial response answers "the request is partial and specifies a range
 * wholly within the incomplete response". The byte range of the complete representation the request
 * asks for (If-Range evaluated against the stored head), when the stored part holds all of it; else null.
 */
export function rangeWithin(
  req: Headers,
  part: ContentRange,
  stored: Headers,
): { start: number; end: number } | null {
  const range = parseRange(req, part.size, stored);
  if (range.kind !== 'range' || range.start < part.start || range.end > part.end) return null;
  return { start: range.start, end: range.end };
}

// RFC 9110 §13.1.5 If-Range: an entity-tag matches by the strong comparison; an HTTP-date matches
// when it equals the Last-Modified and that is a strong validator. Otherwise "the recipient ... MUST
// ignore the Range header field".
function ifRangeMatches(req: Headers, stored: Headers): boolean {
  const ifRange = headerValue(req, 'if-range')?.trim();
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) {
    const etag = firstHeaderValue(stored, 'etag');
    if (etag === undefined) return false;
    const [a, b] = [parseEntityTag(ifRange), parseEntityTag(etag)];
    // RFC 9110 §8.8.3.2 strong comparison: "both entity tags are not weak and their opaque-tags match".
    return !a.weak && !b.weak && a.opaque === b.opaque;
  }
  const sinceMs = parseHttpDate(ifRange);
  const modifiedMs = parseHttpDate(firstHeaderValue(stored, 'last-modified'));
  const dateMs = parseHttpDate(firstHeaderValue(stored, 'date'));
  // RFC 9110 §8.8.2.2: a cache may treat Last-Modified as strong when the entry "has a Date value"
  // that is "at least one second after the Last-Modified value".
  const isStrong = modifiedMs !== null && dateMs !== null && dateMs - modifiedMs >= 1000;
  return sinceMs !== null && isStrong && sinceMs === modifiedMs;
}

/**
 * Request headers for revalidating a stored response. RFC 9111 §4.3.1: a cache "MUST send the relevant
 * entity tags (using If-None-Match) if an entity tag was provided in the stored response" and "SHOULD
 * send the Last-Modified value (using If-Modified-Since) if the request is not for a subrange".
 */
export function validatorsFor(stored: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  const etag = firstHeaderValue(stored, 'etag');
  const lastModified = firstHeaderValue(stored, 'last-modified');
  if (etag !== undefined) out['if-none-match'] = etag;
  if (lastModified !== undefined) out['if-modified-since'] = lastModified;
  return out;
}

// Not taken from a 304:
// - RFC 9111 §3.2: "The Content-Length header field", and fields "automatically processed and removed
//   by the recipient" (Content-Range, Transfer-Encoding).
// - RFC 9111 §3.1 / RFC 9110 §7.6.1: hop-by-hop fields (Connection and the fields it names,
//   Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade) and the proxy-specific
//   Proxy-Authenticate, Proxy-Authentication-Info, Proxy-Authorization.
// - Content-Encoding: RFC 9111 §3.2 exempts "header fields that the cache's stored response depends
//   upon". The stored body is in the coding the origin used; a 304 cannot change that coding
//   (it validates the stored representation), and relabelling the stored bytes would corrupt them.
const NOT_UPDATED: ReadonlySet<string> = new Set([
  'content-length',
  'content-range',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
]);

/**
 * RFC 9111 §3.2 + §4.3.4: the stored headers updated by a 304: "the cache MUST add each header field
 * in the provided response to the stored response, replacing field values that are already present",
 * except the fields above and HTTP/2 pseudo-headers. Age and Date describe the 304, not the stored
 * response: Age is taken from the 304 or removed; a 304 without Date gets `receivedAtMs` as its Date
 * (RFC 9110 §6.6.1: a recipient "MUST record the time it was received and append a corresponding Date
 * header field") or, without it, the old Date is removed — keeping it would make the refreshed response
 * look as old as the first one. Returns a new map with lower-case names.
 */
export function mergeNotModified(
  stored: Headers,
  notModified: Headers,
  receivedAtMs?: number,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(stored))
    if (value !== undefined) out[name.toLowerCase()] = value;
  delete out['age'];
  delete out['date'];
  const connectionOptions = splitList(headerValue(notModified, 'connection')?.toLowerCase() ?? '');
  for (const [rawName, value] of Object.entries(notModified)) {
    const name = rawName.toLowerCase();
    if (value === undefined || name.startsWith(':') || NOT_UPDATED.has(name)) continue;
    if (!connectionOptions.includes(name)) out[name] = value;
  }
  if (out['date'] === undefined && receivedAtMs !== undefined) out['date'] = formatHttpDate(receivedAtMs);
  return out;
}
