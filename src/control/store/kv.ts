// KV namespaces of a zone and their entries. Every write is one event (kv.put / kv.delete) that
// carries a small value inline and a large one by reference (common/config/kv.ts): nodes apply it to
// their replica and fetch a large value from here on its first read.
import type { Kysely } from 'kysely';
import { KV_INLINE_BYTES, kvEtag, type KvEntryRef, type KvNamespace } from '../../common/config/kv.ts';
import { newId } from './rows.ts';
import type { KvEntryRow, Tables } from './schema.ts';
import type { Actor } from './types.ts';
import { StoreConflictError } from './types.ts';
import type { StoreContext } from './write.ts';
import { write } from './write.ts';

export interface KvKey {
  name: string;
  expiration: number | null;
  metadata: unknown;
}

function refOf(row: KvEntryRow): KvEntryRef {
  return {
    key: row.key,
    value_b64: row.size <= KV_INLINE_BYTES ? row.value_b64 : null,
    size: Number(row.size),
    etag: row.etag,
    metadata: row.metadata,
    expiration: row.expiration === null ? null : Number(row.expiration),
  };
}

export function createNamespace(
  ctx: StoreContext,
  zoneId: string,
  title: string,
  actor: Actor,
): Promise<KvNamespace> {
  return write(ctx, async (tx) => {
    const zone = await tx.trx.selectFrom('zones').select('id').where('id', '=', zoneId).executeTakeFirst();
    if (zone === undefined) throw new StoreConflictError('zone_id', `no zone with id ${zoneId}`);
    const ns: KvNamespace = { id: newId(), zone_id: zoneId, title };
    await tx.trx
      .insertInto('kv_namespaces')
      .values({ ...ns, created_at: tx.at })
      .execute();
    await tx.append({ type: 'kv.namespace.upsert', namespace: ns });
    await tx.audit(actor, 'kv.namespace.create', ns.id, { title });
    return ns;
  });
}

export async function listNamespaces(db: Kysely<Tables>, zoneId: string | null): Promise<KvNamespace[]> {
  let q = db.selectFrom('kv_namespaces').select(['id', 'zone_id', 'title']).orderBy('title');
  if (zoneId !== null) q = q.where('zone_id', '=', zoneId);
  return q.execute();
}

export async function getNamespace(db: Kysely<Tables>, id: string): Promise<KvNamespace | undefined> {
  return db
    .selectFrom('kv_namespaces')
    .select(['id', 'zone_id', 'title'])
    .where('id', '=', id)
    .executeTakeFirst();
}

export function deleteNamespace(
  ctx: StoreContext,
  zoneId: string,
  id: string,
  actor: Actor,
): Promise<boolean> {
  return write(ctx, async (tx) => {
    const { numDeletedRows } = await tx.trx
      .deleteFrom('kv_namespaces')
      .where('id', '=', id)
      .where('zone_id', '=', zoneId)
      .executeTakeFirst();
    if (Number(numDeletedRows) === 0) return false;
    await tx.trx.deleteFrom('kv_entries').where('namespace_id', '=', id).execute();
    await tx.append({ type: 'kv.namespace.delete', id, zone_id: zoneId });
    await tx.audit(actor, 'kv.namespace.delete', id, {});
    return true;
  });
}

export function putValue(
  ctx: StoreContext,
  namespaceId: string,
  key: string,
  value: Buffer,
  metadata: string | null,
  expiration: number | null,
  actor: Actor,
): Promise<KvEntryRef> {
  return write(ctx, async (tx) => {
    const row: KvEntryRow = {
      namespace_id: namespaceId,
      key,
      value_b64: value.toString('base64'),
      size: value.length,
      etag: kvEtag(value),
      metadata,
      expiration,
      updated_at: tx.at,
    };
    await tx.trx
      .insertInto('kv_entries')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['namespace_id', 'key']).doUpdateSet({
          value_b64: row.value_b64,
          size: row.size,
          etag: row.etag,
          metadata,
          expiration,
          updated_at: tx.at,
        }),
      )
      .execute();
    const entry = refOf(row);
    await tx.append({ type: 'kv.put', namespace_id: namespaceId, entry });
    // Writes can be frequent: the audit records the key, not the value.
    await tx.audit(actor, 'kv.put', namespaceId, { key, size: row.size });
    return entry;
  });
}

export function deleteValue(
  ctx: StoreContext,
  namespaceId: string,
  key: string,
  actor: Actor,
): Promise<boolean> {
  return write(ctx, async (tx) => {
    const { numDeletedRows } = await tx.trx
      .deleteFrom('kv_entries')
      .where('namespace_id', '=', namespaceId)
      .where('key', '=', key)
      .executeTakeFirst();
    // Deleting an absent key is not an error (Cloudflare's), but it emits nothing.
    if (Number(numDeletedRows) === 0) return false;
    await tx.append({ type: 'kv.delete', namespace_id: namespaceId, key });
    await tx.audit(actor, 'kv.delete', namespaceId, { key });
    return true;
  });
}

export async function getValue(
  db: Kysely<Tables>,
  namespaceId: string,
  key: string,
  nowSec: number,
): Promise<{ value: Buffer; etag: string; metadata: string | null; expiration: number | null } | undefined> {
  const row = await db
    .selectFrom('kv_entries')
    .selectAll()
    .where('namespace_id', '=', namespaceId)
    .where('key', '=', key)
    .executeTakeFirst();
  if (row === undefined || (row.expiration !== null && Number(row.expiration) <= nowSec)) return undefined;
  return {
    value: Buffer.from(row.value_b64, 'base64'),
    etag: row.etag,
    metadata: row.metadata,
    expiration: row.expiration === null ? null : Number(row.expiration),
  };
}

/** Keys in order after `cursor` (a key name), at most `limit`; expired keys are left out. */
export async function listKeys(
  db: Kysely<Tables>,
  namespaceId: string,
  prefix: string,
  cursor: string | null,
  limit: number,
  nowSec: number,
): Promise<{ keys: KvKey[]; cursor: string | null }> {
  let q = db
    .selectFrom('kv_entries')
    .select(['key', 'expiration', 'metadata'])
    .where('namespace_id', '=', namespaceId)
    .where((eb) => eb.or([eb('expiration', 'is', null), eb('expiration', '>', nowSec)]))
    .orderBy('key')
    .limit(limit + 1);
  if (prefix !== '') q = q.where('key', '>=', prefix).where('key', '<', `${prefix}\u{10ffff}`);
  if (cursor !== null) q = q.where('key', '>', cursor);
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  return {
    keys: page.map((r) => ({
      name: r.key,
      expiration: r.expiration === null ? null : Number(r.expiration),
      metadata: r.metadata === null ? null : (JSON.parse(r.metadata) as unknown),
    })),
    cursor: rows.length > limit ? (page[page.length - 1]?.key ?? null) : null,
  };
}

/** Every live entry of a namespace as nodes load it (large values by reference). */
export async function allEntries(
  db: Kysely<Tables>,
  namespaceId: string,
  nowSec: number,
): Promise<KvEntryRef[]> {
  const rows = await db
    .selectFrom('kv_entries')
    .selectAll()
    .where('namespace_id', '=', namespaceId)
    .where((eb) => eb.or([eb('expiration', 'is', null), eb('expiration', '>', nowSec)]))
    .orderBy('key')
    .execute();
  return rows.map(refOf);
}
