// stateDir/last-known-good.json: the last state the node applied, so that it serves with it when it
// starts while the control plane is away. Written atomically (temporary file, fsync, rename, fsync
// of the directory): a crash leaves the old file or the new one, never half of one.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot } from '../../common/events/types.ts';
import { writeFileDurably } from '../../common/fs/durable-write.ts';
import { isSnapshot } from './snapshot.ts';
import { stateWritesSettled } from './state-writes.ts';

export const LAST_KNOWN_GOOD_FILE = 'last-known-good.json';
const FORMAT = 'meridian-last-known-good/1';

/** The file's content: the snapshot, its seq repeated at the top for people reading it. */
interface LastKnownGoodFile {
  format: typeof FORMAT;
  seq: number;
  saved_at: string;
  snapshot: Snapshot;
}

export type LoadResult =
  | { kind: 'found'; snapshot: Snapshot; savedAt: string }
  | { kind: 'missing' }
  | { kind: 'invalid'; reason: string };

export async function saveLastKnownGood(
  stateDir: string,
  snapshot: Snapshot,
  now: Date = new Date(),
): Promise<void> {
  // The file says "applied up to snapshot.seq": only once the disk side of what was applied landed.
  await stateWritesSettled(stateDir);
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, LAST_KNOWN_GOOD_FILE);
  const content: LastKnownGoodFile = {
    format: FORMAT,
    seq: snapshot.seq,
    saved_at: now.toISOString(),
    snapshot,
  };
  await writeFileDurably(file, JSON.stringify(content));
}

export async function loadLastKnownGood(stateDir: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(join(stateDir, LAST_KNOWN_GOOD_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: 'invalid', reason: `not JSON: ${(err as Error).message}` };
  }
  const file = value as Partial<LastKnownGoodFile> | null;
  if (file?.format !== FORMAT) return { kind: 'invalid', reason: `format is not ${FORMAT}` };
  if (!isSnapshot(file.snapshot)) return { kind: 'invalid', reason: 'snapshot: not a snapshot' };
  return { kind: 'found', snapshot: file.snapshot, savedAt: String(file.saved_at) };
}
