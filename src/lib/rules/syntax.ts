// The syntax of Meridian's rules language, a subset of Cloudflare's Rules language (wirefilter):
// tokens and the expression tree, each node with the offset it starts at, so an error names the
// column an operator wrote. Pure: no I/O. The grammar (precedence low to high, as wirefilter's):
//
//   expr    := or
//   or      := xor  (("or" | "||") xor)*
//   xor     := and  (("xor" | "^^") and)*
//   and     := unary (("and" | "&&") unary)*
//   unary   := ("not" | "!") unary | primary
//   primary := "(" expr ")" | "true" | "false" | operand [op value]
//   operand := field | field "[" string "]" | fn "(" operand ")"
//   op      := eq == ne != lt < le <= gt > ge >= contains matches ~ in
//   value   := string | r"raw" | integer | ip | cidr | "{" value* "}" | "{" int ".." int "}"

/** A parse or type error at `position` (a 0-based offset into the expression). */
export class RuleSyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} (at position ${position})`);
    this.name = 'RuleSyntaxError';
    this.position = position;
  }
}

export type Token =
  | { kind: 'ident'; value: string; pos: number }
  | { kind: 'string'; value: string; pos: number; raw: boolean }
  | { kind: 'int'; value: number; pos: number }
  /** An unquoted IP address or CIDR range (192.0.2.0/24, 2001:db8::/32). */
  | { kind: 'ip'; value: string; pos: number }
  | { kind: 'punct'; value: string; pos: number }
  | { kind: 'end'; pos: number };

export type Expr =
  | { kind: 'bool'; value: boolean; pos: number }
  | { kind: 'not'; expr: Expr; pos: number }
  | { kind: 'logic'; op: 'and' | 'or' | 'xor'; left: Expr; right: Expr; pos: number }
  /** A bare boolean operand (`ssl`). */
  | { kind: 'truthy'; operand: Operand; pos: number }
  | { kind: 'compare'; op: CompareOp; operand: Operand; value: Value; pos: number; valuePos: number };

export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'contains' | 'matches' | 'in';

export type Operand =
  | { kind: 'field'; name: string; pos: number }
  | { kind: 'header'; name: string; pos: number }
  | { kind: 'call'; fn: string; arg: Operand; pos: number };

export type Value =
  | { kind: 'string'; value: string }
  | { kind: 'int'; value: number }
  | { kind: 'ip'; value: string }
  | { kind: 'set'; items: { value: Value; pos: number }[] }
  | { kind: 'range'; from: number; to: number };

/** Cloudflare's expression length limit. */
export const MAX_EXPRESSION_LENGTH = 4096;
const MAX_DEPTH = 32;

const OPERATORS: Record<string, CompareOp> = {
  eq: 'eq',
  '==': 'eq',
  ne: 'ne',
  '!=': 'ne',
  lt: 'lt',
  '<': 'lt',
  le: 'le',
  '<=': 'le',
  gt: 'gt',
  '>': 'gt',
  ge: 'ge',
  '>=': 'ge',
  contains: 'contains',
  matches: 'matches',
  '~': 'matches',
  in: 'in',
};

const PUNCT = [
  '&&',
  '||',
  '^^',
  '==',
  '!=',
  '<=',
  '>=',
  '..',
  '<',
  '>',
  '!',
  '~',
  '(',
  ')',
  '{',
  '}',
  '[',
  ']',
];

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === '"' || ((c === 'r' || c === 'R') && (source[i + 1] === '"' || source[i + 1] === '#'))) {
      const raw = c !== '"';
      const { value, end } = raw ? readRaw(source, i) : readString(source, i);
      tokens.push({ kind: 'string', value, pos: start, raw });
      i = end;
      continue;
    }
    // IP literals before numbers: "10.0.0.0/8" and "::1" must not read as the integer 10.
    const ip = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*)(?:\/\d{1,3})?/.exec(
      source.slice(i, i + 64),
    );
    if (
      ip !== null &&
      (ip[0].includes('.') || ip[0].includes(':')) &&
      !/^\d+\.\.\d/.test(source.slice(i, i + 40))
    ) {
      tokens.push({ kind: 'ip', value: ip[0], pos: start });
      i += ip[0].length;
      continue;
    }
    if (c >= '0' && c <= '9') {
      let j = i;
      while (j < n && source[j]! >= '0' && source[j]! <= '9') j++;
      const text = source.slice(i, j);
      if (text.length > 15) throw new RuleSyntaxError('integer too large', start);
      tokens.push({ kind: 'int', value: Number(text), pos: start });
      i = j;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < n && /[A-Za-z0-9_.]/.test(source[j] as string)) j++;
      tokens.push({ kind: 'ident', value: source.slice(i, j), pos: start });
      i = j;
      continue;
    }
    const punct = PUNCT.find((p) => source.startsWith(p, i));
    if (punct === undefined) throw new RuleSyntaxError(`unexpected character ${JSON.stringify(c)}`, start);
    tokens.push({ kind: 'punct', value: punct, pos: start });
    i += punct.length;
  }
  tokens.push({ kind: 'end', pos: n });
  return tokens;
}

/** "…" with \" and \\ escapes (wirefilter's string literal). */
function readString(source: string, start: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '"') return { value, end: i + 1 };
    if (c === '\\') {
      const next = source[i + 1];
      if (next === '"' || next === '\\') {
        value += next;
        i += 2;
        continue;
      }
      throw new RuleSyntaxError('invalid escape in string (only \\" and \\\\)', i);
    }
    value += c;
    i++;
  }
  throw new RuleSyntaxError('unterminated string', start);
}

/** r"…" or r#"…"# (no escapes; for regular expressions). */
function readRaw(source: string, start: number): { value: string; end: number } {
  let i = start + 1;
  let hashes = 0;
  while (source[i] === '#') {
    hashes++;
    i++;
  }
  if (source[i] !== '"') throw new RuleSyntaxError('expected " after r#', i);
  const close = `"${'#'.repeat(hashes)}`;
  const end = source.indexOf(close, i + 1);
  if (end < 0) throw new RuleSyntaxError('unterminated raw string', start);
  return { value: source.slice(i + 1, end), end: end + close.length };
}

export function parse(source: string): Expr {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new RuleSyntaxError(
      `expression longer than ${MAX_EXPRESSION_LENGTH} characters`,
      MAX_EXPRESSION_LENGTH,
    );
  }
  const tokens = tokenize(source);
  let at = 0;
  let depth = 0;
  const peek = (): Token => tokens[at] as Token;
  const next = (): Token => tokens[at++] as Token;
  const isWord = (t: Token, ...words: string[]): boolean =>
    (t.kind === 'ident' || t.kind === 'punct') && words.includes(t.value);
  const expect = (value: string): Token => {
    const t = next();
    if (t.kind !== 'punct' || t.value !== value) throw new RuleSyntaxError(`expected "${value}"`, t.pos);
    return t;
  };

  const binary = (op: 'or' | 'xor' | 'and', words: string[], sub: () => Expr) => (): Expr => {
    let left = sub();
    while (isWord(peek(), ...words)) {
      const pos = next().pos;
      const right = sub();
      left = { kind: 'logic', op, left, right, pos };
    }
    return left;
  };
  const unary = (): Expr => {
    const t = peek();
    if (isWord(t, 'not', '!')) {
      next();
      if (++depth > MAX_DEPTH) throw new RuleSyntaxError('expression nested too deeply', t.pos);
      const expr = unary();
      depth--;
      return { kind: 'not', expr, pos: t.pos };
    }
    return primary();
  };
  const and = binary('and', ['and', '&&'], unary);
  const xor = binary('xor', ['xor', '^^'], and);
  const or = binary('or', ['or', '||'], xor);

  function primary(): Expr {
    const t = peek();
    if (t.kind === 'punct' && t.value === '(') {
      next();
      if (++depth > MAX_DEPTH) throw new RuleSyntaxError('expression nested too deeply', t.pos);
      const inner = or();
      depth--;
      expect(')');
      return inner;
    }
    if (t.kind === 'ident' && (t.value === 'true' || t.value === 'false')) {
      next();
      return { kind: 'bool', value: t.value === 'true', pos: t.pos };
    }
    const operand = parseOperand(0);
    const opToken = peek();
    const op = opToken.kind === 'ident' || opToken.kind === 'punct' ? OPERATORS[opToken.value] : undefined;
    if (op === undefined) return { kind: 'truthy', operand, pos: operand.pos };
    next();
    const valuePos = peek().pos;
    const value = parseValue(op === 'in');
    return { kind: 'compare', op, operand, value, pos: opToken.pos, valuePos };
  }

  function parseOperand(nesting: number): Operand {
    const t = next();
    if (t.kind !== 'ident') throw new RuleSyntaxError('expected a field or a function', t.pos);
    const after = peek();
    if (after.kind === 'punct' && after.value === '(') {
      if (nesting > 8) throw new RuleSyntaxError('functions nested too deeply', t.pos);
      next();
      const arg = parseOperand(nesting + 1);
      expect(')');
      return { kind: 'call', fn: t.value, arg, pos: t.pos };
    }
    if (after.kind === 'punct' && after.value === '[') {
      next();
      const key = next();
      if (key.kind !== 'string') throw new RuleSyntaxError('expected a quoted header name', key.pos);
      expect(']');
      if (t.value !== 'http.request.headers') {
        throw new RuleSyntaxError(`${t.value} is not a map (only http.request.headers["name"])`, t.pos);
      }
      return { kind: 'header', name: key.value.toLowerCase(), pos: t.pos };
    }
    return { kind: 'field', name: t.value, pos: t.pos };
  }

  function parseValue(allowSet: boolean): Value {
    const t = next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.value };
      case 'int':
        return { kind: 'int', value: t.value };
      case 'ip':
        return { kind: 'ip', value: t.value };
      case 'punct':
        if (t.value === '{' && allowSet) return parseSet(t.pos);
        break;
      default:
        break;
    }
    throw new RuleSyntaxError(allowSet ? 'expected a value or a {set}' : 'expected a value', t.pos);
  }

  function parseSet(open: number): Value {
    const items: { value: Value; pos: number }[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'punct' && t.value === '}') {
        next();
        break;
      }
      if (t.kind === 'end') throw new RuleSyntaxError('unterminated set', open);
      const value = parseValue(false);
      const dots = peek();
      if (value.kind === 'int' && dots.kind === 'punct' && dots.value === '..') {
        next();
        const to = next();
        if (to.kind !== 'int') throw new RuleSyntaxError('expected an integer after ..', to.pos);
        items.push({ value: { kind: 'range', from: value.value, to: to.value }, pos: t.pos });
        continue;
      }
      items.push({ value, pos: t.pos });
      if (items.length > 10_000) throw new RuleSyntaxError('set has more than 10000 values', t.pos);
    }
    if (items.length === 0) throw new RuleSyntaxError('empty set', open);
    return { kind: 'set', items };
  }

  const expr = or();
  const rest = peek();
  if (rest.kind !== 'end') throw new RuleSyntaxError('unexpected token after the expression', rest.pos);
  return expr;
}
