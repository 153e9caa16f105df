// Purges: each call is one row and one `purge` event in the same transaction; nodes send receipts
// (acks) with the time they applied it, and the status joins those with the node registry.
import type { Kysely } from 'kysely';
import type { Purge, PurgeRequest } from '../../common/config/purge.ts';
import { newId } from './rows.ts';
import type { Tables } from './schema.ts';
import type { Actor, PurgeAck, PurgeRecord } from './types.ts';
import type { StoreContext } from './write.ts';
import { write } from './write.ts';

/** Appends the purge to the log; undefined when the zone does not exist. */
export function createPurge(
  ctx: StoreContext,
  zoneId: string,
  request: PurgeRequest,
  actor: Actor,
): Promise<PurgeRecord | undefined> {
  return write(ctx, async (tx) => {
    const zone = await tx.trx.selectFrom('zones').select('id').where('id', '=', zoneId).executeTakeFirst();
    if (zone === undefined) return undefined;
    const purge: Purge = { ...request, id: newId(), zone_id: zoneId, created_at: tx.at };
    const seq = await tx.append({ type: 'purge', purge });
    await tx.trx
      .insertInto('purges')
      .values({ id: purge.id, zone_id: zoneId, seq, request: JSON.stringify(request), created_at: tx.at })
      .execute();
    await tx.audit(actor, 'zone.purge', zoneId, { purge_id: purge.id, ...request });
    return { ...purge, seq };
  });
}

export async function getPurge(
  db: Kysely<Tables>,
  zoneId: string,
  purgeId: string,
): Promise<PurgeRecord | undefined> {
  const row = await db
    .selectFrom('purges')
    .selectAll()
    .where('id', '=', purgeId)
    .where('zone_id', '=', zoneId)
    .executeTakeFirst();
  return row === undefined ? undefined : purgeFromRow(row);
}

export async function listPurgeAcks(db: Kysely<Tables>, purgeId: string): Promise<PurgeAck[]> {
  return db
    .selectFrom('purge_acks')
    .select(['node', 'applied_at'])
    .where('purge_id', '=', purgeId)
    .orderBy('node')
    .execute();
}

/** Records a node's receipts; unknown purge ids (pruned, or another store) are skipped, repeats ignored. */
export async function recordPurgeAcks(
  db: Kysely<Tables>,
  node: string,
  acks: readonly { purge_id: string; applied_at: string }[],
): Promise<number> {
  if (acks.length === 0) return 0;
  const known = new Set(
    (
      await db
        .selectFrom('purges')
        .select('id')
        .where(
          'id',
          'in',
          acks.map((a) => a.purge_id),
        )
        .execute()
    ).map((r) => r.id),
  );
  const rows = acks.filter((a) => known.has(a.purge_id)).map((a) => ({ ...a, node }));
  if (rows.length === 0) return 0;
  await db
    .insertInto('purge_acks')
    .values(rows)
    .onConflict((oc) => oc.columns(['purge_id', 'node']).doNothing())
    .execute();
  return rows.length;
}

/** Purges with seq >= fromSeq, in seq order (the snapshot's catch-up list). */
export async function purgesSince(db: Kysely<Tables>, fromSeq: number): Promise<PurgeRecord[]> {
  const rows = await db.selectFrom('purges').selectAll().where('seq', '>=', fromSeq).orderBy('seq').execute();
  return rows.map(purgeFromRow);
}

/** Forgets purges (and their acks) created before `beforeIso`. */
export async function prunePurges(db: Kysely<Tables>, beforeIso: string): Promise<number> {
  const old = db.selectFrom('purges').select('id').where('created_at', '<', beforeIso);
  await db.deleteFrom('purge_acks').where('purge_id', 'in', old).execute();
  const { numDeletedRows } = await db
    .deleteFrom('purges')
    .where('created_at', '<', beforeIso)
    .executeTakeFirst();
  return Number(numDeletedRows);
}

function purgeFromRow(row: Tables['purges']): PurgeRecord {
  return {
    ...(JSON.parse(row.request) as PurgeRequest),
    id: row.id,
    zone_id: row.zone_id,
    created_at: row.created_at,
    seq: Number(row.seq),
  };
}
