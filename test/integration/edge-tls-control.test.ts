// Issue 13 end to end through real processes: a `meridian control` process and two managed
// `meridian edge` nodes of one PoP, each with --listen-tls and a default certificate of its own.
// Certificates go in through the API only; real clients (node:tls, node:https, node:http2, curl)
// prove what each node serves by SNI: exact beats wildcard, the wildcard covers the other name,
// unknown names get the node's default; a PATCH rotates the exact certificate on both nodes while
// fresh connections and one long-lived HTTP/2 session keep requesting (no failure, no reset); a
// DELETE falls back to the wildcard; a zone served by another PoP never reaches these nodes.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { eventually } from '../helpers/dns.ts';
import { curl, h2Request, h2Session } from '../helpers/https-clients.ts';
import {
  api,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
  type ControlProc,
  type EdgeProc,
  type Proc,
} from '../helpers/processes.ts';
import { fingerprintOf, handshake } from '../helpers/tls.ts';

/** One HTTPS/1.1 request on a fresh TLS connection; the status and the certificate it was served with. */
function freshGet(
  port: number,
  host: string,
  ca: string,
  path: string,
): Promise<{ status: number; fp: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, servername: host, path, headers: { host }, ca, agent: false },
      (res) => {
        const fp = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, fp }));
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('edge TLS following a real control plane', () => {
  let control: ControlProc;
  let origin: Proc;
  let dir: string;
  let ca: CertificateAuthority;
  let caFile: string;
  const edges: EdgeProc[] = [];
  const defaults: string[] = [];
  let zoneId: string;
  let exactId: string;
  let exactFp: string;
  let wildFp: string;
  let nodeToken: string;
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const tlsPort = (e: EdgeProc) => e.tlsPort as number;

  async function upload(zone: string, hosts: string[]): Promise<{ id: string; fp: string }> {
    const leaf = await ca.issue({ hosts });
    const reply = await admin('POST', `/client/v4/zones/${zone}/custom_certificates`, {
      certificate: leaf.chainPem,
      private_key: leaf.keyPem,
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return { id: reply.body.result.id as string, fp: fingerprintOf(leaf.certPem) };
  }

  /** Waits until every node serves `fp` for `name`. */
  async function servedEverywhere(name: string, fp: string, what: string): Promise<void> {
    for (const edge of edges)
      await eventually(
        async () => (await handshake(tlsPort(edge), name)).fingerprint256 === fp,
        20_000,
        `${what} (${name} on :${tlsPort(edge)})`,
      );
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-e2e-tls-'));
    ca = await createCertificateAuthority('E2E CA', { key: 'ecdsa-p256' });
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.certPem);
    origin = await startTestOrigin();
    control = await startControlProcess();
    await admin('PUT', '/client/v4/pops/here', { city: 'Here', latitude: 1, longitude: 2 });
    await admin('PUT', '/client/v4/pops/elsewhere', { city: 'There', latitude: 3, longitude: 4 });
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value as string;
    for (const node of ['e2e-a', 'e2e-b']) {
      const leaf = await ca.issue({ hosts: [`default.${node}.test`] });
      const certFile = join(dir, `${node}.pem`);
      const keyFile = join(dir, `${node}.key`);
      await writeFile(certFile, leaf.chainPem);
      await writeFile(keyFile, leaf.keyPem, { mode: 0o600 });
      defaults.push(fingerprintOf(leaf.certPem));
      edges.push(
        await startEdgeProcess(
          '',
          [
            ...['--control', control.url, '--pop', 'here', '--node', node, '--token', nodeToken],
            ...['--listen-tls', '127.0.0.1:0', '--tls-cert', certFile, '--tls-key', keyFile],
          ],
          { noOrigin: true },
        ),
      );
    }
    for (const edge of edges) assert.ok(edge.tlsPort !== null && edge.tlsPort > 0, 'the node listens TLS');
  });

  after(async () => {
    for (const edge of edges) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control?.stop();
    await origin?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    if (dir !== undefined) await removeDir(dir);
  });

  it('exact beats wildcard, the wildcard covers the other name, unknown names get each node’s default', async () => {
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'shop',
      hostnames: ['shop.test', 'www.shop.test', 'api.shop.test'],
      origins: [{ url: origin.url }],
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body));
    zoneId = zone.body.result.id as string;
    const wild = await upload(zoneId, ['*.shop.test']);
    const exact = await upload(zoneId, ['www.shop.test']);
    exactId = exact.id;
    exactFp = exact.fp;
    wildFp = wild.fp;
    await servedEverywhere('www.shop.test', exactFp, 'the exact certificate');
    await servedEverywhere('api.shop.test', wildFp, 'the wildcard');
    for (const [i, edge] of edges.entries()) {
      // RFC 6125 §6.4.3: a wildcard stands for one label, never the apex: shop.test has no certificate.
      assert.equal((await handshake(tlsPort(edge), 'shop.test')).fingerprint256, defaults[i]);
      assert.equal((await handshake(tlsPort(edge), 'unknown.example')).fingerprint256, defaults[i]);
      assert.equal((await handshake(tlsPort(edge), null)).fingerprint256, defaults[i], 'no SNI: the default');
    }
    // curl over HTTP/2, verified against the CA, through the cache: a miss then a hit per node.
    const path = '/e2e/cached?cc=max-age=300';
    for (const edge of edges) {
      const statuses: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await curl(tlsPort(edge), 'www.shop.test', caFile, path, [
          '--http2',
          '-D',
          '-',
          '-o',
          '/dev/null',
        ]);
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /^HTTP\/2 200/);
        statuses.push(/cache-status: ([^\r\n]*)/i.exec(res.stdout)?.[1] ?? '');
      }
      assert.match(statuses[1] as string, /hit/i, `second request is a cache hit: ${statuses.join(' | ')}`);
    }
    assert.equal(await originCount(origin, '/e2e/cached'), 2, 'one origin fetch per node');
  });

  it('PATCH rotates the exact certificate on both nodes with no failed request and no reset session', async (t) => {
    const sessions = edges.map((e) => h2Session(tlsPort(e), 'www.shop.test', ca.certPem));
    const h2Counts = edges.map(() => 0);
    const resets: string[] = [];
    for (const [i, s] of sessions.entries()) {
      s.on('goaway', () => resets.push(`node ${i}: goaway`));
      s.on('close', () => resets.push(`node ${i}: closed`));
      s.on('error', (err: Error) => resets.push(`node ${i}: ${err.message}`));
    }
    const failures: string[] = [];
    const seen = edges.map(() => new Set<string>());
    let freshCount = 0;
    let stop = false;
    const deadline = Date.now() + 90_000;
    const loops = edges.flatMap((edge, i) => [
      (async () => {
        while (!stop && Date.now() < deadline && freshCount < 5_000) {
          try {
            const r = await freshGet(
              tlsPort(edge),
              'www.shop.test',
              ca.certPem,
              '/e2e/cached?cc=max-age=300',
            );
            freshCount++;
            seen[i]?.add(r.fp);
            if (r.status !== 200) failures.push(`fresh ${i}: ${r.status}`);
          } catch (err) {
            failures.push(`fresh ${i}: ${(err as Error).message}`);
          }
        }
      })(),
      (async () => {
        while (!stop && Date.now() < deadline && (h2Counts[i] as number) < 5_000) {
          try {
            const r = await h2Request(sessions[i]!, '/e2e/cached?cc=max-age=300', {
              ':authority': 'www.shop.test',
            });
            h2Counts[i]!++;
            if (r.status !== 200) failures.push(`h2 ${i}: ${r.status}`);
          } catch (err) {
            failures.push(`h2 ${i}: ${(err as Error).message}`);
            return;
          }
        }
      })(),
    ]);
    try {
      // Let both loops run on the old certificate first.
      await eventually(async () => freshCount >= 4 && h2Counts.every((c) => c >= 4), 30_000, 'warm-up');
      const next = await ca.issue({ hosts: ['www.shop.test'] });
      const patched = await admin('PATCH', `/client/v4/zones/${zoneId}/custom_certificates/${exactId}`, {
        certificate: next.chainPem,
        private_key: next.keyPem,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const nextFp = fingerprintOf(next.certPem);
      const started = Date.now();
      await eventually(async () => seen.every((s) => s.has(nextFp)), 30_000, 'the new certificate served');
      const took = Date.now() - started;
      assert.ok(took < 30_000, `rotation took ${took} ms`);
      const h2Before = [...h2Counts];
      await eventually(
        async () => h2Counts.every((c, i) => c > (h2Before[i] as number) + 3),
        20_000,
        'h2 after',
      );
      exactFp = nextFp;
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    t.diagnostic(`fresh TLS requests: ${freshCount}; on the long-lived sessions: ${h2Counts.join(', ')}`);
    assert.deepEqual(failures, [], 'no failed request');
    assert.deepEqual(resets, [], 'the long-lived sessions were never reset');
    for (const [i, s] of sessions.entries()) {
      assert.equal(s.destroyed, false, `node ${i}: same session`);
      assert.ok((h2Counts[i] as number) >= 8, `node ${i}: ${h2Counts[i]} requests on one session`);
      s.close();
    }
    for (const s of seen) assert.ok(s.size === 2, 'old then new certificate on fresh connections');
    await servedEverywhere('www.shop.test', exactFp, 'the rotated certificate');
  });

  it('DELETE of the exact certificate falls back to the wildcard', async () => {
    const deleted = await admin('DELETE', `/client/v4/zones/${zoneId}/custom_certificates/${exactId}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    await servedEverywhere('www.shop.test', wildFp, 'the wildcard after the delete');
    for (const edge of edges) {
      const res = await curl(tlsPort(edge), 'www.shop.test', caFile, '/e2e/cached?cc=max-age=300', [
        '--http2',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
      ]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, '200');
    }
  });

  it('a zone served by another PoP never reaches these nodes; the internal endpoint refuses them', async () => {
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'far',
      hostnames: ['far.test'],
      origins: [{ url: origin.url }],
      settings: { dns_pops: ['elsewhere'] },
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body));
    const far = await upload(zone.body.result.id as string, ['far.test']);
    // A marker: a certificate uploaded after it that these nodes do serve proves they saw both events.
    const near = await admin('POST', '/client/v4/zones', {
      name: 'near',
      hostnames: ['near.test'],
      origins: [{ url: origin.url }],
    });
    assert.equal(near.status, 201, JSON.stringify(near.body));
    const marker = await upload(near.body.result.id as string, ['near.test']);
    await servedEverywhere('near.test', marker.fp, 'the marker');
    for (const [i, edge] of edges.entries()) {
      const r = await handshake(tlsPort(edge), 'far.test');
      assert.equal(r.fingerprint256, defaults[i], 'far.test gets the default');
      assert.notEqual(r.fingerprint256, far.fp);
    }
    for (const node of ['e2e-a', 'e2e-b']) {
      const refused = await api(
        control.url,
        nodeToken,
        'GET',
        `/internal/v1/certificates/${far.id}?node=${node}`,
      );
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      const allowed = await api(
        control.url,
        nodeToken,
        'GET',
        `/internal/v1/certificates/${marker.id}?node=${node}`,
      );
      assert.equal(allowed.status, 200);
    }
  });

  it('moving a zone to another PoP takes its certificate off these nodes; moving it back brings it back', async () => {
    const away = await admin('PATCH', `/client/v4/zones/${zoneId}`, {
      settings: { dns_pops: ['elsewhere'] },
    });
    assert.equal(away.status, 200, JSON.stringify(away.body));
    for (const [i, edge] of edges.entries())
      await eventually(
        async () => (await handshake(tlsPort(edge), 'api.shop.test')).fingerprint256 === defaults[i],
        20_000,
        `node ${i} drops the wildcard`,
      );
    const back = await admin('PATCH', `/client/v4/zones/${zoneId}`, { settings: { dns_pops: null } });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    await servedEverywhere('api.shop.test', wildFp, 'the wildcard again');
  });

  it('after a control-plane restart (same database and key file) the nodes follow new uploads and keys still open', async () => {
    await control.stop();
    control = await startControlProcess({ reuse: control });
    const fresh = await upload(zoneId, ['www.shop.test']);
    await servedEverywhere('www.shop.test', fresh.fp, 'an upload after the restart');
    // A key sealed before the restart still opens: the internal endpoint answers its material.
    const list = await admin('GET', `/client/v4/zones/${zoneId}/custom_certificates`);
    for (const cert of list.body.result as { id: string }[]) {
      const material = await api(
        control.url,
        nodeToken,
        'GET',
        `/internal/v1/certificates/${cert.id}?node=e2e-a`,
      );
      assert.equal(material.status, 200, JSON.stringify(material.body));
      assert.match(material.body.result.private_key as string, /PRIVATE KEY/);
    }
    assert.doesNotMatch(JSON.stringify(list.body), /PRIVATE KEY/, 'never in the API');
  });
});
