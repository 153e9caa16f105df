// The control store's ACME bookkeeping on SQLite and PostgreSQL: challenges are events and
// snapshot state; the per-zone order lease lets one replica order at a time (two replicas on one
// PostgreSQL schema race for it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { MasterKey } from '../../src/control/secrets/master-key.ts';
import { openControlStore } from '../../src/control/store/control-store.ts';
import type { ControlStore } from '../../src/control/store/types.ts';

const PG_KEY = MasterKey.generate();
const PG = process.env['MERIDIAN_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `meridian_acme_${randomBytes(4).toString('hex')}`;
let pgUsed = false;
// One file, so two stores on it are two replicas of one database (":memory:" would be two).
const DIR = mkdtempSync(join(tmpdir(), 'meridian-acme-store-'));

after(async () => {
  rmSync(DIR, { recursive: true, force: true });
  if (!pgUsed) return;
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${SCHEMA}" cascade`);
  } finally {
    await client.end();
  }
});

const clock = { now: new Date('2026-12-03T08:00:00Z') };
const at = (ms: number): string => new Date(clock.now.getTime() + ms).toISOString();

const dialects: [string, () => Promise<ControlStore>][] = [
  ['SQLite', () => openControlStore(`sqlite:${join(DIR, 'meridian.db')}`, { now: () => clock.now })],
  [
    'PostgreSQL',
    () => {
      pgUsed = true;
      return openControlStore(PG, { schema: SCHEMA, now: () => clock.now, masterKey: PG_KEY });
    },
  ],
];

for (const [name, open] of dialects) {
  describe(`ACME store: ${name}`, () => {
    it('a challenge is an upsert event and snapshot state until withdrawn; expired ones leave the snapshot', async () => {
      const store = await open();
      try {
        const from = await store.lastSeq();
        const challenge = { token: 'tok-1', key_authorization: 'tok-1.thumb', expires_at: at(60_000) };
        const seq = await store.putAcmeChallenge(challenge);
        assert.equal(seq, from + 1);
        const [event] = await store.readEventsAfter(from, 10);
        assert.equal(event?.type, 'acme.challenge.upsert');
        assert.deepEqual((await store.snapshot()).acme_challenges, [challenge]);
        await store.putAcmeChallenge({ token: 'old', key_authorization: 'old.x', expires_at: at(-1) });
        assert.deepEqual(
          (await store.snapshot()).acme_challenges,
          [challenge],
          'expired: not in the snapshot',
        );
        assert.equal(typeof (await store.deleteAcmeChallenge('tok-1')), 'number');
        assert.equal(await store.deleteAcmeChallenge('tok-1'), null, 'twice: nothing to withdraw');
        await store.deleteAcmeChallenge('old');
        assert.equal((await store.snapshot()).acme_challenges, undefined);
        const types = (await store.readEventsAfter(from, 10)).map((e) => e.type);
        assert.deepEqual(types, [
          'acme.challenge.upsert',
          'acme.challenge.upsert',
          'acme.challenge.delete',
          'acme.challenge.delete',
        ]);
      } finally {
        await store.close();
      }
    });

    it('the order lease: one holder at a time, renewable by its holder, free again on release or expiry', async () => {
      const a = await open();
      const b = await open();
      try {
        const zone = `zone-${randomBytes(3).toString('hex')}`;
        const race = await Promise.all([
          a.acquireAcmeLease(zone, 'A', 60_000),
          b.acquireAcmeLease(zone, 'B', 60_000),
        ]);
        assert.equal(race.filter(Boolean).length, 1, 'exactly one of two racing replicas wins');
        const [winner, loser] = race[0] ? ['A', 'B'] : ['B', 'A'];
        assert.equal(await a.acquireAcmeLease(zone, winner as string, 60_000), true, 'the holder renews');
        assert.equal(await a.acquireAcmeLease(zone, loser as string, 60_000), false);
        await a.releaseAcmeLease(zone, loser as string);
        assert.equal(
          await a.acquireAcmeLease(zone, loser as string, 60_000),
          false,
          'only the holder releases',
        );
        await a.releaseAcmeLease(zone, winner as string);
        assert.equal(await b.acquireAcmeLease(zone, loser as string, 60_000), true, 'free after release');
        clock.now = new Date(clock.now.getTime() + 61_000);
        assert.equal(await a.acquireAcmeLease(zone, winner as string, 60_000), true, 'free after expiry');
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
