// Shared cluster keys (migration 0003). A key is made on first use; when two control planes on one
// PostgreSQL race, the first insert wins and both read it back.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from './schema.ts';

export async function clusterKey(db: Kysely<Tables>, name: string, now: Date): Promise<string> {
  const read = async (): Promise<string | undefined> =>
    (await db.selectFrom('cluster_keys').select('value').where('name', '=', name).executeTakeFirst())?.value;
  const existing = await read();
  if (existing !== undefined) return existing;
  await db
    .insertInto('cluster_keys')
    .values({ name, value: randomBytes(32).toString('base64url'), created_at: now.toISOString() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const value = await read();
  if (value === undefined) throw new Error(`cluster key ${name} could not be created`);
  return value;
}
