// Every migration in order. Names sort lexically (Kysely's Migrator applies them in name order and
// records each one), so new ones take the next number; never edit one that has shipped.
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { StoreDialect } from '../connect.ts';
import { initialMigration } from './0001-initial.ts';
import { purgesMigration } from './0002-purges.ts';
import { clusterKeysMigration } from './0003-cluster-keys.ts';
import { certificatesMigration } from './0004-certificates.ts';
import { acmeChallengesMigration } from './0005-acme-challenges.ts';
import { popDrainMigration } from './0010-pop-drain.ts';
import { prewarmsMigration } from './0009-prewarms.ts';
import { workersMigration } from './0008-workers.ts';
import { analyticsMigration } from './0006-analytics.ts';
import { zoneSecurityMigration } from './0007-zone-security.ts';

export function migrationProvider(dialect: StoreDialect): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001-initial': initialMigration(dialect),
    '0002-purges': purgesMigration(dialect),
    '0003-cluster-keys': clusterKeysMigration(),
    '0004-certificates': certificatesMigration(),
    '0005-acme-challenges': acmeChallengesMigration(),
    '0010-pop-drain': popDrainMigration(),
    '0009-prewarms': prewarmsMigration(dialect),
    '0008-workers': workersMigration(),
    '0006-analytics': analyticsMigration(dialect),
    '0007-zone-security': zoneSecurityMigration(),
  };
  return { getMigrations: () => Promise.resolve(migrations) };
}
