// Targeted cache-control fields: CDN-Cache-Control and Meridian-CDN-Cache-Control (RFC 9213), and
// the older Surrogate-Control (W3C Edge Architecture Specification 1.0). Both yield the same `Directives` map as Cache-Control.
import { addDirective, parseDirectiveMember } from './cache-control.ts';
import type { DirectiveValue, Directives } from './cache-control.ts';
import { parseDictionary, Token } from 'structured-headers';
import type { BareItem, Dictionary, Item } from 'structured-headers';
import { splitList } from './headers.ts';
import type { HeaderValue } from './headers.ts';

/**
 * How RFC 9213 §2.1 maps cache directives to Structured Field types: "Typically, they are mapped
 * into Booleans (e.g., no-store, no-cache, private) or Integers (e.g., max-age, s-maxage,
 * stale-while-revalidate)", and "the private and no-cache directives can also have a String value".
 * Directives not listed (extensions) are taken with whatever value they carry.
 */
const INTEGER_DIRECTIVES: ReadonlySet<string> = new Set([
  'max-age',
  's-maxage',
  'stale-while-revalidate',
  'stale-if-error',
]);
const BOOLEAN_DIRECTIVES: ReadonlySet<string> = new Set([
  'no-store',
  'public',
  'must-revalidate',
  'proxy-revalidate',
  'must-understand',
  'immutable',
  'no-transform',
]);
const BOOLEAN_OR_STRING_DIRECTIVES: ReadonlySet<string> = new Set(['no-cache', 'private']);

/**
 * CDN-Cache-Control, Meridian-CDN-Cache-Control and other RFC 9213 targeted fields: an
 * sf-dictionary (RFC 8941 §3.2), parsed by the structured-headers package. Returns null when the
 * field is absent, empty, fails to parse, or carries a known directive with a value of the wrong type
 * (`max-age="10"`, `max-age=1.5`, `max-age=-1`, `no-store=3`): RFC 9213 §2.1: "If a targeted field
 * in a given response is empty, or a parsing error is encountered, that field MUST be ignored by the
 * cache (i.e., it behaves as if the field were not present, likely falling back to other
 * cache-control mechanisms present)", and "Implementations SHOULD NOT consume values that violate
 * these inferred constraints". A field with one bad member is ignored whole rather than in part: the
 * origin's intent for the rest is unknowable, and the field below it (Cache-Control) still applies.
 * Boolean ?0 leaves the directive out; "Parameters received on cache directives are to be ignored".
 * Duplicate keys: the last wins (RFC 8941 §4.2.2).
 */
export function parseTargetedField(value: HeaderValue): Directives | null {
  // RFC 8941 §4.2: a field sent on several lines is parsed as the lines joined with commas.
  const text = Array.isArray(value) ? value.join(', ') : value;
  if (text === undefined || text.trim() === '') return null;
  let dict: Dictionary;
  try {
    dict = parseDictionary(text);
  } catch {
    return null; // structured-headers throws ParseError on any syntax error
  }
  const out = new Map<string, DirectiveValue[]>();
  for (const [name, member] of dict) {
    const arg = directiveArgument(name, member[0]);
    if (arg === null) return null;
    if (arg !== false) out.set(name, [arg]);
  }
  return out.size > 0 ? out : null;
}

/** A member's value as a directive argument: true (no argument), false (absent), text, or null (wrong type). */
function directiveArgument(name: string, v: BareItem | Item[]): DirectiveValue | false | null {
  if (INTEGER_DIRECTIVES.has(name)) {
    // RFC 9111 §1.2.2 delta-seconds: a non-negative integer. structured-headers returns Integers and
    // Decimals both as numbers; a Decimal with a fraction is refused here.
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? String(v) : null;
  }
  if (BOOLEAN_DIRECTIVES.has(name)) return typeof v === 'boolean' ? v : null;
  if (BOOLEAN_OR_STRING_DIRECTIVES.has(name))
    return typeof v === 'boolean' || typeof v === 'string' ? v : null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'string') return String(v);
  if (v instanceof Token) return v.toString();
  return ''; // an extension with a byte sequence, date or inner list: present, its value unused
}

/**
 * Surrogate-Control (Edge Architecture 1.0): Cache-Control syntax, plus
 * - `max-age=N+M`: fresh for N seconds, then usable for M more when the origin fails → max-age=N and,
 *   unless given explicitly, stale-if-error=M;
 * - `directive;device`: a directive addressed to one named surrogate. Meridian has no device token, so
 *   such directives are skipped.
 * Returns null when the field is absent or has no directive (then Cache-Control governs).
 */
export function parseSurrogateControl(value: HeaderValue): Directives | null {
  const text = Array.isArray(value) ? value.join(', ') : value;
  if (text === undefined) return null;
  const out = new Map<string, DirectiveValue[]>();
  let extensionSec: string | undefined;
  for (const member of splitList(text)) {
    if (unquotedIndexOf(member, ';') >= 0) continue;
    const parsed = parseDirectiveMember(member);
    if (parsed === null) continue;
    const [name, arg] = parsed;
    const extended = name === 'max-age' && arg !== true ? /^([0-9]+)\+([0-9]+)$/.exec(arg) : null;
    addDirective(out, name, extended?.[1] ?? arg);
    extensionSec ??= extended?.[2];
  }
  if (extensionSec !== undefined && !out.has('stale-if-error')) out.set('stale-if-error', [extensionSec]);
  return out.size > 0 ? out : null;
}

function unquotedIndexOf(s: string, ch: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    if (quoted && s[i] === '\\') i++;
    else if (s[i] === '"') quoted = !quoted;
    else if (!quoted && s[i] === ch) return i;
  }
  return -1;
}
