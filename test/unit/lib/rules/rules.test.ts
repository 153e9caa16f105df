import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkExpression,
  compileExpression,
  urlDecode,
  type RuleSubject,
} from '../../../../src/lib/rules/compile.ts';
import { RuleSyntaxError, tokenize } from '../../../../src/lib/rules/syntax.ts';

function subject(over: Partial<RuleSubject> & { headers?: Record<string, string> } = {}): RuleSubject {
  const headers = over.headers ?? { 'x-test': 'yes', 'content-type': 'text/html' };
  return {
    method: 'GET',
    host: 'www.example.com',
    uri: '/shop/Cart.php?id=42&q=a%20b',
    path: '/shop/Cart.php',
    query: 'id=42&q=a%20b',
    cookie: 'session=abc; theme=dark',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0',
    referer: 'https://ref.example/page',
    ip: '192.0.2.10',
    country: 'DE',
    ssl: true,
    version: 'HTTP/1.1',
    ...over,
    header: (name) => headers[name] ?? '',
  };
}

const S = subject();

describe('rules language: each field', () => {
  const table: [string, boolean][] = [
    ['http.request.method eq "GET"', true],
    ['http.request.method eq "POST"', false],
    ['http.host eq "www.example.com"', true],
    ['http.request.uri eq "/shop/Cart.php?id=42&q=a%20b"', true],
    ['http.request.uri.path eq "/shop/Cart.php"', true],
    ['http.request.uri.query contains "id=42"', true],
    ['http.request.headers["X-Test"] eq "yes"', true],
    ['http.request.headers["x-absent"] eq ""', true],
    ['http.cookie contains "theme=dark"', true],
    ['http.user_agent contains "Firefox"', true],
    ['http.referer eq "https://ref.example/page"', true],
    ['ip.src eq 192.0.2.10', true],
    ['ip.src eq 192.0.2.11', false],
    ['ip.src.country eq "DE"', true],
    ['ip.geoip.country ne "DE"', false],
    ['ssl', true],
    ['not ssl', false],
    ['http.request.version eq "HTTP/1.1"', true],
  ];
  for (const [expr, want] of table)
    it(`${expr} → ${want}`, () => assert.equal(compileExpression(expr)(S), want));
});

describe('rules language: each operator', () => {
  const table: [string, boolean][] = [
    ['http.host == "www.example.com"', true],
    ['http.host != "www.example.com"', false],
    ['http.host ne "other"', true],
    ['len(http.request.uri.path) lt 15', true],
    ['len(http.request.uri.path) < 14', false],
    ['len(http.request.uri.path) le 14', true],
    ['len(http.request.uri.path) <= 13', false],
    ['len(http.request.uri.path) gt 13', true],
    ['len(http.request.uri.path) > 14', false],
    ['len(http.request.uri.path) ge 14', true],
    ['len(http.request.uri.path) >= 15', false],
    ['http.request.method lt "HEAD"', true],
    ['http.request.uri.path contains "Cart"', true],
    ['http.request.uri.path contains "cart"', false],
    ['http.request.uri.path matches "^/shop/[A-Z][a-z]+\\\\.php$"', true],
    ['http.request.uri.path ~ r"\\.(asp|jsp)$"', false],
    ['http.request.uri.path matches r#"Cart"#', true],
    ['http.request.method in {"GET" "HEAD"}', true],
    ['http.request.method in {"POST" "PUT"}', false],
    ['len(http.host) in {10..20}', true],
    ['len(http.host) in {1 2 3}', false],
    ['ip.src in {10.0.0.0/8 192.0.2.0/24}', true],
    ['ip.src in {10.0.0.0/8 2001:db8::/32}', false],
    ['true', true],
    ['false', false],
  ];
  for (const [expr, want] of table)
    it(`${expr} → ${want}`, () => assert.equal(compileExpression(expr)(S), want));

  it('CIDR sets hold IPv6 and IPv4-mapped addresses', () => {
    const m = compileExpression('ip.src in {2001:db8::/32 198.51.100.0/24}');
    assert.equal(m(subject({ ip: '2001:db8:1::5' })), true);
    assert.equal(m(subject({ ip: '2001:db9::5' })), false);
    assert.equal(m(subject({ ip: '::ffff:198.51.100.7' })), true);
    assert.equal(m(subject({ ip: 'not-an-ip' })), false);
  });
});

describe('rules language: logic and precedence', () => {
  const table: [string, boolean][] = [
    ['ssl and http.request.method eq "GET"', true],
    ['ssl && http.request.method eq "POST"', false],
    ['not ssl or http.host eq "www.example.com"', true],
    ['false || true', true],
    ['true xor true', false],
    ['true ^^ false', true],
    // and binds tighter than or: false and X or true = (false and X) or true
    ['false and false or true', true],
    ['false and (false or true)', false],
    ['!(http.request.method eq "GET")', false],
    ['not not ssl', true],
  ];
  for (const [expr, want] of table)
    it(`${expr} → ${want}`, () => assert.equal(compileExpression(expr)(S), want));
});

describe('rules language: functions', () => {
  const table: [string, boolean][] = [
    ['lower(http.request.uri.path) eq "/shop/cart.php"', true],
    ['url_decode(http.request.uri.query) contains "q=a b"', true],
    ['lower(url_decode(http.request.uri.query)) contains "a b"', true],
    ['len(http.request.method) eq 3', true],
    ['len(http.request.headers["x-test"]) eq 3', true],
  ];
  for (const [expr, want] of table)
    it(`${expr} → ${want}`, () => assert.equal(compileExpression(expr)(S), want));

  it('url_decode decodes %XX and +, keeps invalid escapes, handles UTF-8', () => {
    assert.equal(urlDecode('a%20b+c'), 'a b c');
    assert.equal(urlDecode('%zz%4'), '%zz%4');
    assert.equal(urlDecode('%C3%A9t%C3%A9'), 'été');
    assert.equal(urlDecode('😀%21'), '😀!');
  });
});

describe('rules language: errors carry the position', () => {
  const table: [string, number, RegExp][] = [
    ['http.hots eq "a"', 0, /unknown field http\.hots/],
    ['http.host eq', 12, /expected a value/],
    ['http.host eq "a" and', 20, /expected a field/],
    ['http.host eq "unterminated', 13, /unterminated string/],
    ['(http.host eq "a"', 17, /expected "\)"/],
    ['http.host eq "a" "b"', 17, /unexpected token/],
    ['http.host eq 5', 13, /expected a quoted string/],
    ['len(http.host) eq "5"', 18, /expected an integer/],
    ['ssl eq "x"', 4, /boolean field/],
    ['http.host', 0, /compare it/],
    ['upper(http.host) eq "A"', 0, /unknown function upper/],
    ['len(len(http.host)) eq 1', 4, /takes a string/],
    ['http.host in "a"', 13, /takes a \{set\}/],
    ['http.host in {}', 13, /empty set/],
    ['ip.src in {300.0.0.0/8}', 11, /invalid IP/],
    ['ip.src in {10.0.0.0/33}', 11, /prefix length/],
    ['ip.src contains "1"', 7, /ip\.src takes/],
    ['http.host matches "(a)\\\\1"', 18, /no backreferences/],
    ['http.host matches "(?=a)"', 18, /linear time/],
    ['http.host eq "a" $', 17, /unexpected character/],
    ['http.cookie["a"] eq "b"', 0, /not a map/],
    ['http.host eq "a\\q"', 15, /invalid escape/],
  ];
  for (const [expr, pos, message] of table) {
    it(`${expr} → error at ${pos}`, () => {
      const err = checkExpression(expr);
      assert.ok(err instanceof RuleSyntaxError, `no error for ${expr}`);
      assert.match(err.message, message);
      assert.equal(err.position, pos, err.message);
    });
  }

  it('refuses expressions over the length limit and deep nesting', () => {
    assert.match(checkExpression(`http.host eq "${'a'.repeat(5000)}"`)?.message ?? '', /longer than 4096/);
    assert.match(
      checkExpression(`${'('.repeat(40)}true${')'.repeat(40)}`)?.message ?? '',
      /nested too deeply/,
    );
  });

  it('a pathological regex runs in linear time (RE2)', () => {
    const m = compileExpression('http.request.uri.path matches "^(a+)+$"');
    const start = performance.now();
    assert.equal(m(subject({ path: `${'a'.repeat(50_000)}!` })), false);
    // A backtracking engine takes 2^n steps here; RE2 a few milliseconds.
    assert.ok(performance.now() - start < 2_000);
  });

  it('tokenizes IPs, ranges and integers apart', () => {
    assert.deepEqual(
      tokenize('{80..90 10.0.0.1 ::1 7}').map((t) => t.kind),
      ['punct', 'int', 'punct', 'int', 'ip', 'ip', 'int', 'punct', 'end'],
    );
  });
});
