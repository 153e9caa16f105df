import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCertificateAuthority } from '../../../../src/common/tls/local-ca.ts';
import { CertStore } from '../../../../src/edge/server/cert-store.ts';
import { CertificatePairError, loadCertificatePair } from '../../../../src/edge/tls/certificate-pair.ts';

const DAY = 86_400_000;

describe('certificate store', async () => {
  const ca = await createCertificateAuthority('Store CA');
  const a = await ca.issue({ hosts: ['a.test', '*.w.test'] });
  const b = await ca.issue({ hosts: ['b.test'] });

  it('checks a pair: parsable chain, key of the leaf, names and issuer from the certificate', () => {
    const pair = loadCertificatePair(a.chainPem, a.keyPem);
    assert.deepEqual(pair.hosts, ['a.test', '*.w.test']);
    assert.ok(pair.issuer !== null, 'the chain holds the issuer');
    assert.throws(() => loadCertificatePair(a.chainPem, b.keyPem), CertificatePairError);
    assert.throws(() => loadCertificatePair(ca.certPem + a.certPem, a.keyPem), /leaf must come first/);
    assert.throws(() => loadCertificatePair('nothing', a.keyPem), /no PEM certificate/);
    assert.throws(
      () => loadCertificatePair(a.chainPem, 'not a key'),
      (err: Error) => {
        assert.equal(err.message, 'private_key: not a PEM private key');
        return true;
      },
    );
  });

  it('offers server certificates by SNI and keeps origin_client ones for origin pulls', () => {
    const store = new CertStore({ unknownSni: 'reject' });
    store.putPem({ id: 's', usage: 'server', zoneId: 'z' }, a.chainPem, a.keyPem);
    store.putPem({ id: 'c', usage: 'origin_client', zoneId: 'z' }, b.chainPem, b.keyPem);
    assert.equal(store.contextFor('x.w.test')?.match, 'wildcard');
    assert.equal(store.contextFor('b.test'), null, 'origin_client is never served by SNI');
    assert.equal(store.clientCertificateFor('z')?.cert, b.chainPem);
    assert.equal(store.clientCertificateFor('other'), null);
    store.delete('c');
    assert.equal(store.clientCertificateFor('z'), null);
  });

  it('an unknown name gets the default in default mode, nothing in reject mode', () => {
    for (const mode of ['default', 'reject'] as const) {
      const store = new CertStore({ unknownSni: mode });
      store.setDefault(b.chainPem, b.keyPem);
      const found = store.contextFor('unknown.test');
      assert.equal(found?.match ?? null, mode === 'default' ? 'default' : null);
    }
  });

  it('a bad default keeps the old one', () => {
    const store = new CertStore({ unknownSni: 'default' });
    store.setDefault(a.chainPem, a.keyPem);
    const before = store.defaultContext();
    assert.throws(() => store.setDefault(a.chainPem, b.keyPem), CertificatePairError);
    assert.equal(store.defaultContext(), before);
  });

  it('the client certificate of a zone is a valid one, the latest expiring', async () => {
    let now = Date.now();
    const store = new CertStore({ unknownSni: 'reject', now: () => now });
    const soon = await ca.issue({ hosts: ['z.test'], usages: ['client'], notAfter: new Date(now + 2 * DAY) });
    const later = await ca.issue({
      hosts: ['z.test'],
      usages: ['client'],
      notAfter: new Date(now + 60 * DAY),
    });
    store.putPem({ id: 'soon', usage: 'origin_client', zoneId: 'z' }, soon.chainPem, soon.keyPem);
    store.putPem({ id: 'later', usage: 'origin_client', zoneId: 'z' }, later.chainPem, later.keyPem);
    assert.equal(store.clientCertificateFor('z')?.cert, later.chainPem);
    now += 90 * DAY;
    assert.equal(store.clientCertificateFor('z'), null, 'all expired');
  });

  it('tells subscribers what changed', () => {
    const store = new CertStore({ unknownSni: 'reject' });
    const seen: string[] = [];
    store.subscribe((change) => seen.push(`${change.kind} ${change.cert.id}`));
    store.putPem({ id: 's', usage: 'server' }, a.chainPem, a.keyPem);
    store.putPem({ id: 's', usage: 'server' }, b.chainPem, b.keyPem);
    store.delete('s');
    assert.deepEqual(seen, ['put s', 'delete s', 'put s', 'delete s']);
  });
});
