// A PoP can be drained (PATCH /client/v4/pops/{name} {"drained": true}): its anycast agent withdraws
// the PoP's prefixes and DNS stops answering with it, while its nodes keep serving the connections
// they have. A column on pops, false for every PoP that existed before.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export function popDrainMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('pops')
        .addColumn('drained', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('pops').dropColumn('drained').execute();
    },
  };
}
