// ACME (control/acme/): HTTP-01 challenges in progress, which the snapshot carries to a node that
// (re)loads one while an order waits for validation (rows live for one order, seconds to
// minutes); and per-zone order leases, so that of several control-plane replicas on one
// PostgreSQL only one orders a zone's certificate at a time.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export function acmeChallengesMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('acme_challenges')
        .addColumn('token', 'text', (c) => c.primaryKey())
        .addColumn('key_authorization', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('acme_leases')
        .addColumn('zone_id', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('acme_leases').execute();
      await db.schema.dropTable('acme_challenges').execute();
    },
  };
}
