// A PEM chain and its private key, checked and turned into what a handshake needs: the SecureContext
// (built once per certificate, never per handshake), the names and validity used by SNI selection,
// and the leaf and issuer for OCSP. Rejects a pair that cannot serve (nothing parsable, a key that
// is not the leaf's) with one message that says which, and never with the key in it.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';

export interface CertificatePair {
  /** The leaf, first in the chain. */
  readonly leaf: X509Certificate;
  /** The certificate that issued the leaf when the chain holds it (OCSP needs it), else null. */
  readonly issuer: X509Certificate | null;
  /** DNS names of the leaf's subjectAltName, lower case. */
  readonly hosts: string[];
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly fingerprint256: string;
  readonly context: SecureContext;
  readonly certPem: string;
  readonly keyPem: string;
}

export class CertificatePairError extends Error {
  override name = 'CertificatePairError';
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM chain, in order (leaf first); throws when there are none or one is bad. */
export function parseChain(chainPem: string): X509Certificate[] {
  const blocks = chainPem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new CertificatePairError('certificate: no PEM certificate found');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new CertificatePairError(
        `certificate: PEM block ${i + 1} is not a certificate (${(err as Error).message})`,
      );
    }
  });
}

/** DNS names of a certificate's subjectAltName (RFC 6125 §6.4.4: the CN is not consulted when SANs exist). */
export function dnsNamesOf(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (entry.startsWith('DNS:')) names.push(entry.slice(4).toLowerCase());
  }
  return names;
}

function parseKey(keyPem: string): KeyObject {
  try {
    return createPrivateKey(keyPem);
  } catch {
    // The parser's message could quote the input: say only what is wrong.
    throw new CertificatePairError('private_key: not a PEM private key');
  }
}

/**
 * Checks `chainPem` (leaf first) against `keyPem` and builds the context. `options` are the
 * listener's TLS settings (ciphers, groups, signature algorithms…): OpenSSL takes the signature
 * algorithms from the context a handshake switches to, so each certificate's context carries them.
 */
export function loadCertificatePair(
  chainPem: string,
  keyPem: string,
  options: SecureContextOptions = {},
): CertificatePair {
  const chain = parseChain(chainPem);
  const leaf = chain[0] as X509Certificate;
  const key = parseKey(keyPem);
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificatePairError(
      'private_key: does not match the first certificate of the chain (the leaf must come first)',
    );
  }
  const next = chain[1];
  const issuer = next !== undefined && leaf.checkIssued(next) ? next : null;
  let context: SecureContext;
  try {
    context = createSecureContext({ ...options, cert: chainPem, key: keyPem });
  } catch (err) {
    throw new CertificatePairError(`certificate: OpenSSL refused the pair (${(err as Error).message})`);
  }
  return {
    leaf,
    issuer,
    hosts: dnsNamesOf(leaf),
    notBeforeMs: leaf.validFromDate.getTime(),
    notAfterMs: leaf.validToDate.getTime(),
    fingerprint256: leaf.fingerprint256,
    context,
    certPem: chainPem,
    keyPem,
  };
}
