// A real crash: a child process changes the store as fast as it can and is SIGKILLed at a random
// moment, several times over the same folder. After each kill, every object the store opens with must
// read back exactly as written, and no file may be left that the index does not account for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiskStore } from '../../../../../src/edge/cache/disk/disk-store.ts';
import { makeTempDir, patternBody, readAll } from '../../../../contract/fixtures/stored-objects.ts';

const KILLS = 5;
const MAX_BYTES = 40 * 1024 * 1024;
const CHILD = join(import.meta.dirname, 'fixtures', 'crash-writer.ts');

async function runAndKill(dir: string, run: number): Promise<void> {
  const child = spawn(process.execPath, [CHILD, dir, String(MAX_BYTES), String(run)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    void exited.then(([code]) => reject(new Error(`child exited (${code}) before the kill: ${stderr}`)));
  });
  await ready;
  await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 250)));
  child.kill('SIGKILL');
  const [code, signal] = await exited;
  assert.equal(signal, 'SIGKILL', `the child died on its own (code ${code}): ${stderr}`);
}

/** Opens the store as a restart would and checks every object; returns how many there are. */
async function verify(dir: string): Promise<number> {
  const store = new DiskStore({ dir, maxBytes: MAX_BYTES });
  await store.open();
  try {
    let fileBytes = 0;
    let fileCount = 0;
    for (const shard of await readdir(join(dir, 'objects'))) {
      for (const name of await readdir(join(dir, 'objects', shard))) {
        fileBytes += (await stat(join(dir, 'objects', shard, name))).size;
        fileCount++;
      }
    }
    const { objects, bytes } = store.stats();
    assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'open() removed the interrupted writes');
    assert.equal(fileCount, objects * 2, 'one head and one body per object, nothing else');
    assert.equal(fileBytes, bytes);
    assert.ok(bytes <= MAX_BYTES);
    for (const object of store.objects()) {
      const { key, headers, bodySize } = object.meta;
      const gen = headers['x-gen'];
      assert.equal(typeof gen, 'string', `${key} has the head the child wrote`);
      const body = await readAll(store.read(object));
      assert.ok(
        body.equals(patternBody(`${key}/${gen as string}`, bodySize)),
        `${key} (${gen}) reads back exactly`,
      );
    }
    return objects;
  } finally {
    await store.close();
  }
}

test(
  `objects survive ${KILLS} SIGKILLs of a busy writer whole or not at all`,
  { timeout: 120_000 },
  async () => {
    const { dir, remove } = await makeTempDir('disk-crash');
    try {
      let seen = 0;
      for (let run = 0; run < KILLS; run++) {
        await runAndKill(dir, run);
        seen = Math.max(seen, await verify(dir));
      }
      assert.ok(seen > 0, 'the child committed objects before being killed');
    } finally {
      await remove();
    }
  },
);
