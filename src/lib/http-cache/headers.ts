// Header access and the small grammars shared by the rest of lib/http-cache: HTTP-date (RFC 9110
// §5.6.7), delta-seconds (RFC 9111 §1.2.2), comma-separated lists with quoted strings (RFC 9110 §5.6.1).
// Header maps are Node's shape: lower-case names, a field received more than once is an array.

export type HeaderValue = string | string[] | undefined;
export type Headers = Readonly<Record<string, HeaderValue>>;

/** The field value, with the lines of a repeated field combined by ', ' (RFC 9110 §5.3). */
export function headerValue(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The first line of a field that is defined as a singleton (Location, ETag, Date); arrays are broken input. */
export function firstHeaderValue(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** True when the field is present, even with an empty value. */
export function hasHeader(h: Headers, name: string): boolean {
  const v = h[name];
  return v !== undefined && (!Array.isArray(v) || v.length > 0);
}

/** RFC 9111 §1.2.2: a delta-seconds value too large to represent is taken as 2^31. */
export const DELTA_SECONDS_MAX = 2147483648;

/** RFC 9111 §1.2.2 delta-seconds = 1*DIGIT; null when not exactly that (no sign, no fraction, no space). */
export function parseDeltaSeconds(v: string): number | null {
  if (!/^[0-9]+$/.test(v)) return null;
  return Math.min(Number(v), DELTA_SECONDS_MAX);
}

/**
 * Splits a list-based field value at commas that are not inside a quoted-string (RFC 9110 §5.6.1,
 * §5.6.4). Members are trimmed; empty members are dropped, as RFC 9110 §5.6.1.2 asks of recipients.
 */
export function splitList(v: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(v.slice(start, i));
      start = i + 1;
    }
  }
  out.push(v.slice(start));
  return out.map((m) => m.trim()).filter((m) => m !== '');
}

/** RFC 9110 §5.6.4 quoted-string → its content, with quoted-pairs resolved. An unterminated string keeps the rest. */
export function unquote(v: string): string {
  if (!v.startsWith('"')) return v;
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i];
    if (c === '"') break;
    if (c === '\\' && i + 1 < v.length) i++;
    out += v[i];
  }
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';

// RFC 9110 §5.6.7: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete forms a recipient
// MUST accept: rfc850-date "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
// "HTTP-date is case sensitive" binds senders; RFC 9111 §4.2: "Although all date formats are
// specified to be case-sensitive, a cache recipient SHOULD match the field value
// case-insensitively" — hence the `i` flag (day and month names, "GMT"). RFC 9111 §4.2 also: "A
// cache recipient SHOULD consider a date with a zone abbreviation other than "GMT" to be invalid".
// The day name is checked for form only: RFC 9110 §5.6.7 defines it as redundant with the date.
const IMF_FIXDATE = new RegExp(`^(?:${DAYS.join('|')}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, 'i');
const RFC850_DATE = new RegExp(`^(?:${LONG_DAYS.join('|')}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, 'i');
const ASCTIME_DATE = new RegExp(`^(?:${DAYS.join('|')}) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`, 'i');

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7) to ms since the epoch; null when absent or invalid.
 * `nowMs` resolves the two-digit years of rfc850-date (default: the system clock).
 */
export function parseHttpDate(v: string | undefined, nowMs?: number): number | null {
  if (v === undefined) return null;
  const s = v.trim();
  let m = IMF_FIXDATE.exec(s);
  if (m) return utc(Number(m[3]), m[2], m[1], m[4], m[5], m[6]);
  m = ASCTIME_DATE.exec(s);
  if (m) return utc(Number(m[6]), m[1], m[2], m[3], m[4], m[5]);
  m = RFC850_DATE.exec(s);
  if (m) return utc(fullYear(Number(m[3]), nowMs ?? Date.now()), m[2], m[1], m[4], m[5], m[6]);
  return null;
}

// RFC 9110 §5.6.7: "Recipients of a timestamp value in rfc850-date format, which uses a two-digit
// year, MUST interpret a timestamp that appears to be more than 50 years in the future as
// representing the most recent year in the past that had the same last two digits." So the year is
// the one with those digits in the window (now − 50, now + 50].
function fullYear(yy: number, nowMs: number): number {
  const thisYear = new Date(nowMs).getUTCFullYear();
  const year = thisYear - (thisYear % 100) + yy;
  if (year > thisYear + 50) return year - 100;
  return year <= thisYear - 50 ? year + 100 : year;
}

function utc(year: number, month: string | undefined, day = '', h = '', min = '', sec = ''): number | null {
  const mon = MONTHS.indexOf((month ?? '').toLowerCase());
  const [d, hh, mm, ss] = [Number(day), Number(h), Number(min), Number(sec)];
  // RFC 9110 §5.6.7: hour 00-23, minute 00-59, second 00-60 (60 only for a leap second).
  if (mon < 0 || hh > 23 || mm > 59 || ss > 60) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, mon, d); // setUTCFullYear: years 0-99 stay literal (Date.UTC maps them to 19xx)
  if (date.getUTCMonth() !== mon || date.getUTCDate() !== d) return null; // 31 Feb and the like
  return date.getTime() + ((hh * 60 + mm) * 60 + ss) * 1000;
}

/** Formats ms since the epoch as an IMF-fixdate (RFC 9110 §5.6.7), the only form a sender may generate. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString(); // ECMA-262 toUTCString is exactly IMF-fixdate for years 1000-9999
}
