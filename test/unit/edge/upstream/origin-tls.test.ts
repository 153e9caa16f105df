import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OriginTlsSchema } from '../../../../src/common/config/zone.ts';
import { classify } from '../../../../src/edge/upstream/origin-client.ts';
import { poolKeyOf, sniOf, upstreamTlsOf } from '../../../../src/edge/upstream/origin-tls.ts';

const CA_A = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const CA_B = '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n';
const url = new URL('https://origin.example:8443/base');
const tls = (input: Record<string, unknown>, zone: string | null = null) =>
  upstreamTlsOf(url, OriginTlsSchema.parse(input), zone);

describe('upstream TLS settings and pool keys', () => {
  it('http:// has no TLS settings and is keyed by its origin alone', () => {
    const plain = new URL('http://origin.example:8080/x');
    assert.equal(upstreamTlsOf(plain, undefined, 'zone-1'), null);
    assert.equal(poolKeyOf(plain, null, null), 'http://origin.example:8080');
  });

  it('equal settings share a key; another CA, name, verification, zone or client certificate does not', () => {
    const cert = { cert: 'CERT-1', key: 'KEY-1' };
    const keys = [
      poolKeyOf(url, tls({}), null),
      poolKeyOf(url, tls({ ca: CA_A }), null),
      poolKeyOf(url, tls({ ca: CA_B }), null),
      poolKeyOf(url, tls({ ca: CA_A, servername: 'other.example' }), null),
      poolKeyOf(url, tls({ ca: CA_A, verify: false }), null),
      poolKeyOf(url, tls({ ca: CA_A }, 'zone-1'), cert),
      poolKeyOf(url, tls({ ca: CA_A }, 'zone-2'), cert),
      poolKeyOf(url, tls({ ca: CA_A }, 'zone-1'), { cert: 'CERT-2', key: 'KEY-2' }),
      poolKeyOf(url, tls({ ca: CA_A }, 'zone-1'), null),
    ];
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(poolKeyOf(url, tls({ ca: CA_A }), null), keys[1]);
    // The same certificate content in a new object (a store that re-reads it) keeps the pool.
    assert.equal(poolKeyOf(url, tls({ ca: CA_A }, 'zone-1'), { cert: 'CERT-1', key: 'KEY-1' }), keys[5]);
    // The URL's path is no part of it: one server, one set of connections.
    assert.equal(poolKeyOf(new URL('https://origin.example:8443/other'), tls({}), null), keys[0]);
  });

  it('the pool key never holds key material', () => {
    const key = poolKeyOf(url, tls({ ca: CA_A }, 'zone-1'), { cert: 'CERT-1', key: 'SECRET-KEY' });
    assert.ok(!key.includes('SECRET'), key);
    assert.ok(!key.includes('AAAA'), key);
  });

  it('SNI: tls.servername, else the URL host; never an IP address (RFC 6066 §3)', () => {
    assert.equal(sniOf(url, tls({})!), 'origin.example');
    assert.equal(sniOf(url, tls({ servername: 'sni.example' })!), 'sni.example');
    const ip = new URL('https://127.0.0.1:8443/');
    assert.equal(sniOf(ip, upstreamTlsOf(ip, undefined, null)!), null);
    const v6 = new URL('https://[::1]:8443/');
    assert.equal(sniOf(v6, upstreamTlsOf(v6, undefined, null)!), null);
  });

  it('certificate verification failures and TLS alerts classify as ORIGIN_TLS_FAILED', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      'ERR_SSL_WRONG_VERSION_NUMBER',
    ]) {
      const error = classify(Object.assign(new Error(code), { code }));
      assert.equal(error.code, 'ORIGIN_TLS_FAILED', code);
      assert.equal(error.status, 502);
      assert.equal(error.retryable, false);
    }
    assert.equal(
      classify(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).code,
      'ORIGIN_UNREACHABLE',
    );
  });
});
