// Rebuilding the index at open(): list the 256 shard folders, read and check every head (bounded
// concurrency; bodies are only stat'ed, never read), delete what fails a check and every body no valid
// head names. What remains is exactly the set of committed objects.
//
// Speed (100k objects): the callback fs API is used on purpose, fs/promises readFile (FileHandle,
// chunked reads) measured 2-3x slower; the body's stat runs alongside the head's read when the shard
// listing already tells which body it is.
import { readFile as readFileCallback, stat as statCallback } from 'node:fs';
import type { Stats } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bodyPath, hashKey, headPath, OBJECTS_DIR, parseObjectFileName, shardNames } from './disk-layout.ts';
import { unlinkIfPresent } from './disk-writer.ts';
import { decodeHead } from './head-file.ts';
import { DiskEntry } from './object-index.ts';

const readFile = promisify(readFileCallback);
const stat = promisify(statCallback);

/** Parallel file operations while loading: enough to keep the disk busy, few enough for the fd limit. */
const LOAD_CONCURRENCY = 32;

export interface LoadedIndex {
  /** Valid objects, oldest commit first (body mtime): the best LRU order a restart knows. */
  entries: DiskEntry[];
  /** Files deleted because they were leftovers of interrupted writes or failed a check. */
  removedFiles: number;
}

interface ShardListing {
  heads: string[];
  /** hash → ids of the body files present for it (normally one). */
  bodies: Map<string, string[]>;
}

export async function loadIndex(dir: string): Promise<LoadedIndex> {
  const shards = await mapLimit(shardNames(), LOAD_CONCURRENCY, (shard) =>
    listShard(join(dir, OBJECTS_DIR, shard)),
  );
  const heads = shards.flatMap((shard) => shard.heads);
  const bodies = new Map<string, string[]>();
  for (const shard of shards) for (const [hash, ids] of shard.bodies) bodies.set(hash, ids);

  const usedBodies = new Set<string>();
  let removedFiles = 0;
  const loaded = await mapLimit(heads, LOAD_CONCURRENCY, async (hash) => {
    const result = await loadHead(dir, hash, bodies.get(hash) ?? []);
    if (result.kind === 'valid') {
      usedBodies.add(`${hash}.${result.entry.bodyId}`);
      return result;
    }
    // Head first: with the head gone, the body is an unreferenced leftover even if we stop here.
    await unlinkIfPresent(headPath(dir, hash));
    removedFiles += 1;
    return null;
  });
  const unused = [...bodies].flatMap(([hash, ids]) =>
    ids.filter((id) => !usedBodies.has(`${hash}.${id}`)).map((id) => bodyPath(dir, hash, id)),
  );
  await mapLimit(unused, LOAD_CONCURRENCY, async (path) => {
    await unlinkIfPresent(path);
    removedFiles += 1;
  });

  const valid = loaded.filter((result) => result !== null);
  valid.sort((a, b) => a.writtenAtMs - b.writtenAtMs);
  return { entries: valid.map((result) => result.entry), removedFiles };
}

async function listShard(shardDir: string): Promise<ShardListing> {
  await mkdir(shardDir, { recursive: true });
  const heads: string[] = [];
  const bodies = new Map<string, string[]>();
  for (const name of await readdir(shardDir)) {
    // Names of any other form are not ours: left alone.
    const file = parseObjectFileName(name);
    if (file.kind === 'head') heads.push(file.hash);
    else if (file.kind === 'body') bodies.set(file.hash, [...(bodies.get(file.hash) ?? []), file.bodyId]);
  }
  return { heads, bodies };
}

type HeadLoad = { kind: 'valid'; entry: DiskEntry; writtenAtMs: number } | { kind: 'invalid' };

async function loadHead(dir: string, hash: string, bodyIds: readonly string[]): Promise<HeadLoad> {
  // The usual case, one body for the hash: stat it while the head is read.
  const guess = bodyIds.length === 1 ? bodyIds[0] : undefined;
  const [file, guessed] = await Promise.all([
    unlessNotFound(readFile(headPath(dir, hash))),
    guess === undefined ? null : unlessNotFound(stat(bodyPath(dir, hash, guess))),
  ]);
  if (file === null) return { kind: 'invalid' };
  const decoded = decodeHead(file);
  if (decoded.kind === 'invalid') return { kind: 'invalid' };
  const { bodyId, meta } = decoded.record;
  // The key inside the head must hash to the file's name: a misplaced file or a collision is not served.
  if (hashKey(meta.key) !== hash || !bodyIds.includes(bodyId)) return { kind: 'invalid' };
  const body = bodyId === guess ? guessed : await unlessNotFound(stat(bodyPath(dir, hash, bodyId)));
  if (body === null || !body.isFile() || body.size !== meta.bodySize) return { kind: 'invalid' };
  return { kind: 'valid', entry: new DiskEntry(meta, hash, bodyId, file.length), writtenAtMs: body.mtimeMs };
}

/** The result, or null if the file is not there (deleted meanwhile counts as invalid, not as failure). */
async function unlessNotFound<T extends Buffer | Stats>(pending: Promise<T>): Promise<T | null> {
  try {
    return await pending;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Maps items with at most `limit` calls in flight; stops starting new ones after a failure. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
