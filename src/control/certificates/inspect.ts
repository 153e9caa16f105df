// Checks an uploaded certificate chain and private key, and reads the metadata the store keeps of
// it. Every failure names the field it is about (`certificate` or `private_key`), so the API can
// answer 400 with it. Node's X509Certificate parses and verifies; nothing here is hand-rolled ASN.1.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { CertificateMeta } from '../../common/config/certificate.ts';
import type { CertificateRecordInput } from '../store/types.ts';

export class CertificateInputError extends Error {
  override name = 'CertificateInputError';
  readonly field: 'certificate' | 'private_key';
  constructor(field: 'certificate' | 'private_key', message: string) {
    super(message);
    this.field = field;
  }
}

export interface InspectOptions {
  usage: CertificateMeta['usage'];
  /** server certificates: each DNS name must cover one of these; null: not checked (origin_client). */
  zoneHostnames: string[] | null;
  now: Date;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
/** RSA keys below 2048 bits are refused (NIST SP 800-131A rev. 2: 1024-bit RSA is disallowed). */
const MIN_RSA_BITS = 2048;

/** The chain and key checked, normalised (chain re-encoded leaf first, key as PKCS#8), with metadata. */
export function inspectUpload(
  certificatePem: string,
  privateKeyPem: string,
  options: InspectOptions,
): CertificateRecordInput {
  const chain = parseChain(certificatePem);
  const leaf = chain[0] as X509Certificate;
  const key = parseKey(privateKeyPem);
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateInputError('private_key', "does not match the certificate's public key");
  }
  checkOrder(chain);
  checkValidity(chain, options.now);
  if (options.usage === 'server' && leaf.ca) {
    throw new CertificateInputError(
      'certificate',
      'the first certificate is a CA certificate; send the leaf (the server certificate) first, then its issuers',
    );
  }
  const hosts = dnsNames(leaf);
  if (options.zoneHostnames !== null) checkHosts(hosts, options.zoneHostnames);
  return {
    ...metadataOf(leaf, options.usage, hosts),
    certificate: chain.map((c) => c.toString()).join(''),
    private_key: key.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

/** The metadata of a chain's leaf (also for ACME-issued chains). */
export function metadataOf(
  leaf: X509Certificate,
  usage: CertificateMeta['usage'],
  hosts: string[] = dnsNames(leaf),
): Omit<CertificateRecordInput, 'certificate' | 'private_key'> {
  return {
    usage,
    type: 'custom',
    status: 'active',
    hosts,
    issuer: leaf.issuer.split('\n').join(', '),
    signature: signatureOf(leaf.publicKey),
    serial_number: leaf.serialNumber,
    fingerprint_sha256: leaf.fingerprint256,
    not_before: new Date(leaf.validFrom).toISOString(),
    expires_on: new Date(leaf.validTo).toISOString(),
  };
}

function parseChain(text: string): X509Certificate[] {
  if (/PRIVATE KEY-----/.test(text)) {
    throw new CertificateInputError('certificate', 'contains a private key; send the key in private_key');
  }
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    throw new CertificateInputError(
      'certificate',
      'no PEM certificate found (expected -----BEGIN CERTIFICATE-----)',
    );
  }
  if (text.replace(PEM_CERT, '').trim() !== '') {
    throw new CertificateInputError(
      'certificate',
      'text outside the PEM certificates; send only the PEM chain',
    );
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new CertificateInputError(
        'certificate',
        `certificate ${i + 1} of the chain does not parse (${(err as Error).message})`,
      );
    }
  });
}

function parseKey(text: string): KeyObject {
  if (/ENCRYPTED/.test(text)) {
    throw new CertificateInputError('private_key', 'is encrypted; send it without a passphrase');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0] ?? '';
    throw new CertificateInputError('private_key', `does not parse as a PEM private key (${reason})`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType === 'rsa' && bits !== undefined && bits < MIN_RSA_BITS) {
    throw new CertificateInputError(
      'private_key',
      `an RSA key of ${bits} bits is too short (at least ${MIN_RSA_BITS})`,
    );
  }
  return key;
}

/** RFC 8446 §4.4.2: each following certificate SHOULD directly certify the one preceding it. */
function checkOrder(chain: X509Certificate[]): void {
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate;
    const parent = chain[i + 1] as X509Certificate;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new CertificateInputError(
        'certificate',
        `the chain is out of order: certificate ${i + 1} (${oneLine(child.subject)}) is not issued by certificate ${i + 2} (${oneLine(parent.subject)}); send the leaf first, then each issuer`,
      );
    }
  }
}

function checkValidity(chain: X509Certificate[], now: Date): void {
  chain.forEach((cert, i) => {
    const expires = new Date(cert.validTo);
    if (expires.getTime() <= now.getTime()) {
      const which =
        i === 0 ? 'the certificate' : `certificate ${i + 1} of the chain (${oneLine(cert.subject)})`;
      throw new CertificateInputError('certificate', `${which} expired on ${expires.toISOString()}`);
    }
  });
}

/** RFC 6125 §6.4.3: a wildcard stands for exactly one left-most label. */
export function covers(pattern: string, hostname: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === hostname;
  const suffix = pattern.slice(1);
  if (!hostname.endsWith(suffix)) return false;
  const label = hostname.slice(0, hostname.length - suffix.length);
  return label !== '' && !label.includes('.');
}

function checkHosts(hosts: string[], zoneHostnames: string[]): void {
  if (hosts.length === 0) {
    throw new CertificateInputError('certificate', 'names no DNS host (subjectAltName DNS entries)');
  }
  const outside = hosts.filter((h) => !zoneHostnames.some((z) => covers(h, z)));
  if (outside.length > 0) {
    throw new CertificateInputError(
      'certificate',
      `covers hosts outside the zone: ${outside.join(', ')} (the zone's hostnames: ${zoneHostnames.join(', ')})`,
    );
  }
}

/** subjectAltName DNS entries, lower case ("DNS:a.example, DNS:*.b.example, IP Address:…"). */
export function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san === undefined) return [];
  const names: string[] = [];
  // Node quotes an entry as a JSON string when it holds a comma or quote (CVE-2021-44532).
  for (const match of san.matchAll(/(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = match[1] as string;
    names.push((raw.startsWith('"') ? (JSON.parse(raw) as string) : raw).toLowerCase());
  }
  return [...new Set(names)];
}

function signatureOf(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return 'ECDSA';
    case 'rsa':
      return 'RSA';
    case 'rsa-pss':
      return 'RSA-PSS';
    case 'ed25519':
      return 'Ed25519';
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

const oneLine = (dn: string): string => dn.split('\n').join(', ');
