import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Snapshot } from '../../../../src/common/events/types.ts';
import {
  LAST_KNOWN_GOOD_FILE,
  loadLastKnownGood,
  saveLastKnownGood,
} from '../../../../src/edge/sync/last-known-good.ts';

const snapshot: Snapshot = {
  seq: 42,
  zones: [],
  rules: {},
  pops: [],
  nodes: [{ name: 'n', pop: 'p', url: 'http://n', status: 'up' }],
};

describe('last-known-good.json', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-lkg-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('round-trips a snapshot, leaving no temporary file', async () => {
    const stateDir = join(dir, 'state'); // created on first save
    await saveLastKnownGood(stateDir, snapshot, new Date('2026-01-02T03:04:05Z'));
    await saveLastKnownGood(stateDir, { ...snapshot, seq: 43 }, new Date('2026-01-02T03:04:06Z'));
    assert.deepEqual(await loadLastKnownGood(stateDir), {
      kind: 'found',
      snapshot: { ...snapshot, seq: 43 },
      savedAt: '2026-01-02T03:04:06.000Z',
    });
    assert.deepEqual(await readdir(stateDir), [LAST_KNOWN_GOOD_FILE]);
  });

  test('reports a missing file, and refuses broken or foreign ones', async () => {
    assert.deepEqual(await loadLastKnownGood(dir), { kind: 'missing' });
    const file = join(dir, LAST_KNOWN_GOOD_FILE);
    for (const content of [
      '{"format":"meridian-last',
      '{"seq":1}',
      '{"format":"meridian-last-known-good/1","snapshot":{"seq":1}}',
    ]) {
      await writeFile(file, content);
      assert.equal((await loadLastKnownGood(dir)).kind, 'invalid', content);
    }
  });
});
