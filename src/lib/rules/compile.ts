// Compiles a rules-language expression (syntax.ts) once, when a rule arrives, into closures over a
// request (RuleSubject): no re-parsing per request, types checked up front (an error names the
// position), regular expressions through re2js (RE2 semantics: linear time in the input, so no
// pattern can backtrack catastrophically; backreferences and lookaround are refused when compiled).
import { BlockList, isIP } from 'node:net';
import { RE2JS } from 're2js';
import { RuleSyntaxError, parse, type CompareOp, type Expr, type Operand, type Value } from './syntax.ts';

/** What an expression reads of a request. The caller fills it once per request (lazily if it likes). */
export interface RuleSubject {
  readonly method: string;
  /** The Host, lower case, without the port. */
  readonly host: string;
  /** Path and query as requested. */
  readonly uri: string;
  readonly path: string;
  /** The query without "?". */
  readonly query: string;
  /** A header's value (names lower case); several fields of one name joined with ", ". "" when absent. */
  header(name: string): string;
  readonly cookie: string;
  readonly userAgent: string;
  readonly referer: string;
  /** The client address (IPv4 dotted or IPv6). */
  readonly ip: string;
  /** ISO 3166-1 alpha-2 from GeoIP, "" when unknown. */
  readonly country: string;
  readonly ssl: boolean;
  /** "HTTP/1.0", "HTTP/1.1", "HTTP/2". */
  readonly version: string;
}

export type Matcher = (subject: RuleSubject) => boolean;

type Type = 'string' | 'int' | 'bool' | 'ip';
type Getter = (s: RuleSubject) => string | number | boolean;

/** The fields (Cloudflare's names) and their types. */
export const FIELDS: Readonly<Record<string, { type: Type; get: Getter }>> = {
  'http.request.method': { type: 'string', get: (s) => s.method },
  'http.host': { type: 'string', get: (s) => s.host },
  'http.request.uri': { type: 'string', get: (s) => s.uri },
  'http.request.uri.path': { type: 'string', get: (s) => s.path },
  'http.request.uri.query': { type: 'string', get: (s) => s.query },
  'http.cookie': { type: 'string', get: (s) => s.cookie },
  'http.user_agent': { type: 'string', get: (s) => s.userAgent },
  'http.referer': { type: 'string', get: (s) => s.referer },
  'ip.src': { type: 'ip', get: (s) => s.ip },
  'ip.src.country': { type: 'string', get: (s) => s.country },
  'ip.geoip.country': { type: 'string', get: (s) => s.country },
  ssl: { type: 'bool', get: (s) => s.ssl },
  'http.request.version': { type: 'string', get: (s) => s.version },
};

const FUNCTIONS: Readonly<Record<string, { arg: Type; result: Type; apply: (v: never) => string | number }>> =
  {
    lower: { arg: 'string', result: 'string', apply: (v: string) => v.toLowerCase() },
    url_decode: { arg: 'string', result: 'string', apply: (v: string) => urlDecode(v) },
    len: { arg: 'string', result: 'int', apply: (v: string) => v.length },
  };

/** Longest regular expression accepted (RE2's program size is bounded by it too). */
export const MAX_REGEX_LENGTH = 1024;

/** Parses and compiles; throws RuleSyntaxError with the position of the first problem. */
export function compileExpression(source: string): Matcher {
  return compileExpr(parse(source));
}

/** The error of an expression that does not compile, or null (API validation). */
export function checkExpression(source: string): RuleSyntaxError | null {
  try {
    compileExpression(source);
    return null;
  } catch (err) {
    if (err instanceof RuleSyntaxError) return err;
    throw err;
  }
}

function compileExpr(expr: Expr): Matcher {
  switch (expr.kind) {
    case 'bool': {
      const value = expr.value;
      return () => value;
    }
    case 'not': {
      const inner = compileExpr(expr.expr);
      return (s) => !inner(s);
    }
    case 'logic': {
      const l = compileExpr(expr.left);
      const r = compileExpr(expr.right);
      if (expr.op === 'and') return (s) => l(s) && r(s);
      if (expr.op === 'or') return (s) => l(s) || r(s);
      return (s) => l(s) !== r(s);
    }
    case 'truthy': {
      const { type, get } = compileOperand(expr.operand);
      if (type !== 'bool') {
        throw new RuleSyntaxError(
          `${describe(expr.operand)} is a ${type}: compare it with an operator`,
          expr.pos,
        );
      }
      return (s) => get(s) === true;
    }
    case 'compare':
      return compileCompare(expr.op, compileOperand(expr.operand), expr.value, expr.pos, expr.valuePos);
  }
}

function compileOperand(operand: Operand): { type: Type; get: Getter } {
  switch (operand.kind) {
    case 'field': {
      const field = FIELDS[operand.name];
      if (field === undefined) throw new RuleSyntaxError(`unknown field ${operand.name}`, operand.pos);
      return field;
    }
    case 'header': {
      const name = operand.name;
      return { type: 'string', get: (s) => s.header(name) };
    }
    case 'call': {
      const fn = FUNCTIONS[operand.fn];
      if (fn === undefined) throw new RuleSyntaxError(`unknown function ${operand.fn}()`, operand.pos);
      const arg = compileOperand(operand.arg);
      if (arg.type !== fn.arg) {
        throw new RuleSyntaxError(`${operand.fn}() takes a ${fn.arg}, not a ${arg.type}`, operand.arg.pos);
      }
      const apply = fn.apply as (v: string | number | boolean) => string | number;
      const inner = arg.get;
      return { type: fn.result, get: (s) => apply(inner(s)) };
    }
  }
}

function compileCompare(
  op: CompareOp,
  operand: { type: Type; get: Getter },
  value: Value,
  pos: number,
  valuePos: number,
): Matcher {
  const { type, get } = operand;
  if (type === 'bool') {
    // wirefilter compares booleans only with eq / ne against true / false, which the grammar reads as bool.
    throw new RuleSyntaxError('a boolean field stands alone (ssl, not ssl)', pos);
  }
  if (op === 'in') {
    if (value.kind !== 'set') throw new RuleSyntaxError('"in" takes a {set}', valuePos);
    return compileIn(type, get, value, valuePos);
  }
  if (value.kind === 'set' || value.kind === 'range') throw new RuleSyntaxError('a set needs "in"', valuePos);
  if (type === 'ip') {
    if (op !== 'eq' && op !== 'ne') throw new RuleSyntaxError(`ip.src takes eq, ne or in, not ${op}`, pos);
    const list = blockListOf([{ value, pos: valuePos }]);
    const hit = (s: RuleSubject) => checkIp(list, get(s) as string);
    return op === 'eq' ? hit : (s) => !hit(s);
  }
  if (type === 'int') {
    if (value.kind !== 'int') throw new RuleSyntaxError('expected an integer', valuePos);
    if (op === 'contains' || op === 'matches') throw new RuleSyntaxError(`${op} takes a string field`, pos);
    const n = value.value;
    const g = get as (s: RuleSubject) => number;
    return ordered(op, (s) => g(s) - n);
  }
  if (value.kind !== 'string') throw new RuleSyntaxError('expected a quoted string', valuePos);
  const text = value.value;
  const g = get as (s: RuleSubject) => string;
  switch (op) {
    case 'contains':
      return (s) => g(s).includes(text);
    case 'matches': {
      const re = compileRegex(text, valuePos);
      return (s) => re.test(g(s));
    }
    default:
      return ordered(op, (s) => {
        const v = g(s);
        return v < text ? -1 : v > text ? 1 : 0;
      });
  }
}

function ordered(
  op: Exclude<CompareOp, 'in' | 'contains' | 'matches'>,
  cmp: (s: RuleSubject) => number,
): Matcher {
  switch (op) {
    case 'eq':
      return (s) => cmp(s) === 0;
    case 'ne':
      return (s) => cmp(s) !== 0;
    case 'lt':
      return (s) => cmp(s) < 0;
    case 'le':
      return (s) => cmp(s) <= 0;
    case 'gt':
      return (s) => cmp(s) > 0;
    case 'ge':
      return (s) => cmp(s) >= 0;
  }
}

function compileIn(type: Type, get: Getter, set: Extract<Value, { kind: 'set' }>, pos: number): Matcher {
  if (type === 'ip') {
    const list = blockListOf(set.items);
    return (s) => checkIp(list, get(s) as string);
  }
  if (type === 'int') {
    const exact = new Set<number>();
    const ranges: [number, number][] = [];
    for (const item of set.items) {
      if (item.value.kind === 'int') exact.add(item.value.value);
      else if (item.value.kind === 'range') ranges.push([item.value.from, item.value.to]);
      else throw new RuleSyntaxError('expected an integer or a range', item.pos);
    }
    const g = get as (s: RuleSubject) => number;
    return (s) => {
      const v = g(s);
      return exact.has(v) || ranges.some(([a, b]) => v >= a && v <= b);
    };
  }
  const strings = new Set<string>();
  for (const item of set.items) {
    if (item.value.kind !== 'string') throw new RuleSyntaxError('expected a quoted string', item.pos);
    strings.add(item.value.value);
  }
  void pos;
  const g = get as (s: RuleSubject) => string;
  return (s) => strings.has(g(s));
}

/**
 * IPv4 networks as (address, mask) integers, checked in JavaScript (a dotted quad parses in a few
 * nanoseconds); IPv6 in node:net's BlockList. IPv4-mapped IPv6 addresses match as IPv4.
 */
interface IpSet {
  v4: { net: number; mask: number }[];
  v6: BlockList | null;
}

function blockListOf(items: { value: Value; pos: number }[]): IpSet {
  const set: IpSet = { v4: [], v6: null };
  for (const { value, pos } of items) {
    if (value.kind !== 'ip') throw new RuleSyntaxError('expected an IP address or CIDR range', pos);
    const [address = '', prefixText] = value.value.split('/');
    const family = isIP(address);
    if (family === 0) throw new RuleSyntaxError(`invalid IP address ${address}`, pos);
    const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText);
    if (prefix > (family === 4 ? 32 : 128)) {
      throw new RuleSyntaxError(`invalid prefix length /${prefixText}`, pos);
    }
    if (family === 4) {
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      set.v4.push({ net: ((ipv4ToInt(address) as number) & mask) >>> 0, mask });
    } else {
      set.v6 ??= new BlockList();
      set.v6.addSubnet(address, prefix, 'ipv6');
    }
  }
  return set;
}

function checkIp(set: IpSet, ip: string): boolean {
  if (ip.startsWith('::ffff:') && ip.includes('.')) ip = ip.slice(7);
  const v4 = ipv4ToInt(ip);
  if (v4 !== null) {
    for (const { net, mask } of set.v4) if ((v4 & mask) >>> 0 === net) return true;
    return false;
  }
  return set.v6 !== null && isIP(ip) === 6 && set.v6.check(ip, 'ipv6');
}

/** A dotted-quad IPv4 address as an unsigned integer; null when it is not one. */
function ipv4ToInt(ip: string): number | null {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return null;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return null;
    } else return null;
  }
  if (dots !== 3 || digits === 0) return null;
  return value * 256 + part;
}

function compileRegex(pattern: string, pos: number): RE2JS {
  if (pattern.length > MAX_REGEX_LENGTH) {
    throw new RuleSyntaxError(`regular expression longer than ${MAX_REGEX_LENGTH} characters`, pos);
  }
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    // RE2 refuses what needs backtracking (backreferences, lookahead/lookbehind) and bad syntax alike.
    const reason = err instanceof Error ? err.message : String(err);
    throw new RuleSyntaxError(
      `invalid regular expression (RE2 syntax, linear time: no backreferences or lookaround): ${reason}`,
      pos,
    );
  }
}

function describe(operand: Operand): string {
  return operand.kind === 'call' ? `${operand.fn}()` : operand.kind === 'header' ? 'a header' : operand.name;
}

/**
 * Cloudflare's url_decode(): %XX escapes and "+" as space; an invalid escape stays as written
 * (decodeURIComponent would throw on it, and a rule must never throw on hostile input).
 */
export function urlDecode(value: string): string {
  if (!value.includes('%') && !value.includes('+')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (
      c === 37 /* % */ &&
      i + 2 < value.length &&
      isHex(value.charCodeAt(i + 1)) &&
      isHex(value.charCodeAt(i + 2))
    ) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 43 /* + */) {
      bytes.push(32);
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // A surrogate pair is one character: encode both halves together.
      const width = c >= 0xd800 && c <= 0xdbff ? 2 : 1;
      for (const b of Buffer.from(value.slice(i, i + width))) bytes.push(b);
      i += width - 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}
