// The ControlStore contract on SQLite (a temporary file per store), plus what only a file shows:
// the state survives closing and reopening.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openControlStore } from '../../src/control/store/control-store.ts';
import { controlStoreTests } from './control-store.ts';
import { certificateStoreTests } from './control-store-certificates.ts';
import { ACTOR, popInput, readWholeLog, ruleInput, sha256, zoneInput } from './control-store-fixtures.ts';

let dir = '';
let files = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-control-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const nextFile = (): string => join(dir, `store-${++files}.db`);

controlStoreTests('SQLite file', (options) => openControlStore(`sqlite:${nextFile()}`, options ?? {}));
certificateStoreTests(
  'SQLite file',
  (options) => openControlStore(`sqlite:${nextFile()}`, options ?? {}),
  () => {
    const file = nextFile();
    return (options) => openControlStore(`sqlite:${file}`, options ?? {});
  },
);

describe('ControlStore on SQLite', () => {
  test('state and the log survive close and reopen', async () => {
    const url = `sqlite:${nextFile()}`;
    const first = await openControlStore(url);
    await first.upsertPop(popInput('nyc'), ACTOR);
    const zone = await first.createZone(zoneInput('a'), ACTOR);
    await first.createRule(zone.id, ruleInput('r'), null, ACTOR);
    await first.registerNode({ name: 'n1', pop: 'nyc', url: 'http://n1', admin_url: null }, ACTOR);
    await first.createToken({ name: 't', secretHash: sha256('t'), scopes: ['admin'], zones: null }, ACTOR);
    const before = await first.snapshot();
    const log = await readWholeLog(first);
    await first.close();

    const second = await openControlStore(url);
    try {
      assert.deepEqual(await second.snapshot(), before);
      assert.deepEqual(await readWholeLog(second), log);
      assert.equal((await second.findTokenBySecretHash(sha256('t')))?.name, 't');
      assert.equal((await second.listAudit({ page: 1, per_page: 10 })).total, 5);
      // Migrations ran once; the counter carries on from where it was.
      await second.createZone(zoneInput('b'), ACTOR);
      assert.equal(await second.lastSeq(), before.seq + 1);
    } finally {
      await second.close();
    }
  });

  test('a hop key stored in clear by an older version is sealed in place at open, keeping its value', async () => {
    const file = nextFile();
    const first = await openControlStore(`sqlite:${file}`);
    await first.hopKey();
    await first.close();
    const raw = new Database(file);
    raw.prepare("update cluster_keys set value = 'clear-legacy-hop-key' where name = 'hop'").run();
    raw.close();
    const second = await openControlStore(`sqlite:${file}`);
    try {
      assert.equal(await second.hopKey(), 'clear-legacy-hop-key');
    } finally {
      await second.close();
    }
    const check = new Database(file, { readonly: true });
    const row = check.prepare("select value from cluster_keys where name = 'hop'").get() as { value: string };
    check.close();
    assert.match(row.value, /^mk1:[0-9a-f]{16}:/);
    assert.doesNotMatch(row.value, /clear-legacy-hop-key/);
  });

  test('a missing master.key beside a store with secrets: refused with what to do, and no new key left behind', async () => {
    const sub = await mkdtemp(join(dir, 'lost-key-'));
    const url = `sqlite:${join(sub, 'm.db')}`;
    const first = await openControlStore(url);
    await first.hopKey();
    await first.close();
    await rm(join(sub, 'master.key'));
    await assert.rejects(
      openControlStore(url),
      /master\.key is missing, but this store's secrets are sealed/,
    );
    assert.deepEqual(
      (await readdir(sub)).filter((f) => f.endsWith('.key')),
      [],
    );
  });

  test('sqlite::memory: works and a sqlite:/// URL names an absolute file', async () => {
    const memory = await openControlStore('sqlite::memory:');
    await memory.createZone(zoneInput('a'), ACTOR);
    assert.equal(await memory.lastSeq(), 1);
    await memory.close();
    const file = nextFile();
    const absolute = await openControlStore(`sqlite://${file}`);
    await absolute.close();
    assert.ok((await readdir(dir)).includes(file.slice(dir.length + 1)));
  });

  test('bad URLs and a schema on SQLite are refused with a message naming them', async () => {
    await assert.rejects(openControlStore('mysql://x'), /sqlite: or postgres:\/\//);
    await assert.rejects(openControlStore('sqlite:'), /names no file/);
    await assert.rejects(openControlStore('sqlite::memory:', { schema: 'x' }), /PostgreSQL only/);
  });
});
