// The audit log: who changed what, written inside the transaction that made the change.
import type { Kysely, Selectable } from 'kysely';
import type { AuditRow, Tables } from './schema.ts';
import type { Actor, AuditEntry, Page, PageOf } from './types.ts';
import { pageOffset } from './rows.ts';

export async function insertAudit(
  db: Kysely<Tables>,
  entry: { at: string; actor: Actor; action: string; resourceId: string | null; details: unknown },
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: entry.at,
      token_id: entry.actor.token_id,
      token_name: entry.actor.token_name,
      ip: entry.actor.ip,
      action: entry.action,
      resource_id: entry.resourceId,
      details: JSON.stringify(entry.details ?? null),
    })
    .execute();
}

/** Newest first. */
export async function listAudit(db: Kysely<Tables>, page: Page): Promise<PageOf<AuditEntry>> {
  const { count } = await db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  const rows = await db
    .selectFrom('audit_log')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(page.per_page)
    .offset(pageOffset(page))
    .execute();
  return { items: rows.map(auditFromRow), total: Number(count) };
}

function auditFromRow(row: Selectable<AuditRow>): AuditEntry {
  return {
    id: Number(row.id),
    at: row.at,
    token_id: row.token_id,
    token_name: row.token_name,
    ip: row.ip,
    action: row.action,
    resource_id: row.resource_id,
    details: JSON.parse(row.details) as unknown,
  };
}
