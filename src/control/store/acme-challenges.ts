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

/** The challenges in progress (unexpired; expired rows are left for the next delete). */
export async function listAcmeChallenges(db: Kysely<Tables>, nowIso: string): Promise<AcmeChallenge[]> {
  return db
    .selectFrom('acme_challenges')
    .select(['token', 'key_authorization', 'expires_at'])
    .where('expires_at', '>', nowIso)
    .orderBy('token')
    .execute();
}
