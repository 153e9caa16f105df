// Prewarms: each call is one row and one `prewarm` event in the same transaction; the nodes that own
// some of its URLs report their progress (an upsert per node), and the status joins those rows with
// the node registry.
import type { Kysely } from 'kysely';
import type { Prewarm } from '../../common/config/prewarm.ts';
import { newId } from './rows.ts';
import type { Tables } from './schema.ts';
import type { Actor } from './types.ts';
import type { StoreContext } from './write.ts';
import { write } from './write.ts';

export type PrewarmRecord = Prewarm & { seq: number };

export interface PrewarmProgress {
  node: string;
  total: number;
  done: number;
  failed: number;
  updated_at: string;
}

/** Appends the prewarm to the log; undefined when the zone does not exist. */
export function createPrewarm(
  ctx: StoreContext,
  zoneId: string,
  files: string[],
  pops: string[] | null,
  actor: Actor,
): Promise<PrewarmRecord | undefined> {
  return write(ctx, async (tx) => {
    const zone = await tx.trx.selectFrom('zones').select('id').where('id', '=', zoneId).executeTakeFirst();
    if (zone === undefined) return undefined;
    const prewarm: Prewarm = { id: newId(), zone_id: zoneId, files, pops, created_at: tx.at };
    const seq = await tx.append({ type: 'prewarm', prewarm });
    await tx.trx
      .insertInto('prewarms')
      .values({
        id: prewarm.id,
        zone_id: zoneId,
        seq,
        request: JSON.stringify({ files, pops }),
        created_at: tx.at,
      })
      .execute();
    await tx.audit(actor, 'zone.prewarm', zoneId, { prewarm_id: prewarm.id, files: files.length, pops });
    return { ...prewarm, seq };
  });
}

export async function getPrewarm(
  db: Kysely<Tables>,
  zoneId: string,
  prewarmId: string,
): Promise<PrewarmRecord | undefined> {
  const row = await db
    .selectFrom('prewarms')
    .selectAll()
    .where('id', '=', prewarmId)
    .where('zone_id', '=', zoneId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const request = JSON.parse(row.request) as { files: string[]; pops: string[] | null };
  return { id: row.id, zone_id: row.zone_id, created_at: row.created_at, seq: Number(row.seq), ...request };
}

export async function listPrewarmProgress(db: Kysely<Tables>, prewarmId: string): Promise<PrewarmProgress[]> {
  return db
    .selectFrom('prewarm_progress')
    .select(['node', 'total', 'done', 'failed', 'updated_at'])
    .where('prewarm_id', '=', prewarmId)
    .orderBy('node')
    .execute();
}

/** A node's progress (replaces its earlier report); false when the prewarm is unknown (pruned). */
export async function recordPrewarmProgress(
  db: Kysely<Tables>,
  node: string,
  progress: { prewarm_id: string; total: number; done: number; failed: number },
  at: string,
): Promise<boolean> {
  const known = await db
    .selectFrom('prewarms')
    .select('id')
    .where('id', '=', progress.prewarm_id)
    .executeTakeFirst();
  if (known === undefined) return false;
  const row = { ...progress, node, updated_at: at };
  await db
    .insertInto('prewarm_progress')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['prewarm_id', 'node']).doUpdateSet({
        total: progress.total,
        done: progress.done,
        failed: progress.failed,
        updated_at: at,
      }),
    )
    .execute();
  return true;
}
