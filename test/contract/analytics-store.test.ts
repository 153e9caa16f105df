// Issue 15: the analytics rows behave the same on SQLite and PostgreSQL: a batch adds to the
// minute, hour and day rows of its node; the same batch id adds nothing the second time, also when
// two copies arrive at once (PostgreSQL, two pools as two replicas); an unknown zone stores nothing;
// retention removes what is older than each resolution keeps.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import type { AnalyticsBatch } from '../../src/common/analytics/batch.ts';
import { emptyTally } from '../../src/common/analytics/tally.ts';
import { MasterKey } from '../../src/control/secrets/master-key.ts';
import { openControlStore } from '../../src/control/store/control-store.ts';
import type { ControlStore } from '../../src/control/store/types.ts';
import { ACTOR, zoneInput } from './control-store-fixtures.ts';

const PG_URL = process.env['MERIDIAN_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `meridian_analytics_${randomBytes(4).toString('hex')}`;
const MASTER_KEY = MasterKey.generate();

after(async () => {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${SCHEMA}" cascade`);
  } finally {
    await client.end();
  }
});

function batchOf(
  zoneId: string,
  minute: string,
  requests: number,
  bytes: number,
  node = 'n1',
): AnalyticsBatch {
  const tally = emptyTally();
  tally.requests = requests;
  tally.bytes = bytes;
  tally.cache = { hit: { requests, bytes } };
  tally.status = { '200': requests };
  return { batch_id: randomUUID(), node, pop: 'p1', minutes: [{ zone_id: zoneId, minute, tally }] };
}

function suite(
  name: string,
  open: () => Promise<ControlStore>,
  openReplica: (() => Promise<ControlStore>) | null,
): void {
  describe(`analytics store (${name})`, () => {
    test('adds batches to minute, hour and day rows; a repeated batch id adds nothing', async () => {
      const store = await open();
      try {
        const zone = await store.createZone(zoneInput(`an-${randomBytes(3).toString('hex')}`), ACTOR);
        const b1 = batchOf(zone.id, '2026-12-03T12:01:00.000Z', 3, 300);
        const b2 = batchOf(zone.id, '2026-12-03T12:59:00.000Z', 2, 20);
        assert.deepEqual(await store.analytics.ingest(b1), { kind: 'added' });
        assert.deepEqual(await store.analytics.ingest(b2), { kind: 'added' });
        assert.deepEqual(await store.analytics.ingest(b1), { kind: 'duplicate' });
        const minutes = await store.analytics.rows(
          zone.id,
          'minute',
          '2026-12-03T12:00:00.000Z',
          '2026-12-03T13:00:00.000Z',
        );
        assert.deepEqual(
          minutes.map((r) => [r.bucket, r.tally.requests]),
          [
            ['2026-12-03T12:01:00.000Z', 3],
            ['2026-12-03T12:59:00.000Z', 2],
          ],
        );
        const hours = await store.analytics.rows(
          zone.id,
          'hour',
          '2026-12-03T00:00:00.000Z',
          '2026-12-04T00:00:00.000Z',
        );
        assert.deepEqual(
          hours.map((r) => [r.bucket, r.tally.requests, r.tally.bytes]),
          [['2026-12-03T12:00:00.000Z', 5, 320]],
        );
        const days = await store.analytics.rows(
          zone.id,
          'day',
          '2026-12-01T00:00:00.000Z',
          '2026-12-05T00:00:00.000Z',
        );
        assert.deepEqual(
          days.map((r) => [r.bucket, r.tally.requests]),
          [['2026-12-03T00:00:00.000Z', 5]],
        );
        const totals = await store.analytics.zoneTotals(
          'hour',
          '2026-12-03T00:00:00.000Z',
          '2026-12-04T00:00:00.000Z',
        );
        assert.deepEqual(totals.get(zone.id), { requests: 5, bytes: 320 });
      } finally {
        await store.close();
      }
    });

    test('a batch naming an unknown zone stores nothing, not even its id', async () => {
      const store = await open();
      try {
        const zone = await store.createZone(zoneInput(`an-${randomBytes(3).toString('hex')}`), ACTOR);
        const batch = batchOf(zone.id, '2026-12-03T12:01:00.000Z', 1, 1);
        batch.minutes.push({ ...(batch.minutes[0] as AnalyticsBatch['minutes'][number]), zone_id: 'gone' });
        assert.deepEqual(await store.analytics.ingest(batch), { kind: 'unknown-zones', zoneIds: ['gone'] });
        assert.deepEqual(
          await store.analytics.rows(
            zone.id,
            'minute',
            '2026-12-03T00:00:00.000Z',
            '2026-12-04T00:00:00.000Z',
          ),
          [],
        );
        batch.minutes.pop();
        assert.deepEqual(await store.analytics.ingest(batch), { kind: 'added' });
      } finally {
        await store.close();
      }
    });

    test('retention drops what each resolution no longer keeps', async () => {
      const store = await open();
      try {
        const zone = await store.createZone(zoneInput(`an-${randomBytes(3).toString('hex')}`), ACTOR);
        const old = new Date(Date.now() - 3 * 86_400_000);
        const minute = new Date(old.getTime() - (old.getTime() % 60_000)).toISOString();
        await store.analytics.ingest(batchOf(zone.id, minute, 4, 4));
        await store.analytics.prune({
          minuteMs: 86_400_000,
          hourMs: 30 * 86_400_000,
          dayMs: 365 * 86_400_000,
          batchIdsMs: 86_400_000,
        });
        const range = [new Date(old.getTime() - 86_400_000).toISOString(), new Date().toISOString()] as const;
        assert.equal((await store.analytics.rows(zone.id, 'minute', ...range)).length, 0);
        assert.equal((await store.analytics.rows(zone.id, 'hour', ...range)).length, 1);
      } finally {
        await store.close();
      }
    });

    if (openReplica !== null) {
      test('two replicas given the same batch at once add it once', async () => {
        const [a, b] = await Promise.all([open(), openReplica()]);
        try {
          const zone = await a.createZone(zoneInput(`an-${randomBytes(3).toString('hex')}`), ACTOR);
          const batch = batchOf(zone.id, '2026-12-03T12:01:00.000Z', 7, 70);
          const results = await Promise.all([a.analytics.ingest(batch), b.analytics.ingest(batch)]);
          assert.deepEqual(results.map((r) => r.kind).sort(), ['added', 'duplicate']);
          const rows = await b.analytics.rows(
            zone.id,
            'minute',
            '2026-12-03T12:00:00.000Z',
            '2026-12-03T13:00:00.000Z',
          );
          assert.deepEqual(
            rows.map((r) => r.tally.requests),
            [7],
          );
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      });
    }
  });
}

suite('SQLite', () => openControlStore('sqlite::memory:'), null);
suite(
  'PostgreSQL',
  () => openControlStore(PG_URL, { masterKey: MASTER_KEY, schema: SCHEMA }),
  () => openControlStore(PG_URL, { masterKey: MASTER_KEY, schema: SCHEMA }),
);
