// Analytics (issue 15): the nodes' batches, rolled up per zone, bucket and node at three
// resolutions (minute, hour, day; each kept as long as its retention setting says), the ids of the
// batches already added (a re-sent batch counts once), and when each node reached each applied seq
// (config propagation history: a change's event seq → when the last node applied it).
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { StoreDialect } from '../connect.ts';

export function analyticsMigration(dialect: StoreDialect): Migration {
  const int64 = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('analytics_batches')
        .addColumn('batch_id', 'text', (c) => c.primaryKey())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('analytics_batches_received')
        .on('analytics_batches')
        .column('received_at')
        .execute();
      await db.schema
        .createTable('analytics_rollups')
        .addColumn('zone_id', 'text', (c) => c.notNull().references('zones.id').onDelete('cascade'))
        .addColumn('resolution', 'text', (c) => c.notNull())
        .addColumn('bucket', 'text', (c) => c.notNull())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('pop', 'text', (c) => c.notNull())
        .addColumn('requests', int64, (c) => c.notNull())
        .addColumn('bytes', int64, (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('analytics_rollups_pk', ['zone_id', 'resolution', 'bucket', 'node'])
        .execute();
      await db.schema
        .createIndex('analytics_rollups_age')
        .on('analytics_rollups')
        .columns(['resolution', 'bucket'])
        .execute();
      await db.schema
        .createTable('node_applied')
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('seq', int64, (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('node_applied_pk', ['node', 'seq'])
        .execute();
      await db.schema.createIndex('node_applied_at').on('node_applied').column('at').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('node_applied').execute();
      await db.schema.dropTable('analytics_rollups').execute();
      await db.schema.dropTable('analytics_batches').execute();
    },
  };
}
