// Analytics rows: a node's batch is added in one transaction. The batch id goes in first (its
// primary key refuses a second copy, so a re-sent batch adds nothing, also when two replicas get
// it at once: the second insert waits on the first's row lock and then finds it), then each zone's
// tally is merged into its minute, hour and day rows of that node. Rows are per node, so two nodes
// never write the same row; one node sends its batches one after another. Nothing of a batch is
// stored when a zone in it is unknown.
import type { Kysely, Transaction } from 'kysely';
import type { AnalyticsBatch } from '../../common/analytics/batch.ts';
import { mergeTallies, type Tally } from '../../common/analytics/tally.ts';
import type { StoreContext } from './write.ts';
import type { Tables } from './schema.ts';

export const RESOLUTIONS = ['minute', 'hour', 'day'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

const RESOLUTION_MS: Record<Resolution, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export function bucketOf(resolution: Resolution, ms: number): number {
  return ms - (ms % RESOLUTION_MS[resolution]);
}

export function resolutionMs(resolution: Resolution): number {
  return RESOLUTION_MS[resolution];
}

export interface RollupRow {
  bucket: string;
  node: string;
  pop: string;
  tally: Tally;
}

export type IngestResult =
  { kind: 'added' } | { kind: 'duplicate' } | { kind: 'unknown-zones'; zoneIds: string[] };

/** How long each resolution is kept, and batch ids (longer than a node keeps a batch queued). */
export interface AnalyticsRetention {
  minuteMs: number;
  hourMs: number;
  dayMs: number;
  batchIdsMs: number;
}

export const DEFAULT_ANALYTICS_RETENTION: AnalyticsRetention = Object.freeze({
  minuteMs: 7 * 86_400_000,
  hourMs: 90 * 86_400_000,
  dayMs: 730 * 86_400_000,
  batchIdsMs: 86_400_000,
});

export class AnalyticsRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  get #db(): Kysely<Tables> {
    return this.#ctx.db;
  }

  ingest(batch: AnalyticsBatch): Promise<IngestResult> {
    return this.#db.transaction().execute(async (trx) => {
      const zoneIds = [...new Set(batch.minutes.map((m) => m.zone_id))];
      if (zoneIds.length > 0) {
        const known = new Set(
          (await trx.selectFrom('zones').select('id').where('id', 'in', zoneIds).execute()).map((r) => r.id),
        );
        const unknown = zoneIds.filter((id) => !known.has(id));
        if (unknown.length > 0) return { kind: 'unknown-zones', zoneIds: unknown };
      }
      const at = this.#ctx.now().toISOString();
      const inserted = await trx
        .insertInto('analytics_batches')
        .values({ batch_id: batch.batch_id, node: batch.node, received_at: at })
        .onConflict((oc) => oc.column('batch_id').doNothing())
        .returning('batch_id')
        .executeTakeFirst();
      if (inserted === undefined) return { kind: 'duplicate' };
      // Within the batch first: one read and one write per row, however many minutes fall in an hour.
      const rows = new Map<
        string,
        { zoneId: string; resolution: Resolution; bucket: string; tallies: Tally[] }
      >();
      for (const m of batch.minutes) {
        const ms = Date.parse(m.minute);
        for (const resolution of RESOLUTIONS) {
          const bucket = new Date(bucketOf(resolution, ms)).toISOString();
          const key = `${m.zone_id} ${resolution} ${bucket}`;
          const row = rows.get(key);
          if (row === undefined) rows.set(key, { zoneId: m.zone_id, resolution, bucket, tallies: [m.tally] });
          else row.tallies.push(m.tally);
        }
      }
      for (const row of rows.values()) await this.#mergeRow(trx, batch, row, at);
      return { kind: 'added' };
    });
  }

  async #mergeRow(
    trx: Transaction<Tables>,
    batch: AnalyticsBatch,
    row: { zoneId: string; resolution: Resolution; bucket: string; tallies: Tally[] },
    at: string,
  ): Promise<void> {
    let query = trx
      .selectFrom('analytics_rollups')
      .select('data')
      .where('zone_id', '=', row.zoneId)
      .where('resolution', '=', row.resolution)
      .where('bucket', '=', row.bucket)
      .where('node', '=', batch.node);
    if (this.#ctx.dialect === 'postgres') query = query.forUpdate();
    const existing = await query.executeTakeFirst();
    const tallies =
      existing === undefined ? row.tallies : [JSON.parse(existing.data) as Tally, ...row.tallies];
    const merged = mergeTallies(tallies);
    const values = {
      zone_id: row.zoneId,
      resolution: row.resolution,
      bucket: row.bucket,
      node: batch.node,
      pop: batch.pop,
      requests: merged.requests,
      bytes: merged.bytes,
      data: JSON.stringify(merged),
      updated_at: at,
    };
    await trx
      .insertInto('analytics_rollups')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['zone_id', 'resolution', 'bucket', 'node']).doUpdateSet({
          pop: values.pop,
          requests: values.requests,
          bytes: values.bytes,
          data: values.data,
          updated_at: at,
        }),
      )
      .execute();
  }

  /** Rows of buckets in [sinceIso, untilIso), oldest first. */
  async rows(
    zoneId: string,
    resolution: Resolution,
    sinceIso: string,
    untilIso: string,
  ): Promise<RollupRow[]> {
    const rows = await this.#db
      .selectFrom('analytics_rollups')
      .select(['bucket', 'node', 'pop', 'data'])
      .where('zone_id', '=', zoneId)
      .where('resolution', '=', resolution)
      .where('bucket', '>=', sinceIso)
      .where('bucket', '<', untilIso)
      .orderBy('bucket')
      .orderBy('node')
      .execute();
    return rows.map((r) => ({
      bucket: r.bucket,
      node: r.node,
      pop: r.pop,
      tally: JSON.parse(r.data) as Tally,
    }));
  }

  /** Requests and bytes per zone in [sinceIso, untilIso) (every zone at a glance). */
  async zoneTotals(
    resolution: Resolution,
    sinceIso: string,
    untilIso: string,
  ): Promise<Map<string, { requests: number; bytes: number }>> {
    const rows = await this.#db
      .selectFrom('analytics_rollups')
      .select((eb) => [
        'zone_id',
        eb.fn.sum<number>('requests').as('requests'),
        eb.fn.sum<number>('bytes').as('bytes'),
      ])
      .where('resolution', '=', resolution)
      .where('bucket', '>=', sinceIso)
      .where('bucket', '<', untilIso)
      .groupBy('zone_id')
      .execute();
    return new Map(rows.map((r) => [r.zone_id, { requests: Number(r.requests), bytes: Number(r.bytes) }]));
  }

  /** A heartbeat's applied seq: recorded when it is new for the node (the first time it was seen). */
  async noteApplied(node: string, seq: number): Promise<void> {
    const last = await this.#db
      .selectFrom('node_applied')
      .select((eb) => eb.fn.max<number>('seq').as('seq'))
      .where('node', '=', node)
      .executeTakeFirst();
    if (last?.seq !== undefined && last.seq !== null && Number(last.seq) >= seq) return;
    await this.#db
      .insertInto('node_applied')
      .values({ node, seq, at: this.#ctx.now().toISOString() })
      .onConflict((oc) => oc.columns(['node', 'seq']).doNothing())
      .execute();
  }

  /** Per node: when it first reported a seq at or past `seq`; absent: not yet. */
  async appliedAt(seq: number): Promise<Map<string, string>> {
    const rows = await this.#db
      .selectFrom('node_applied')
      .select((eb) => ['node', eb.fn.min<string>('at').as('at')])
      .where('seq', '>=', seq)
      .groupBy('node')
      .execute();
    return new Map(rows.map((r) => [r.node, r.at]));
  }

  purges(zoneId: string, limit: number): ReturnType<typeof zonePurges> {
    return zonePurges(this.#db, zoneId, limit);
  }

  changes(zoneId: string, limit: number): Promise<ZoneChange[]> {
    return zoneChanges(this.#db, zoneId, limit);
  }

  /** Deletes rows older than their resolution's retention, and old batch ids. */
  async prune(retention: AnalyticsRetention): Promise<number> {
    const now = this.#ctx.now().getTime();
    let deleted = 0;
    for (const resolution of RESOLUTIONS) {
      const keepMs = retention[`${resolution}Ms`];
      const r = await this.#db
        .deleteFrom('analytics_rollups')
        .where('resolution', '=', resolution)
        .where('bucket', '<', new Date(now - keepMs).toISOString())
        .executeTakeFirst();
      deleted += Number(r.numDeletedRows);
    }
    const cutoff = new Date(now - retention.batchIdsMs).toISOString();
    await this.#db.deleteFrom('analytics_batches').where('received_at', '<', cutoff).execute();
    await this.#db
      .deleteFrom('node_applied')
      .where('at', '<', new Date(now - retention.hourMs).toISOString())
      .execute();
    return deleted;
  }
}

/** A change to a zone that went to the nodes through the event log. */
export interface ZoneChange {
  seq: number;
  type: string;
  at: string;
}

/** The zone's purges, newest first. */
export async function zonePurges(
  db: Kysely<Tables>,
  zoneId: string,
  limit: number,
): Promise<{ id: string; seq: number; created_at: string; request: unknown }[]> {
  const rows = await db
    .selectFrom('purges')
    .select(['id', 'seq', 'created_at', 'request'])
    .where('zone_id', '=', zoneId)
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    seq: Number(r.seq),
    created_at: r.created_at,
    request: JSON.parse(r.request),
  }));
}

/** Config events of the zone still in the log (zone.upsert, rules.replace, certificate.*), newest first. */
export async function zoneChanges(db: Kysely<Tables>, zoneId: string, limit: number): Promise<ZoneChange[]> {
  const rows = await db
    .selectFrom('events')
    .select(['seq', 'type', 'body', 'at'])
    .where('type', 'in', [
      'zone.upsert',
      'zone.delete',
      'rules.replace',
      'certificate.upsert',
      'certificate.delete',
    ])
    // A coarse filter in SQL (ids are [0-9a-z-]: nothing to escape), the exact check below.
    .where('body', 'like', `%${zoneId}%`)
    .orderBy('seq', 'desc')
    .limit(limit * 2)
    .execute();
  const out: ZoneChange[] = [];
  for (const row of rows) {
    const body = JSON.parse(row.body) as {
      zone?: { id?: string };
      zone_id?: string;
      certificate?: { zone_id?: string };
    };
    const id = body.zone?.id ?? body.zone_id ?? body.certificate?.zone_id;
    if (id === zoneId) out.push({ seq: Number(row.seq), type: row.type, at: row.at });
    if (out.length >= limit) break;
  }
  return out;
}
