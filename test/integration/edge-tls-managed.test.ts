// Managed certificates: the node follows certificate metadata (snapshot, certificate.upsert /
// delete), fetches the material of the zones its PoP serves over the internal endpoint, swaps new
// versions in when modified_on moves, keeps serving the old one while a fetch fails, and restarts
// with the control plane away from its encrypted state folder.
// The control plane's GET /internal/v1/certificates/{id} is not on this branch (another part of
// issue 13 builds it): a small HTTP server here answers it as the contract in COMMON.md says.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CertificateMeta } from '../../src/common/config/certificate.ts';
import { ZoneSettingsSchema, type Zone } from '../../src/common/config/zone.ts';
import type { Snapshot } from '../../src/common/events/types.ts';
import {
  createCertificateAuthority,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/common/tls/local-ca.ts';
import type { ControlLink } from '../../src/edge/config.ts';
import { EdgeTls } from '../../src/edge/tls/edge-tls.ts';
import { MATERIAL_DIR } from '../../src/edge/tls/material-cache.ts';
import {
  fingerprintOf,
  handshake,
  memoryLogger,
  startTlsTestServer,
  type TlsTestServer,
  until,
} from '../helpers/tls.ts';

const TOKEN = 'mrd_node_test_token';

function zone(id: string, dnsPops: string[] | null): Zone {
  const now = new Date().toISOString();
  return {
    id,
    name: id,
    hostnames: [`${id}.test`],
    origins: [{ url: 'http://127.0.0.1:9/', weight: 1 }],
    shield_pop: null,
    settings: { ...ZoneSettingsSchema.parse({}), dns_pops: dnsPops },
    created_at: now,
    updated_at: now,
  } as Zone;
}

function meta(
  id: string,
  zoneId: string,
  modified: string,
  extra: Partial<CertificateMeta> = {},
): CertificateMeta {
  return {
    id,
    zone_id: zoneId,
    usage: 'server',
    type: 'custom',
    hosts: [],
    issuer: 'CN=Managed CA',
    signature: 'ECDSA',
    serial_number: '01',
    fingerprint_sha256: '',
    not_before: '2026-01-01T00:00:00Z',
    expires_on: '2027-01-01T00:00:00Z',
    status: 'active',
    uploaded_on: '2026-01-01T00:00:00Z',
    modified_on: modified,
    ...extra,
  };
}

/** The control plane's certificate endpoint, as the contract has it; counts requests per id. */
class CertificateEndpoint {
  readonly materials = new Map<string, { pair: IssuedCertificate; modified_on: string }>();
  readonly requests = new Map<string, number>();
  failWith: number | null = null;
  badAuth = 0;
  server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const match = /^\/internal\/v1\/certificates\/([^/]+)$/.exec(url.pathname);
    if (req.headers.authorization !== `Bearer ${TOKEN}` || url.searchParams.get('node') !== 'nyc-1') {
      this.badAuth++;
      res.writeHead(401).end();
      return;
    }
    const id = decodeURIComponent(match?.[1] ?? '');
    this.requests.set(id, (this.requests.get(id) ?? 0) + 1);
    const material = this.materials.get(id);
    const status = this.failWith ?? (material === undefined ? 404 : 200);
    res.writeHead(status, { 'content-type': 'application/json' });
    if (status !== 200 || material === undefined) {
      res.end(JSON.stringify({ success: false, errors: [{ code: status, message: 'no' }], result: null }));
      return;
    }
    res.end(
      JSON.stringify({
        success: true,
        errors: [],
        result: {
          id,
          certificate: material.pair.chainPem,
          private_key: material.pair.keyPem,
          modified_on: material.modified_on,
        },
      }),
    );
  });
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  count(id: string): number {
    return this.requests.get(id) ?? 0;
  }
}

function managedTls(controlUrl: string, cacheDir: string, log = memoryLogger()): EdgeTls {
  const control: ControlLink = {
    url: new URL(controlUrl),
    token: TOKEN,
    pop: 'nyc',
    publicUrl: null,
    nats: null,
    natsStream: 'S',
    role: null,
  };
  return new EdgeTls({
    config: {
      nodeName: 'nyc-1',
      cacheDir,
      control,
      tls: { listen: null, certFile: null, keyFile: null, unknownSni: 'reject' },
    },
    log,
  });
}

describe('edge TLS: managed certificates from the control plane', () => {
  const endpoint = new CertificateEndpoint();
  let ca: CertificateAuthority;
  let cacheDir = '';
  let tls: EdgeTls;
  let server: TlsTestServer;
  let seq = 1;
  let v1: IssuedCertificate, v2: IssuedCertificate, v3: IssuedCertificate;
  const zones = [zone('z1', null), zone('z2', ['iad'])];

  before(async () => {
    ca = await createCertificateAuthority('Managed CA');
    cacheDir = await mkdtemp(join(tmpdir(), 'meridian-tls-managed-'));
    endpoint.server.listen(0, '127.0.0.1');
    await once(endpoint.server, 'listening');
    v1 = await ca.issue({ hosts: ['www.z1.test'] });
    v2 = await ca.issue({ hosts: ['www.z1.test'] });
    v3 = await ca.issue({ hosts: ['www.z1.test'] });
    const other = await ca.issue({ hosts: ['www.z2.test'] });
    const client = await ca.issue({ hosts: ['z1.test'], usages: ['client'] });
    endpoint.materials.set('c1', { pair: v1, modified_on: 'v1' });
    endpoint.materials.set('c2', { pair: other, modified_on: 'v1' });
    endpoint.materials.set('c3', { pair: client, modified_on: 'v1' });
    tls = managedTls(endpoint.url, cacheDir);
    server = await startTlsTestServer(tls);
  });

  after(async () => {
    await server.close();
    tls.close();
    endpoint.server.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('fetches what its PoP serves from the snapshot and serves it by SNI', async () => {
    const snapshot: Snapshot = {
      seq: seq++,
      zones,
      rules: {},
      pops: [],
      nodes: [],
      certificates: [
        meta('c1', 'z1', 'v1'),
        meta('c2', 'z2', 'v1'), // zone z2 is served by iad only: not fetched
        meta('c3', 'z1', 'v1', { usage: 'origin_client' }),
        meta('c4', 'z1', 'v1', { status: 'pending' }), // ACME order in progress: no material yet
      ],
    };
    tls.applySnapshot(snapshot);
    await tls.managed?.whenIdle();
    assert.equal(endpoint.badAuth, 0);
    assert.deepEqual(
      [endpoint.count('c1'), endpoint.count('c2'), endpoint.count('c3'), endpoint.count('c4')],
      [1, 0, 1, 0],
    );
    assert.equal((await handshake(server.port, 'www.z1.test')).fingerprint256, fingerprintOf(v1.certPem));
    assert.match(String((await handshake(server.port, 'www.z2.test')).error), /handshake failure/);
    // origin_client goes to origin pulls, never to SNI.
    assert.match(tls.store.clientCertificateFor('z1')?.cert ?? '', /BEGIN CERTIFICATE/);
    assert.equal(tls.store.clientCertificateFor('z2'), null);
    assert.match(String((await handshake(server.port, 'z1.test')).error), /handshake failure/);
  });

  it('swaps a new version in when modified_on moves, and only then', async () => {
    endpoint.materials.set('c1', { pair: v2, modified_on: 'v2' });
    tls.applyEvent({ seq: seq++, at: '', type: 'certificate.upsert', certificate: meta('c1', 'z1', 'v1') });
    await tls.managed?.whenIdle();
    assert.equal(endpoint.count('c1'), 1, 'same modified_on: no fetch');
    tls.applyEvent({ seq: seq++, at: '', type: 'certificate.upsert', certificate: meta('c1', 'z1', 'v2') });
    await tls.managed?.whenIdle();
    assert.equal(endpoint.count('c1'), 2);
    assert.equal((await handshake(server.port, 'www.z1.test')).fingerprint256, fingerprintOf(v2.certPem));
  });

  it('keeps serving the old certificate while fetches fail, then takes the new one', async () => {
    endpoint.failWith = 503;
    endpoint.materials.set('c1', { pair: v3, modified_on: 'v3' });
    const before = endpoint.count('c1');
    tls.applyEvent({ seq: seq++, at: '', type: 'certificate.upsert', certificate: meta('c1', 'z1', 'v3') });
    await until('two failed fetches', () => endpoint.count('c1') >= before + 2);
    assert.equal((await handshake(server.port, 'www.z1.test')).fingerprint256, fingerprintOf(v2.certPem));
    endpoint.failWith = null;
    await tls.managed?.whenIdle();
    assert.equal((await handshake(server.port, 'www.z1.test')).fingerprint256, fingerprintOf(v3.certPem));
  });

  it('keeps the material encrypted in its state folder', async () => {
    const files = await readdir(join(cacheDir, MATERIAL_DIR));
    assert.deepEqual(files.sort(), ['c1.json', 'c3.json']);
    for (const f of files)
      assert.doesNotMatch(await readFile(join(cacheDir, MATERIAL_DIR, f), 'utf8'), /BEGIN|PRIVATE/);
  });

  it('a restart with the control plane away serves the last known good certificates', async () => {
    const offline = managedTls('http://127.0.0.1:9/', cacheDir); // nothing listens on port 9
    const offlineServer = await startTlsTestServer(offline);
    try {
      // What the follower applies from last-known-good.json when the snapshot cannot be had.
      offline.applySnapshot({
        seq: seq - 1,
        zones,
        rules: {},
        pops: [],
        nodes: [],
        certificates: [meta('c1', 'z1', 'v3'), meta('c3', 'z1', 'v1', { usage: 'origin_client' })],
      });
      await offline.managed?.whenIdle();
      assert.equal(offline.managed?.fetches, 0, 'nothing fetched');
      assert.equal(
        (await handshake(offlineServer.port, 'www.z1.test')).fingerprint256,
        fingerprintOf(v3.certPem),
      );
      assert.ok(offline.store.clientCertificateFor('z1') !== null);
    } finally {
      await offlineServer.close();
      offline.close();
    }
  });

  it('drops a deleted certificate, and the certificates of a zone its PoP no longer serves', async () => {
    tls.applyEvent({ seq: seq++, at: '', type: 'certificate.delete', id: 'c1', zone_id: 'z1' });
    await tls.managed?.whenIdle();
    assert.match(String((await handshake(server.port, 'www.z1.test')).error), /handshake failure/);
    assert.deepEqual(await readdir(join(cacheDir, MATERIAL_DIR)), ['c3.json']);
    tls.applyEvent({ seq: seq++, at: '', type: 'zone.upsert', zone: zone('z1', ['iad']) });
    assert.equal(tls.store.clientCertificateFor('z1'), null);
  });
});
