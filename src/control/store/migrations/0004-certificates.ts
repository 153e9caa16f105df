// TLS certificates of the zones: the PEM chain in clear (it is public), the private key sealed under
// the master key (secrets/master-key.ts), and the leaf's metadata in columns so listing never needs
// the key. Cluster keys are sealed in place at start (store/secrets.ts), not here: a migration has
// no master key.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export function certificatesMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('certificates')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('zone_id', 'text', (c) => c.notNull().references('zones.id').onDelete('cascade'))
        .addColumn('usage', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('hosts', 'text', (c) => c.notNull())
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('serial_number', 'text', (c) => c.notNull())
        .addColumn('fingerprint_sha256', 'text', (c) => c.notNull())
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('expires_on', 'text', (c) => c.notNull())
        .addColumn('certificate', 'text')
        .addColumn('private_key', 'text')
        .addColumn('uploaded_on', 'text', (c) => c.notNull())
        .addColumn('modified_on', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('certificates_zone')
        .on('certificates')
        .columns(['zone_id', 'usage'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('certificates').execute();
    },
  };
}
