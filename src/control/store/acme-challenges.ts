// ACME HTTP-01 challenges (control/acme/): a row and an acme.challenge.upsert event in one
// transaction, so every node learns the challenge from the log, and one that loads a snapshot
// meanwhile finds it there. No audit entry: challenges are the engine's own short-lived
// bookkeeping (the certificate it leads to is audited).
import type { Kysely } from 'kysely';
import type { AcmeChallenge } from '../../common/config/certificate.ts';
import type { Tables } from './schema.ts';
import type { StoreContext } from './write.ts';
import { write } from './write.ts';

/** Publishes (or replaces) a challenge; returns the seq of its event. */
export function putAcmeChallenge(ctx: StoreContext, challenge: AcmeChallenge): Promise<number> {
  return write(ctx, async (tx) => {
    await tx.trx
      .insertInto('acme_challenges')
      .values({ ...challenge, created_at: tx.at })
      .onConflict((oc) =>
        oc.column('token').doUpdateSet({
          key_authorization: challenge.key_authorization,
          expires_at: challenge.expires_at,
        }),
      )
      .execute();
    return tx.append({ type: 'acme.challenge.upsert', challenge });
  });
}

/** Withdraws a challenge; returns the seq of its event, or null when there was none. */
export function deleteAcmeChallenge(ctx: StoreContext, token: string): Promise<number | null> {
  return write(ctx, async (tx) => {
    const { numDeletedRows } = await tx.trx
      .deleteFrom('acme_challenges')
      .where('token', '=', token)
      .executeTakeFirst();
    if (numDeletedRows === 0n) return null;
    return tx.append({ type: 'acme.challenge.delete', token });
  });
}

/**
 * Takes the zone's order lease for `holder` (one control-plane replica) for `ttlMs`: true when it
 * holds it now (it was free, expired, or already its own). One statement, so two replicas racing
 * cannot both win: the insert conflicts, and the update's WHERE lets only a free lease change hands.
 */
export async function acquireAcmeLease(
  ctx: StoreContext,
  zoneId: string,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  const now = ctx.now();
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  await ctx.db
    .insertInto('acme_leases')
    .values({ zone_id: zoneId, holder, expires_at: expiresAt })
    .onConflict((oc) =>
      oc
        .column('zone_id')
        .doUpdateSet({ holder, expires_at: expiresAt })
        .where((eb) =>
          eb.or([
            eb('acme_leases.expires_at', '<=', now.toISOString()),
            eb('acme_leases.holder', '=', holder),
          ]),
        ),
    )
    .execute();
  const row = await ctx.db
    .selectFrom('acme_leases')
    .select('holder')
    .where('zone_id', '=', zoneId)
    .executeTakeFirst();
  return row?.holder === holder;
}

/** Gives the lease back (only the holder's own). */
export async function releaseAcmeLease(ctx: StoreContext, zoneId: string, holder: string): Promise<void> {
  await ctx.db.deleteFrom('acme_leases').where('zone_id', '=', zoneId).where('holder', '=', holder).execute();
}

/** The challenges in progress (unexpired; expired rows are left for the next delete). */
export async function listAcmeChallenges(db: Kysely<Tables>, nowIso: string): Promise<AcmeChallenge[]> {
  return db
    .selectFrom('acme_challenges')
    .select(['token', 'key_authorization', 'expires_at'])
    .where('expires_at', '>', nowIso)
    .orderBy('token')
    .execute();
}
