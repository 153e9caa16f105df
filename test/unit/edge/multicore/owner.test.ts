// Issue 14: which worker owns a key (multicore/owner.ts), and --workers at the boundary.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ownerOf } from '../../../../src/edge/multicore/owner.ts';
import { pruneOtherLayouts } from '../../../../src/edge/multicore/primary.ts';
import { shardName } from '../../../../src/edge/multicore/worker.ts';
import { parseEdgeArgs } from '../../../../src/cli/commands/edge.ts';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('ownerOf', () => {
  it('is stable and spreads keys evenly over the workers', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) {
      const key = `http://site.test/assets/${i}.js`;
      const owner = ownerOf(key, 4);
      assert.equal(ownerOf(key, 4), owner);
      counts[owner] = (counts[owner] ?? 0) + 1;
    }
    for (const n of counts) assert.ok(n > 9_000 && n < 11_000, `uneven: ${counts.join(',')}`);
  });

  it('gives every key to worker 0 of 1', () => {
    assert.equal(ownerOf('http://a.test/', 1), 0);
  });
});

describe('--workers', () => {
  const base = ['--origin', 'http://127.0.0.1:9000'];
  it('takes 1 to 1024 processes and names the flag otherwise', () => {
    const config = parseEdgeArgs([...base, '--workers', '3']);
    assert.ok(config !== 'help' && config.workers === 3);
    for (const bad of ['0', '-1', 'two', '1025', '1.5'])
      assert.throws(() => parseEdgeArgs([...base, `--workers=${bad}`]), /--workers: .*"/);
  });
});

describe('pruneOtherLayouts', () => {
  it("removes another worker count's shards and the one-process layout, keeping its own", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-shards-'));
    try {
      for (const name of ['objects', 'tmp', shardName(0, 3), shardName(0, 2), shardName(1, 2)])
        await mkdir(join(dir, name));
      await pruneOtherLayouts(dir, 2);
      assert.deepEqual((await readdir(dir)).sort(), [shardName(0, 2), shardName(1, 2)]);
      await pruneOtherLayouts(dir, 1);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
