// ACME HTTP-01 challenges in progress (control/acme/): the snapshot carries them to a node that
// (re)loads one while an order waits for validation. Rows live for one order, seconds to minutes.
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
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('acme_challenges').execute();
    },
  };
}
