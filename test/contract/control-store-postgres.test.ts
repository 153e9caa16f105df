// The ControlStore contract on PostgreSQL (postgres://postgres@127.0.0.1:5432/test, a fresh schema
// per store, all dropped at the end), plus what only shared PostgreSQL shows: replicas on one schema
// hear each other's commits, and writers on separate pools still share one gapless log.
// A database that cannot be reached fails these tests; it does not skip them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { openControlStore } from '../../src/control/store/control-store.ts';
import type { ControlStore } from '../../src/control/store/types.ts';
import { MasterKey } from '../../src/control/secrets/master-key.ts';
import { controlStoreTests } from './control-store.ts';
import { certificateStoreTests } from './control-store-certificates.ts';
import type { OpenOptions } from './control-store-fixtures.ts';
import {
  ACTOR,
  applyEvents,
  EMPTY_SNAPSHOT,
  normalised,
  readWholeLog,
  waitFor,
  zoneInput,
} from './control-store-fixtures.ts';

const URL = process.env['MERIDIAN_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `meridian_test_${randomBytes(4).toString('hex')}`;
const schemas: string[] = [];

const newSchema = (): string => {
  const schema = `${RUN}_${schemas.length + 1}`;
  schemas.push(schema);
  return schema;
};
/** PostgreSQL needs a master key (replicas share it): one for every schema of this run. */
const MASTER_KEY = MasterKey.generate();
const openOn = (schema: string, options?: OpenOptions & { masterKey?: MasterKey }): Promise<ControlStore> =>
  openControlStore(URL, { masterKey: MASTER_KEY, ...options, schema });

/** Opens stores concurrently (as replicas starting together do); closes the opened ones if one fails. */
async function openAll(...opens: Promise<ControlStore>[]): Promise<ControlStore[]> {
  const results = await Promise.allSettled(opens);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed === undefined) return results.map((r) => (r as PromiseFulfilledResult<ControlStore>).value);
  await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  throw failed.reason;
}

after(async () => {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
});

controlStoreTests('PostgreSQL', (options) => openOn(newSchema(), options));
certificateStoreTests(
  'PostgreSQL',
  (options) => openOn(newSchema(), options),
  () => {
    const schema = newSchema();
    return (options) => openOn(schema, options);
  },
);

describe('ControlStore on PostgreSQL', () => {
  test("a second store on the same schema is notified of the first one's commits", async () => {
    const schema = newSchema();
    const writer = await openOn(schema);
    const replica = await openOn(schema);
    try {
      const heard = waitFor<number>(
        (deliver) => replica.onCommitted(deliver),
        (seq) => seq >= 2,
      );
      await writer.createZone(zoneInput('a'), ACTOR);
      await writer.createZone(zoneInput('b'), ACTOR);
      assert.equal(await heard, 2);
      assert.deepEqual(
        (await replica.readEventsAfter(0, 10)).map((e) => e.seq),
        [1, 2],
      );
      // And the other way round.
      const back = waitFor<number>(
        (deliver) => writer.onCommitted(deliver),
        (seq) => seq === 3,
      );
      await replica.createZone(zoneInput('c'), ACTOR);
      assert.equal(await back, 3);
    } finally {
      await Promise.all([writer.close(), replica.close()]);
    }
  });

  test('stores on other schemas of the same database are not notified', async () => {
    const schemaA = newSchema();
    const [a, replicaOfA, b] = (await openAll(openOn(schemaA), openOn(schemaA), openOn(newSchema()))) as [
      ControlStore,
      ControlStore,
      ControlStore,
    ];
    try {
      const seenByB: number[] = [];
      b.onCommitted((seq) => seenByB.push(seq));
      const heardByReplica = waitFor<number>(
        (deliver) => replicaOfA.onCommitted(deliver),
        () => true,
      );
      await a.createZone(zoneInput('a'), ACTOR);
      // Once A's replica has the NOTIFY, the database has delivered it: B, on another channel, did not get it.
      assert.equal(await heardByReplica, 1);
      assert.deepEqual(seenByB, []);
    } finally {
      await Promise.all([a.close(), replicaOfA.close(), b.close()]);
    }
  });

  test('writers on separate pools of one schema share one gapless, commit-ordered log', async () => {
    const schema = newSchema();
    const stores = await openAll(openOn(schema), openOn(schema), openOn(schema));
    try {
      await Promise.all(
        stores.flatMap((store, s) =>
          Array.from({ length: 20 }, (_, i) => store.createZone(zoneInput(`s${s}-z${i}`), ACTOR)),
        ),
      );
      const [first] = stores as [ControlStore, ...ControlStore[]];
      const log = await readWholeLog(first);
      assert.equal(log.length, 60);
      assert.deepEqual(normalised(await first.snapshot()), applyEvents(EMPTY_SNAPSHOT, log));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('an unreachable database fails open with an error', async () => {
    await assert.rejects(openControlStore('postgres://postgres@127.0.0.1:1/test', { masterKey: MASTER_KEY }));
  });

  test('without a master key a PostgreSQL store refuses to open, saying why', async () => {
    await assert.rejects(
      openControlStore(URL, { schema: newSchema() }),
      /every replica must use the same key/,
    );
  });

  test('a schema name that is not a plain identifier is refused', async () => {
    await assert.rejects(
      openControlStore(URL, { masterKey: MASTER_KEY, schema: 'x"; drop table y; --' }),
      /schema/,
    );
  });
});
