// Standalone certificates (--tls-cert/--tls-key): reloaded when the files change (written in place
// or renamed over, as editors and certbot do) and on SIGHUP of a real `meridian edge` process; a bad
// new pair keeps the old certificate and logs one line.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createCertificateAuthority,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/common/tls/local-ca.ts';
import { EdgeTls } from '../../src/edge/tls/edge-tls.ts';
import { StandaloneSource } from '../../src/edge/tls/standalone-source.ts';
import { CertStore } from '../../src/edge/server/cert-store.ts';
import { fetchReply, removeDir, startEdgeProcess, type EdgeProc } from '../helpers/processes.ts';
import {
  fingerprintOf,
  handshake,
  memoryLogger,
  startTlsTestServer,
  type TlsTestServer,
  until,
} from '../helpers/tls.ts';

const log = memoryLogger();

async function writePair(dir: string, pair: IssuedCertificate, how: 'in-place' | 'rename'): Promise<void> {
  if (how === 'in-place') {
    await writeFile(join(dir, 'tls.pem'), pair.chainPem);
    await writeFile(join(dir, 'tls.key'), pair.keyPem);
    return;
  }
  await writeFile(join(dir, '.tls.pem.tmp'), pair.chainPem);
  await writeFile(join(dir, '.tls.key.tmp'), pair.keyPem);
  await rename(join(dir, '.tls.key.tmp'), join(dir, 'tls.key'));
  await rename(join(dir, '.tls.pem.tmp'), join(dir, 'tls.pem'));
}

describe('edge TLS: standalone certificate files', () => {
  let dir = '';
  let ca: CertificateAuthority;
  let tls: EdgeTls;
  let server: TlsTestServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-tls-files-'));
    ca = await createCertificateAuthority('Files CA');
  });

  after(async () => {
    await server?.close();
    tls?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to start with a key that is not the certificate's", async () => {
    const a = await ca.issue({ hosts: ['a.test'] });
    const b = await ca.issue({ hosts: ['b.test'] });
    await writeFile(join(dir, 'tls.pem'), a.chainPem);
    await writeFile(join(dir, 'tls.key'), b.keyPem);
    const bad = new EdgeTls({
      config: {
        nodeName: 't',
        cacheDir: dir,
        control: null,
        tls: {
          listen: null,
          certFile: join(dir, 'tls.pem'),
          keyFile: join(dir, 'tls.key'),
          unknownSni: 'default',
        },
      },
      log,
    });
    await assert.rejects(bad.start(), /--tls-cert \S+ \/ --tls-key \S+: private_key: does not match/);
    bad.close();
  });

  it('reloads on change (in place and rename-replace) and keeps the old pair when the new one is bad', async () => {
    const v1 = await ca.issue({ hosts: ['site.test'] });
    await writePair(dir, v1, 'in-place');
    tls = await new EdgeTls({
      config: {
        nodeName: 't',
        cacheDir: dir,
        control: null,
        tls: {
          listen: null,
          certFile: join(dir, 'tls.pem'),
          keyFile: join(dir, 'tls.key'),
          unknownSni: 'default',
        },
      },
      log,
    }).start();
    server = await startTlsTestServer(tls);
    assert.equal((await handshake(server.port, null)).fingerprint256, fingerprintOf(v1.certPem));
    const source = tls.standalone;
    assert.ok(source !== null);

    const v2 = await ca.issue({ hosts: ['site.test'] });
    await writePair(dir, v2, 'in-place');
    await until('reload after an in-place write', () => source.reloads === 1);
    for (const name of [null, 'site.test', 'other.test']) {
      assert.equal(
        (await handshake(server.port, name)).fingerprint256,
        fingerprintOf(v2.certPem),
        String(name),
      );
    }

    const v3 = await ca.issue({ hosts: ['site.test'], key: 'rsa-2048' });
    await writePair(dir, v3, 'rename');
    await until('reload after rename-replace', () => source.reloads === 2);
    assert.equal((await handshake(server.port, null)).fingerprint256, fingerprintOf(v3.certPem));

    // A key that is not the certificate's: the old pair stays.
    const v4 = await ca.issue({ hosts: ['site.test'] });
    await writeFile(join(dir, 'tls.pem'), v4.chainPem);
    await until('the failed reload', () => source.failures >= 1);
    assert.equal((await handshake(server.port, null)).fingerprint256, fingerprintOf(v3.certPem));
    const refusals = log.lines.filter((l) => l.msg.startsWith('tls certificate not reloaded'));
    assert.equal(refusals.length, 1, 'one clear line');
    assert.match(refusals[0]?.msg ?? '', /keeping the old one: private_key: does not match/);
    // Its key arrives: the pair is whole again.
    await writeFile(join(dir, 'tls.key'), v4.keyPem);
    await until('reload once the key matches', () => source.reloads === 3);
    assert.equal((await handshake(server.port, 'site.test')).fingerprint256, fingerprintOf(v4.certPem));
  });
});

describe('edge TLS: reload() (what SIGHUP calls)', () => {
  it('reloads changed files, reports unchanged ones, and refuses an unparsable certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-tls-reload-'));
    const ca = await createCertificateAuthority('Reload CA');
    const v1 = await ca.issue({ hosts: ['r.test'] });
    await writePair(dir, v1, 'in-place');
    const store = new CertStore({ unknownSni: 'default' });
    // The watcher waits ten minutes: only reload() can swap the pair in this test.
    const source = new StandaloneSource({
      certFile: join(dir, 'tls.pem'),
      keyFile: join(dir, 'tls.key'),
      store,
      log,
      debounceMs: 600_000,
    });
    await source.start();
    assert.equal(await source.reload('SIGHUP'), 'unchanged');
    const v2 = await ca.issue({ hosts: ['r.test'] });
    await writePair(dir, v2, 'rename');
    assert.equal(await source.reload('SIGHUP'), 'reloaded');
    assert.equal(store.get('default')?.leaf?.fingerprint256, fingerprintOf(v2.certPem));
    await writeFile(
      join(dir, 'tls.pem'),
      '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n',
    );
    assert.equal(await source.reload('SIGHUP'), 'failed');
    assert.equal(store.get('default')?.leaf?.fingerprint256, fingerprintOf(v2.certPem));
    source.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('meridian edge --tls-cert: SIGHUP reloads instead of ending the process', () => {
  let dir = '';
  let edge: EdgeProc;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-tls-hup-'));
  });

  after(async () => {
    await edge?.stop();
    await removeDir(edge?.cacheDir ?? '');
    await rm(dir, { recursive: true, force: true });
  });

  it('logs the reload with the new fingerprint, refuses a bad pair, and keeps running', async () => {
    const ca = await createCertificateAuthority('HUP CA');
    const v1 = await ca.issue({ hosts: ['hup.test'] });
    await writePair(dir, v1, 'in-place');
    edge = await startEdgeProcess(
      'http://127.0.0.1:9/',
      ['--listen-tls', '127.0.0.1:0', '--tls-cert', join(dir, 'tls.pem'), '--tls-key', join(dir, 'tls.key')],
      { admin: true },
    );
    assert.match(
      edge.stderr(),
      new RegExp(`"msg":"tls certificate loaded".*"fingerprint256":"${fingerprintOf(v1.certPem)}"`),
    );
    const tlsPort = edge.tlsPort as number;
    assert.equal((await handshake(tlsPort, 'hup.test')).fingerprint256, fingerprintOf(v1.certPem));

    edge.child.kill('SIGHUP');
    await until('the SIGHUP log line', () => edge.stderr().includes('SIGHUP: reloading the tls certificate'));
    const v2 = await ca.issue({ hosts: ['hup.test'] });
    await writePair(dir, v2, 'rename');
    edge.child.kill('SIGHUP'); // the file watcher may reload first: either logs the new fingerprint
    await until('the reload with the new fingerprint', () =>
      new RegExp(`"msg":"tls certificate reloaded".*"fingerprint256":"${fingerprintOf(v2.certPem)}"`).test(
        edge.stderr(),
      ),
    );
    // The listener serves the new certificate, with no restart: by SNI and without SNI.
    assert.equal((await handshake(tlsPort, 'hup.test')).fingerprint256, fingerprintOf(v2.certPem));
    assert.equal((await handshake(tlsPort, null)).fingerprint256, fingerprintOf(v2.certPem));
    const v3 = await ca.issue({ hosts: ['hup.test'] });
    await writeFile(join(dir, 'tls.pem'), v3.chainPem); // its key never comes
    edge.child.kill('SIGHUP');
    await until('the refusal', () =>
      edge.stderr().includes('tls certificate not reloaded: keeping the old one'),
    );
    assert.equal(edge.child.exitCode, null, 'still running');
    assert.equal((await handshake(tlsPort, 'hup.test')).fingerprint256, fingerprintOf(v2.certPem));
    assert.equal(edge.child.signalCode, null);
    assert.doesNotMatch(edge.stderr(), /PRIVATE KEY/);
    // The certificate's expiry is in /metrics (the one serving: v2).
    const metrics = (await fetchReply(`${edge.adminUrl}/metrics`)).body.toString();
    const expiry = Math.floor(new X509Certificate(v2.certPem).validToDate.getTime() / 1000);
    assert.match(
      metrics,
      new RegExp(
        `meridian_edge_tls_certificate_expiry_seconds\\{id="default",hosts="hup.test",usage="server"\\} ${expiry}`,
      ),
    );
  });
});
