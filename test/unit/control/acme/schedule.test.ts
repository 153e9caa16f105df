// When the ACME engine orders: renewal at 2/3 of the lifetime, capped exponential backoff, the
// names an http-01 order can cover.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CertificateMeta } from '../../../../src/common/config/certificate.ts';
import {
  coversHosts,
  dueFor,
  orderableHosts,
  renewalTime,
  retryDelay,
} from '../../../../src/control/acme/schedule.ts';

const cert = (over: Partial<CertificateMeta> = {}): CertificateMeta => ({
  id: 'c1',
  zone_id: 'z1',
  usage: 'server',
  type: 'acme',
  hosts: ['a.example', 'www.a.example'],
  issuer: 'CN=test',
  signature: 'ECDSA',
  serial_number: '01',
  fingerprint_sha256: '00',
  not_before: '2026-01-01T00:00:00.000Z',
  expires_on: '2026-04-01T00:00:00.000Z', // 90 days
  status: 'active',
  uploaded_on: '2026-01-01T00:00:00.000Z',
  modified_on: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('renewalTime', () => {
  it('is not_before + 2/3 of the lifetime (day 60 of a 90-day certificate)', () => {
    assert.equal(renewalTime(cert()).toISOString(), '2026-03-02T00:00:00.000Z');
    const short = cert({ not_before: '2026-01-01T00:00:00.000Z', expires_on: '2026-01-01T00:00:30.000Z' });
    assert.equal(renewalTime(short).toISOString(), '2026-01-01T00:00:20.000Z');
  });
});

describe('retryDelay', () => {
  it('doubles from the base and stops at the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => retryDelay(n, 60_000, 6 * 3_600_000)),
      [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_840_000, 7_680_000, 21_600_000].map((ms) =>
        Math.min(ms, 21_600_000),
      ),
    );
    assert.equal(retryDelay(0, 1_000, 10_000), 1_000);
  });
});

describe('orderableHosts / coversHosts', () => {
  it('drops wildcards (http-01 cannot prove them), lower-cases, dedupes and sorts', () => {
    assert.deepEqual(
      orderableHosts({ hostnames: ['WWW.a.example', '*.a.example', 'a.example', 'a.example.'] }),
      ['a.example', 'www.a.example'],
    );
    assert.equal(coversHosts(cert(), ['a.example']), true);
    assert.equal(coversHosts(cert(), ['a.example', 'new.a.example']), false);
  });
});

describe('dueFor', () => {
  const now = new Date('2026-02-01T00:00:00Z');
  const hosts = ['a.example', 'www.a.example'];
  it('issues now without a certificate, or after an error', () => {
    assert.deepEqual(dueFor(null, hosts, now), { at: now, reason: 'issue' });
    assert.deepEqual(dueFor(cert({ status: 'error' }), hosts, now), { at: now, reason: 'issue' });
  });
  it('renews at 2/3 of the lifetime, or now when a hostname was added', () => {
    assert.deepEqual(dueFor(cert(), hosts, now), { at: renewalTime(cert()), reason: 'renew' });
    assert.deepEqual(dueFor(cert(), [...hosts, 'b.example'], now), { at: now, reason: 'hosts-changed' });
  });
});
