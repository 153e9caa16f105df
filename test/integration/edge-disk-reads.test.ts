// Disk hits read into reused buffers (src/edge/cache/disk/read-pool.ts): a buffer goes back to the
// pool only once the socket wrote it, so downloads of different objects at once, and a client that
// stops reading for a while, all get exactly their object's bytes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, it } from 'node:test';
import { request } from 'undici';
import {
  fetchReply,
  originCount,
  removeDir,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { EdgeProc, Proc } from '../helpers/processes.ts';

let origin: Proc;
let edge: EdgeProc;

before(async () => {
  origin = await startTestOrigin();
  // A 1 MB memory tier: the 6 MB objects below are served from disk on every hit.
  edge = await startEdgeProcess(origin.url, ['--memory-cache-size', '1MB', '--workers', '1']);
});

after(async () => {
  await edge.stop();
  await removeDir(edge.cacheDir);
  await origin.stop();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const SIZE = 6_000_000;
const paths = ['/disk-read-a', '/disk-read-b'].map((p) => `${p}?cc=max-age%3D600&size=${SIZE}`);

async function download(path: string, pauseAfterBytes = 0, pauseMs = 0): Promise<string> {
  const res = await request(`${edge.url}${path}`);
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['cache-status']), /hit/);
  const parts: Buffer[] = [];
  let received = 0;
  let paused = pauseAfterBytes === 0;
  for await (const chunk of res.body) {
    parts.push(chunk as Buffer);
    received += (chunk as Buffer).length;
    if (!paused && received >= pauseAfterBytes) {
      paused = true;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
  assert.equal(received, SIZE);
  return sha(Buffer.concat(parts));
}

it('concurrent disk hits of different objects, and a client that pauses, each get their own bytes', async () => {
  const expected: string[] = [];
  for (const path of paths) expected.push(sha((await fetchReply(`${edge.url}${path}`)).body));
  assert.notEqual(expected[0], expected[1]);
  // The fill commits to disk after its response ends; wait until both are disk hits.
  for (const path of paths) {
    for (let i = 0; i < 50; i++) {
      const reply = await fetchReply(`${edge.url}${path}`);
      if (String(reply.headers['cache-status']).includes('hit')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  for (let round = 0; round < 2; round++) {
    // One client stops for a second after 300 KB while the others go through many pool buffers.
    const downloads = [
      download(paths[0] as string, 300_000, 1000),
      download(paths[1] as string),
      download(paths[0] as string),
      download(paths[1] as string, 1_000_000, 500),
      download(paths[1] as string),
    ];
    const got = await Promise.all(downloads);
    assert.deepEqual(
      got,
      [expected[0], expected[1], expected[0], expected[1], expected[1]],
      `round ${round}`,
    );
  }
  assert.equal(await originCount(origin, '/disk-read-a'), 1);
  assert.equal(await originCount(origin, '/disk-read-b'), 1);
});
