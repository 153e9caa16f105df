// The listener's TLS settings: only TLS 1.2 / 1.3, only forward-secret AEAD suites, the three
// standard TLS 1.3 suites, X25519 / P-256 / P-384, and the OpenSSL options that turn off
// compression and renegotiation. Checked against OpenSSL's own view of the cipher string.
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { describe, it } from 'node:test';
import {
  GROUPS,
  secureContextOptions,
  TLS12_SUITES,
  TLS13_SUITES,
} from '../../../../src/edge/server/tls-policy.ts';

describe('TLS policy', () => {
  it('allows TLS 1.2 and 1.3 only', () => {
    const options = secureContextOptions();
    assert.equal(options.minVersion, 'TLSv1.2');
    assert.equal(options.maxVersion, 'TLSv1.3');
  });

  it('TLS 1.2 suites are all ECDHE with AES-GCM or ChaCha20-Poly1305', () => {
    for (const suite of TLS12_SUITES)
      assert.match(suite, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    assert.deepEqual(TLS13_SUITES.toSorted(), [
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
    assert.deepEqual(GROUPS, ['X25519', 'P-256', 'P-384']);
  });

  it('OpenSSL knows every name in the list (an unknown one would throw)', () => {
    const context = createSecureContext(secureContextOptions());
    // Every name is one OpenSSL knows (an unknown one would have thrown above).
    assert.ok(context);
    const ciphers = secureContextOptions().ciphers?.split(':') ?? [];
    assert.deepEqual(ciphers, [...TLS13_SUITES, ...TLS12_SUITES]);
  });

  it('turns off compression and renegotiation, and prefers the server order', () => {
    const options = secureContextOptions();
    const set = options.secureOptions ?? 0;
    assert.ok(set & constants.SSL_OP_NO_COMPRESSION);
    assert.ok(set & constants.SSL_OP_NO_RENEGOTIATION);
    assert.ok(set & constants.SSL_OP_CIPHER_SERVER_PREFERENCE);
    assert.equal(options.honorCipherOrder, true);
  });
});
