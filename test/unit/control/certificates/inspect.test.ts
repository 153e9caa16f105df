// Upload checks that need no control plane: wildcard coverage (RFC 6125 §6.4.3), SAN parsing, the
// normalised key and metadata of a good upload.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCertificateAuthority } from '../../../../src/common/tls/local-ca.ts';
import { covers, dnsNames, inspectUpload } from '../../../../src/control/certificates/inspect.ts';

describe('covers', () => {
  const cases: [string, string, boolean][] = [
    ['shop.example', 'shop.example', true],
    ['*.shop.example', 'www.shop.example', true],
    ['*.shop.example', 'shop.example', false],
    ['*.shop.example', 'a.b.shop.example', false],
    ['*.shop.example', 'wwwshop.example', false],
    ['shop.example', 'www.shop.example', false],
  ];
  for (const [pattern, host, expected] of cases) {
    it(`${pattern} ${expected ? 'covers' : 'does not cover'} ${host}`, () => {
      assert.equal(covers(pattern, host), expected);
    });
  }
});

describe('inspectUpload', () => {
  it('reads hosts and metadata, keeps IP SANs out, stores the key as PKCS#8', async () => {
    const ca = await createCertificateAuthority('Unit CA', { key: 'rsa-2048' });
    const leaf = await ca.issue({ hosts: ['Shop.Example', '*.shop.example', '127.0.0.1'], key: 'rsa-2048' });
    assert.deepEqual(dnsNames(new X509Certificate(leaf.certPem)), ['shop.example', '*.shop.example']);
    const input = inspectUpload(`\n${leaf.chainPem}\n`, leaf.keyPem, {
      usage: 'server',
      zoneHostnames: ['shop.example', 'www.shop.example'],
      now: new Date(),
    });
    assert.equal(input.signature, 'RSA');
    assert.equal(input.issuer, 'CN=Unit CA');
    assert.match(input.private_key ?? '', /^-----BEGIN PRIVATE KEY-----/);
    assert.equal((input.certificate ?? '').match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.ok(Date.parse(input.expires_on) > Date.now());
  });
});
