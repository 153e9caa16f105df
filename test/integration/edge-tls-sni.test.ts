// SNI selection through a real TLS server built from the edge's TLS state, with real clients
// (node:tls and openssl s_client): exact, wildcard and default certificates, reject mode's alert,
// and certificate rotation under a stream of new connections without a failed handshake.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { createLogger } from '../../src/common/log.ts';
import { createCertificateAuthority, type IssuedCertificate } from '../../src/common/tls/local-ca.ts';
import { EdgeTls } from '../../src/edge/tls/edge-tls.ts';
import {
  fingerprintOf,
  handshake,
  opensslClient,
  startTlsTestServer,
  type TlsTestServer,
} from '../helpers/tls.ts';

const log = createLogger('test', 'error');
const execFileAsync = promisify(execFile);
const DAY = 86_400_000;

async function edgeTls(
  unknownSni: 'default' | 'reject',
  files: { certFile: string; keyFile: string } | null,
) {
  return new EdgeTls({
    config: {
      nodeName: 'test',
      cacheDir: tmpdir(),
      control: null,
      tls: { listen: null, certFile: files?.certFile ?? null, keyFile: files?.keyFile ?? null, unknownSni },
    },
    log,
  }).start();
}

describe('edge TLS: certificate by SNI', () => {
  let dir = '';
  let exact: IssuedCertificate,
    wildcard: IssuedCertificate,
    fallback: IssuedCertificate,
    expired: IssuedCertificate;
  let tls: EdgeTls;
  let server: TlsTestServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-tls-sni-'));
    const ca = await createCertificateAuthority('SNI CA');
    exact = await ca.issue({ hosts: ['www.example.test'] });
    wildcard = await ca.issue({ hosts: ['*.example.test'], key: 'rsa-2048' });
    fallback = await ca.issue({ hosts: ['default.test'] });
    expired = await ca.issue({
      hosts: ['old.example.test'],
      notBefore: new Date(Date.now() - 100 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    await writeFile(join(dir, 'default.pem'), fallback.chainPem);
    await writeFile(join(dir, 'default.key'), fallback.keyPem);
    tls = await edgeTls('default', { certFile: join(dir, 'default.pem'), keyFile: join(dir, 'default.key') });
    tls.store.putPem({ id: 'exact', usage: 'server' }, exact.chainPem, exact.keyPem);
    tls.store.putPem({ id: 'wild', usage: 'server' }, wildcard.chainPem, wildcard.keyPem);
    tls.store.putPem({ id: 'old', usage: 'server' }, expired.chainPem, expired.keyPem);
    server = await startTlsTestServer(tls);
  });

  after(async () => {
    await server.close();
    tls.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('node:tls gets the exact, wildcard and default certificates', async () => {
    const cases: [string | null, IssuedCertificate][] = [
      ['www.example.test', exact],
      ['WWW.EXAMPLE.TEST', exact],
      ['api.example.test', wildcard],
      ['old.example.test', wildcard], // the exact one expired: the valid wildcard wins
      ['a.b.example.test', fallback], // a wildcard covers one label only
      ['example.test', fallback],
      ['unknown.test', fallback],
      [null, fallback], // no SNI at all
    ];
    for (const [name, want] of cases) {
      const got = await handshake(server.port, name);
      assert.equal(got.error, null, `${name}: ${got.error}`);
      assert.equal(got.fingerprint256, fingerprintOf(want.certPem), `certificate for ${name}`);
    }
    assert.ok(tls.store.counts.exact >= 2 && tls.store.counts.wildcard >= 2 && tls.store.counts.default >= 3);
  });

  it('openssl s_client -servername gets the same', async () => {
    const cases: [string[], string][] = [
      [['-servername', 'www.example.test'], 'CN = www.example.test'],
      [['-servername', 'api.example.test'], 'CN = *.example.test'],
      [['-servername', 'nope.test'], 'CN = default.test'],
      [['-noservername'], 'CN = default.test'],
    ];
    for (const [args, subject] of cases) {
      const out = await opensslClient(server.port, args);
      assert.match(out, new RegExp(`subject=${subject.replace('*', '\\*')}`), `${args.join(' ')}:\n${out}`);
    }
  });

  it('rotation under load loses no request and new connections see the new certificate', async () => {
    const ca = await createCertificateAuthority('Rotation CA');
    const versions = [exact];
    for (let i = 0; i < 5; i++) versions.push(await ca.issue({ hosts: ['www.example.test'] }));
    const known = new Set(versions.map((v) => fingerprintOf(v.certPem)));
    // A connection established before the rotations, used after them.
    const early = connect({
      host: '127.0.0.1',
      port: server.port,
      servername: 'www.example.test',
      rejectUnauthorized: false,
    });
    await once(early, 'secureConnect');
    const earlyFingerprint = early.getPeerCertificate().fingerprint256;

    let failures = 0;
    let handshakes = 0;
    let rotating = true;
    const seen = new Set<string>();
    const client = async (): Promise<void> => {
      while (rotating) {
        const got = await handshake(server.port, 'www.example.test');
        handshakes++;
        if (
          got.error !== null ||
          got.fingerprint256 === null ||
          !known.has(got.fingerprint256) ||
          !got.response.startsWith('HTTP/1.1 200')
        )
          failures++;
        else seen.add(got.fingerprint256);
      }
    };
    const clients = [client(), client(), client()];
    for (const next of versions.slice(1)) {
      const before = handshakes;
      // Wait for a few handshakes with the current certificate, then swap in the next one.
      while (handshakes < before + 5) await new Promise((resolve) => setImmediate(resolve));
      tls.store.putPem({ id: 'exact', usage: 'server' }, next.chainPem, next.keyPem);
    }
    const last = versions.at(-1) as IssuedCertificate;
    const afterSwap = handshakes;
    while (handshakes < afterSwap + 6) await new Promise((resolve) => setImmediate(resolve));
    rotating = false;
    await Promise.all(clients);
    assert.equal(failures, 0, `${failures} of ${handshakes} handshakes failed`);
    assert.ok(seen.has(fingerprintOf(last.certPem)), 'the last certificate was served');
    assert.ok(seen.size >= 3, `several versions served (${seen.size})`);
    const fresh = await handshake(server.port, 'www.example.test');
    assert.equal(fresh.fingerprint256, fingerprintOf(last.certPem));
    // The early connection still works, with the certificate it negotiated.
    early.write('GET / HTTP/1.1\r\nhost: www.example.test\r\nconnection: close\r\n\r\n');
    let answer = '';
    early.on('data', (d: Buffer) => (answer += d.toString()));
    await once(early, 'end');
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.equal(earlyFingerprint, fingerprintOf(exact.certPem));
  });
});

describe('edge TLS: an HTTP/2 secure server (allowHTTP1) on the store', () => {
  it('negotiates h2 and http/1.1 with the SNI certificate (curl verifies it)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-tls-h2-'));
    const ca = await createCertificateAuthority('H2 CA');
    const cert = await ca.issue({ hosts: ['h2.test'] });
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    const tls = await edgeTls('reject', null);
    tls.store.putPem({ id: 'h2', usage: 'server' }, cert.chainPem, cert.keyPem);
    const server = createSecureServer({ allowHTTP1: true, SNICallback: tls.store.sniCallback }, (req, res) =>
      res.end(`HTTP/${req.httpVersion}`),
    );
    tls.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      for (const [flag, want] of [
        ['--http2', 'HTTP/2.0'],
        ['--http1.1', 'HTTP/1.1'],
      ] as const) {
        const { stdout } = await execFileAsync('curl', [
          '-sS',
          flag,
          '--cacert',
          join(dir, 'ca.pem'),
          '--resolve',
          `h2.test:${port}:127.0.0.1`,
          `https://h2.test:${port}/`,
        ]);
        assert.equal(stdout, want);
      }
    } finally {
      server.close();
      tls.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("edge TLS: attaching keeps the listener's own settings", () => {
  it('a server created with maxVersion TLSv1.2 stays so after attach and a default reload', async () => {
    const ca = await createCertificateAuthority('Settings CA');
    const [one, two] = [await ca.issue({ hosts: ['s.test'] }), await ca.issue({ hosts: ['s.test'] })];
    const tls = await edgeTls('default', null);
    tls.store.setDefault(one.chainPem, one.keyPem);
    const server = createTlsServer({ SNICallback: tls.store.sniCallback, maxVersion: 'TLSv1.2' }, (s) =>
      s.end(),
    );
    tls.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const first = await handshake(port, null);
      assert.equal(first.protocol, 'TLSv1.2');
      assert.equal(first.fingerprint256, fingerprintOf(one.certPem));
      tls.store.setDefault(two.chainPem, two.keyPem);
      const second = await handshake(port, null);
      assert.equal(second.protocol, 'TLSv1.2');
      assert.equal(second.fingerprint256, fingerprintOf(two.certPem));
    } finally {
      server.close();
      tls.close();
    }
  });
});

describe('edge TLS: --tls-unknown-sni reject', () => {
  let tls: EdgeTls;
  let server: TlsTestServer;
  let known: IssuedCertificate;

  before(async () => {
    const ca = await createCertificateAuthority('Reject CA');
    known = await ca.issue({ hosts: ['known.test'] });
    tls = await edgeTls('reject', null);
    tls.store.putPem({ id: 'known', usage: 'server' }, known.chainPem, known.keyPem);
    server = await startTlsTestServer(tls);
  });

  after(async () => {
    await server.close();
    tls.close();
  });

  it('ends the handshake with a fatal alert (handshake_failure) for an unknown name or no SNI', async () => {
    for (const name of ['unknown.test', null]) {
      const got = await handshake(server.port, name);
      assert.match(String(got.error), /alert handshake failure|SSL alert number 40/, String(name));
    }
    const out = await opensslClient(server.port, ['-servername', 'unknown.test']);
    assert.match(out, /alert handshake failure/);
    assert.equal(tls.store.counts.rejected, 2);
  });

  it('still serves the names it knows', async () => {
    const got = await handshake(server.port, 'known.test');
    assert.equal(got.fingerprint256, fingerprintOf(known.certPem));
  });
});
