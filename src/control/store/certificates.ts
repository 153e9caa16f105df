// The zones' TLS certificates. The private key is sealed under the master key on the way in and
// opened only for getCertificateMaterial (the internal endpoint that serves nodes of the zone); the
// events, snapshots and audit entries carry metadata only.
import type { Kysely } from 'kysely';
import type { CertificateMaterial, CertificateMeta } from '../../common/config/certificate.ts';
import type { MasterKey } from '../secrets/master-key.ts';
import { newId } from './rows.ts';
import type { CertificateRow, Tables } from './schema.ts';
import type { Actor, CertificateRecordInput } from './types.ts';
import type { StoreContext, WriteTx } from './write.ts';
import { write } from './write.ts';

export interface CertificateWithMaterial {
  meta: CertificateMeta;
  /** null while an ACME order is pending (no chain or key yet). */
  material: CertificateMaterial | null;
}

export async function getCertificate(db: Kysely<Tables>, id: string): Promise<CertificateMeta | undefined> {
  const row = await db.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : metaFromRow(row);
}

/** A zone's certificates of one usage (or all), oldest first. */
export async function listCertificates(
  db: Kysely<Tables>,
  zoneId: string,
  usage: CertificateMeta['usage'] | null,
): Promise<CertificateMeta[]> {
  let query = db.selectFrom('certificates').selectAll().where('zone_id', '=', zoneId);
  if (usage !== null) query = query.where('usage', '=', usage);
  return (await query.orderBy('uploaded_on').orderBy('id').execute()).map(metaFromRow);
}

/** Every certificate's metadata (snapshots), by zone then age. */
export async function allCertificates(db: Kysely<Tables>): Promise<CertificateMeta[]> {
  const rows = await db
    .selectFrom('certificates')
    .selectAll()
    .orderBy('zone_id')
    .orderBy('uploaded_on')
    .orderBy('id')
    .execute();
  return rows.map(metaFromRow);
}

export async function getCertificateMaterial(
  db: Kysely<Tables>,
  key: MasterKey,
  id: string,
): Promise<CertificateWithMaterial | undefined> {
  const row = await db.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) return undefined;
  const material =
    row.certificate === null || row.private_key === null
      ? null
      : {
          id: row.id,
          certificate: row.certificate,
          private_key: key.open(row.private_key),
          modified_on: row.modified_on,
        };
  return { meta: metaFromRow(row), material };
}

/** undefined when the zone does not exist. */
export function createCertificate(
  ctx: StoreContext,
  zoneId: string,
  input: CertificateRecordInput,
  actor: Actor,
): Promise<CertificateMeta | undefined> {
  return write(ctx, async (tx) => {
    const zone = await tx.trx.selectFrom('zones').select('id').where('id', '=', zoneId).executeTakeFirst();
    if (zone === undefined) return undefined;
    const row = toRow(ctx.masterKey, newId(), zoneId, input, tx.at, tx.at);
    await tx.trx.insertInto('certificates').values(row).execute();
    const meta = metaFromRow(row);
    await tx.append({ type: 'certificate.upsert', certificate: meta });
    await tx.audit(actor, 'certificate.create', meta.id, auditDetails(meta));
    return meta;
  });
}

/** Replaces chain, key and metadata (usage and zone stay); undefined when there is no such certificate. */
export function replaceCertificate(
  ctx: StoreContext,
  id: string,
  input: CertificateRecordInput,
  actor: Actor,
): Promise<CertificateMeta | undefined> {
  return write(ctx, async (tx) => {
    const current = await tx.trx
      .selectFrom('certificates')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (current === undefined) return undefined;
    const row = toRow(
      ctx.masterKey,
      id,
      current.zone_id,
      { ...input, usage: current.usage as CertificateMeta['usage'] },
      current.uploaded_on,
      tx.at,
    );
    await tx.trx.updateTable('certificates').set(row).where('id', '=', id).execute();
    const meta = metaFromRow(row);
    await tx.append({ type: 'certificate.upsert', certificate: meta });
    await tx.audit(actor, 'certificate.update', id, auditDetails(meta));
    return meta;
  });
}

/** The deleted certificate's metadata; undefined when there was none. */
export function deleteCertificate(
  ctx: StoreContext,
  id: string,
  actor: Actor,
): Promise<CertificateMeta | undefined> {
  return write(ctx, async (tx) => {
    const row = await tx.trx.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    await tx.trx.deleteFrom('certificates').where('id', '=', id).execute();
    await tx.append({ type: 'certificate.delete', id, zone_id: row.zone_id });
    const meta = metaFromRow(row);
    await tx.audit(actor, 'certificate.delete', id, auditDetails(meta));
    return meta;
  });
}

/**
 * Inside a zone's deletion: its certificates go too, each with its certificate.delete event ahead of
 * the zone.delete, so a node that tracks certificates apart from zones drops them as well.
 */
export async function deleteZoneCertificates(tx: WriteTx, zoneId: string): Promise<void> {
  const rows = await tx.trx
    .selectFrom('certificates')
    .select('id')
    .where('zone_id', '=', zoneId)
    .orderBy('id')
    .execute();
  if (rows.length === 0) return;
  await tx.trx.deleteFrom('certificates').where('zone_id', '=', zoneId).execute();
  for (const { id } of rows) await tx.append({ type: 'certificate.delete', id, zone_id: zoneId });
}

function toRow(
  key: MasterKey,
  id: string,
  zoneId: string,
  input: CertificateRecordInput,
  uploadedOn: string,
  modifiedOn: string,
): CertificateRow {
  return {
    id,
    zone_id: zoneId,
    usage: input.usage,
    type: input.type,
    status: input.status,
    hosts: JSON.stringify(input.hosts),
    issuer: input.issuer,
    signature: input.signature,
    serial_number: input.serial_number,
    fingerprint_sha256: input.fingerprint_sha256,
    not_before: input.not_before,
    expires_on: input.expires_on,
    certificate: input.certificate,
    private_key: input.private_key === null ? null : key.seal(input.private_key),
    uploaded_on: uploadedOn,
    modified_on: modifiedOn,
  };
}

function metaFromRow(row: CertificateRow): CertificateMeta {
  return {
    id: row.id,
    zone_id: row.zone_id,
    usage: row.usage as CertificateMeta['usage'],
    type: row.type as CertificateMeta['type'],
    hosts: JSON.parse(row.hosts) as string[],
    issuer: row.issuer,
    signature: row.signature,
    serial_number: row.serial_number,
    fingerprint_sha256: row.fingerprint_sha256,
    not_before: row.not_before,
    expires_on: row.expires_on,
    status: row.status as CertificateMeta['status'],
    uploaded_on: row.uploaded_on,
    modified_on: row.modified_on,
  };
}

/** What the audit log keeps of a certificate: never the key, not even the chain. */
function auditDetails(meta: CertificateMeta): Record<string, unknown> {
  return {
    zone_id: meta.zone_id,
    usage: meta.usage,
    type: meta.type,
    hosts: meta.hosts,
    fingerprint_sha256: meta.fingerprint_sha256,
    expires_on: meta.expires_on,
  };
}
