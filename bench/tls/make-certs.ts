// Writes the benchmark's certificates into DIR: one CA (ca.pem, ca.key), and a leaf for
// bench.meridian.test and 127.0.0.1 with an ECDSA P-256 key and one with an RSA 2048 key (each chain
// + key as PEM files). With OCSP_URL, the leaves name that OCSP responder and index.txt lists them in
// `openssl ocsp -index` form (both good), for a responder run from DIR.
//   node bench/tls/make-certs.ts DIR [OCSP_URL]
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';

const [dir, ocspUrl] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: node bench/tls/make-certs.ts DIR [OCSP_URL]');
const ca = await createCertificateAuthority('Meridian bench CA');
writeFileSync(join(dir, 'ca.pem'), ca.certPem);
writeFileSync(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
let index = '';
for (const key of ['ecdsa-p256', 'rsa-2048'] as const) {
  const leaf = await ca.issue({
    hosts: ['bench.meridian.test', '127.0.0.1'],
    key,
    ...(ocspUrl === undefined ? {} : { ocspUrl }),
  });
  const name = key === 'rsa-2048' ? 'rsa' : 'ecdsa';
  writeFileSync(join(dir, `${name}.pem`), leaf.chainPem);
  writeFileSync(join(dir, `${name}.key`), leaf.keyPem, { mode: 0o600 });
  index += indexLine(leaf.certPem);
}
writeFileSync(join(dir, 'index.txt'), index);

/** One `V` (valid) line of an openssl ca index: expiry, serial, subject. */
function indexLine(certPem: string): string {
  const x = new X509Certificate(certPem);
  const time = x.validToDate.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  const serial = x.serialNumber.toUpperCase();
  return `V\t${time}\t\t${serial.length % 2 === 0 ? serial : `0${serial}`}\tunknown\t/CN=${serial}\n`;
}
