// Issue 13, ACME end to end with the real certificate store: a `meridian control` process with
// --acme-directory/--acme-ca pointing at Debian's pebble (its certificates go through
// acme/store-certificates.ts into the certificates table, keys sealed), two managed `meridian edge`
// processes answering HTTP-01 on the port pebble validates against (127.0.0.1:P and 127.0.0.2:P)
// and serving the issued certificate on --listen-tls by SNI, verified against pebble's root.
// Renewal with pebble's short validity replaces it on the nodes; a zone with settings.acme gets one
// without any API order.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { eventually } from '../helpers/dns.ts';
import { freePorts, startPebble, type Pebble } from '../helpers/pebble.ts';
import {
  api,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
  type ControlProc,
  type EdgeProc,
  type Proc,
} from '../helpers/processes.ts';

/** Renewal at 2/3: 20 s after issue; long enough for a slow machine to order and spread it. */
const VALIDITY_S = 30;

interface Served {
  authorized: boolean;
  fingerprint256: string;
  error: string | null;
}

/** A handshake for `servername`, verified against pebble's root only. */
function verifiedHandshake(port: number, servername: string, ca: string): Promise<Served> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false });
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.once('secureConnect', () => {
      const served = {
        authorized: socket.authorized,
        fingerprint256: socket.getPeerCertificate().fingerprint256,
        error: socket.authorizationError === undefined ? null : String(socket.authorizationError),
      };
      socket.destroy();
      resolve(served);
    });
    socket.once('error', (err) => resolve({ authorized: false, fingerprint256: '', error: err.message }));
  });
}

/** node:tls's fingerprint format (AA:BB:…) of whatever the API gives. */
function normalized(fp: string): string {
  const hex = fp.replaceAll(':', '').toUpperCase();
  return hex.match(/../g)?.join(':') ?? '';
}

describe('ACME with the real certificate store: issue, serve by SNI, renew', () => {
  let pebble: Pebble;
  let control: ControlProc;
  let origin: Proc;
  let dir: string;
  let port: number;
  const edges: EdgeProc[] = [];
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API results
  async function acmeCerts(zoneId: string): Promise<any[]> {
    const list = await admin('GET', `/client/v4/zones/${zoneId}/custom_certificates`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API results
    return (list.body.result as any[]).filter((c) => c.type === 'acme');
  }

  /** Waits until the zone has an active ACME certificate other than `not`; returns it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API results
  async function activeCert(zoneId: string, not: string | null, ms: number): Promise<any> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API results
    let found: any = null;
    await eventually(
      async () => {
        found =
          (await acmeCerts(zoneId)).find((c) => c.status === 'active' && c.fingerprint_sha256 !== not) ??
          null;
        return found !== null;
      },
      ms,
      `an active ACME certificate for ${zoneId}`,
    );
    return found;
  }

  async function servedByEveryNode(host: string, fingerprint: string): Promise<void> {
    for (const edge of edges)
      await eventually(
        async () => {
          const served = await verifiedHandshake(edge.tlsPort as number, host, pebble.rootPem);
          return served.authorized && served.fingerprint256 === normalized(fingerprint);
        },
        20_000,
        `${host} served on :${edge.tlsPort}`,
      );
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-acme-tls-'));
    [port] = (await freePorts(1)) as [number];
    pebble = await startPebble({ httpPort: port, validitySeconds: VALIDITY_S });
    await writeFile(join(dir, 'pebble-ca.pem'), pebble.tlsCaPem);
    origin = await startTestOrigin();
    control = await startControlProcess({
      extra: [
        ...['--acme-directory', pebble.directoryUrl, '--acme-ca', join(dir, 'pebble-ca.pem')],
        ...['--acme-email', 'ops@acme.test'],
      ],
    });
    await admin('PUT', '/client/v4/pops/test', { city: 'Testville', latitude: 1, longitude: 2 });
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value as string;
    const ca = await createCertificateAuthority('Default CA');
    for (const [name, ip] of [
      ['acme-tls-a', '127.0.0.1'],
      ['acme-tls-b', '127.0.0.2'],
    ] as const) {
      const leaf = await ca.issue({ hosts: [`default.${name}.test`] });
      await writeFile(join(dir, `${name}.pem`), leaf.chainPem);
      await writeFile(join(dir, `${name}.key`), leaf.keyPem, { mode: 0o600 });
      edges.push(
        await startEdgeProcess(
          '',
          // The helper listens on 127.0.0.1; the later --listen wins (parseArgs keeps the last).
          [
            ...['--control', control.url, '--pop', 'test', '--node', name, '--token', nodeToken],
            ...['--listen', `${ip}:${port}`, '--listen-tls', '127.0.0.1:0'],
            ...['--tls-cert', join(dir, `${name}.pem`), '--tls-key', join(dir, `${name}.key`)],
          ],
          { noOrigin: true },
        ),
      );
    }
  });

  after(async () => {
    for (const edge of edges) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control?.stop();
    await origin?.stop();
    await pebble?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    if (dir !== undefined) await removeDir(dir);
  });

  it('a zone with settings.acme gets a certificate with no API order, well before the 60 s rescan', async () => {
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'auto',
      hostnames: ['auto.acme.test'],
      origins: [{ url: origin.url }],
      settings: { acme: true },
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body));
    const cert = await activeCert(zone.body.result.id as string, null, 30_000);
    assert.deepEqual(cert.hosts, ['auto.acme.test']);
    await servedByEveryNode('auto.acme.test', cert.fingerprint_sha256);
  });

  it('turning settings.acme on with a PATCH orders at once too', async () => {
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'later',
      hostnames: ['later.acme.test'],
      origins: [{ url: origin.url }],
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body));
    const id = zone.body.result.id as string;
    const patched = await admin('PATCH', `/client/v4/zones/${id}`, { settings: { acme: true } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.result.settings.acme, true);
    const cert = await activeCert(id, null, 30_000);
    await servedByEveryNode('later.acme.test', cert.fingerprint_sha256);
  });

  let zoneId: string;
  let first: { id: string; hosts: string[]; fingerprint_sha256: string; expires_on: string };

  it('POST {"type":"acme"} answers pending, then the certificate turns active, sealed, and served by SNI', async () => {
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'shop',
      hostnames: ['shop.acme.test', 'www.shop.acme.test'],
      origins: [{ url: origin.url }],
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body));
    zoneId = zone.body.result.id as string;
    // www resolves to the second node: each node must have learned its challenge from the log.
    await pebble.setA('www.shop.acme.test', '127.0.0.2');
    const ordered = await admin('POST', `/client/v4/zones/${zoneId}/custom_certificates`, { type: 'acme' });
    assert.equal(ordered.status, 201, JSON.stringify(ordered.body));
    assert.equal(ordered.body.result.type, 'acme');
    assert.equal(ordered.body.result.status, 'pending');

    first = await activeCert(zoneId, null, 60_000);
    assert.deepEqual([...first.hosts].sort(), ['shop.acme.test', 'www.shop.acme.test']);
    assert.ok(Date.parse(first.expires_on) > Date.now(), `expires_on ${first.expires_on}`);
    assert.equal(
      (await acmeCerts(zoneId)).filter((c) => c.status === 'pending').length,
      0,
      'the placeholder became the certificate',
    );
    for (const host of ['shop.acme.test', 'www.shop.acme.test'])
      assert.match(
        pebble.output(),
        new RegExp(`Attempting to validate w/ HTTP: http://${host.replaceAll('.', '\\.')}:${port}/`),
      );

    // The row: the chain in clear, the key sealed (no PEM in it), never in the API.
    const db = new Database(join(control.dataDir, 'meridian.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT * FROM certificates WHERE id = ?').get(first.id) as Record<
        string,
        unknown
      >;
      assert.ok(row !== undefined, 'the row');
      const key = row.private_key;
      assert.ok(key !== null && key !== undefined, 'a key is stored');
      const text = Buffer.isBuffer(key) ? key.toString('latin1') : String(key);
      assert.doesNotMatch(text, /PRIVATE KEY|BEGIN/);
      assert.doesNotMatch(JSON.stringify(row), /PRIVATE KEY/);
      const leaf = new X509Certificate(String(row.certificate));
      assert.equal(leaf.fingerprint256, normalized(first.fingerprint_sha256));
    } finally {
      db.close();
    }
    const one = await admin('GET', `/client/v4/zones/${zoneId}/custom_certificates/${first.id}`);
    assert.equal(one.body.result.private_key, undefined);

    for (const host of ['shop.acme.test', 'www.shop.acme.test'])
      await servedByEveryNode(host, first.fingerprint_sha256);
  });

  it('renews with pebble’s short validity and the nodes serve the new certificate', async () => {
    const renewed = await activeCert(zoneId, first.fingerprint_sha256, VALIDITY_S * 1000 + 40_000);
    assert.ok(Date.parse(renewed.expires_on) > Date.parse(first.expires_on), 'a later expiry');
    const active = (await acmeCerts(zoneId)).filter((c) => c.status === 'active');
    assert.equal(active.length, 1, `one active ACME certificate: ${JSON.stringify(active)}`);
    for (const host of ['shop.acme.test', 'www.shop.acme.test'])
      await servedByEveryNode(host, renewed.fingerprint_sha256);
  });

  it('after a control-plane restart the sealed account key is reused and renewal goes on', async () => {
    const db = new Database(join(control.dataDir, 'meridian.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT name, value FROM cluster_keys').all() as {
        name: string;
        value: unknown;
      }[];
      const account = rows.find((r) => r.name.includes('acme'));
      assert.ok(account !== undefined, `the account key row (${rows.map((r) => r.name).join(', ')})`);
      assert.doesNotMatch(String(account.value), /PRIVATE KEY|BEGIN/, 'sealed');
    } finally {
      db.close();
    }
    const current = (await acmeCerts(zoneId)).find((c) => c.status === 'active');
    await control.stop();
    control = await startControlProcess({
      reuse: control,
      extra: [
        ...['--acme-directory', pebble.directoryUrl, '--acme-ca', join(dir, 'pebble-ca.pem')],
        ...['--acme-email', 'ops@acme.test'],
      ],
    });
    const renewed = await activeCert(zoneId, current.fingerprint_sha256, VALIDITY_S * 1000 + 40_000);
    await servedByEveryNode('shop.acme.test', renewed.fingerprint_sha256);
    // pebble counts the accounts it holds: one, the first one, reused after the restart.
    const counts = [...pebble.output().matchAll(/There are now (\d+) accounts in memory/g)].map((m) =>
      Number(m[1]),
    );
    assert.ok(counts.length >= 1, 'pebble logged the account');
    assert.equal(Math.max(...counts), 1, 'no second account registered');
  });
});
