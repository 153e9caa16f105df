// Writes the benchmark's certificates into DIR: one CA, and a leaf for bench.meridian.test and
// 127.0.0.1 with an ECDSA P-256 key and one with an RSA 2048 key (each chain + key as PEM files).
//   node bench/tls/make-certs.ts DIR
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: node bench/tls/make-certs.ts DIR');
const ca = await createCertificateAuthority('Meridian bench CA');
writeFileSync(join(dir, 'ca.pem'), ca.certPem);
for (const key of ['ecdsa-p256', 'rsa-2048'] as const) {
  const leaf = await ca.issue({ hosts: ['bench.meridian.test', '127.0.0.1'], key });
  const name = key === 'rsa-2048' ? 'rsa' : 'ecdsa';
  writeFileSync(join(dir, `${name}.pem`), leaf.chainPem);
  writeFileSync(join(dir, `${name}.key`), leaf.keyPem, { mode: 0o600 });
}
