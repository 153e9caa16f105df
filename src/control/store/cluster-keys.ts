// Shared cluster keys (migration 0003), sealed under the master key: `hop` signs internal hops,
// `ticket` is what a PoP's nodes derive their TLS session-ticket keys from. A key is made on first
// use; when two control planes on one PostgreSQL race, the first insert wins and both read it back.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { MasterKey } from '../secrets/master-key.ts';
import type { Tables } from './schema.ts';

export type ClusterKeyName = 'hop' | 'ticket';

/** Sealed values the control plane keeps beside the cluster keys (acme_account: the ACME account key). */
export type SecretName = 'acme_account';

/** The sealed value called `name`, opened; null when there is none. */
export async function readSecret(
  db: Kysely<Tables>,
  name: SecretName,
  masterKey: MasterKey,
): Promise<string | null> {
  const row = await db.selectFrom('cluster_keys').select('value').where('name', '=', name).executeTakeFirst();
  return row === undefined ? null : masterKey.open(row.value);
}

/**
 * Keeps `value` sealed as `name` unless a value is there already (two replicas racing: the first
 * wins); answers the value kept.
 */
export async function keepSecret(
  db: Kysely<Tables>,
  name: SecretName,
  value: string,
  now: Date,
  masterKey: MasterKey,
): Promise<string> {
  await db
    .insertInto('cluster_keys')
    .values({ name, value: masterKey.seal(value), created_at: now.toISOString() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const kept = await readSecret(db, name, masterKey);
  if (kept === null) throw new Error(`secret ${name} could not be kept`);
  return kept;
}

export async function clusterKey(
  db: Kysely<Tables>,
  name: ClusterKeyName,
  now: Date,
  masterKey: MasterKey,
): Promise<string> {
  const read = async (): Promise<string | undefined> =>
    (await db.selectFrom('cluster_keys').select('value').where('name', '=', name).executeTakeFirst())?.value;
  const existing = await read();
  if (existing !== undefined) return masterKey.open(existing);
  await db
    .insertInto('cluster_keys')
    .values({
      name,
      value: masterKey.seal(randomBytes(32).toString('base64url')),
      created_at: now.toISOString(),
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const value = await read();
  if (value === undefined) throw new Error(`cluster key ${name} could not be created`);
  return masterKey.open(value);
}
