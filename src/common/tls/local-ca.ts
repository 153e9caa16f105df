// A small certificate authority: makes a CA and issues server and client certificates from it.
// `meridian up` uses it for its local CA (the demo zone's certificate then takes the same upload
// path a customer's does), and the tests use it for every certificate they need. Built on
// @peculiar/x509 (X.509 encoding over WebCrypto); Node's crypto parses certificates but cannot make them.
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type WebCrypto = Parameters<typeof x509.cryptoProvider.set>[0];
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

x509.cryptoProvider.set(webcrypto as unknown as WebCrypto);

export type KeyKind = 'ecdsa-p256' | 'rsa-2048';

export interface IssuedCertificate {
  /** The leaf alone (PEM). */
  certPem: string;
  /** The leaf then the issuing CA (PEM): what a server presents. */
  chainPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface CertificateAuthority extends IssuedCertificate {
  readonly name: string;
  /** Issues a certificate signed by this CA. */
  issue(options: IssueOptions): Promise<IssuedCertificate>;
}

export interface IssueOptions {
  /** DNS names (and IP addresses, as IPv4/IPv6 literals) for subjectAltName; the first is the CN. */
  hosts: string[];
  key?: KeyKind;
  notBefore?: Date;
  notAfter?: Date;
  /** serverAuth (default), clientAuth, or both. */
  usages?: ('server' | 'client')[];
  /** Authority Information Access: the OCSP responder URL to name in the certificate. */
  ocspUrl?: string;
}

const DAY_MS = 86_400_000;

function algorithmOf(kind: KeyKind): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return kind === 'rsa-2048'
    ? {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      }
    : { name: 'ECDSA', namedCurve: 'P-256' };
}

function signingOf(kind: KeyKind): Algorithm | EcdsaParams {
  return kind === 'rsa-2048' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' };
}

async function generateKeys(kind: KeyKind): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithmOf(kind), true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

function serial(): string {
  // Positive (top bit clear), 16 bytes: RFC 5280 §4.1.2.2.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

const IP = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:]+)$/i;

/** Makes a new CA (ECDSA P-256 unless said otherwise), valid for `days` (default 3650). */
export async function createCertificateAuthority(
  name: string,
  options: { key?: KeyKind; days?: number } = {},
): Promise<CertificateAuthority> {
  const kind = options.key ?? 'ecdsa-p256';
  const keys = await generateKeys(kind);
  const notBefore = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.days ?? 3650) * DAY_MS),
    keys,
    signingAlgorithm: signingOf(kind),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  const keyPem = await pkcs8Pem(keys.privateKey);
  return {
    name,
    certPem,
    chainPem: certPem,
    keyPem,
    issue: (issueOptions) => issueFrom(cert, keys, kind, issueOptions),
  };
}

async function issueFrom(
  ca: x509.X509Certificate,
  caKeys: CryptoKeyPair,
  caKind: KeyKind,
  options: IssueOptions,
): Promise<IssuedCertificate> {
  const kind = options.key ?? 'ecdsa-p256';
  const keys = await generateKeys(kind);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 90 * DAY_MS);
  const usages = options.usages ?? ['server'];
  const first = options.hosts[0];
  if (first === undefined) throw new Error('a certificate needs at least one host');
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | (kind === 'rsa-2048' ? x509.KeyUsageFlags.keyEncipherment : 0),
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      usages.map((u) =>
        u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ),
    ),
    new x509.SubjectAlternativeNameExtension(
      options.hosts.map((h) => (IP.test(h) ? { type: 'ip', value: h } : { type: 'dns', value: h })),
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca),
  ];
  if (options.ocspUrl !== undefined) {
    extensions.push(
      new x509.AuthorityInfoAccessExtension({ ocsp: [new x509.GeneralName('url', options.ocspUrl)] }),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${first}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: signingOf(caKind),
    extensions,
  });
  const certPem = cert.toString('pem') + '\n';
  return { certPem, chainPem: certPem + ca.toString('pem') + '\n', keyPem: await pkcs8Pem(keys.privateKey) };
}
