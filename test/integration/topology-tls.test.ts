// Issue 13, internal hops over TLS: three nodes of one PoP whose --public-url is https://, each
// reached through a TLS listener with a certificate from the cluster CA (--peer-ca), except one whose
// certificate comes from another CA. A miss on a non-owner reaches the owner over TLS (both caches in
// Cache-Status, the origin asked once); the peer whose certificate does not verify is skipped like
// an unreachable one, and the node says so in its log.
//
// The TLS listener here is a terminator in the test process that forwards the decrypted bytes to the
// node's plain listener (test/helpers/tls-origin.ts): the node's own --listen-tls is another part of
// issue 13. What is under test is the sending side: the hop's TLS, verification and fallback.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';
import {
  api,
  fetchReply,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc, Reply } from '../helpers/processes.ts';
import { startTlsTerminator, type TlsTerminator } from '../helpers/tls-origin.ts';

const HOST = 'hop.tls.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cacheStatus = (reply: Reply): string => String(reply.headers['cache-status']);
/** The caches a response went through, nearest the origin first (RFC 9211). */
const cachesOf = (reply: Reply): string[] =>
  cacheStatus(reply)
    .split(', ')
    .map((e) => e.split(';')[0] as string);

describe('topology over TLS: internal hops to https:// peers', () => {
  let origin: Proc;
  let control: ControlProc;
  let dir: string;
  const nodes = new Map<string, EdgeProc>();
  const listeners = new Map<string, TlsTerminator>();
  const node = (name: string) => nodes.get(name) as EdgeProc;
  const get = (name: string, path: string) =>
    fetchReply(`${node(name).url}${path}`, { headers: { host: HOST } });

  async function seqOf(edge: EdgeProc): Promise<number> {
    const reply = await fetchReply(`${edge.adminUrl}/healthz`);
    return (JSON.parse(reply.body.toString()) as { seq: number }).seq;
  }

  before(async () => {
    const [clusterCa, rogueCa] = await Promise.all([
      createCertificateAuthority('Cluster CA', { key: 'ecdsa-p256' }),
      createCertificateAuthority('Rogue CA', { key: 'ecdsa-p256' }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'meridian-hop-tls-'));
    const peerCa = join(dir, 'cluster-ca.pem');
    await writeFile(peerCa, clusterCa.certPem);
    origin = await startTestOrigin();
    control = await startControlProcess();
    const admin = (method: string, path: string, body?: unknown) =>
      api(control.url, control.adminToken, method, path, body);
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value as string;
    await admin('PUT', '/client/v4/pops/p1', { city: 'p1', latitude: 0, longitude: 0 });
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'hoptls',
      hostnames: [HOST],
      origins: [{ url: origin.url }],
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body.errors));
    for (const name of ['tls-a', 'tls-b', 'tls-c']) {
      // IP SANs: peers verify the certificate against the address in the URL.
      const ca = name === 'tls-c' ? rogueCa : clusterCa;
      listeners.set(
        name,
        await startTlsTerminator(await ca.issue({ hosts: [`${name}.p1.test`, '127.0.0.1'] })),
      );
    }
    await Promise.all(
      [...listeners].map(async ([name, listener]) => {
        const edge = await startEdgeProcess(
          '',
          [
            ...['--control', control.url, '--pop', 'p1', '--node', name, '--token', nodeToken],
            ...['--public-url', listener.url, '--peer-ca', peerCa],
          ],
          { noOrigin: true, admin: true },
        );
        listener.target = edge.port;
        nodes.set(name, edge);
      }),
    );
    for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
      const seqs = await Promise.all([...nodes.values()].map(seqOf));
      if (seqs.every((s) => s === seqs[0])) break;
      assert.ok(Date.now() < deadline, 'nodes did not settle');
    }
  });

  after(async () => {
    for (const edge of nodes.values()) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    for (const listener of listeners.values()) await listener.close();
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    await origin?.stop();
    if (dir !== undefined) await removeDir(dir);
  });

  it('a miss on a non-owner reaches the owner over TLS: both caches, the origin asked once', async () => {
    const before = listeners.get('tls-b')?.handshakes.length ?? 0;
    // Keys are spread by rendezvous hashing: find one that tls-b owns, asking tls-a.
    let reply: Reply | null = null;
    let path = '';
    for (let i = 0; i < 60; i++) {
      path = `/hop/owned/${i}?cc=max-age%3D300`;
      const attempt = await get('tls-a', path);
      assert.equal(attempt.status, 200, cacheStatus(attempt));
      if (cachesOf(attempt).join(' ') === 'tls-b tls-a') {
        reply = attempt;
        break;
      }
    }
    assert.ok(reply !== null, 'no key owned by tls-b in 60 tries');
    assert.match(cacheStatus(reply), /^tls-b; fwd=uri-miss;.*stored, tls-a; fwd=uri-miss/);
    const name = path.split('?')[0] as string;
    assert.equal(await originCount(origin, name), 1);
    // It came over TLS: tls-b's listener completed handshakes (no SNI: an IP-address URL).
    const handshakes = listeners.get('tls-b')?.handshakes ?? [];
    assert.ok(handshakes.length > before, 'no TLS connection to the owner');
    assert.ok(handshakes.every((sni) => sni === null));
    // The owner keeps the PoP's copy.
    const atOwner = await get('tls-b', path);
    assert.match(cacheStatus(atOwner), /^tls-b; hit/);
    assert.equal(await originCount(origin, name), 1);
  });

  it('a peer whose certificate does not verify is skipped like an unreachable one, and logged', async () => {
    const rogue = listeners.get('tls-c') as TlsTerminator;
    const failed = () => node('tls-a').stderr().includes('"peer TLS failed"');
    for (let i = 0; i < 60 && !failed(); i++) {
      const path = `/hop/rogue/${i}?cc=max-age%3D300`;
      const reply = await get('tls-a', path);
      assert.equal(reply.status, 200, cacheStatus(reply));
      assert.ok(!cachesOf(reply).includes('tls-c'), cacheStatus(reply));
      assert.equal(await originCount(origin, path.split('?')[0] as string), 1);
    }
    const line = node('tls-a')
      .stderr()
      .split('\n')
      .find((l) => l.includes('"peer TLS failed"'));
    assert.ok(line !== undefined, 'tls-a never tried tls-c');
    assert.match(line, new RegExp(`"peer":"${rogue.url}"`));
    assert.match(line, /"reason":"(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)"/);
  });
});
