import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SniIndex, normalizeServerName, type SniCandidate } from '../../../../src/edge/tls/sni-index.ts';

const NOW = Date.UTC(2026, 0, 15);
const DAY = 86_400_000;
const valid = (id: string, hosts: string[], expiresInDays = 30): SniCandidate => ({
  id,
  hosts,
  notBeforeMs: NOW - 10 * DAY,
  notAfterMs: NOW + expiresInDays * DAY,
});
const expired = (id: string, hosts: string[]): SniCandidate => ({
  id,
  hosts,
  notBeforeMs: NOW - 100 * DAY,
  notAfterMs: NOW - DAY,
});
const notYet = (id: string, hosts: string[]): SniCandidate => ({
  id,
  hosts,
  notBeforeMs: NOW + DAY,
  notAfterMs: NOW + 400 * DAY,
});

function indexOf(...certs: SniCandidate[]): SniIndex<SniCandidate> {
  const index = new SniIndex<SniCandidate>();
  for (const c of certs) index.put(c);
  return index;
}

/** [case, certificates, SNI name, expected id or null, expected match] */
const TABLE: [string, SniCandidate[], string, string | null, 'exact' | 'wildcard' | null][] = [
  ['exact name', [valid('a', ['www.example.com'])], 'www.example.com', 'a', 'exact'],
  [
    'exact beats wildcard',
    [valid('w', ['*.example.com'], 300), valid('e', ['www.example.com'])],
    'www.example.com',
    'e',
    'exact',
  ],
  ['wildcard covers one label', [valid('w', ['*.example.com'])], 'api.example.com', 'w', 'wildcard'],
  ['wildcard does not cover two labels', [valid('w', ['*.example.com'])], 'a.b.example.com', null, null],
  ['wildcard does not cover the bare domain', [valid('w', ['*.example.com'])], 'example.com', null, null],
  ['partial-label wildcard never matches', [valid('p', ['f*.example.com'])], 'foo.example.com', null, null],
  ['unknown name', [valid('a', ['a.example'])], 'b.example', null, null],
  ['case-insensitive SNI', [valid('a', ['www.example.com'])], 'WWW.Example.COM', 'a', 'exact'],
  ['case-insensitive host list', [valid('a', ['WWW.EXAMPLE.COM'])], 'www.example.com', 'a', 'exact'],
  ['trailing dot', [valid('a', ['www.example.com'])], 'www.example.com.', 'a', 'exact'],
  [
    'valid beats expired (exact)',
    [expired('old', ['a.example']), valid('new', ['a.example'])],
    'a.example',
    'new',
    'exact',
  ],
  [
    'expired exact loses to a valid wildcard',
    [expired('e', ['a.example']), valid('w', ['*.example'])],
    'a.example',
    'w',
    'wildcard',
  ],
  [
    'not-yet-valid loses to a valid one',
    [notYet('future', ['a.example']), valid('now', ['a.example'])],
    'a.example',
    'now',
    'exact',
  ],
  [
    'latest expiry among valid ones',
    [valid('soon', ['a.example'], 5), valid('later', ['a.example'], 80), valid('mid', ['a.example'], 40)],
    'a.example',
    'later',
    'exact',
  ],
  [
    'only expired ones: still the exact one (the client is told it expired)',
    [expired('e', ['a.example']), expired('w', ['*.example'])],
    'a.example',
    'e',
    'exact',
  ],
  ['only an expired wildcard', [expired('w', ['*.example'])], 'a.example', 'w', 'wildcard'],
  [
    'a certificate for several names',
    [valid('m', ['a.example', 'b.example', '*.c.example'])],
    'x.c.example',
    'm',
    'wildcard',
  ],
  ['no SNI-like name (a single label)', [valid('w', ['*.example'])], 'localhost', null, null],
];

describe('SNI selection', () => {
  for (const [name, certs, sni, id, match] of TABLE) {
    it(name, () => {
      const choice = indexOf(...certs).select(sni, NOW);
      assert.equal(choice?.candidate.id ?? null, id);
      assert.equal(choice?.match ?? null, match);
    });
  }

  it('replaces a certificate by id and forgets deleted ones', () => {
    const index = indexOf(valid('a', ['a.example']));
    index.put(valid('a', ['b.example']));
    assert.equal(index.select('a.example', NOW), null);
    assert.equal(index.select('b.example', NOW)?.candidate.id, 'a');
    index.delete('a');
    assert.equal(index.select('b.example', NOW), null);
    assert.equal(index.size, 0);
  });

  it('looks up in constant work with thousands of certificates', () => {
    const index = new SniIndex<SniCandidate>();
    for (let i = 0; i < 20_000; i++) index.put(valid(`c${i}`, [`h${i}.example`, `*.z${i}.example`]));
    const start = process.hrtime.bigint();
    for (let i = 0; i < 20_000; i++)
      assert.equal(index.select(`x.z${i}.example`, NOW)?.candidate.id, `c${i}`);
    // 20 000 lookups; a linear scan would be 4·10⁸ comparisons (seconds), maps take milliseconds.
    assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 2_000);
  });

  it('normalizes names', () => {
    assert.equal(normalizeServerName('A.Example.'), 'a.example');
  });
});
