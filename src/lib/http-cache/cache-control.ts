// Cache-Control parsing (RFC 9111 §5.2) into one typed record used for both requests and responses.
// The raw directive map (`Directives`) is shared with the targeted fields (targeted-field.ts), which
// have a different syntax but the same directive semantics (RFC 9213 §2.2).
import { DELTA_SECONDS_MAX, parseDeltaSeconds, splitList, unquote } from './headers.ts';
import type { HeaderValue } from './headers.ts';

export interface CacheControl {
  /** max-age (request or response). A present but invalid value is 0: see `toCacheControl`. */
  maxAge?: number;
  /** s-maxage (response, shared caches). A present but invalid value is 0. */
  sMaxage?: number;
  /** max-stale (request): Infinity when given without a value; absent when its value is invalid. */
  maxStale?: number;
  /** min-fresh (request); absent when invalid. */
  minFresh?: number;
  /** stale-while-revalidate (RFC 5861 §3); absent when invalid. */
  staleWhileRevalidate?: number;
  /** stale-if-error (RFC 5861 §4, request or response); absent when invalid. */
  staleIfError?: number;
  noStore: boolean;
  /** no-cache in any form; `noCacheFields` lists the field names of the qualified form ([] when unqualified). */
  noCache: boolean;
  noCacheFields: string[];
  /** private in any form; `privateFields` lists the field names of the qualified form ([] when unqualified). */
  private: boolean;
  privateFields: string[];
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  /** RFC 9111 §5.2.2.3 (response): store only if the cache implements the status code's semantics. */
  mustUnderstand: boolean;
  immutable: boolean;
  onlyIfCached: boolean;
  noTransform: boolean;
}

/** A directive's value: the unquoted argument, or `true` when the directive has none. */
export type DirectiveValue = string | true;
/** Every occurrence of each directive, by lower-case name, in field order. */
export type Directives = ReadonlyMap<string, readonly DirectiveValue[]>;

// RFC 9110 §5.6.2 token characters (lower-case here, names are compared case-insensitively).
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** Parses the directive list of a Cache-Control field value (RFC 9111 §5.2); unparseable members are skipped. */
export function parseDirectives(value: HeaderValue): Directives {
  const out = new Map<string, DirectiveValue[]>();
  const text = Array.isArray(value) ? value.join(', ') : value;
  if (text === undefined) return out;
  for (const member of splitList(text)) {
    const parsed = parseDirectiveMember(member);
    if (parsed) addDirective(out, parsed[0], parsed[1]);
  }
  return out;
}

/** One list member `name` or `name=arg` → [lower-case name, unquoted arg or true]; null when the name is not a token. */
export function parseDirectiveMember(member: string): [string, DirectiveValue] | null {
  const eq = member.indexOf('=');
  // RFC 9111 §5.2: "Cache directives are identified by a token, to be compared case-insensitively".
  const name = (eq < 0 ? member : member.slice(0, eq)).trim().toLowerCase();
  if (!TOKEN.test(name)) return null;
  // RFC 9111 §5.2: for arguments, "recipients ought to accept both forms" (token and quoted-string).
  return [name, eq < 0 ? true : unquote(member.slice(eq + 1).trim())];
}

/** Appends one occurrence of a directive to a directive map under construction. */
export function addDirective(map: Map<string, DirectiveValue[]>, name: string, arg: DirectiveValue): void {
  const seen = map.get(name);
  if (seen) seen.push(arg);
  else map.set(name, [arg]);
}

/** Parses a Cache-Control field value (request or response). Absent → every flag false, no numbers. */
export function parseCacheControl(value: HeaderValue): CacheControl {
  return toCacheControl(parseDirectives(value));
}

/**
 * Builds the typed record. Rules for odd input, each chosen so that broken input never grants more
 * reuse than the origin or client asked for:
 * - Duplicates: the first occurrence of a numeric directive wins (RFC 9111 §4.2.1: "either the first
 *   occurrence should be used or the response should be considered stale"). For no-cache and private
 *   the field lists are merged, and any unqualified occurrence makes the directive unqualified.
 * - max-age and s-maxage with a missing, negative, fractional or otherwise invalid argument are 0
 *   (RFC 9111 §4.2.1: "caches are encouraged to consider responses that have invalid freshness
 *   information (e.g., a max-age directive with non-integer content) to be stale"), so that a garbage
 *   max-age never lets Expires or a heuristic make the response fresh.
 * - Directives that widen reuse (max-stale=N, stale-while-revalidate, stale-if-error) and min-fresh are
 *   ignored when their argument is invalid.
 * - Values above 2^31 are 2^31 (RFC 9111 §1.2.2).
 */
export function toCacheControl(d: Directives): CacheControl {
  const cc: CacheControl = {
    noStore: d.has('no-store'),
    noCache: d.has('no-cache'),
    noCacheFields: fieldNames(d.get('no-cache')),
    private: d.has('private'),
    privateFields: fieldNames(d.get('private')),
    public: d.has('public'),
    mustRevalidate: d.has('must-revalidate'),
    proxyRevalidate: d.has('proxy-revalidate'),
    mustUnderstand: d.has('must-understand'),
    immutable: d.has('immutable'),
    onlyIfCached: d.has('only-if-cached'),
    noTransform: d.has('no-transform'),
  };
  setNumber(cc, 'maxAge', freshnessSeconds(d.get('max-age')));
  setNumber(cc, 'sMaxage', freshnessSeconds(d.get('s-maxage')));
  setNumber(cc, 'maxStale', maxStaleSeconds(d.get('max-stale')));
  setNumber(cc, 'minFresh', optionalSeconds(d.get('min-fresh')));
  setNumber(cc, 'staleWhileRevalidate', optionalSeconds(d.get('stale-while-revalidate')));
  setNumber(cc, 'staleIfError', optionalSeconds(d.get('stale-if-error')));
  return cc;
}

type NumericKey = 'maxAge' | 'sMaxage' | 'maxStale' | 'minFresh' | 'staleWhileRevalidate' | 'staleIfError';

// exactOptionalPropertyTypes: an absent directive leaves the property out instead of `undefined`.
function setNumber(cc: CacheControl, key: NumericKey, n: number | undefined): void {
  if (n !== undefined) cc[key] = n;
}

function seconds(arg: DirectiveValue | undefined): number | null {
  return typeof arg === 'string' ? parseDeltaSeconds(arg) : null;
}

function freshnessSeconds(args: readonly DirectiveValue[] | undefined): number | undefined {
  return args === undefined ? undefined : (seconds(args[0]) ?? 0);
}

function optionalSeconds(args: readonly DirectiveValue[] | undefined): number | undefined {
  return seconds(args?.[0]) ?? undefined;
}

// RFC 9111 §5.2.1.2: "If no value is assigned to max-stale, then the client will accept a stale
// response of any age."
function maxStaleSeconds(args: readonly DirectiveValue[] | undefined): number | undefined {
  if (args?.[0] === true) return Infinity;
  const n = seconds(args?.[0]);
  return n === null ? undefined : n === DELTA_SECONDS_MAX ? Infinity : n;
}

// RFC 9111 §5.2.2.4 / §5.2.2.7: the qualified forms carry a quoted, comma-separated list of field names.
function fieldNames(args: readonly DirectiveValue[] | undefined): string[] {
  if (args === undefined || args.includes(true)) return [];
  const names = args.flatMap((a) => (a === true ? [] : splitList(a.toLowerCase())));
  return [...new Set(names)];
}
