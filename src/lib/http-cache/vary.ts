// Vary (RFC 9110 §12.5.5, RFC 9111 §4.1): which request fields select among stored variants, and
// the secondary key built from them. Normalisation keeps the number of variants small.
import { headerValue, splitList } from './headers.ts';
import type { HeaderValue, Headers } from './headers.ts';

/** Vary field names: lower-case, trimmed, sorted, deduplicated; [] when no Vary; '*' when any member is '*'. */
export function parseVary(res: Headers): string[] | '*' {
  const v = headerValue(res, 'vary');
  if (v === undefined) return [];
  const names = splitList(v.toLowerCase());
  // RFC 9110 §12.5.5: "A Vary field value containing a member "*" signals that other aspects of the
  // request might have played a role in selecting the response representation".
  if (names.includes('*')) return '*';
  return [...new Set(names)].sort();
}

/** Content codings we store variants for, in Meridian's order of preference. */
const CODING_PREFERENCE = ['br', 'zstd', 'gzip'] as const;

/**
 * Accept-Encoding → one of 'br', 'zstd', 'gzip', 'identity': the first of br, zstd, gzip the client
 * accepts, else 'identity'. The server's order decides, not the client's q-values (RFC 9110 §12.5.3
 * lets the server choose among acceptable codings); q=0 excludes a coding ("not acceptable"), '*'
 * covers codings not listed, x-gzip is gzip (RFC 9110 §8.4.1.3). A member with an invalid qvalue is
 * ignored. No Accept-Encoding → 'identity': RFC 9110 §12.5.3 would allow any coding, but clients that
 * send none (scripts, old proxies) rarely decode.
 */
export function normalizeAcceptEncoding(v: HeaderValue): string {
  const text = Array.isArray(v) ? v.join(', ') : v;
  if (text === undefined) return 'identity';
  const weights = codingWeights(text);
  const wildcard = weights.get('*');
  const isAcceptable = (coding: string): boolean => (weights.get(coding) ?? wildcard ?? 0) > 0;
  return CODING_PREFERENCE.find(isAcceptable) ?? 'identity';
}

/** coding → qvalue, first occurrence of a coding wins. */
function codingWeights(text: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const member of splitList(text.toLowerCase())) {
    const [name = '', ...params] = member.split(';').map((p) => p.trim());
    const coding = name === 'x-gzip' ? 'gzip' : name;
    const q = qvalue(params);
    if (q !== null && coding !== '' && !weights.has(coding)) weights.set(coding, q);
  }
  return weights;
}

// RFC 9110 §12.4.2: weight = OWS ";" OWS "q=" qvalue; qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
// No q parameter means 1.
function qvalue(params: string[]): number | null {
  const q = params.find((p) => p.startsWith('q='));
  if (q === undefined) return 1;
  const value = q.slice(2).trim();
  return /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/.test(value) ? Number(value) : null;
}

/**
 * Accept-Language (RFC 9110 §12.5.4) in one canonical form, so that requests asking for the same
 * thing share one variant: `en-US,fr;q=0.5`, `fr;q=0.50, EN-us` and `en-us;q=1.0 , fr;q=0.5` all
 * become `en-us,fr;q=0.5`. Only rewrites that cannot change what an origin selects:
 * - Case: RFC 4647 §2 (which §12.5.4 cites): "language tags and ranges are case-insensitive" → lower case.
 * - q-values: RFC 9110 §12.4.2 "weight" (no q is q=1), written without trailing zeros. q=0 members
 *   stay (as `;q=0`, last): "not acceptable" is information an origin may act on.
 * - Order: by weight, highest first (§12.4.2: the weight is the "relative preference"). Members of
 *   equal weight keep the client's order: RFC 9110 gives their order no meaning, but origins that
 *   pick the first listed language exist, and keeping it can only cost extra variants, never a
 *   wrong one.
 * A value that is not a valid list of distinct language ranges with valid weights (a tag such as
 * `en_US`, `q=2`, a range listed twice) returns null, and the caller keys it as received: merging
 * two invalid values into one key could hand one client the variant made for another.
 */
export function normalizeAcceptLanguage(v: HeaderValue): string | null {
  const text = Array.isArray(v) ? v.join(', ') : (v ?? '');
  const ranges: { tag: string; q: number }[] = [];
  for (const member of splitList(text.toLowerCase())) {
    const [tag = '', ...params] = member.split(';').map((p) => p.trim());
    const q = qvalue(params);
    // RFC 4647 §2.1: language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"; one parameter at most (q).
    if (q === null || params.length > 1 || !/^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$/.test(tag)) return null;
    if (params.length === 1 && !params[0]?.startsWith('q=')) return null;
    if (ranges.some((r) => r.tag === tag)) return null;
    ranges.push({ tag, q });
  }
  // Array.prototype.sort is stable (ECMA-262 since 2019): equal weights keep their order.
  ranges.sort((a, b) => b.q - a.q);
  return ranges.map((r) => (r.q === 1 ? r.tag : `${r.tag};q=${r.q}`)).join(',');
}

/**
 * Secondary cache key: for each name, the normalised request value. accept-encoding goes through
 * normalizeAcceptEncoding, accept-language through normalizeAcceptLanguage (when valid); other
 * fields are combined, trimmed around commas, case preserved. Entries are `name:value`, or just
 * `name` when the request lacks the field (RFC 9111 §4.1: an absent field only matches an absent
 * field), joined by '\n'. Names cannot contain ':' or '\n' (tokens) and values
 * cannot contain '\n' (RFC 9110 §5.5), so distinct selections give distinct strings.
 */
export function varySelector(names: readonly string[], req: Headers): string {
  return names.map((name) => selectorEntry(name.toLowerCase(), req)).join('\n');
}

function selectorEntry(name: string, req: Headers): string {
  if (name === 'accept-encoding') return `${name}:${normalizeAcceptEncoding(req[name])}`;
  const v = req[name];
  const language = name === 'accept-language' && v !== undefined ? normalizeAcceptLanguage(v) : null;
  if (language !== null) return `${name}:${language}`;
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return name;
  const lines = Array.isArray(v) ? v : [v];
  // RFC 9111 §4.1: values may be normalised, e.g. "removing whitespace ... where allowed by the field's syntax".
  const value = lines.flatMap((line) => line.split(',').map((m) => m.trim())).join(',');
  return `${name}:${value}`;
}
