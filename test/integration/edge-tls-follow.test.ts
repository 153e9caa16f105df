// The edge node's wiring (edge.ts follow()): a managed `startEdge` node applies the snapshot's
// certificates and ticket_key and the certificate events of the stream to its TLS state, shows the
// certificates in /metrics, and restarts with the control plane away serving the certificates it
// kept (encrypted) in its state folder.
// The control plane here is a stand-in speaking the internal API's wire format (register, snapshot,
// NDJSON event stream, heartbeat, certificate material): the real one gains certificate events and
// GET /internal/v1/certificates/{id} in another part of issue 13.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { parseEdgeArgs } from '../../src/cli/commands/edge.ts';
import type { CertificateMeta } from '../../src/common/config/certificate.ts';
import { ZoneSettingsSchema, type Zone } from '../../src/common/config/zone.ts';
import type { ControlEvent, EventBody, Snapshot } from '../../src/common/events/types.ts';
import { createCertificateAuthority, type IssuedCertificate } from '../../src/common/tls/local-ca.ts';
import type { EdgeConfig } from '../../src/edge/config.ts';
import { startEdge, type EdgeNode } from '../../src/edge/edge.ts';
import { deriveTicketKey, periodAt, DEFAULT_TICKET_PERIOD_MS } from '../../src/edge/tls/ticket-keys.ts';
import { fetchReply } from '../helpers/processes.ts';
import { memoryLogger, until } from '../helpers/tls.ts';

const TOKEN = 'mrd_node_follow_token';
const TICKET_SECRET = randomBytes(32);

function zone(id: string): Zone {
  const now = new Date().toISOString();
  return {
    id,
    name: id,
    hostnames: [`${id}.test`],
    origins: [{ url: 'http://127.0.0.1:9/', weight: 1 }],
    shield_pop: null,
    settings: ZoneSettingsSchema.parse({}),
    created_at: now,
    updated_at: now,
  } as Zone;
}

function meta(id: string, modified: string): CertificateMeta {
  return {
    id,
    zone_id: 'z1',
    usage: 'server',
    type: 'custom',
    hosts: ['www.z1.test'],
    issuer: 'CN=Follow CA',
    signature: 'ECDSA',
    serial_number: '01',
    fingerprint_sha256: '',
    not_before: '2026-01-01T00:00:00Z',
    expires_on: '2027-01-01T00:00:00Z',
    status: 'active',
    uploaded_on: '2026-01-01T00:00:00Z',
    modified_on: modified,
  };
}

/** The internal API, as the node uses it. */
class ControlStandIn {
  snapshot: Snapshot = {
    seq: 1,
    zones: [zone('z1')],
    rules: {},
    pops: [],
    nodes: [],
    ticket_key: TICKET_SECRET.toString('base64url'),
  };
  readonly materials = new Map<string, { pair: IssuedCertificate; modified_on: string }>();
  readonly streams = new Set<ServerResponse>();
  materialRequests = 0;
  readonly server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, errors: [], result: body }));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    req.resume();
    if (url.pathname === '/internal/v1/snapshot') return json(this.snapshot);
    if (url.pathname === '/internal/v1/nodes/register' || url.pathname.endsWith('/heartbeat'))
      return json({});
    if (url.pathname === '/internal/v1/events') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ type: 'heartbeat', seq: this.snapshot.seq })}\n`);
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
      return;
    }
    const cert = /^\/internal\/v1\/certificates\/(.+)$/.exec(url.pathname);
    const material = cert === null ? undefined : this.materials.get(decodeURIComponent(cert[1] as string));
    if (material !== undefined && url.searchParams.get('node') === 'nyc-1') {
      this.materialRequests++;
      return json({
        id: cert?.[1],
        certificate: material.pair.chainPem,
        private_key: material.pair.keyPem,
        modified_on: material.modified_on,
      });
    }
    res.writeHead(404).end();
  });
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  /** Commits an event: streamed to the node and folded into the next snapshot. */
  publish(body: EventBody): void {
    const event = { ...body, seq: this.snapshot.seq + 1, at: new Date().toISOString() } as ControlEvent;
    this.snapshot = { ...this.snapshot, seq: event.seq };
    for (const res of this.streams) res.write(`${JSON.stringify(event)}\n`);
  }
}

describe('edge node: TLS state follows the control plane', () => {
  const control = new ControlStandIn();
  let cacheDir = '';
  let node: EdgeNode | null = null;
  let v1: IssuedCertificate, v2: IssuedCertificate;

  const config = (controlUrl: string): EdgeConfig => {
    const parsed = parseEdgeArgs([
      '--control',
      controlUrl,
      '--pop',
      'nyc',
      '--node',
      'nyc-1',
      '--token',
      TOKEN,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      '--cache-dir',
      cacheDir,
    ]);
    assert.ok(parsed !== 'help');
    return parsed;
  };

  before(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'meridian-tls-follow-'));
    const ca = await createCertificateAuthority('Follow CA');
    v1 = await ca.issue({ hosts: ['www.z1.test'] });
    v2 = await ca.issue({ hosts: ['www.z1.test'] });
    control.materials.set('c1', { pair: v1, modified_on: 'v1' });
    control.snapshot = { ...control.snapshot, certificates: [meta('c1', 'v1')] };
    control.server.listen(0, '127.0.0.1');
    await once(control.server, 'listening');
  });

  after(async () => {
    await node?.close();
    for (const res of control.streams) res.destroy();
    control.server.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('applies the snapshot: certificates fetched and in /metrics, ticket key derived for the PoP', async () => {
    node = await startEdge(config(control.url), memoryLogger());
    const tls = node.tls;
    await until('c1 installed', () => tls.store.get('c1') !== undefined);
    assert.equal(tls.store.get('c1')?.leaf?.fingerprint256, new X509Certificate(v1.certPem).fingerprint256);
    const period = periodAt(Date.now(), DEFAULT_TICKET_PERIOD_MS);
    assert.deepEqual(tls.tickets.current(), deriveTicketKey(TICKET_SECRET, 'nyc', period));
    const metrics = (await fetchReply(`http://127.0.0.1:${node.adminAddress?.port}/metrics`)).body.toString();
    assert.match(
      metrics,
      /meridian_edge_tls_certificate_expiry_seconds\{id="c1",hosts="www.z1.test",usage="server"\} \d+/,
    );
  });

  it('applies certificate events from the stream: a renewal is swapped in', async () => {
    const tls = (node as EdgeNode).tls;
    await until('the stream connected', () => control.streams.size > 0);
    control.materials.set('c1', { pair: v2, modified_on: 'v2' });
    control.publish({ type: 'certificate.upsert', certificate: meta('c1', 'v2') });
    const want = new X509Certificate(v2.certPem).fingerprint256;
    await until('v2 installed', () => tls.store.get('c1')?.leaf?.fingerprint256 === want);
    control.snapshot = { ...control.snapshot, certificates: [meta('c1', 'v2')] };
  });

  it('restarts with the control plane away and serves the kept certificate', async () => {
    await (node as EdgeNode).close();
    node = null;
    const before = control.materialRequests;
    node = await startEdge(config('http://127.0.0.1:9/'), memoryLogger()); // nothing listens on port 9
    const tls = node.tls;
    const want = new X509Certificate(v2.certPem).fingerprint256;
    await until('c1 from the state folder', () => tls.store.get('c1')?.leaf?.fingerprint256 === want);
    assert.equal(control.materialRequests, before);
  });
});
