// Issue 13, internal hops over TLS with the nodes' own listeners: an edge PoP of three nodes and a
// shield PoP of one, each serving TLS on --listen-tls with a certificate of its address from the
// cluster CA, registered at --public-url https://127.0.0.1:<its TLS port> and verifying peers with
// --peer-ca. One edge node's certificate comes from another CA. Proves: a miss on a non-owner reaches
// the owner over TLS (both caches in Cache-Status, the origin asked once, the owner's TLS listener
// counted the handshake) and the signed hop header still verifies there; an edge PoP reaches its
// shield over TLS; the peer whose certificate does not verify is skipped like an unreachable one,
// and the node says so in its log.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { freeFixedPorts } from '../helpers/ports.ts';
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

const HOST = 'hop.tls.test';
const SHIELDED = 'shielded.hop.tls.test';
const LAYOUT: { name: string; pop: string; role: 'edge' | 'shield' }[] = [
  { name: 'tls-a', pop: 'p1', role: 'edge' },
  { name: 'tls-b', pop: 'p1', role: 'edge' },
  { name: 'tls-c', pop: 'p1', role: 'edge' },
  { name: 'sh-a', pop: 'sh', role: 'shield' },
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cacheStatus = (reply: Reply): string => String(reply.headers['cache-status']);
/** The caches a response went through, nearest the origin first (RFC 9211). */
const cachesOf = (reply: Reply): string[] =>
  cacheStatus(reply)
    .split(', ')
    .map((e) => e.split(';')[0] as string);

describe('topology over TLS: internal hops to the nodes’ own TLS listeners', () => {
  let origin: Proc;
  let control: ControlProc;
  let dir: string;
  let clusterCaPem: string;
  const nodes = new Map<string, EdgeProc>();
  const tlsPorts = new Map<string, number>();
  const node = (name: string) => nodes.get(name) as EdgeProc;
  const get = (name: string, path: string, host = HOST) =>
    fetchReply(`${node(name).url}${path}`, { headers: { host } });

  /**
   * A request to a node's TLS listener, verified against the cluster CA and its IP address SAN
   * (undici would check the Host header's name; the node answers it with its default certificate).
   */
  async function getTls(name: string, path: string): Promise<Reply> {
    const dispatcher = new Agent({
      connect: { ca: clusterCaPem, checkServerIdentity: (_, cert) => checkServerIdentity('127.0.0.1', cert) },
    });
    try {
      const res = await request(`https://127.0.0.1:${tlsPorts.get(name)}${path}`, {
        headers: { host: HOST },
        dispatcher,
      });
      return {
        status: res.statusCode,
        headers: res.headers,
        body: Buffer.from(await res.body.arrayBuffer()),
      };
    } finally {
      await dispatcher.close();
    }
  }

  /** Full TLS handshakes a node's listener completed (its /metrics). */
  async function handshakesOf(name: string): Promise<number> {
    const text = (await fetchReply(`${node(name).adminUrl}/metrics`)).body.toString();
    const match = /^meridian_edge_tls_handshakes_total\{result="full"\} (\d+)$/m.exec(text);
    return match === null ? 0 : Number(match[1]);
  }

  async function seqOf(edge: EdgeProc): Promise<number> {
    const reply = await fetchReply(`${edge.adminUrl}/healthz`);
    return (JSON.parse(reply.body.toString()) as { seq: number }).seq;
  }

  before(async () => {
    const [clusterCa, rogueCa] = await Promise.all([
      createCertificateAuthority('Cluster CA', { key: 'ecdsa-p256' }),
      createCertificateAuthority('Rogue CA', { key: 'ecdsa-p256' }),
    ]);
    clusterCaPem = clusterCa.certPem;
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
    await admin('PUT', '/client/v4/pops/sh', { city: 'sh', latitude: 0, longitude: 0, role: 'shield' });
    for (const [name, hostnames, shield] of [
      ['hoptls', [HOST], null],
      ['hoptls-shielded', [SHIELDED], 'sh'],
    ] as const) {
      const zone = await admin('POST', '/client/v4/zones', {
        name,
        hostnames,
        origins: [{ url: origin.url }],
        shield_pop: shield,
      });
      assert.equal(zone.status, 201, JSON.stringify(zone.body.errors));
    }
    // The public URL names the TLS port, so the ports are chosen before the nodes start.
    const ports = await freeFixedPorts(LAYOUT.length);
    await Promise.all(
      LAYOUT.map(async (n, i) => {
        const port = ports[i] as number;
        // IP SANs: peers verify the certificate against the address in the URL (no SNI is sent).
        const ca = n.name === 'tls-c' ? rogueCa : clusterCa;
        const issued = await ca.issue({ hosts: [`${n.name}.${n.pop}.test`, '127.0.0.1'] });
        const certFile = join(dir, `${n.name}.pem`);
        const keyFile = join(dir, `${n.name}.key`);
        await writeFile(certFile, issued.chainPem);
        await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
        const edge = await startEdgeProcess(
          '',
          [
            ...['--control', control.url, '--pop', n.pop, '--role', n.role, '--node', n.name],
            ...['--token', nodeToken, '--listen-tls', `127.0.0.1:${port}`],
            ...['--tls-cert', certFile, '--tls-key', keyFile],
            ...['--public-url', `https://127.0.0.1:${port}`, '--peer-ca', peerCa],
          ],
          { noOrigin: true, admin: true },
        );
        assert.equal(edge.tlsPort, port);
        tlsPorts.set(n.name, port);
        nodes.set(n.name, edge);
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
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    await origin?.stop();
    if (dir !== undefined) await removeDir(dir);
  });

  it('a miss on a non-owner reaches the owner over TLS: both caches, the origin asked once', async () => {
    const before = await handshakesOf('tls-b');
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
    // It came to tls-b's own TLS listener: the only way in to tls-b's TLS port is this test and its peers.
    assert.ok((await handshakesOf('tls-b')) > before, 'no TLS handshake at the owner');
    // The hop verified: the client asked tls-a over plain HTTP, and that scheme (X-Forwarded-Proto,
    // signed) is what tls-b stored the object under, although the hop reached it over TLS. An
    // unverified hop would have been an https request to tls-b, stored under https.
    const plainAtOwner = await get('tls-b', path);
    assert.match(cacheStatus(plainAtOwner), /^tls-b; hit/);
    assert.equal(await originCount(origin, name), 1);
    const httpsAtOwner = await getTls('tls-b', path);
    assert.equal(httpsAtOwner.status, 200);
    // The https object is another key (maybe of another owner): a miss at tls-b, one more origin fetch.
    assert.match(cacheStatus(httpsAtOwner), /tls-b; fwd=uri-miss[^,]*$/);
    assert.equal(await originCount(origin, name), 2);
  });

  it('an edge PoP reaches its shield over TLS: the shield first in Cache-Status, the origin asked once', async () => {
    const before = await handshakesOf('sh-a');
    const path = '/hop/shielded?cc=max-age%3D300';
    const first = await get('tls-a', path, SHIELDED);
    assert.equal(first.status, 200, cacheStatus(first));
    assert.equal(cachesOf(first)[0], 'sh-a', cacheStatus(first));
    assert.equal(cachesOf(first).at(-1), 'tls-a', cacheStatus(first));
    assert.ok((await handshakesOf('sh-a')) > before, 'no TLS handshake at the shield');
    for (const name of ['tls-a', 'tls-b', 'tls-c', 'sh-a']) {
      const reply = await get(name, path, SHIELDED);
      assert.equal(reply.status, 200, `${name}: ${cacheStatus(reply)}`);
    }
    assert.equal(await originCount(origin, '/hop/shielded'), 1);
  });

  it('a peer whose certificate does not verify is skipped like an unreachable one, and logged', async () => {
    const rogue = `https://127.0.0.1:${tlsPorts.get('tls-c')}`;
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
    assert.match(line, new RegExp(`"peer":"${rogue}"`));
    assert.match(line, /"reason":"(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)"/);
  });
});
