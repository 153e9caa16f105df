// Where a client is, and how far a PoP is.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseIp } from '../../../src/dns/cidr.ts';
import {
  bundledGeoDatabasePaths,
  GeoLocator,
  greatCircleKm,
  openGeoDatabase,
  parseLocationsFile,
  type GeoDatabase,
} from '../../../src/dns/geo.ts';

const NEW_YORK = { latitude: 40.7128, longitude: -74.006 };
const LONDON = { latitude: 51.5074, longitude: -0.1278 };
const SYDNEY = { latitude: -33.8688, longitude: 151.2093 };

const at = (text: string) => parseIp(text)!;

describe('greatCircleKm', () => {
  it('matches known distances to within 1%', () => {
    const near = (actual: number, expected: number) =>
      assert.ok(Math.abs(actual - expected) / expected < 0.01, `${actual} vs ${expected}`);
    near(greatCircleKm(NEW_YORK, LONDON), 5570);
    near(greatCircleKm(LONDON, SYDNEY), 16_990);
    assert.equal(greatCircleKm(LONDON, LONDON), 0);
    // Across the antimeridian: Fiji to Samoa is about 1,150 km, not 30,000.
    assert.ok(greatCircleKm({ latitude: -18, longitude: 178 }, { latitude: -14, longitude: -172 }) < 1_300);
  });
});

describe('parseLocationsFile', () => {
  it('reads CIDR → location', () => {
    assert.deepEqual(parseLocationsFile('{"192.0.2.0/24": {"city": "X", "latitude": 1, "longitude": 2}}'), [
      { cidr: '192.0.2.0/24', city: 'X', latitude: 1, longitude: 2 },
    ]);
  });

  it('names the bad entry', () => {
    assert.throws(() => parseLocationsFile('{'), /not JSON/);
    assert.throws(
      () => parseLocationsFile('{"192.0.2.0/24": {"latitude": 100, "longitude": 0}}'),
      /latitude/,
    );
    assert.throws(
      () => parseLocationsFile('{"192.0.2.0/33": {"latitude": 1, "longitude": 0}}'),
      /192\.0\.2\.0\/33/,
    );
  });
});

/** A database that knows one network. */
function fakeDatabase(
  ipVersion: 4 | 6,
  known: Record<string, { location: { latitude: number; longitude: number } | null; prefix: number }>,
): GeoDatabase {
  return {
    path: 'fake',
    ipVersion,
    lookup: (ip) => known[ip] ?? { location: null, prefix: 12 },
  };
}

describe('GeoLocator', () => {
  const locator = new GeoLocator({
    subnets: [{ cidr: '203.0.113.0/24', ...LONDON }],
    defaultLocation: SYDNEY,
    databases: [
      fakeDatabase(4, {
        '203.0.113.5': { location: NEW_YORK, prefix: 16 },
        '198.51.100.1': { location: NEW_YORK, prefix: 20 },
      }),
    ],
  });

  it('the subnets file comes first, then private ranges, then the database, then the default', () => {
    assert.deepEqual(locator.locate(at('203.0.113.5'), '203.0.113.5'), {
      location: { cidr: '203.0.113.0/24', ...LONDON },
      source: 'subnet',
      prefix: 24,
    });
    assert.deepEqual(locator.locate(at('10.1.2.3'), '10.1.2.3'), {
      location: SYDNEY,
      source: 'private',
      prefix: 8,
    });
    assert.deepEqual(locator.locate(at('127.0.0.1'), '127.0.0.1'), {
      location: SYDNEY,
      source: 'private',
      prefix: 8,
    });
    assert.equal(locator.locate(at('::1'), '::1').source, 'private');
    assert.deepEqual(locator.locate(at('198.51.100.1'), '198.51.100.1'), {
      location: NEW_YORK,
      source: 'geoip',
      prefix: 20,
    });
    assert.deepEqual(locator.locate(at('8.8.8.8'), '8.8.8.8'), {
      location: SYDNEY,
      source: 'default',
      prefix: 12,
    });
  });

  it('an IPv4-only database is not asked about IPv6 addresses', () => {
    let asked = 0;
    const v4only = new GeoLocator({
      databases: [
        { path: 'x', ipVersion: 4, lookup: () => ((asked += 1), { location: NEW_YORK, prefix: 8 }) },
      ],
    });
    assert.equal(v4only.locate(at('2001:db8::1'), '2001:db8::1').location, null);
    assert.equal(asked, 0);
  });

  it('a database answer never claims a scope that covers a more specific subnet override', () => {
    const narrow = new GeoLocator({
      subnets: [{ cidr: '198.51.100.128/25', ...LONDON }],
      databases: [fakeDatabase(4, { '198.51.100.1': { location: NEW_YORK, prefix: 16 } })],
    });
    // The database's /16 holds the override's /25: the scope must stop at bit 24 (where .1 and .128 part).
    assert.equal(narrow.locate(at('198.51.100.1'), '198.51.100.1').prefix, 25);
  });

  it('without anything configured, nothing is known and the answer is the same for everyone', () => {
    assert.deepEqual(new GeoLocator({}).locate(at('8.8.8.8'), '8.8.8.8'), {
      location: null,
      source: 'default',
      prefix: 0,
    });
  });
});

describe('the bundled database (DB-IP IP to City Lite, CC BY 4.0)', () => {
  const paths = bundledGeoDatabasePaths();
  it(
    'places well-known networks on the right continent',
    { skip: paths.length === 0 || !paths.every(existsSync) },
    async () => {
      const databases = await Promise.all(paths.map(openGeoDatabase));
      const locator = new GeoLocator({ databases });
      const where = (ip: string) => locator.locate(at(ip), ip);
      const us = where('8.8.8.8');
      assert.equal(us.source, 'geoip');
      assert.ok(us.location !== null && us.location.longitude < -60, JSON.stringify(us));
      assert.ok(us.prefix > 0 && us.prefix <= 32);
      const de = where('194.25.0.1').location;
      assert.ok(
        de !== null && greatCircleKm(de, { latitude: 50.11, longitude: 8.68 }) < 600,
        JSON.stringify(de),
      );
      const v6 = where('2a00:1450:4001::1');
      assert.equal(v6.source, 'geoip');
      assert.ok(v6.prefix > 0 && v6.prefix <= 128);
    },
  );
});
