// Targeted cache-control fields: CDN-Cache-Control (RFC 9213) and the older Surrogate-Control
// (W3C Edge Architecture Specification 1.0). Both yield the same `Directives` map as Cache-Control.
import { addDirective, parseDirectiveMember } from './cache-control.ts';
import type { DirectiveValue, Directives } from './cache-control.ts';
import { splitList } from './headers.ts';
import type { HeaderValue } from './headers.ts';

/**
 * CDN-Cache-Control and other RFC 9213 targeted fields: an sf-dictionary (RFC 8941 §3.2). Returns null
 * when the field is absent, empty or fails to parse — RFC 9213 §2.1: "If a targeted field in a given
 * response is empty, or a parsing error is encountered, that field MUST be ignored by the cache".
 * Mapping (RFC 9213 §2.1): Boolean true → no argument; ?0 → directive absent; Integer → its digits;
 * String and Token → their text; a Decimal keeps its text, so `max-age=1.5` is an invalid max-age
 * ("Implementations SHOULD NOT consume values that violate these inferred constraints").
 * "Parameters received on cache directives are to be ignored". Duplicate keys: the last wins (RFC 8941 §4.2.2).
 */
export function parseTargetedField(value: HeaderValue): Directives | null {
  const text = Array.isArray(value) ? value.join(', ') : value;
  if (text === undefined) return null;
  const dict = new SfParser(text.trim()).dictionary();
  if (dict === null) return null;
  const out = new Map<string, DirectiveValue[]>();
  for (const [name, v] of dict) if (v !== false) out.set(name, [v]);
  return out.size > 0 ? out : null;
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

/** A member value: the text form of a bare item or inner list, true, or false (Boolean ?0). */
type SfValue = string | boolean;

/** RFC 8941 §4.2 parsing, reduced to what cache directives need: values come back as text. */
class SfParser {
  #s: string;
  #i = 0;
  constructor(s: string) {
    this.#s = s;
  }

  /** RFC 8941 §4.2.2. Null on any parsing error and for an empty field. */
  dictionary(): Map<string, SfValue> | null {
    const out = new Map<string, SfValue>();
    while (this.#i < this.#s.length) {
      const key = this.#key();
      if (key === null) return null;
      let value: SfValue | null = true;
      if (this.#peek() === '=') {
        this.#i++;
        value = this.#peek() === '(' ? this.#innerList() : this.#bareItem();
      }
      if (value === null || !this.#params()) return null;
      out.set(key, value);
      this.#skip(' \t');
      if (this.#i >= this.#s.length) break;
      if (this.#peek() !== ',') return null;
      this.#i++;
      this.#skip(' \t');
      if (this.#i >= this.#s.length) return null; // trailing comma
    }
    return out.size > 0 ? out : null;
  }

  #peek(): string {
    return this.#s[this.#i] ?? '';
  }

  #skip(chars: string): void {
    while (this.#i < this.#s.length && chars.includes(this.#peek())) this.#i++;
  }

  #match(re: RegExp): string | null {
    re.lastIndex = this.#i;
    const m = re.exec(this.#s);
    if (!m) return null;
    this.#i += m[0].length;
    return m[0];
  }

  // RFC 8941 §4.2.3.3: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
  #key(): string | null {
    return this.#match(/[a-z*][a-z0-9_.*-]*/y);
  }

  // RFC 8941 §4.2.3.2: parameters, parsed and discarded (RFC 9213 §2.1).
  #params(): boolean {
    while (this.#peek() === ';') {
      this.#i++;
      this.#skip(' ');
      if (this.#key() === null) return false;
      if (this.#peek() === '=') {
        this.#i++;
        if (this.#bareItem() === null) return false;
      }
    }
    return true;
  }

  // RFC 8941 §4.2.1.2: an inner list; kept as text (no cache directive takes one).
  #innerList(): string | null {
    const start = this.#i++;
    for (;;) {
      this.#skip(' ');
      if (this.#peek() === ')') {
        this.#i++;
        return this.#s.slice(start, this.#i);
      }
      if (this.#bareItem() === null || !this.#params()) return null;
      if (this.#peek() !== ' ' && this.#peek() !== ')') return null;
    }
  }

  // RFC 8941 §4.2.3.1 (and RFC 9651's Date and Display String).
  #bareItem(): SfValue | null {
    const c = this.#peek();
    if (c === '"') return this.#string();
    if (c === '?') return this.#match(/\?[01]/y) === null ? null : this.#s[this.#i - 1] === '1';
    if (c === '-' || /[0-9]/.test(c))
      return this.#match(/-?(?:[0-9]{1,12}\.[0-9]{1,3}(?![0-9])|[0-9]{1,15}(?![0-9.]))/y);
    if (c === ':') return this.#match(/:[A-Za-z0-9+/=]*:/y);
    if (c === '@') return this.#match(/@-?[0-9]{1,15}(?![0-9.])/y);
    if (c === '%') return this.#match(/%"(?:[\x20-\x21\x23-\x24\x26-\x7e]|%[0-9a-f]{2})*"/y);
    return this.#match(/[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*/y);
  }

  // RFC 8941 §4.2.5: printable ASCII; "\" escapes only DQUOTE and "\".
  #string(): string | null {
    const raw = this.#match(/"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"/y);
    return raw === null ? null : raw.slice(1, -1).replace(/\\(["\\])/g, '$1');
  }
}
