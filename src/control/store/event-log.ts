// Reading the event log, snapshots and retention. Appending lives in write.ts, inside the
// transaction of the change each event describes.
import { sql } from 'kysely';
import { allWorkers } from './workers.ts';
import { listNamespaces } from './kv.ts';
import type { Kysely } from 'kysely';
import type { ControlEvent, EventBody, Snapshot } from '../../common/events/types.ts';
import { allSecurity } from './security.ts';
import { listAcmeChallenges } from './acme-challenges.ts';
import { allCertificates } from './certificates.ts';
import type { StoreDialect } from './connect.ts';
import { purgesSince } from './purges.ts';
import { nodeSummary } from './rows.ts';
import { allRules } from './rules.ts';
import type { Tables } from './schema.ts';
import { listNodes, listPops } from './topology.ts';
import { allZones } from './zones.ts';

export async function lastSeq(db: Kysely<Tables>): Promise<number> {
  const row = await db
    .selectFrom('event_counter')
    .select('value')
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/** Lowest seq still held; lastSeq + 1 when the log is empty (everything pruned, or nothing yet). */
export async function firstSeq(db: Kysely<Tables>): Promise<number> {
  // One statement, so the two values agree with each other.
  const { rows } = await sql<{ first: number | string | null; last: number | string }>`
    select (select min(seq) from events) as first, value as last from event_counter where id = 1`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error('control store: event_counter row is missing');
  return row.first === null ? Number(row.last) + 1 : Number(row.first);
}

export async function readEventsAfter(
  db: Kysely<Tables>,
  afterSeq: number,
  limit: number,
): Promise<ControlEvent[]> {
  if (limit <= 0) return [];
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ ...(JSON.parse(row.body) as EventBody), seq: Number(row.seq), at: row.at }));
}

/**
 * All state and the seq it reflects, read in one transaction (REPEATABLE READ on PostgreSQL, so
 * every table is read at one point in time; SQLite transactions are serializable).
 */
export async function snapshot(db: Kysely<Tables>, dialect: StoreDialect, now: Date): Promise<Snapshot> {
  const read = async (trx: Kysely<Tables>): Promise<Snapshot> => {
    const seq = await lastSeq(trx);
    const zones = await allZones(trx);
    const rulesByZone = await allRules(trx);
    const rules: Record<string, Snapshot['rules'][string]> = {};
    for (const zone of zones) rules[zone.id] = rulesByZone.get(zone.id) ?? [];
    const pops = await listPops(trx);
    const nodes = (await listNodes(trx)).map(nodeSummary);
    // The purges the log still holds: a node behind the snapshot applies those after its own seq.
    const purgesFrom = await firstSeq(trx);
    const purges = await purgesSince(trx, purgesFrom);
    const certificates = await allCertificates(trx);
    // ACME challenges in progress; absent when none (the field is optional, older nodes ignore it).
    const challenges = await listAcmeChallenges(trx, now.toISOString());
    const workers = await allWorkers(trx);
    const kvNamespaces = await listNamespaces(trx, null);
    // Edge security documents; absent when no zone has one (older nodes ignore the field).
    const security = await allSecurity(trx);
    return {
      seq,
      zones,
      rules,
      pops,
      nodes,
      certificates,
      purges,
      purges_from: purgesFrom,
      ...(challenges.length === 0 ? {} : { acme_challenges: challenges }),
      // Absent when empty, like acme_challenges (older nodes and saved states have none).
      ...(workers.scripts.length === 0 ? {} : { worker_scripts: workers.scripts }),
      ...(Object.keys(workers.routes).length === 0 ? {} : { worker_routes: workers.routes }),
      ...(kvNamespaces.length === 0 ? {} : { kv_namespaces: kvNamespaces }),
      ...(Object.keys(security).length === 0 ? {} : { security }),
    };
  };
  const builder = db.transaction();
  return dialect === 'postgres'
    ? builder.setIsolationLevel('repeatable read').setAccessMode('read only').execute(read)
    : builder.execute(read);
}

/** Deletes every event but the newest `keep`; returns how many went. */
export async function pruneEvents(db: Kysely<Tables>, keep: number): Promise<number> {
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`keep must be an integer >= 0, got ${keep}`);
  const last = await lastSeq(db);
  // Events appended meanwhile have seq > last and stay.
  const { numDeletedRows } = await db
    .deleteFrom('events')
    .where('seq', '<=', last - keep)
    .executeTakeFirst();
  return Number(numDeletedRows);
}
