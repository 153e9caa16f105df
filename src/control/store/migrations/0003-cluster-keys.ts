// Keys the nodes of the cluster share: `hop` signs the internal-hop header between nodes
// (edge/cluster/hop.ts). One row per key, created once by the first control plane that needs it.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export function clusterKeysMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('cluster_keys')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('cluster_keys').execute();
    },
  };
}
