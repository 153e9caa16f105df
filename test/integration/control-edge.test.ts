// Issue 3: edges managed by a control plane, over both event transports. A change made through the
// API reaches every node; nodes keep serving their last known good configuration while the control
// plane is away, start from it, and catch up when it returns.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import {
  api,
  fetchReply,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc } from '../helpers/processes.ts';

const NATS = process.env.MERIDIAN_TEST_NATS ?? 'nats://127.0.0.1:4222';

const PG_ADMIN = process.env.MERIDIAN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A database of its own for the distributed-mode run (dropped afterwards). */
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
  } finally {
    await nc.close();
  }
}

for (const transport of ['http', 'nats'] as const) {
  describe(`managed edges over the ${transport} transport${transport === 'nats' ? ' (PostgreSQL control plane)' : ''}`, () => {
    let origin: Proc;
    let control: ControlProc;
    let nodeToken: string;
    let zoneId: string;
    const edges: EdgeProc[] = [];
    // A stream of its own: a fresh database's seq numbers must not meet an older run's.
    const stream = `TEST_${process.pid}_${Date.now()}`;
    // The NATS run is the distributed mode: control plane on PostgreSQL, events over JetStream.
    const database = `meridian_it_${process.pid}_${Date.now()}`;
    const pgUrl = PG_ADMIN.replace(/\/[^/]*$/, `/${database}`);
    const natsArgs = (): string[] => (transport === 'nats' ? ['--nats', NATS, '--nats-stream', stream] : []);
    const host = `site-${transport}.test`;

    const startNode = async (
      name: string,
      extra: { cacheDir?: string; port?: number } = {},
    ): Promise<EdgeProc> => {
      const edge = await startEdgeProcess(
        '',
        ['--control', control.url, '--pop', 'test', '--node', name, '--token', nodeToken, ...natsArgs()],
        { ...extra, noOrigin: true },
      );
      edges.push(edge);
      return edge;
    };
    const get = (edge: EdgeProc, path: string, h = host) =>
      fetchReply(`${edge.url}${path}`, { headers: { host: h } });
    const admin = (method: string, path: string, body?: unknown) =>
      api(control.url, control.adminToken, method, path, body);

    /** Polls until `check` passes or `ms` elapse; returns the elapsed time. */
    async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<number> {
      const started = Date.now();
      while (Date.now() - started < ms) {
        if (await check()) return Date.now() - started;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`not within ${ms} ms`);
    }

    before(async () => {
      origin = await startTestOrigin();
      if (transport === 'nats') await withDatabase(database, true);
      control = await startControlProcess(
        transport === 'nats' ? { nats: NATS, db: pgUrl, extra: ['--nats-stream', stream] } : {},
      );
      nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
        .value;
      await admin('PUT', '/client/v4/pops/test', { city: 'Testville', latitude: 1, longitude: 2 });
      const zone = await admin('POST', '/client/v4/zones', {
        name: `site-${transport}`,
        hostnames: [host],
        origins: [{ url: origin.url }],
      });
      zoneId = zone.body.result.id;
    });

    after(async () => {
      for (const edge of edges) {
        await edge.stop();
        await removeDir(edge.cacheDir);
      }
      await control.stop();
      await removeDir(control.dataDir);
      await origin.stop();
      if (transport === 'nats') {
        await deleteStream(stream);
        await withDatabase(database, false);
      }
    });

    it('serves the zone from the snapshot; unknown hosts get 421', async () => {
      const edge = await startNode(`${transport}-a`);
      const reply = await get(edge, '/hello?cc=max-age%3D60');
      assert.equal(reply.status, 200);
      assert.equal((await get(edge, '/hello', 'nobody.test')).status, 421);
      const nodes = await admin('GET', '/client/v4/nodes');
      assert.ok(
        nodes.body.result.some(
          (n: { name: string; status: string }) => n.name === `${transport}-a` && n.status === 'up',
        ),
      );
    });

    it('a rule created through the API is applied by every node within a second', async () => {
      const second = await startNode(`${transport}-b`);
      const first = edges[0] as EdgeProc;
      // A path each: the two share a PoP, so one node's fill is stored at the key's owner.
      for (const [i, edge] of [first, second].entries())
        assert.match(
          String((await get(edge, `/rule/x${i}?cc=max-age%3D60`)).headers['cache-status']),
          /fwd=uri-miss/,
        );
      const created = await admin('POST', `/client/v4/zones/${zoneId}/rules`, {
        match: { path: '/rule/**' },
        action: { bypass: true },
      });
      assert.equal(created.status, 201);
      for (const edge of [first, second]) {
        const ms = await eventually(
          async () =>
            /fwd=bypass/.test(String((await get(edge, '/rule/y?cc=max-age%3D60')).headers['cache-status'])),
          1_000,
        );
        assert.ok(ms < 1_000);
      }
    });

    it('zone settings reach the nodes: max_object_size and default stale windows', async () => {
      const node = edges[0] as EdgeProc;
      await admin('PATCH', `/client/v4/zones/${zoneId}`, {
        settings: { max_object_size: 1000, stale_if_error: 60 },
      });
      let attempt = 0;
      await eventually(async () => {
        // A fresh path each try: one fetched before the change arrived would stay cached.
        const path = `/big-setting-${attempt++}?cc=max-age%3D60&size=2000`;
        await get(node, path);
        return /fwd=bypass; fwd-status=200; detail="hit-for-pass"/.test(
          String((await get(node, path)).headers['cache-status']),
        );
      });
      // A response without stale-if-error gets the zone's default window.
      const first = await get(node, '/sie-default?cc=max-age%3D1');
      await new Promise((r) => setTimeout(r, 1_100));
      await fetchReply(`${origin.url}/__override?path=/sie-default&status=503`, { method: 'POST' });
      const stale = await get(node, '/sie-default?cc=max-age%3D1');
      assert.equal(stale.status, 200);
      assert.deepEqual(stale.body, first.body);
      assert.match(String(stale.headers['cache-status']), /stale-if-error/);
    });

    it('heart-beats report the applied sequence', async () => {
      await eventually(async () => {
        const nodes = (await admin('GET', '/client/v4/nodes')).body.result as {
          name: string;
          applied_seq: number;
        }[];
        const last = (await admin('GET', '/client/v4/audit?per_page=1')).status === 200;
        return last && nodes.filter((n) => n.name.startsWith(transport)).every((n) => n.applied_seq > 0);
      });
    });

    it('keeps serving while the control plane is down, restarts from last known good, catches up after', async () => {
      const node = edges[0] as EdgeProc;
      await control.stop();
      assert.equal(
        (await get(node, '/lkg?cc=max-age%3D60')).status,
        200,
        'serving with the control plane away',
      );
      await node.stop();
      const restarted = await startNode(`${transport}-a`, { cacheDir: node.cacheDir });
      assert.equal(
        (await get(restarted, '/lkg2?cc=max-age%3D60')).status,
        200,
        'started from last known good',
      );
      assert.match(
        String((await get(restarted, '/rule/z?cc=max-age%3D60')).headers['cache-status']),
        /fwd=bypass/,
      );
      control = await startControlProcess({
        ...(transport === 'nats' ? { nats: NATS, db: pgUrl, extra: ['--nats-stream', stream] } : {}),
        reuse: control,
      });
      await admin('PATCH', `/client/v4/zones/${zoneId}`, { settings: { development_mode: true } });
      await eventually(
        async () =>
          /development-mode/.test(
            String((await get(restarted, '/dev?cc=max-age%3D60')).headers['cache-status']),
          ),
        10_000,
      );
    });
  });
}
