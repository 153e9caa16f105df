// Prewarms (issue 18): each call is one row (its `prewarm` event is in the log too, but the log is
// pruned and the status must outlive it); `prewarm_progress` one row per node that owns some of its
// URLs, with how many it loaded and how many failed so far.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { StoreDialect } from '../connect.ts';

export function prewarmsMigration(dialect: StoreDialect): Migration {
  const int64 = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('prewarms')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('zone_id', 'text', (c) => c.notNull().references('zones.id').onDelete('cascade'))
        .addColumn('seq', int64, (c) => c.notNull().unique())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('prewarm_progress')
        .addColumn('prewarm_id', 'text', (c) => c.notNull().references('prewarms.id').onDelete('cascade'))
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('total', 'integer', (c) => c.notNull())
        .addColumn('done', 'integer', (c) => c.notNull())
        .addColumn('failed', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('prewarm_progress_pk', ['prewarm_id', 'node'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('prewarm_progress').execute();
      await db.schema.dropTable('prewarms').execute();
    },
  };
}
