// Issue 13, ACME: managed certificates issued and renewed by the control plane against Debian's
// pebble (a real ACME CA that really validates), with HTTP-01 answered by real managed edge nodes.
//
// What runs: pebble + pebble-challtestsrv (DNS: every name → 127.0.0.1 unless pointed elsewhere);
// this branch's control plane in-process (SQLite), its ACME engine built by startControl from
// --acme-directory settings; two `meridian edge` processes following it over the event log, one
// on 127.0.0.1:P and one on 127.0.0.2:P (pebble validates on port P, and the two names of the zone
// resolve to different nodes, so each node must have learned the challenge from the log).
// Challenges go through the real store (acme.challenge.upsert/delete events, the snapshot); only
// the account key and the certificates are kept in memory (MemoryAcmeDeps), since the certificate
// store is another branch's.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Zone } from '../../src/common/config/zone.ts';
import { createLogger } from '../../src/common/log.ts';
import { AcmeManager } from '../../src/control/acme/acme-manager.ts';
import { MemoryAcmeDeps } from '../../src/control/acme/memory-deps.ts';
import { renewalTime } from '../../src/control/acme/schedule.ts';
import { storeAcmeDeps } from '../../src/control/acme/store-challenges.ts';
import { DEFAULT_PURGE_RATE } from '../../src/control/api/purge.ts';
import { startControl, type ControlPlane } from '../../src/control/control.ts';
import { eventually } from '../helpers/dns.ts';
import { freePorts, startPebble, type Pebble } from '../helpers/pebble.ts';
import {
  api,
  fetchReply,
  originCount,
  removeDir,
  startEdgeProcess,
  startTestOrigin,
  type EdgeProc,
  type Proc,
} from '../helpers/processes.ts';

/** Short enough to watch a renewal (at 2/3: 20 s after issue), long enough for a slow machine. */
const VALIDITY_S = 30;

describe('ACME against pebble, HTTP-01 answered by managed edge nodes', () => {
  let pebble: Pebble;
  let control: ControlPlane;
  let origin: Proc;
  const edges: EdgeProc[] = [];
  /** Each node's own URL (the helper's url names 127.0.0.1 whatever the node listens on). */
  const edgeUrls: string[] = [];
  let dataDir: string;
  let port: number;
  const adminToken = `mrd_test_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const certs = new MemoryAcmeDeps({ zones: [] });
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, adminToken, method, path, body);

  async function createZone(name: string, hostnames: string[]): Promise<Zone> {
    const reply = await admin('POST', '/client/v4/zones', {
      name,
      hostnames,
      origins: [{ url: origin.url }],
      settings: { acme: true },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return reply.body.result as Zone;
  }

  before(async () => {
    [port] = (await freePorts(1)) as [number];
    pebble = await startPebble({ httpPort: port, validitySeconds: VALIDITY_S });
    origin = await startTestOrigin();
    dataDir = await mkdtemp(join(tmpdir(), 'meridian-acme-'));
    control = await startControl(
      {
        listen: { host: '127.0.0.1', port: 0 },
        db: `sqlite:${join(dataDir, 'meridian.db')}`,
        nats: null,
        natsStream: 'MERIDIAN_EVENTS',
        adminToken,
        nodeStaleMs: 10_000,
        eventRetention: 100_000,
        purgeRate: DEFAULT_PURGE_RATE,
        version: 'test',
        acme: { directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCaPem, email: 'ops@acme.test' },
      },
      createLogger('control', 'warn'),
      { acmeCertificates: certs },
    );
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value as string;
    await admin('PUT', '/client/v4/pops/test', { city: 'Testville', latitude: 1, longitude: 2 });
    for (const [name, ip] of [
      ['acme-a', '127.0.0.1'],
      ['acme-b', '127.0.0.2'],
    ] as const) {
      edges.push(
        await startEdgeProcess(
          '',
          // The helper listens on 127.0.0.1; the later --listen wins (parseArgs keeps the last).
          [
            '--control',
            control.url,
            '--pop',
            'test',
            '--node',
            name,
            '--token',
            nodeToken,
            '--listen',
            `${ip}:${port}`,
          ],
          { noOrigin: true },
        ),
      );
      edgeUrls.push(`http://${ip}:${port}`);
    }
  });

  after(async () => {
    await control?.close();
    for (const edge of edges) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await origin?.stop();
    await pebble?.stop();
    if (dataDir !== undefined) await removeDir(dataDir);
  });

  let zone: Zone;
  let first: { id: string; not_before: string; expires_on: string };

  it('issues a certificate whose chain verifies against pebble’s root and covers the hostnames', async () => {
    zone = await createZone('shop', ['shop.acme.test', 'www.shop.acme.test']);
    // www resolves to the second node: each name is validated at a different edge.
    await pebble.setA('www.shop.acme.test', '127.0.0.2');
    certs.zones.push(zone);
    const fromSeq = await control.store.lastSeq();
    const acme = control.acme as AcmeManager;
    const meta = await acme.orderNow(zone.id);
    first = meta;
    // pebble really fetched each name's challenge (from the node its name resolves to).
    for (const host of zone.hostnames) {
      assert.match(
        pebble.output(),
        new RegExp(`Attempting to validate w/ HTTP: http://${host.replaceAll('.', '\\.')}:${port}/`),
      );
    }
    assert.deepEqual(meta.hosts.toSorted(), ['shop.acme.test', 'www.shop.acme.test']);
    assert.equal(meta.type, 'acme');
    assert.equal(meta.signature, 'ECDSA');

    const stored = certs.current(zone.id);
    assert.ok(stored !== undefined);
    const [leafPem, intermediatePem] =
      stored.certificate.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    const leaf = new X509Certificate(leafPem as string);
    const intermediate = new X509Certificate(intermediatePem as string);
    const root = new X509Certificate(pebble.rootPem);
    assert.ok(leaf.verify(intermediate.publicKey), 'leaf signed by the intermediate');
    assert.ok(intermediate.verify(root.publicKey), 'intermediate signed by pebble’s root');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(stored.privateKey)), 'the key matches the leaf');
    assert.equal(createPrivateKey(stored.privateKey).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    for (const host of zone.hostnames) assert.equal(leaf.checkHost(host), host);
    const lifetime = Date.parse(meta.expires_on) - Date.parse(meta.not_before);
    assert.ok(Math.abs(lifetime - VALIDITY_S * 1000) <= 2_000, `pebble's short validity (${lifetime} ms)`);

    // A real TLS client accepts the chain for both names with only pebble's root trusted.
    const server = createTlsServer({ cert: stored.certificate, key: stored.privateKey });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      for (const servername of zone.hostnames) {
        const socket = connect({
          host: '127.0.0.1',
          port: (server.address() as { port: number }).port,
          servername,
          ca: pebble.rootPem,
        });
        await once(socket, 'secureConnect');
        assert.equal(socket.authorized, true);
        socket.destroy();
      }
    } finally {
      server.close();
    }

    // The challenges went to the nodes through the log, and were withdrawn after the order.
    const events = await control.store.readEventsAfter(fromSeq, 1_000);
    const upserts = events.flatMap((e) => (e.type === 'acme.challenge.upsert' ? [e.challenge] : []));
    const deletes = events.flatMap((e) => (e.type === 'acme.challenge.delete' ? [e.token] : []));
    assert.equal(upserts.length, 2, 'one http-01 challenge per name');
    assert.deepEqual(deletes.toSorted(), upserts.map((c) => c.token).toSorted());
    assert.equal((await control.store.snapshot()).acme_challenges, undefined);
    for (const url of edgeUrls) {
      for (const c of upserts) {
        await eventually(
          async () => {
            const reply = await fetchReply(`${url}/.well-known/acme-challenge/${c.token}`, {
              headers: { host: 'shop.acme.test' },
            });
            return reply.body.toString() !== c.key_authorization;
          },
          15_000,
          `${url} stops answering ${c.token}`,
        );
      }
    }

    // /metrics: the expiry, the next order (the renewal) and the order count.
    const expiry = Date.parse(meta.expires_on) / 1000;
    const next = renewalTime(meta).getTime() / 1000;
    await eventually(
      async () => {
        const metrics = await fetchReply(`${control.url}/metrics`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        const text = metrics.body.toString();
        return (
          text.includes(
            `meridian_control_certificate_expiry_timestamp_seconds{zone="shop",id="${meta.id}"} ${expiry}`,
          ) &&
          text.includes('meridian_control_acme_orders_total{result="success"} 1') &&
          text.includes(`meridian_control_acme_next_order_timestamp_seconds{zone="shop"} ${next}`)
        );
      },
      5_000,
      'the metrics',
    );
  });

  it('every node answers only known, unexpired tokens, for any Host; unknown ones reach the zone', async () => {
    const token = 'KnownToken_0123456789abcdefghij';
    const keyAuthorization = `${token}.thumbprint-of-the-account-key`;
    const expired = 'ExpiredToken_0123456789abcdefgh';
    await control.store.putAcmeChallenge({
      token,
      key_authorization: keyAuthorization,
      expires_at: new Date(Date.now() + 600_000).toISOString(),
    });
    await control.store.putAcmeChallenge({
      token: expired,
      key_authorization: `${expired}.x`,
      expires_at: new Date(Date.now() - 1_000).toISOString(),
    });
    for (const url of edgeUrls) {
      await eventually(
        async () =>
          (await fetchReply(`${url}/.well-known/acme-challenge/${token}`, { headers: { host: 'x.invalid' } }))
            .status === 200,
        15_000,
        `${url} learns the challenge`,
      );
      for (const host of ['shop.acme.test', 'not-a-zone.invalid', '127.0.0.1']) {
        const reply = await fetchReply(`${url}/.well-known/acme-challenge/${token}`, { headers: { host } });
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['content-type'], 'text/plain');
        assert.equal(reply.body.toString(), keyAuthorization);
      }
      const head = await fetchReply(`${url}/.well-known/acme-challenge/${token}`, {
        method: 'HEAD',
        headers: { host: 'shop.acme.test' },
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(keyAuthorization.length));
    }
    assert.equal(
      await originCount(origin, `/.well-known/acme-challenge/${token}`),
      0,
      'never reached the origin',
    );

    // Unknown and expired tokens are not answered by the node: they go through the zone to the
    // origin (customers may run their own ACME there); for a host no zone serves, 421.
    const edge = { url: edgeUrls[0] as string };
    for (const unknown of ['UnknownToken_0123456789abcdefgh', expired]) {
      const path = `/.well-known/acme-challenge/${unknown}`;
      const reply = await fetchReply(`${edge.url}${path}`, { headers: { host: 'shop.acme.test' } });
      assert.equal(reply.status, 200);
      assert.notEqual(reply.body.toString(), `${expired}.x`);
      assert.equal(await originCount(origin, path), 1);
      assert.equal((await fetchReply(`${edge.url}${path}`, { headers: { host: 'x.invalid' } })).status, 421);
    }

    await control.store.deleteAcmeChallenge(token);
    await control.store.deleteAcmeChallenge(expired);
    for (const url of edgeUrls) {
      await eventually(
        async () =>
          (await fetchReply(`${url}/.well-known/acme-challenge/${token}`, { headers: { host: 'x.invalid' } }))
            .status === 421,
        15_000,
        `${url} forgets the withdrawn challenge`,
      );
    }
  });

  it('a failing order (the CA cannot reach an edge) retries with capped backoff and withdraws its challenges', async () => {
    const down = await createZone('down', ['down.acme.test']);
    // Nothing listens there: pebble's validation is refused, as if no node answered.
    await pebble.setA('down.acme.test', '127.0.0.9');
    const deps = new MemoryAcmeDeps({ zones: [down] });
    const failing = storeAcmeDeps(control.store, deps);
    const manager = new AcmeManager(
      {
        directoryUrl: pebble.directoryUrl,
        directoryCa: pebble.tlsCaPem,
        deps: failing,
        retryBaseMs: 400,
        retryMaxMs: 1_000,
        pollMs: 200,
      },
      null,
      createLogger('acme', 'error'),
    );
    const published: string[] = [];
    const withdrawn: string[] = [];
    const publish = failing.publishChallenge.bind(failing);
    const withdraw = failing.withdrawChallenge.bind(failing);
    failing.publishChallenge = async (c) => {
      published.push(c.token);
      await publish(c);
    };
    failing.withdrawChallenge = async (t) => {
      withdrawn.push(t);
      await withdraw(t);
    };
    try {
      // The CA's problem document, in one line: what the API and the log show.
      await assert.rejects(
        manager.orderNow(down.id),
        /Error: down\.acme\.test: connection: .*connection refused/,
      );
      await manager.start();
      await eventually(async () => deps.failures.length >= 4, 60_000, 'four failed attempts');
      await manager.stop();
      const times = deps.failures.map((f) => f.at.getTime());
      // Backoff: 400, 800, then capped at 1000 ms (lower bounds only: the machine may be slow).
      const expected = [400, 800, 1_000];
      for (let i = 1; i < 4; i += 1) {
        const gap = (times[i] as number) - (times[i - 1] as number);
        assert.ok(gap >= (expected[i - 1] as number), `gap ${i}: ${gap} ms ≥ ${expected[i - 1]} ms`);
      }
      const state = manager.states().find((s) => s.zoneId === down.id);
      assert.ok(state !== undefined);
      assert.ok(state.failures >= 4);
      assert.equal(state.retryDelayMs, 1_000, 'the delay is capped');
      assert.equal(state.reason, 'retry');
      assert.equal(deps.certificates.length, 0);
      assert.match(deps.failures[0]?.message ?? '', /^down\.acme\.test: connection: /);
      assert.ok(published.length >= 4);
      assert.deepEqual(withdrawn.toSorted(), published.toSorted(), 'every challenge withdrawn');
      assert.equal((await control.store.snapshot()).acme_challenges, undefined);
    } finally {
      await manager.stop();
    }
  });

  it('does not ask the CA to validate before the nodes answer: the attempt fails and withdraws', async () => {
    const late = await createZone('late', ['late.acme.test']);
    const deps = new MemoryAcmeDeps({
      zones: [late],
      // The nodes never confirm (as when none is up): the CA is never told to validate.
      challenges: { publish: async () => {}, withdraw: async () => {}, visible: async () => false },
    });
    const manager = new AcmeManager(
      {
        directoryUrl: pebble.directoryUrl,
        directoryCa: pebble.tlsCaPem,
        deps,
        pollMs: 100,
        propagationTimeoutMs: 500,
      },
      null,
      createLogger('acme', 'error'),
    );
    try {
      const before = pebble.output().length;
      await assert.rejects(manager.orderNow(late.id), /did not answer the challenges within 500 ms/);
      assert.equal(deps.published.length, 1);
      assert.deepEqual(deps.withdrawn, [deps.published[0]?.token]);
      assert.doesNotMatch(
        pebble.output().slice(before),
        /Attempting to validate w\/ HTTP: http:\/\/late\.acme\.test/,
      );
      assert.equal(deps.failures.length, 1);
    } finally {
      await manager.stop();
    }
  });

  it('two control-plane replicas on one store: one order, the other waits for it', async () => {
    const twin = await createZone('twin', ['twin.acme.test']);
    const shared = new MemoryAcmeDeps({ zones: [twin] });
    const replicas = [0, 1].map(
      () =>
        new AcmeManager(
          {
            directoryUrl: pebble.directoryUrl,
            directoryCa: pebble.tlsCaPem,
            deps: storeAcmeDeps(control.store, shared),
            pollMs: 200,
          },
          null,
          createLogger('acme', 'error'),
        ),
    );
    try {
      const results = await Promise.allSettled(replicas.map((r) => r.orderNow(twin.id)));
      assert.equal(shared.certificates.length, 1, 'one certificate ordered');
      const id = shared.certificates[0]?.meta.id;
      for (const result of results) {
        if (result.status === 'fulfilled') assert.equal(result.value.id, id);
        else assert.match(String(result.reason), /another control plane is ordering/);
      }
      assert.ok(results.some((r) => r.status === 'fulfilled'));
    } finally {
      for (const r of replicas) await r.stop();
    }
  });

  it('renews at two thirds of the lifetime and replaces the certificate', async () => {
    const renewAt = renewalTime(first).getTime();
    const state = (control.acme as AcmeManager).states().find((s) => s.zoneId === zone.id);
    assert.equal(state?.nextAttemptAt, new Date(renewAt).toISOString());
    assert.equal(state?.reason, 'renew');
    await eventually(
      async () => certs.certificates.filter((c) => c.meta.zone_id === zone.id).length >= 2,
      VALIDITY_S * 1000 + 30_000,
      'the renewal',
    );
    const [old, renewed] = certs.certificates.filter((c) => c.meta.zone_id === zone.id);
    assert.ok(old !== undefined && renewed !== undefined);
    assert.equal(old.meta.id, first.id);
    assert.equal(old.meta.status, 'expired', 'the store replaced the old one');
    assert.equal(certs.current(zone.id)?.meta.id, renewed.meta.id);
    const savedAt = Date.parse(renewed.meta.uploaded_on);
    assert.ok(savedAt >= renewAt, 'not before 2/3 of the lifetime');
    assert.ok(savedAt < Date.parse(first.expires_on), 'before the old one expired');
    assert.notEqual(renewed.meta.serial_number, old.meta.serial_number);
  });

  it('after a restart the schedule comes back from the stored certificates (no new order)', async () => {
    const current = certs.current(zone.id);
    assert.ok(current !== undefined);
    const count = certs.certificates.length;
    const restarted = new AcmeManager(
      {
        directoryUrl: pebble.directoryUrl,
        directoryCa: pebble.tlsCaPem,
        deps: storeAcmeDeps(control.store, certs),
      },
      null,
      createLogger('acme', 'error'),
    );
    try {
      await restarted.start();
      const state = restarted.states().find((s) => s.zoneId === zone.id);
      assert.equal(state?.nextAttemptAt, renewalTime(current.meta).toISOString());
      assert.equal(state?.ordering, false);
      assert.equal(certs.certificates.length, count);
    } finally {
      await restarted.stop();
    }
  });
});
