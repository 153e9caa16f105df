// Issue 17: the workers and KV store calls behave the same on SQLite and PostgreSQL (a fresh schema,
// dropped at the end): versions and rollback, routes, secrets sealed and re-sealed on rotation, KV
// writes and listing, and the snapshot equal to the replayed log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { MasterKey } from '../../src/control/secrets/master-key.ts';
import { openControlStore } from '../../src/control/store/control-store.ts';
import type { ControlStore } from '../../src/control/store/types.ts';
import { applyEventToSnapshot } from '../../src/edge/sync/snapshot.ts';
import { ACTOR, EMPTY_SNAPSHOT, normalised, zoneInput } from './control-store-fixtures.ts';

const PG_URL = process.env['MERIDIAN_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `meridian_test_workers_${randomBytes(4).toString('hex')}`;
const dirs: string[] = [];

after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${SCHEMA}" cascade`);
  } finally {
    await client.end();
  }
});

const backends: [string, () => Promise<ControlStore>][] = [
  [
    'SQLite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'meridian-workers-store-'));
      dirs.push(dir);
      return openControlStore(`sqlite:${join(dir, 'db.sqlite')}`, { masterKey: MasterKey.generate() });
    },
  ],
  ['PostgreSQL', () => openControlStore(PG_URL, { masterKey: MasterKey.generate(), schema: SCHEMA })],
];

for (const [name, open] of backends) {
  describe(`workers store: ${name}`, () => {
    test('versions, rollback, routes, KV, secrets and the snapshot', async () => {
      const store = await open();
      try {
        const w = store.workers();
        const zone = await store.createZone(zoneInput(`w-${randomBytes(3).toString('hex')}`), ACTOR);
        const ns = await w.createNamespace(zone.id, 'config', ACTOR);
        const bindings = [
          { type: 'plain_text' as const, name: 'A', text: 'a' },
          { type: 'secret_text' as const, name: 'S', text: 'hush' },
          { type: 'kv_namespace' as const, name: 'KV', namespace_id: ns.id },
        ];
        const v1 = await w.putScript(zone.id, 'api', 'export default {}; // 1', bindings, ACTOR);
        const v2 = await w.putScript(zone.id, 'api', 'export default {}; // 2', bindings, ACTOR);
        assert.equal(v1.version, 1);
        assert.equal(v2.version, 2);
        assert.deepEqual(v2.bindings[1], { type: 'secret_text', name: 'S' });
        const material = await w.getScriptMaterial(zone.id, 'api', 2);
        assert.equal(material?.bindings[1]?.type === 'secret_text' && material.bindings[1].text, 'hush');
        const back = await w.rollbackScript(zone.id, 'api', null, ACTOR);
        assert.equal(back?.version, 1);
        assert.equal((await w.getScript(zone.id, 'api'))?.version, 1);
        await assert.rejects(w.rollbackScript(zone.id, 'api', null, ACTOR), /no version before 1/);
        assert.deepEqual(
          (await w.listVersions(zone.id, 'api')).map((v) => v.version),
          [2, 1],
        );
        const route = await w.createRoute(
          zone.id,
          { pattern: 'x.example/*', script: 'api', fail_open: true },
          ACTOR,
        );
        assert.equal((await w.listRoutes(zone.id))[0]?.fail_open, true);
        await assert.rejects(w.deleteScript(zone.id, 'api', ACTOR), /routes still send requests/);
        await assert.rejects(
          w.putScript(
            zone.id,
            'other',
            'export default {}',
            [{ type: 'kv_namespace', name: 'K', namespace_id: 'nope' }],
            ACTOR,
          ),
          /no KV namespace nope/,
        );

        const big = Buffer.alloc(70 * 1024, 7);
        const small = await w.putValue(ns.id, 'b', Buffer.from('two'), '{"m":1}', null, ACTOR);
        const large = await w.putValue(ns.id, 'a', big, null, 4_000_000_000, ACTOR);
        await w.putValue(ns.id, 'c', Buffer.from('gone'), null, 1, ACTOR);
        assert.equal(small.value_b64, Buffer.from('two').toString('base64'));
        assert.equal(large.value_b64, null, 'large values travel by reference');
        assert.equal((await w.getValue(ns.id, 'a'))?.value.length, big.length);
        assert.equal(await w.getValue(ns.id, 'c'), undefined, 'expired');
        const page1 = await w.listKeys(ns.id, '', null, 1);
        assert.deepEqual(
          page1.keys.map((k) => k.name),
          ['a'],
        );
        const page2 = await w.listKeys(ns.id, '', page1.cursor, 10);
        assert.deepEqual(page2.keys, [{ name: 'b', expiration: null, metadata: { m: 1 } }]);
        assert.equal(page2.cursor, null);
        assert.equal(await w.deleteValue(ns.id, 'b', ACTOR), true);
        assert.equal((await w.allEntries(ns.id)).length, 1);

        const snap = await store.snapshot();
        // The node's own replay (edge/sync/snapshot.ts) of the whole log gives what the snapshot says.
        const replayed = (await store.readEventsAfter(0, 10_000)).reduce(
          applyEventToSnapshot,
          EMPTY_SNAPSHOT,
        );
        assert.deepEqual(normalised(snap).worker_scripts, replayed.worker_scripts);
        assert.deepEqual(normalised(snap).worker_routes, replayed.worker_routes);
        assert.deepEqual(normalised(snap).kv_namespaces, replayed.kv_namespaces);
        assert.equal(snap.worker_routes?.[zone.id]?.[0]?.id, route.id);
        const log = JSON.stringify(await store.readEventsAfter(0, 10_000));
        assert.ok(!log.includes('hush'), 'no secret in the event log');

        const rotated = await store.rotateMasterKey(MasterKey.generate(), ACTOR);
        assert.equal(rotated.worker_secrets, 2);
        const after = await w.getScriptMaterial(zone.id, 'api', 1);
        assert.equal(after?.bindings[1]?.type === 'secret_text' && after.bindings[1].text, 'hush');
        assert.equal(await store.deleteZone(zone.id, ACTOR), true);
        assert.deepEqual(await w.listScripts(zone.id), []);
        assert.equal(await w.getNamespace(ns.id), undefined);
      } finally {
        await store.close();
      }
    });
  });
}
