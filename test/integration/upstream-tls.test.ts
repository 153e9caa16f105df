// Issue 13, TLS to origins at the upstream layer: zones compiled as the edge compiles them, the
// node's pools, real Node HTTPS servers on loopback (one of them requiring a client certificate).
// Proves verification with a zone's CA, SNI, verify:false, authenticated origin pulls through the
// zone setting and a client-certificate source (as the managed certificate store provides it),
// certificate rotation, and health checks over the same TLS settings.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ZoneInputSchema, type Zone } from '../../src/common/config/zone.ts';
import { MeridianError } from '../../src/common/errors.ts';
import type { Logger } from '../../src/common/log.ts';
import {
  createCertificateAuthority,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/common/tls/local-ca.ts';
import type { ClientCertificate } from '../../src/edge/upstream/origin-tls.ts';
import { UpstreamPools } from '../../src/edge/upstream/pools.ts';
import type { OriginChoice } from '../../src/edge/zones/types.ts';
import { CompiledZone } from '../../src/edge/zones/zone-runtime.ts';

interface Seen {
  path: string;
  servername: string | false | null;
  client: string | null;
}

async function startOrigin(
  cert: IssuedCertificate,
  clientCa?: string,
): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(
    {
      cert: cert.chainPem,
      key: cert.keyPem,
      ...(clientCa === undefined ? {} : { ca: clientCa, requestCert: true, rejectUnauthorized: true }),
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      seen.push({
        path: req.url ?? '',
        servername: socket.servername ?? null,
        client: peer?.subject?.CN === undefined ? null : String(peer.subject.CN),
      });
      res.end('ok');
    },
  );
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, seen };
}

let zoneCount = 0;
function zone(origins: Record<string, unknown>[], settings: Record<string, unknown> = {}): CompiledZone {
  const input = ZoneInputSchema.parse({
    name: `z${++zoneCount}`,
    hostnames: [`z${zoneCount}.test`],
    origins,
    settings,
  });
  const now = new Date().toISOString();
  const z: Zone = { ...input, id: `zone-${zoneCount}`, created_at: now, updated_at: now };
  return new CompiledZone(z, null);
}

const get = (path: string) => ({
  method: 'GET',
  path,
  headers: { host: 'client-facing.example' },
  body: null,
  headersTimeoutMs: 5_000,
  bodyTimeoutMs: 5_000,
});

type Line = { msg: string; fields: Record<string, unknown> | undefined };
function recordingLog(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const push = (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields });
  return { lines, debug: push, info: push, warn: push, error: push };
}

describe('upstream TLS: verification, SNI, authenticated origin pulls', () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let clientCa: CertificateAuthority;
  let nodeCert: ClientCertificate;
  let plain: Awaited<ReturnType<typeof startOrigin>>;
  let mtls: Awaited<ReturnType<typeof startOrigin>>;
  let pools: UpstreamPools;
  const log = recordingLog();
  const certs = new Map<string, ClientCertificate>();

  before(async () => {
    [ca, otherCa, clientCa] = await Promise.all([
      createCertificateAuthority('Origin CA', { key: 'ecdsa-p256' }),
      createCertificateAuthority('Other CA', { key: 'ecdsa-p256' }),
      createCertificateAuthority('Origin-pull CA', { key: 'ecdsa-p256' }),
    ]);
    const server = await ca.issue({ hosts: ['origin.test', '127.0.0.1'] });
    const client = await clientCa.issue({ hosts: ['node-1.pull.test'], usages: ['client'] });
    nodeCert = { cert: client.chainPem, key: client.keyPem };
    plain = await startOrigin(server);
    mtls = await startOrigin(server, clientCa.certPem);
    pools = new UpstreamPools({
      connectTimeoutMs: 5_000,
      connections: 4,
      clientCertFor: (id) => certs.get(id) ?? null,
      log,
    });
  });

  after(async () => {
    await pools?.close();
    plain?.server.close();
    mtls?.server.close();
  });

  const first = (z: CompiledZone) => z.pickOrigin() as OriginChoice;
  const send = async (z: CompiledZone, path: string) => {
    const res = await pools.send(first(z), get(path), 'origin');
    res.body.resume();
    return res.status;
  };
  const failure = async (z: CompiledZone, path: string): Promise<MeridianError> => {
    try {
      await send(z, path);
    } catch (err) {
      assert.ok(err instanceof MeridianError, String(err));
      return err;
    }
    throw new Error('the request succeeded');
  };

  it('verifies with the zone CA; SNI is tls.servername, none for an IP URL (never the Host header)', async () => {
    const byIp = zone([{ url: `https://127.0.0.1:${plain.port}`, tls: { ca: ca.certPem } }]);
    assert.equal(await send(byIp, '/ip'), 200);
    const named = zone([
      { url: `https://127.0.0.1:${plain.port}`, tls: { ca: ca.certPem, servername: 'origin.test' } },
    ]);
    assert.equal(await send(named, '/named'), 200);
    assert.equal(plain.seen.find((s) => s.path === '/ip')?.servername, false);
    assert.equal(plain.seen.find((s) => s.path === '/named')?.servername, 'origin.test');
  });

  it('a certificate from another CA, or for another name, is ORIGIN_TLS_FAILED (502) and logged', async () => {
    const wrongCa = zone([{ url: `https://127.0.0.1:${plain.port}`, tls: { ca: otherCa.certPem } }]);
    const err = await failure(wrongCa, '/wrong-ca');
    assert.equal(err.code, 'ORIGIN_TLS_FAILED');
    assert.equal(err.status, 502);
    const wrongName = zone([
      { url: `https://127.0.0.1:${plain.port}`, tls: { ca: ca.certPem, servername: 'elsewhere.test' } },
    ]);
    assert.equal((await failure(wrongName, '/wrong-name')).code, 'ORIGIN_TLS_FAILED');
    // The system CAs do not know the test CA either.
    const system = zone([{ url: `https://127.0.0.1:${plain.port}` }]);
    assert.equal((await failure(system, '/system')).code, 'ORIGIN_TLS_FAILED');
    assert.ok(!plain.seen.some((s) => ['/wrong-ca', '/wrong-name', '/system'].includes(s.path)));
    const line = log.lines.find((l) => l.msg === 'origin TLS failed');
    assert.equal(line?.fields?.origin, `https://127.0.0.1:${plain.port}`);
    assert.match(
      String(line?.fields?.reason),
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/,
    );
  });

  it('verify:false accepts any certificate and warns once per origin', async () => {
    const insecure = zone([{ url: `https://127.0.0.1:${plain.port}`, tls: { verify: false } }]);
    assert.equal(await send(insecure, '/insecure-1'), 200);
    assert.equal(await send(insecure, '/insecure-2'), 200);
    const warnings = log.lines.filter((l) => l.msg.includes('not verified'));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.fields?.origin, `https://127.0.0.1:${plain.port}`);
  });

  it('same origin URL, other TLS settings: never the same pool', () => {
    const url = `https://127.0.0.1:${plain.port}`;
    const a = first(zone([{ url, tls: { ca: ca.certPem } }]));
    const a2 = first(zone([{ url, tls: { ca: ca.certPem } }]));
    const b = first(zone([{ url, tls: { ca: otherCa.certPem } }]));
    const c = first(zone([{ url, tls: { ca: ca.certPem, servername: 'origin.test' } }]));
    const d = first(zone([{ url, tls: { ca: ca.certPem } }], { authenticated_origin_pulls: true }));
    assert.equal(pools.get(a), pools.get(a2));
    const distinct = new Set([a, b, c, d].map((o) => pools.get(o)));
    assert.equal(distinct.size, 4);
    // Health is kept apart too: a wrong CA must not take the origin down for the zone with the right one.
    assert.equal(new Set([a, b, c, d].map((o) => o.health.key)).size, 4);
    assert.equal(a.health.key, a2.health.key);
  });

  it('an mTLS origin refuses a node without the client certificate and accepts the zone one', async () => {
    const url = `https://127.0.0.1:${mtls.port}`;
    const without = zone([{ url, tls: { ca: ca.certPem } }]);
    const err = await failure(without, '/no-cert');
    // TLS 1.3: the origin's alert (certificate required) arrives after the node's handshake.
    assert.equal(err.code, 'ORIGIN_TLS_FAILED');
    assert.match(err.message, /CERTIFICATE_REQUIRED/);
    const pulls = zone([{ url, tls: { ca: ca.certPem } }], { authenticated_origin_pulls: true });
    // The zone setting is on but the store has no certificate for it yet: refused, and said so.
    await failure(pulls, '/not-yet');
    assert.ok(
      log.lines.some(
        (l) => l.msg.includes('no origin_client certificate') && l.fields?.zone === pulls.zone.id,
      ),
    );
    certs.set(pulls.zone.id, nodeCert);
    assert.equal(await send(pulls, '/with-cert'), 200);
    assert.equal(mtls.seen.find((s) => s.path === '/with-cert')?.client, 'node-1.pull.test');
    assert.ok(!mtls.seen.some((s) => s.path === '/no-cert' || s.path === '/not-yet'));
  });

  it('a renewed client certificate gets a new pool; the old one is closed', async () => {
    const url = `https://127.0.0.1:${mtls.port}`;
    const pulls = zone([{ url, tls: { ca: ca.certPem } }], { authenticated_origin_pulls: true });
    certs.set(pulls.zone.id, nodeCert);
    assert.equal(await send(pulls, '/before-renewal'), 200);
    const old = pools.get(first(pulls));
    const renewed = await clientCa.issue({ hosts: ['node-1-renewed.pull.test'], usages: ['client'] });
    certs.set(pulls.zone.id, { cert: renewed.chainPem, key: renewed.keyPem });
    assert.equal(await send(pulls, '/after-renewal'), 200);
    assert.notEqual(pools.get(first(pulls)), old);
    assert.equal(mtls.seen.find((s) => s.path === '/after-renewal')?.client, 'node-1-renewed.pull.test');
    assert.equal((old as unknown as { closed: boolean }).closed, true);
  });

  it('health checks use the origin TLS settings (and its client certificate)', async () => {
    const url = `https://127.0.0.1:${mtls.port}`;
    const checked = zone(
      [
        {
          url,
          tls: { ca: ca.certPem },
          health_check: { path: '/hc-tls', interval_sec: 1, timeout_ms: 2_000 },
        },
      ],
      { authenticated_origin_pulls: true },
    );
    certs.set(checked.zone.id, nodeCert);
    pools.health.stateOf(first(checked));
    for (const deadline = Date.now() + 10_000; !mtls.seen.some((s) => s.path === '/hc-tls');) {
      assert.ok(Date.now() < deadline, 'no health check reached the origin');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(mtls.seen.find((s) => s.path === '/hc-tls')?.client, 'node-1.pull.test');
    assert.equal(pools.health.stateOf(first(checked)).isCheckedUp, true);
  });
});
