// API tokens. Only the SHA-256 of a secret is stored: a leaked database does not leak credentials.
// Tokens are not configuration the nodes need, so their changes are audited but emit no event.
import type { Kysely } from 'kysely';
import { newId, pageOffset, tokenFromRow } from './rows.ts';
import type { Tables } from './schema.ts';
import type { Actor, Page, PageOf, Scope, TokenRecord } from './types.ts';
import { StoreConflictError } from './types.ts';
import type { StoreContext } from './write.ts';
import { write } from './write.ts';

/** last_used_at is written at most this often per token, so lookups stay (almost always) read-only. */
export const TOKEN_LAST_USED_RESOLUTION_MS = 60_000;

export async function countTokens(db: Kysely<Tables>): Promise<number> {
  const { count } = await db
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(count);
}

export async function createToken(
  ctx: StoreContext,
  input: { name: string; secretHash: string; scopes: Scope[]; zones: string[] | null },
  actor: Actor,
): Promise<TokenRecord> {
  assertSha256Hex(input.secretHash);
  return write(ctx, async (tx) => {
    const clash = await tx.trx
      .selectFrom('tokens')
      .select('id')
      .where('secret_hash', '=', input.secretHash)
      .executeTakeFirst();
    if (clash !== undefined)
      throw new StoreConflictError('secret_hash', 'a token with this secret already exists');
    const token: TokenRecord = {
      id: newId(),
      name: input.name,
      scopes: input.scopes,
      zones: input.zones,
      created_at: tx.at,
      last_used_at: null,
    };
    await tx.trx
      .insertInto('tokens')
      .values({
        ...token,
        secret_hash: input.secretHash,
        scopes: JSON.stringify(token.scopes),
        zones: token.zones === null ? null : JSON.stringify(token.zones),
      })
      .execute();
    await tx.audit(actor, 'token.create', token.id, {
      name: token.name,
      scopes: token.scopes,
      zones: token.zones,
    });
    return token;
  });
}

/** The token whose secret hashes to secretHash; records last_used_at at most once a minute. */
export async function findTokenBySecretHash(
  ctx: StoreContext,
  secretHash: string,
): Promise<TokenRecord | undefined> {
  const row = await ctx.db
    .selectFrom('tokens')
    .selectAll()
    .where('secret_hash', '=', secretHash)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const now = ctx.now();
  const cutoff = new Date(now.getTime() - TOKEN_LAST_USED_RESOLUTION_MS).toISOString();
  if (row.last_used_at === null || row.last_used_at <= cutoff) {
    const at = now.toISOString();
    // Conditional, so concurrent lookups write once; losing that race is harmless.
    await ctx.db
      .updateTable('tokens')
      .set({ last_used_at: at })
      .where('id', '=', row.id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', cutoff)]))
      .execute();
    row.last_used_at = at;
  }
  return tokenFromRow(row);
}

/** Oldest first. */
export async function listTokens(db: Kysely<Tables>, page: Page): Promise<PageOf<TokenRecord>> {
  const offset = pageOffset(page);
  const rows = await db
    .selectFrom('tokens')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.per_page)
    .offset(offset)
    .execute();
  return { items: rows.map(tokenFromRow), total: await countTokens(db) };
}

export function deleteToken(ctx: StoreContext, id: string, actor: Actor): Promise<boolean> {
  return write(ctx, async (tx) => {
    const row = await tx.trx.selectFrom('tokens').select('name').where('id', '=', id).executeTakeFirst();
    if (row === undefined) return false;
    await tx.trx.deleteFrom('tokens').where('id', '=', id).execute();
    await tx.audit(actor, 'token.delete', id, { name: row.name });
    return true;
  });
}

function assertSha256Hex(secretHash: string): void {
  if (!/^[0-9a-f]{64}$/.test(secretHash)) {
    throw new TypeError(
      'secretHash must be a SHA-256 digest in lower-case hex (64 characters), not a secret',
    );
  }
}
