// Edge security (issue 16): each zone's rulesets (custom firewall rules, rate limits, the managed
// set's execute rule) and security settings, as one JSON document per zone: the API replaces a
// phase's entrypoint whole, and the security.replace event carries the zone's whole document, so a
// row per zone keeps the write, the event and the snapshot the same statement.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export function zoneSecurityMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('zone_security')
        .addColumn('zone_id', 'text', (c) => c.primaryKey().references('zones.id').onDelete('cascade'))
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('zone_security').execute();
    },
  };
}
