// Payload normalisation before the managed rules look at a value: what an attacker uses to hide a
// payload from a pattern is undone first, so each rule is written once against the plain form.
// Pure and bounded: at most MAX_INSPECT characters of a value are looked at, decoding repeats at
// most DECODE_ROUNDS times, and every step is a single linear pass.

// eslint-disable-next-line no-control-regex -- control characters are among what normalisation undoes
const NEEDS_WORK = /[%+&A-Z\\\u0000-\u001f\u007f-\uffff]|\/\*| {2}/;

/** Longest part of one value inspected (a longer value is inspected up to here). */
export const MAX_INSPECT = 8192;
/** Nested encodings undone (%2527 → %27 → '): three rounds cover what origins decode. */
const DECODE_ROUNDS = 3;

const NAMED_ENTITIES: Record<string, string> = {
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  amp: '&',
  sol: '/',
  bsol: '\\',
  colon: ':',
  lpar: '(',
  rpar: ')',
  semi: ';',
  equals: '=',
  grave: '`',
  tab: '\t',
  newline: '\n',
  nbsp: ' ',
};

/** %XX and %uXXXX (IIS) escapes, "+" as space; invalid escapes stay as written. */
export function percentDecode(value: string): string {
  if (!value.includes('%') && !value.includes('+')) return value;
  let out = '';
  const bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length > 0) {
      out += Buffer.from(bytes).toString('latin1');
      bytes.length = 0;
    }
  };
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 37 && isHex(value.charCodeAt(i + 1)) && isHex(value.charCodeAt(i + 2))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
      continue;
    }
    if (
      c === 37 &&
      (value.charCodeAt(i + 1) | 32) === 117 /* u */ &&
      isHex(value.charCodeAt(i + 2)) &&
      isHex(value.charCodeAt(i + 3)) &&
      isHex(value.charCodeAt(i + 4)) &&
      isHex(value.charCodeAt(i + 5))
    ) {
      flush();
      out += String.fromCharCode(parseInt(value.slice(i + 2, i + 6), 16));
      i += 5;
      continue;
    }
    flush();
    out += c === 43 ? ' ' : value[i];
  }
  flush();
  return out;
}

/** &lt; &#60; &#x3c; (with or without the final ";"), the entities browsers decode in attributes. */
export function htmlDecode(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(
    /&(?:#x([0-9a-f]{1,6});?|#(\d{1,7});?|([a-z]{2,8});)/gi,
    (whole, hex?: string, dec?: string, name?: string) => {
      if (hex !== undefined) return safeChar(parseInt(hex, 16));
      if (dec !== undefined) return safeChar(Number(dec));
      return NAMED_ENTITIES[(name ?? '').toLowerCase()] ?? whole;
    },
  );
}

function safeChar(code: number): string {
  return code > 0x10ffff ? '' : String.fromCodePoint(code);
}

/**
 * The inspected form: decoded (percent, repeated; HTML entities), lower case, NUL and control
 * characters and SQL/C comments turned into one space, backslashes as slashes, whitespace runs as
 * one space. `un/**‍/ion sel%2fect` and `UNION%0aSELECT` both read "union select".
 */
export function normalize(raw: string): string {
  // Most values need nothing: no escape, entity, upper case, comment, backslash, control or wide space.
  if (raw.length <= MAX_INSPECT && !NEEDS_WORK.test(raw)) return raw;
  let value = raw.length > MAX_INSPECT ? raw.slice(0, MAX_INSPECT) : raw;
  for (let round = 0; round < DECODE_ROUNDS; round++) {
    const decoded = htmlDecode(percentDecode(value));
    if (decoded === value) break;
    value = decoded;
  }
  value = value.toLowerCase();
  // Comments: /* … */ (MySQL's /*! … */ keeps its content, as MySQL runs it), then what a
  // terminating "--" or "#" hides is kept (the payload before it is what matters).
  if (value.includes('/*')) value = value.replace(/\/\*!?(?:\d{5})?/g, ' ').replace(/\*\//g, ' ');
  // eslint-disable-next-line no-control-regex -- NUL and control characters are what this looks for
  value = value.replace(/[\u0000-\u001f\u007f\u00a0\u2000-\u200b\u3000\ufeff]+/g, ' ');
  if (value.includes('\\')) value = value.replace(/\\/g, '/');
  return value.replace(/ {2,}/g, ' ');
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** The normalised form with comments removed rather than spaced (UN/**‍/ION); null when it has none. */
export function normalizeJoined(raw: string): string | null {
  // A comment needs a "*", written or escaped (%2A, &#42;).
  if (!raw.includes('*') && !raw.includes('%') && !raw.includes('&')) return null;
  let value = raw.length > MAX_INSPECT ? raw.slice(0, MAX_INSPECT) : raw;
  for (let round = 0; round < DECODE_ROUNDS; round++) {
    const decoded = htmlDecode(percentDecode(value));
    if (decoded === value) break;
    value = decoded;
  }
  if (!value.includes('/*')) return null;
  return normalize(value.replace(/\/\*!?(?:\d{5})?|\*\//g, ''));
}
