// OCSP stapling against a real responder (openssl ocsp, started here on a free port): the staple is
// present (openssl s_client -status, node:tls requestOCSP) once fetched; a dead or hanging responder
// gives no staple and a working handshake, never a delayed or failed one.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/common/log.ts';
import {
  createCertificateAuthority,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/common/tls/local-ca.ts';
import { EdgeTls } from '../../src/edge/tls/edge-tls.ts';
import {
  fingerprintOf,
  handshake,
  opensslClient,
  startTlsTestServer,
  type TlsTestServer,
} from '../helpers/tls.ts';

const log = createLogger('test', 'error');

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

/** openssl's index.txt line for a valid certificate (serial: upper-case hex, even length). */
function indexLine(certPem: string, revoked = false): string {
  const x = new X509Certificate(certPem);
  const time = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  const serial = x.serialNumber.toUpperCase();
  const revocation = revoked ? time(new Date(Date.now() - 60_000)) : '';
  return `${revoked ? 'R' : 'V'}\t${time(x.validToDate)}\t${revocation}\t${serial.length % 2 === 0 ? serial : `0${serial}`}\tunknown\t/CN=${serial}\n`;
}

async function startResponder(
  dir: string,
  ca: CertificateAuthority,
  port: number,
  certs: string[],
  revoked: string[] = [],
): Promise<ChildProcess> {
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'ca.key'), ca.keyPem);
  await writeFile(
    join(dir, 'index.txt'),
    [...certs.map((c) => indexLine(c)), ...revoked.map((c) => indexLine(c, true))].join(''),
  );
  const child = spawn(
    'openssl',
    [
      'ocsp',
      '-index',
      join(dir, 'index.txt'),
      '-port',
      String(port),
      '-rsigner',
      join(dir, 'ca.pem'),
      '-rkey',
      join(dir, 'ca.key'),
      '-CA',
      join(dir, 'ca.pem'),
      '-nmin',
      '10',
      '-ignore_err',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => /ACCEPT/.test(String(d)) && resolve());
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += String(d)));
    child.once('exit', (code) => reject(new Error(`openssl ocsp exited with ${code}: ${err}`)));
  });
  return child;
}

describe('edge TLS: OCSP stapling', () => {
  let dir = '';
  let ca: CertificateAuthority;
  let responder: ChildProcess;
  let responderPort = 0;
  let revokedLeaf: IssuedCertificate;
  let refreshLeaf: IssuedCertificate;
  let tls: EdgeTls;
  let server: TlsTestServer;
  const hanging = new Set<Socket>();
  const hangServer = createServer((socket) => hanging.add(socket));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-ocsp-'));
    ca = await createCertificateAuthority('OCSP CA');
    responderPort = await freePort();
    tls = new EdgeTls({
      config: {
        nodeName: 't',
        cacheDir: dir,
        control: null,
        tls: { listen: null, certFile: null, keyFile: null, unknownSni: 'reject' },
      },
      log,
      ocsp: { timeoutMs: 4_000 },
    });
    server = await startTlsTestServer(tls);
    hangServer.listen(0, '127.0.0.1');
    await once(hangServer, 'listening');
  });

  after(async () => {
    responder?.kill();
    for (const s of hanging) s.destroy();
    hangServer.close();
    await server.close();
    tls.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('staples a good response from the responder the certificate names', async () => {
    const leaf = await ca.issue({ hosts: ['ocsp.test'], ocspUrl: `http://127.0.0.1:${responderPort}/` });
    revokedLeaf = await ca.issue({ hosts: ['revoked.test'], ocspUrl: `http://127.0.0.1:${responderPort}/` });
    refreshLeaf = await ca.issue({ hosts: ['refresh.test'], ocspUrl: `http://127.0.0.1:${responderPort}/` });
    // openssl ocsp reads its index once: every certificate the tests ask about is in it from the start.
    responder = await startResponder(
      dir,
      ca,
      responderPort,
      [leaf.certPem, refreshLeaf.certPem],
      [revokedLeaf.certPem],
    );
    tls.store.putPem({ id: 'ocsp', usage: 'server' }, leaf.chainPem, leaf.keyPem);
    await tls.ocsp.settled(new X509Certificate(leaf.certPem));
    assert.equal(tls.ocsp.counts.fetchGood, 1);
    const out = await opensslClient(server.port, ['-servername', 'ocsp.test', '-status']);
    assert.match(out, /OCSP Response Status: successful/, out);
    assert.match(out, /Cert Status: good/);
    // node:tls sees the same staple.
    const socket = connect({
      host: '127.0.0.1',
      port: server.port,
      servername: 'ocsp.test',
      requestOCSP: true,
      rejectUnauthorized: false,
    });
    const [staple] = (await once(socket, 'OCSPResponse')) as [Buffer];
    await once(socket, 'secureConnect').catch(() => {});
    socket.destroy();
    assert.ok(staple.length > 100);
    assert.ok(tls.ocsp.counts.stapled >= 2);
  });

  it('refreshes the response once half its validity has passed', async () => {
    // The responder's answers are valid 10 min (-nmin 10); this stapler's clock runs 301 s ahead,
    // so every good answer is already past half-time and is fetched again (at the least interval).
    const ahead = new EdgeTls({
      config: {
        nodeName: 't',
        cacheDir: dir,
        control: null,
        tls: { listen: null, certFile: null, keyFile: null, unknownSni: 'reject' },
      },
      log,
      ocsp: { now: () => Date.now() + 301_000, minRefreshMs: 50 },
    });
    try {
      const leaf = refreshLeaf;
      const x = new X509Certificate(leaf.certPem);
      ahead.store.putPem({ id: 'refresh', usage: 'server' }, leaf.chainPem, leaf.keyPem);
      const deadline = Date.now() + 20_000;
      while ((ahead.ocsp.statsOf(x)?.good ?? 0) < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok((ahead.ocsp.statsOf(x)?.good ?? 0) >= 3, JSON.stringify(ahead.ocsp.statsOf(x)));
      assert.ok(ahead.ocsp.stapleFor(x.raw) !== null);
    } finally {
      ahead.close();
    }
  });

  it('a revoked certificate gets no staple (only "good" answers are stapled)', async () => {
    const x = new X509Certificate(revokedLeaf.certPem);
    tls.store.putPem({ id: 'revoked', usage: 'server' }, revokedLeaf.chainPem, revokedLeaf.keyPem);
    await tls.ocsp.settled(x);
    assert.deepEqual(tls.ocsp.statsOf(x), { good: 0, failed: 1 });
    const out = await opensslClient(server.port, ['-servername', 'revoked.test', '-status']);
    assert.match(out, /OCSP response: no response sent/, out);
  });

  it('a dead responder: no staple, and the handshake works', async () => {
    const deadPort = await freePort();
    const leaf = await ca.issue({ hosts: ['dead.test'], ocspUrl: `http://127.0.0.1:${deadPort}/` });
    const x = new X509Certificate(leaf.certPem);
    tls.store.putPem({ id: 'dead', usage: 'server' }, leaf.chainPem, leaf.keyPem);
    await tls.ocsp.settled(x);
    assert.deepEqual(tls.ocsp.statsOf(x), { good: 0, failed: 1 });
    const out = await opensslClient(server.port, ['-servername', 'dead.test', '-status']);
    assert.match(out, /OCSP response: no response sent/, out);
    assert.match(out, /subject=CN = dead.test/);
    const got = await handshake(server.port, 'dead.test');
    assert.equal(got.fingerprint256, fingerprintOf(leaf.certPem));
  });

  it('a hanging responder does not delay the handshake', async () => {
    const { port } = hangServer.address() as AddressInfo;
    const leaf = await ca.issue({ hosts: ['slow.test'], ocspUrl: `http://127.0.0.1:${port}/` });
    const x = new X509Certificate(leaf.certPem);
    tls.store.putPem({ id: 'slow', usage: 'server' }, leaf.chainPem, leaf.keyPem);
    // The fetch is under way (the responder accepted and says nothing); handshakes go on without it.
    const out = await opensslClient(server.port, ['-servername', 'slow.test', '-status']);
    assert.match(out, /OCSP response: no response sent/, out);
    assert.deepEqual(tls.ocsp.statsOf(x), { good: 0, failed: 0 }, 'the fetch had not yet given up');
    await tls.ocsp.settled(x);
    assert.deepEqual(tls.ocsp.statsOf(x), { good: 0, failed: 1 });
  });
});
