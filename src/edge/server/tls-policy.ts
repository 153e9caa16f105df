// What the HTTPS listener accepts: protocol versions, cipher suites, key exchange groups and the
// OpenSSL options around them. One object, used for the listener's own context and (through
// secureContextOptions) for every certificate's context, so that a certificate chosen by SNI never
// brings other settings with it. docs/tls.md, "Listener, protocols and ciphers", explains each choice.
import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';

/**
 * TLS 1.3 (RFC 8446 §9.1): the three suites every implementation has; all are AEAD with forward
 * secrecy by construction. AES-128-GCM first (fast with AES-NI, the most widely deployed).
 */
export const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];

/**
 * TLS 1.2: ECDHE key exchange only (forward secrecy; no static RSA, no finite-field DHE whose
 * parameters clients cannot check) with AEAD ciphers only (AES-GCM, ChaCha20-Poly1305: no CBC, so no
 * Lucky 13 / padding oracles), for ECDSA and RSA certificates. RFC 9325 §4.2's recommended suites.
 */
export const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** Key exchange groups (RFC 8446 §4.2.7, RFC 8422): X25519 first, then the NIST curves clients have. */
export const GROUPS = ['X25519', 'P-256', 'P-384'];

/**
 * OpenSSL options: no TLS-level compression (CRIME), no renegotiation (client-initiated
 * renegotiation is a DoS lever, and TLS 1.3 has none), the server's cipher order, except that a
 * client that lists ChaCha20 first (no AES hardware: phones) gets it.
 */
export const SECURE_OPTIONS =
  constants.SSL_OP_NO_COMPRESSION |
  constants.SSL_OP_NO_RENEGOTIATION |
  constants.SSL_OP_CIPHER_SERVER_PREFERENCE |
  constants.SSL_OP_PRIORITIZE_CHACHA;

/** The settings of every TLS context the listener uses (spread into createSecureContext / the server). */
export function secureContextOptions(): SecureContextOptions & { honorCipherOrder: boolean } {
  return {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    // Node takes TLS 1.3 suites (TLS_*) and TLS 1.2 cipher names in one list and splits them.
    ciphers: [...TLS13_SUITES, ...TLS12_SUITES].join(':'),
    ecdhCurve: GROUPS.join(':'),
    honorCipherOrder: true,
    secureOptions: SECURE_OPTIONS,
  };
}
