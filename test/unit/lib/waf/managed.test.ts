import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { htmlDecode, normalize, percentDecode } from '../../../../src/lib/waf/normalize.ts';
import {
  MANAGED_RULES,
  ManagedEngine,
  firstMatch,
  inspect,
  selectManagedRules,
  type ManagedInput,
} from '../../../../src/lib/waf/managed-rules.ts';

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const req = (target: string, over: Partial<ManagedInput> = {}): ManagedInput => {
  const q = target.indexOf('?');
  return {
    method: 'GET',
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    cookie: '',
    userAgent: BROWSER,
    headers: [],
    ...over,
  };
};
const verdict = (input: ManagedInput, paranoia = 1) =>
  firstMatch(selectManagedRules({ paranoia_level: paranoia }), inspect(input), null)?.def.id ?? null;

describe('payload normalisation', () => {
  const table: [string, string][] = [
    ['UNION%20SELECT', 'union select'],
    ['%2553%2545%254c%2545%2543%2554', 'select'], // double encoding
    ['%25252e%25252e%25252f', '../'], // triple
    ['&lt;script&gt;', '<script>'],
    ['&#x3C;img&#62;', '<img>'],
    ['&#60script&#62', '<script>'], // entities without ";"
    ['un/**/ion/*!50000select*/', 'un ion select '],
    ['a\t\n\r b', 'a b'],
    ['a%00b', 'a b'],
    ['..\\..\\win.ini', '../../win.ini'],
    ['%u003cscript%u003e', '<script>'],
    ['plain-value_1.2', 'plain-value_1.2'],
  ];
  for (const [raw, want] of table) it(`${raw} → ${want}`, () => assert.equal(normalize(raw), want));
  it('invalid escapes stay; decoding is bounded', () => {
    assert.equal(percentDecode('%zz%4'), '%zz%4');
    assert.equal(htmlDecode('&bogus;'), '&bogus;');
    assert.ok(normalize('a'.repeat(100_000)).length <= 8192);
  });
});

describe('managed rules: each category at paranoia 1, and the paranoia levels', () => {
  const table: [string, Partial<ManagedInput>, string][] = [
    ["/i?id=1' or '1'='1", {}, 'sqli'],
    ['/i?id=-1 union all select 1,2', {}, 'sqli'],
    ['/q?x=<svg onload=alert(1)>', {}, 'xss'],
    ['/f?name=../../etc/passwd', {}, 'traversal'],
    ['/p?h=1;whoami', {}, 'rce'],
    ['/p?f=php://filter/resource=index.php', {}, 'rfi'],
    ['/', { userAgent: 'sqlmap/1.7' }, 'scanner'],
    ['/', { method: 'TRACE' }, 'protocol'],
    ['/x?a=%0d%0aSet-Cookie:x', {}, 'protocol'],
    ['/', { cookie: "sid=1' or 1=1--" }, 'sqli'],
    ['/', { headers: ['${jndi:ldap://x/a}'] }, 'rce'],
  ];
  for (const [target, over, category] of table) {
    it(`${target} ${JSON.stringify(over)} → ${category}`, () => {
      const id = verdict(req(target, over));
      assert.ok(id !== null, 'not detected');
      assert.equal(MANAGED_RULES.find((r) => r.id === id)?.category, category);
    });
  }
  it('higher paranoia adds stricter rules; overrides turn rules on, off and change actions', () => {
    const noUa = req('/', { userAgent: '' });
    assert.equal(verdict(noUa, 1), null);
    assert.equal(verdict(noUa, 2), 'mr-proto-no-ua');
    const rules = selectManagedRules({
      paranoia_level: 1,
      action: 'log',
      rules: [
        { id: 'mr-proto-no-ua', enabled: true, action: 'js_challenge' },
        { id: 'mr-sqli-union', enabled: false },
      ],
      categories: [{ category: 'xss', enabled: false }],
    });
    assert.equal(firstMatch(rules, inspect(noUa), null)?.action, 'js_challenge');
    assert.equal(firstMatch(rules, inspect(req('/q?x=<script>alert(1)</script>')), null), null);
    assert.equal(firstMatch(rules, inspect(req("/i?id=1' or '1'='1")), null)?.action, 'log');
    assert.equal(
      firstMatch(
        rules,
        inspect(req("/i?id=1' or '1'='1")),
        new Set(['mr-sqli-tautology', 'mr-sqli-quote-keyword']),
      )?.def.id ?? null,
      null,
    );
  });
});

describe('managed rules on the bench corpora', () => {
  const load = (name: string) =>
    readFileSync(new URL(`../../../../bench/security/corpus/${name}`, import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => (l.startsWith('UA\t') ? req('/', { userAgent: l.slice(3) }) : req(l)));
  const attacks = load('attacks.txt');
  const benign = load('benign.txt');
  it('paranoia 1: ≥ 95% of the attacks detected, ≤ 1% of the benign requests flagged', () => {
    const detected = attacks.filter((a) => verdict(a) !== null).length;
    const flagged = benign.filter((b) => verdict(b) !== null).length;
    assert.ok(detected / attacks.length >= 0.95, `${detected}/${attacks.length}`);
    assert.ok(flagged / benign.length <= 0.01, `${flagged}/${benign.length}`);
  });
  it('ManagedEngine (part by part, remembered) gives the same verdicts as firstMatch, twice over', () => {
    for (const paranoia of [1, 3]) {
      const rules = selectManagedRules({ paranoia_level: paranoia });
      const engine = new ManagedEngine(rules);
      for (const round of [1, 2]) {
        for (const input of [...attacks, ...benign]) {
          const want = firstMatch(rules, inspect(input), null)?.def.id;
          assert.equal(engine.match(input, null)?.def.id, want, `round ${round}: ${JSON.stringify(input)}`);
        }
      }
      // Cookies are matched value by value (session ids not remembered): same verdicts.
      for (const input of [...attacks, ...benign]) {
        const asCookie = { ...input, query: '', cookie: `sid=abc123; q=${input.query}; theme=dark` };
        const want = firstMatch(rules, inspect(asCookie), null)?.def.id;
        assert.equal(engine.match(asCookie, null)?.def.id, want, JSON.stringify(asCookie));
      }
      // Token cookie values reach rules by their characters: the ones that can match still do.
      for (const token of [
        'sysobjects',
        '..',
        '0xdeadbeef00',
        'information_schema',
        'a1b2c3',
        'dark',
        '1234567890',
      ]) {
        const input = req('/', { cookie: `sid=${token}; theme=dark` });
        assert.equal(
          engine.match(input, null)?.def.id,
          firstMatch(rules, inspect(input), null)?.def.id,
          token,
        );
      }
      assert.equal(engine.match(req('/', { cookie: 'x=sysobjects' }), null)?.def.id, 'mr-sqli-functions');
      const skip = new Set(['mr-sqli-union']);
      const union = req('/i?id=-1 union all select 1,2');
      assert.equal(engine.match(union, skip)?.def.id, firstMatch(rules, inspect(union), skip)?.def.id);
    }
  });
  it("the literal hints never hide a rule's match (same verdicts with hints off)", () => {
    const withHints = selectManagedRules({ paranoia_level: 4 });
    const without = withHints.map((r) => ({ ...r, def: { ...r.def, hints: null } }));
    for (const input of [...attacks, ...benign]) {
      const inspected = inspect(input);
      assert.equal(
        firstMatch(withHints, inspected, null)?.def.id,
        firstMatch(without, inspected, null)?.def.id,
        JSON.stringify(input),
      );
    }
  });
});
