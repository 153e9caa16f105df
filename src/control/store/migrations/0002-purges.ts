// Purges and the nodes' receipts for them: `purges` holds each purge call (its event is in the log
// too, but the log is pruned and a purge's status must outlive it); `purge_acks` one row per node
// that applied a purge, with the node's own time of application.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { StoreDialect } from '../connect.ts';

export function purgesMigration(dialect: StoreDialect): Migration {
  const int64 = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('purges')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('zone_id', 'text', (c) => c.notNull().references('zones.id').onDelete('cascade'))
        .addColumn('seq', int64, (c) => c.notNull().unique())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('purges_zone').on('purges').columns(['zone_id', 'created_at']).execute();

      await db.schema
        .createTable('purge_acks')
        .addColumn('purge_id', 'text', (c) => c.notNull().references('purges.id').onDelete('cascade'))
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('applied_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('purge_acks_pk', ['purge_id', 'node'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('purge_acks').execute();
      await db.schema.dropTable('purges').execute();
    },
  };
}
