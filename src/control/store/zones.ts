// Zones and their hostnames. A hostname is a row of its own whose primary key is the hostname, so
// the database itself guarantees that two zones never claim one hostname.
import type { Kysely } from 'kysely';
import type { Zone, ZoneInput } from '../../common/config/zone.ts';
import { deleteZoneCertificates } from './certificates.ts';
import { newId, pageOffset, zoneFromRow, zoneToRow } from './rows.ts';
import type { Tables, ZoneRow } from './schema.ts';
import type { Actor, Page, PageOf, ZonePatch } from './types.ts';
import { StoreConflictError } from './types.ts';
import type { StoreContext, WriteTx } from './write.ts';
import { write } from './write.ts';

export async function getZone(db: Kysely<Tables>, id: string): Promise<Zone | undefined> {
  const row = await db.selectFrom('zones').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : (await withHostnames(db, [row]))[0];
}

export async function getZoneByName(db: Kysely<Tables>, name: string): Promise<Zone | undefined> {
  const row = await db.selectFrom('zones').selectAll().where('name', '=', name).executeTakeFirst();
  return row === undefined ? undefined : (await withHostnames(db, [row]))[0];
}

/** Ordered by name. zoneIds: only these; null: every zone. */
export async function listZones(
  db: Kysely<Tables>,
  page: Page,
  zoneIds: string[] | null,
): Promise<PageOf<Zone>> {
  const offset = pageOffset(page);
  if (zoneIds !== null && zoneIds.length === 0) return { items: [], total: 0 };
  let query = db.selectFrom('zones');
  if (zoneIds !== null) query = query.where('id', 'in', zoneIds);
  const { count } = await query
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  const rows = await query.selectAll().orderBy('name').limit(page.per_page).offset(offset).execute();
  return { items: await withHostnames(db, rows), total: Number(count) };
}

/** Every zone, ordered by name (snapshots). */
export async function allZones(db: Kysely<Tables>): Promise<Zone[]> {
  return withHostnames(db, await db.selectFrom('zones').selectAll().orderBy('name').execute());
}

export function createZone(ctx: StoreContext, input: ZoneInput, actor: Actor): Promise<Zone> {
  return write(ctx, async (tx) => {
    await assertNameFree(tx.trx, input.name, null);
    await assertPopExists(tx.trx, input.shield_pop);
    const zone: Zone = {
      id: newId(),
      name: input.name,
      hostnames: input.hostnames,
      origins: input.origins,
      shield_pop: input.shield_pop,
      settings: input.settings,
      created_at: tx.at,
      updated_at: tx.at,
    };
    await tx.trx.insertInto('zones').values(zoneToRow(zone)).execute();
    await replaceHostnames(tx.trx, zone.id, zone.hostnames);
    await tx.append({ type: 'zone.upsert', zone });
    await tx.audit(actor, 'zone.create', zone.id, { name: zone.name, hostnames: zone.hostnames });
    return zone;
  });
}

/** Fields absent from the patch are kept; settings merge field by field. */
export function patchZone(
  ctx: StoreContext,
  id: string,
  patch: ZonePatch,
  actor: Actor,
): Promise<Zone | undefined> {
  return write(ctx, async (tx) => {
    const current = await getZone(tx.trx, id);
    if (current === undefined) return undefined;
    const zone: Zone = {
      ...current,
      name: patch.name ?? current.name,
      hostnames: patch.hostnames ?? current.hostnames,
      origins: patch.origins ?? current.origins,
      shield_pop: patch.shield_pop === undefined ? current.shield_pop : patch.shield_pop,
      settings: mergeDefined(current.settings, patch.settings ?? {}),
      updated_at: tx.at,
    };
    if (zone.name !== current.name) await assertNameFree(tx.trx, zone.name, id);
    if (zone.shield_pop !== current.shield_pop) await assertPopExists(tx.trx, zone.shield_pop);
    await tx.trx.updateTable('zones').set(zoneToRow(zone)).where('id', '=', id).execute();
    if (patch.hostnames !== undefined) await replaceHostnames(tx.trx, id, zone.hostnames);
    await tx.append({ type: 'zone.upsert', zone });
    await tx.audit(actor, 'zone.update', id, patch);
    return zone;
  });
}

/**
 * Removes the zone with its rules, hostnames and certificates; nodes drop rules and hostnames on
 * zone.delete, and each certificate on its own certificate.delete (appended first).
 */
export function deleteZone(ctx: StoreContext, id: string, actor: Actor): Promise<boolean> {
  return write(ctx, async (tx) => {
    const row = await tx.trx.selectFrom('zones').select('name').where('id', '=', id).executeTakeFirst();
    if (row === undefined) return false;
    await tx.trx.deleteFrom('rules').where('zone_id', '=', id).execute();
    await deleteZoneWorkers(tx, id);
    await deleteZoneCertificates(tx, id);
    await tx.trx.deleteFrom('zone_hostnames').where('zone_id', '=', id).execute();
    await tx.trx.deleteFrom('zones').where('id', '=', id).execute();
    await tx.append({ type: 'zone.delete', zone_id: id });
    await tx.audit(actor, 'zone.delete', id, { name: row.name });
    return true;
  });
}

async function withHostnames(db: Kysely<Tables>, rows: ZoneRow[]): Promise<Zone[]> {
  if (rows.length === 0) return [];
  const hostRows = await db
    .selectFrom('zone_hostnames')
    .select(['zone_id', 'hostname'])
    .where(
      'zone_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('zone_id')
    .orderBy('position')
    .execute();
  const byZone = new Map<string, string[]>();
  for (const { zone_id, hostname } of hostRows) {
    const list = byZone.get(zone_id);
    if (list === undefined) byZone.set(zone_id, [hostname]);
    else list.push(hostname);
  }
  return rows.map((row) => zoneFromRow(row, byZone.get(row.id) ?? []));
}

/** Sets the zone's hostnames; fails (rolling the whole write back) if another zone holds one. */
async function replaceHostnames(db: Kysely<Tables>, zoneId: string, hostnames: string[]): Promise<void> {
  const seen = new Set<string>();
  for (const hostname of hostnames) {
    if (seen.has(hostname)) throw new StoreConflictError('hostnames', `hostname ${hostname} is listed twice`);
    seen.add(hostname);
  }
  await db.deleteFrom('zone_hostnames').where('zone_id', '=', zoneId).execute();
  if (hostnames.length === 0) return;
  const taken = await db
    .selectFrom('zone_hostnames')
    .select('hostname')
    .where('hostname', 'in', hostnames)
    .orderBy('hostname')
    .execute();
  if (taken.length > 0) {
    const names = taken.map((t) => t.hostname).join(', ');
    throw new StoreConflictError('hostnames', `hostname already belongs to another zone: ${names}`);
  }
  await db
    .insertInto('zone_hostnames')
    .values(hostnames.map((hostname, position) => ({ hostname, zone_id: zoneId, position })))
    .execute();
}

async function assertNameFree(db: Kysely<Tables>, name: string, exceptId: string | null): Promise<void> {
  const row = await db.selectFrom('zones').select('id').where('name', '=', name).executeTakeFirst();
  if (row !== undefined && row.id !== exceptId) {
    throw new StoreConflictError('name', `a zone named ${name} already exists`);
  }
}

async function assertPopExists(db: Kysely<Tables>, pop: string | null): Promise<void> {
  if (pop === null) return;
  const row = await db.selectFrom('pops').select('name').where('name', '=', pop).executeTakeFirst();
  if (row === undefined) throw new StoreConflictError('shield_pop', `no PoP named ${pop}`);
}

/** base with every field the patch defines (undefined: keep) replaced. */
function mergeDefined<T extends object>(base: T, patch: { [K in keyof T]?: T[K] | undefined }): T {
  const merged = { ...base };
  for (const key of Object.keys(patch) as (keyof T)[]) {
    const value = patch[key];
    if (value !== undefined) merged[key] = value as T[keyof T];
  }
  return merged;
}

/** The zone's worker scripts, versions, routes and KV namespaces (nodes drop theirs on zone.delete). */
async function deleteZoneWorkers(tx: WriteTx, zoneId: string): Promise<void> {
  await tx.trx.deleteFrom('worker_routes').where('zone_id', '=', zoneId).execute();
  await tx.trx.deleteFrom('worker_versions').where('zone_id', '=', zoneId).execute();
  await tx.trx.deleteFrom('worker_scripts').where('zone_id', '=', zoneId).execute();
  const namespaces = await tx.trx
    .selectFrom('kv_namespaces')
    .select('id')
    .where('zone_id', '=', zoneId)
    .execute();
  for (const ns of namespaces)
    await tx.trx.deleteFrom('kv_entries').where('namespace_id', '=', ns.id).execute();
  await tx.trx.deleteFrom('kv_namespaces').where('zone_id', '=', zoneId).execute();
}
