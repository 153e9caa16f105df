// Edge workers (docs/workers.md): every uploaded version of a script (bindings as JSON, secret texts
// sealed under the master key), which version is current, the zones' worker routes, and KV
// namespaces with their entries (values as base64 text: the storage stays portable between SQLite
// and PostgreSQL, see schema.ts).
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export function workersMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('worker_versions')
        .addColumn('zone_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('etag', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('bindings', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('worker_versions_pk', ['zone_id', 'name', 'version'])
        .execute();
      await db.schema
        .createTable('worker_scripts')
        .addColumn('zone_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('current_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('worker_scripts_pk', ['zone_id', 'name'])
        .execute();
      await db.schema
        .createTable('worker_routes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('zone_id', 'text', (c) => c.notNull())
        .addColumn('pattern', 'text', (c) => c.notNull())
        .addColumn('script', 'text', (c) => c.notNull())
        .addColumn('fail_open', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('worker_routes_pattern', ['zone_id', 'pattern'])
        .execute();
      await db.schema
        .createTable('kv_namespaces')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('zone_id', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('kv_namespaces_title', ['zone_id', 'title'])
        .execute();
      await db.schema
        .createTable('kv_entries')
        .addColumn('namespace_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value_b64', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('etag', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text')
        .addColumn('expiration', 'bigint')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('kv_entries_pk', ['namespace_id', 'key'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of [
        'kv_entries',
        'kv_namespaces',
        'worker_routes',
        'worker_scripts',
        'worker_versions',
      ])
        await db.schema.dropTable(table).execute();
    },
  };
}
