// The store's side of encryption at rest: checking at open that the master key is the one the
// store's secrets were sealed with (a canary, then every sealed value's key id), sealing values
// written in clear by older versions (the hop key), and re-sealing everything under a new key.
//
// Refusing to open on a mismatch is the point: a control plane that served with a key it cannot
// decrypt with would hand nodes nothing, or seal new secrets under a second key.
import type { Kysely } from 'kysely';
import { isSealed, MasterKeyError, sealedKeyId } from '../secrets/master-key.ts';
import type { MasterKey } from '../secrets/master-key.ts';
import type { Tables } from './schema.ts';
import type { Actor } from './types.ts';
import type { StoreContext } from './write.ts';
import { write } from './write.ts';

/** A cluster_keys row whose sealed value is a known text: opening it proves the key. */
const CANARY = 'master-key-check';
const CANARY_TEXT = 'meridian master key check';

const HOW_TO_FIX =
  'start with the key this store was sealed with (MERIDIAN_MASTER_KEY or --master-key-file), or rotate it with "meridian control rotate-master-key"';

/** Proves `key` opens the store's secrets, records the canary on first use, seals clear cluster keys. */
export async function prepareSecrets(db: Kysely<Tables>, key: MasterKey, now: Date): Promise<void> {
  await db
    .insertInto('cluster_keys')
    .values({ name: CANARY, value: key.seal(CANARY_TEXT), created_at: now.toISOString() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const canary = await db
    .selectFrom('cluster_keys')
    .select('value')
    .where('name', '=', CANARY)
    .executeTakeFirstOrThrow();
  let opened: string;
  try {
    opened = key.open(canary.value);
  } catch {
    throw new MasterKeyError(
      `master key ${key.id} is not the key of this store (its secrets are sealed with master key ${sealedKeyId(canary.value) ?? '?'}): ${HOW_TO_FIX}`,
    );
  }
  if (opened !== CANARY_TEXT) throw new MasterKeyError(`master key check failed: ${HOW_TO_FIX}`);
  const foreign = await countForeign(db, key);
  if (foreign > 0) {
    throw new MasterKeyError(
      `${foreign} secret(s) in this store are sealed with another master key than ${key.id}: ${HOW_TO_FIX}`,
    );
  }
  await sealClearClusterKeys(db, key);
}

/** Sealed values under any key but `key`. */
async function countForeign(db: Kysely<Tables>, key: MasterKey): Promise<number> {
  const mine = `mk1:${key.id}:%`;
  const keys = await db
    .selectFrom('cluster_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('value', 'like', 'mk1:%')
    .where('value', 'not like', mine)
    .executeTakeFirstOrThrow();
  const certs = await db
    .selectFrom('certificates')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('private_key', 'is not', null)
    .where('private_key', 'not like', mine)
    .executeTakeFirstOrThrow();
  return Number(keys.n) + Number(certs.n) + (await foreignWorkerSecrets(db, key));
}

/** Worker versions whose sealed secret_text bindings are sealed under another key. */
async function foreignWorkerSecrets(db: Kysely<Tables>, key: MasterKey): Promise<number> {
  const rows = await db
    .selectFrom('worker_versions')
    .select('bindings')
    .where('bindings', 'like', '%mk1:%')
    .execute();
  let foreign = 0;
  for (const row of rows) {
    for (const b of JSON.parse(row.bindings) as { type: string; text?: string }[]) {
      if (b.type === 'secret_text' && typeof b.text === 'string' && sealedKeyId(b.text) !== key.id) foreign++;
    }
  }
  return foreign;
}

/** Re-seals the secret_text bindings of every worker version under `next`. */
async function resealWorkerSecrets(
  trx: Kysely<Tables>,
  current: MasterKey,
  next: MasterKey,
): Promise<number> {
  const rows = await trx
    .selectFrom('worker_versions')
    .select(['zone_id', 'name', 'version', 'bindings'])
    .execute();
  let sealed = 0;
  for (const row of rows) {
    const bindings = (JSON.parse(row.bindings) as { type: string; text?: string }[]).map((b) => {
      if (b.type !== 'secret_text' || typeof b.text !== 'string') return b;
      sealed++;
      return { ...b, text: next.seal(current.open(b.text)) };
    });
    await trx
      .updateTable('worker_versions')
      .set({ bindings: JSON.stringify(bindings) })
      .where('zone_id', '=', row.zone_id)
      .where('name', '=', row.name)
      .where('version', '=', row.version)
      .execute();
  }
  return sealed;
}

/** Older versions kept the hop key in clear: seal it in place (compare-and-set, safe with replicas). */
async function sealClearClusterKeys(db: Kysely<Tables>, key: MasterKey): Promise<void> {
  const rows = await db.selectFrom('cluster_keys').select(['name', 'value']).execute();
  for (const row of rows) {
    if (isSealed(row.value)) continue;
    await db
      .updateTable('cluster_keys')
      .set({ value: key.seal(row.value) })
      .where('name', '=', row.name)
      .where('value', '=', row.value)
      .execute();
  }
}

export interface RotationResult {
  cluster_keys: number;
  certificates: number;
  /** secret_text bindings of worker versions. */
  worker_secrets: number;
  from: string;
  to: string;
}

/**
 * Re-seals every sealed value under `next`, in one transaction (all or nothing), with an audit entry.
 * Every replica must be stopped first: one still running holds the old key.
 */
export function resealAll(
  ctx: StoreContext,
  current: MasterKey,
  next: MasterKey,
  actor: Actor,
): Promise<RotationResult> {
  return write(ctx, async (tx) => {
    const keys = await tx.trx.selectFrom('cluster_keys').select(['name', 'value']).execute();
    for (const row of keys) {
      const plain = isSealed(row.value) ? current.open(row.value) : row.value;
      await tx.trx
        .updateTable('cluster_keys')
        .set({ value: next.seal(plain) })
        .where('name', '=', row.name)
        .execute();
    }
    const certs = await tx.trx
      .selectFrom('certificates')
      .select(['id', 'private_key'])
      .where('private_key', 'is not', null)
      .execute();
    for (const row of certs) {
      await tx.trx
        .updateTable('certificates')
        .set({ private_key: next.seal(current.open(row.private_key as string)) })
        .where('id', '=', row.id)
        .execute();
    }
    const workerSecrets = await resealWorkerSecrets(tx.trx, current, next);
    const result = {
      cluster_keys: keys.length,
      certificates: certs.length,
      worker_secrets: workerSecrets,
      from: current.id,
      to: next.id,
    };
    await tx.audit(actor, 'master_key.rotate', null, result);
    return result;
  });
}
