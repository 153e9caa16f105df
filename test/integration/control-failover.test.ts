// Issue 20: several control-plane URLs. Two control replicas on one PostgreSQL database publish to
// NATS; an edge (`--control A,B`), `meridian dns` (`--control A,B`) and the CLI (MERIDIAN_API=A,B)
// know both. Replica A is killed: the edge keeps heart-beating through B (it stays up in B's node
// list), its purge receipts arrive, DNS keeps reading the control plane, the CLI works, and every
// one of them logs the failover. Over both event transports (NATS, and B's HTTP stream).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { addressesOf, eventually, kdig, startDnsProcess } from '../helpers/dns.ts';
import type { DnsProc } from '../helpers/dns.ts';
import {
  api,
  CLI,
  fetchReply,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc } from '../helpers/processes.ts';

const NATS = process.env.MERIDIAN_TEST_NATS ?? 'nats://127.0.0.1:4222';
const PG_ADMIN = process.env.MERIDIAN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const ZONE = 'cdn.ha.test';

async function withDatabase(name: string, create: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(create ? `CREATE DATABASE ${name}` : `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function deleteStream(name: string): Promise<void> {
  const nc = await connect({ servers: NATS });
  try {
    await (await jetstreamManager(nc)).streams.delete(name);
  } catch {
    // never created
  } finally {
    await nc.close();
  }
}

interface NodeRow {
  name: string;
  status: string;
  last_heartbeat_at: string | null;
}

for (const transport of ['nats', 'http'] as const) {
  describe(`control-plane failover (two replicas on PostgreSQL, events over ${transport})`, () => {
    const stream = `TEST_HA_${process.pid}_${Date.now()}`;
    const database = `meridian_ha_${transport}_${process.pid}_${Date.now()}`;
    const pgUrl = PG_ADMIN.replace(/\/[^/]*$/, `/${database}`);
    const host = `${transport}.ha.test`;
    let origin: Proc;
    let a: ControlProc;
    let b: ControlProc;
    let edge: EdgeProc;
    let dns: DnsProc;
    let zoneId: string;
    let killedAt = 0;

    const viaB = (method: string, path: string, body?: unknown) =>
      api(b.url, b.adminToken, method, path, body);
    const replicaArgs = { db: pgUrl, nats: NATS, extra: ['--nats-stream', stream, '--node-stale', '2s'] };

    before(async () => {
      origin = await startTestOrigin();
      await withDatabase(database, true);
      a = await startControlProcess(replicaArgs);
      // The second replica: same database, stream and admin token, a port of its own.
      b = await startControlProcess({ ...replicaArgs, reuse: { ...a, port: 0 } });
      const viaA = (method: string, path: string, body?: unknown) =>
        api(a.url, a.adminToken, method, path, body);
      const nodeToken = (await viaA('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
        .result.value as string;
      const readToken = (await viaA('POST', '/client/v4/tokens', { name: 'dns', scopes: ['zones:read'] }))
        .body.result.value as string;
      await viaA('PUT', '/client/v4/pops/fra', { city: 'Frankfurt', latitude: 50.1, longitude: 8.7 });
      const zone = await viaA('POST', '/client/v4/zones', {
        name: `ha-${transport}`,
        hostnames: [host],
        origins: [{ url: origin.url }],
      });
      assert.equal(zone.status, 201, JSON.stringify(zone.body.errors));
      zoneId = zone.body.result.id;
      const events = transport === 'nats' ? ['--nats', NATS, '--nats-stream', stream] : [];
      edge = await startEdgeProcess(
        '',
        [
          '--control',
          `${a.url},${b.url}`,
          '--pop',
          'fra',
          '--node',
          `fra-${transport}`,
          '--token',
          nodeToken,
          ...events,
        ],
        { noOrigin: true, admin: true },
      );
      dns = await startDnsProcess([
        '--control',
        a.url,
        '--control',
        b.url,
        '--token',
        readToken,
        '--zone',
        ZONE,
        '--default-location',
        '50.1,8.7',
      ]);
    });

    after(async () => {
      await dns?.stop();
      await edge?.stop();
      if (edge !== undefined) await removeDir(edge.cacheDir);
      await a?.stop();
      await b?.stop();
      if (a !== undefined) await removeDir(a.dataDir);
      await origin?.stop();
      await deleteStream(stream);
      await withDatabase(database, false);
    });

    it('with replica A killed, the edge heart-beats through B and stays up, and logs the failover', async () => {
      const path = '/ha-1?cc=max-age%3D600';
      await fetchReply(`${edge.url}${path}`, { headers: { host } });
      assert.match(
        String((await fetchReply(`${edge.url}${path}`, { headers: { host } })).headers['cache-status']),
        /; hit/,
      );
      await a.stop('SIGKILL');
      killedAt = Date.now();
      // Past two --node-stale periods after A died, B has fresh heartbeats and lists the node up.
      await eventually(
        async () => {
          const nodes = (await viaB('GET', '/client/v4/nodes')).body.result as NodeRow[];
          const row = nodes.find((n) => n.name === `fra-${transport}`);
          const beat = Date.parse(row?.last_heartbeat_at ?? '');
          return row?.status === 'up' && beat > killedAt + 4_000 && Date.now() > killedAt + 4_500;
        },
        30_000,
        'a heartbeat through B, 4 s after A died, with the node up',
      );
      const failover = edge
        .stderr()
        .split('\n')
        .find((line) => line.includes('control plane failover'));
      assert.ok(failover, edge.stderr());
      const entry = JSON.parse(failover) as { level: string; from: string; to: string; reason: string };
      assert.equal(entry.level, 'warn');
      assert.equal(entry.from, new URL(a.url).origin);
      assert.equal(entry.to, new URL(b.url).origin);
      assert.match(entry.reason, /ECONNREFUSED|ECONNRESET|socket|other side closed/i);
    });

    it('a purge through B reaches the edge and its receipt arrives; the CLI with MERIDIAN_API=A,B confirms it', async () => {
      const path = '/ha-1?cc=max-age%3D600';
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [CLI, 'purge', '--zone', zoneId, '--url', `http://${host}${path}`, '--wait', '--timeout', '20s'],
        { env: { ...process.env, MERIDIAN_API: `${a.url},${b.url}`, MERIDIAN_TOKEN: b.adminToken } },
      );
      assert.match(stdout, /fra 1\/1 applied/);
      assert.match(stdout, /complete: every node applied the purge in \d+ ms \(the last, fra-/, stdout);
      assert.match(stderr, /control plane failover/, stderr);
      assert.match(stderr, new RegExp(new URL(b.url).origin.replace(/[.]/g, '\\.')));
      const reply = await fetchReply(`${edge.url}${path}`, { headers: { host } });
      assert.match(String(reply.headers['cache-status']), /fwd=uri-miss/);
    });

    it('meridian dns keeps reading the control plane through B, and logs the failover', async () => {
      const late = await viaB('POST', '/client/v4/zones', {
        name: `late-${transport}`,
        hostnames: [`late-${transport}.ha.test`],
        origins: [{ url: origin.url }],
      });
      assert.equal(late.status, 201);
      const label = `late-${transport}-ha-test.${ZONE}`;
      await eventually(
        async () => addressesOf(await kdig(dns.port, [label, 'A'])).includes('127.0.0.1'),
        15_000,
        `${label} answered after A died`,
      );
      assert.match(dns.stderr(), /control plane failover/, dns.stderr());
    });
  });
}
