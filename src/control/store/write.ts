// The one way the store changes state: write(ctx, fn) runs fn in a transaction that first takes the
// event log's lock, lets fn change rows, append events and write audit entries, and commits all of it
// together or none of it.
//
// Why the log stays gapless and commit-ordered, also with concurrent writers on PostgreSQL: every
// writing transaction starts by locking the single event_counter row and allocates each seq with
// `UPDATE event_counter SET value = value + 1 RETURNING value`. The row lock is held until commit,
// so the transaction holding seq N commits (or rolls back, and with it its counter update) before
// any other can allocate N + 1: seq order is commit order, a rollback leaves no hole, and a reader
// that sees N + 1 also sees N. Taking the lock first (not at the first append) also serialises the
// checks a write makes (name and hostname uniqueness, rule positions), so they hold at commit.
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { EventBody } from '../../common/events/types.ts';
import type { MasterKey } from '../secrets/master-key.ts';
import { insertAudit } from './audit.ts';
import type { StoreDialect } from './connect.ts';
import type { Tables } from './schema.ts';
import type { Actor } from './types.ts';
import { StoreConflictError } from './types.ts';

export interface StoreContext {
  readonly db: Kysely<Tables>;
  readonly dialect: StoreDialect;
  readonly now: () => Date;
  /** PostgreSQL: the channel each appending transaction NOTIFYs with its last seq; null on SQLite. */
  readonly channel: string | null;
  /** Called after a commit that appended events, with the last seq it appended. */
  readonly committed: (lastSeq: number) => void;
  /** Seals and opens the secrets kept at rest (certificate keys, cluster keys). */
  readonly masterKey: MasterKey;
}

/** What a writing function gets: the open transaction, its timestamp, and the log and audit. */
export interface WriteTx {
  readonly trx: Transaction<Tables>;
  /** The transaction's time (ISO), used for every timestamp it writes. */
  readonly at: string;
  /** Appends an event; returns its seq. */
  append(body: EventBody): Promise<number>;
  audit(actor: Actor, action: string, resourceId: string | null, details: unknown): Promise<void>;
}

/** The actor of changes the control plane makes by itself (stale nodes, node recovery). */
export const SYSTEM_ACTOR: Actor = { token_id: null, token_name: 'system', ip: '' };

export async function write<T>(ctx: StoreContext, fn: (tx: WriteTx) => Promise<T>): Promise<T> {
  const appended = { lastSeq: 0 };
  let result: T;
  try {
    result = await ctx.db.transaction().execute(async (trx) => {
      await lockLog(trx, ctx.dialect);
      const at = ctx.now().toISOString();
      const tx: WriteTx = {
        trx,
        at,
        append: async (body) => (appended.lastSeq = await appendEvent(trx, body, at)),
        audit: (actor, action, resourceId, details) =>
          insertAudit(trx, { at, actor, action, resourceId, details }),
      };
      const value = await fn(tx);
      if (appended.lastSeq > 0 && ctx.channel !== null) {
        // Delivered by PostgreSQL at commit, to every replica LISTENing (and never on rollback).
        await sql`select pg_notify(${ctx.channel}, ${String(appended.lastSeq)})`.execute(trx);
      }
      return value;
    });
  } catch (err) {
    throw constraintConflict(err) ?? err;
  }
  if (appended.lastSeq > 0) ctx.committed(appended.lastSeq);
  return result;
}

async function lockLog(trx: Transaction<Tables>, dialect: StoreDialect): Promise<void> {
  if (dialect === 'postgres') {
    await sql`select value from event_counter where id = 1 for update`.execute(trx);
  } else {
    // A no-op write makes SQLite take the write lock now (waiting up to busy_timeout for another
    // process) rather than fail with SQLITE_BUSY when a read transaction later tries to write.
    await sql`update event_counter set value = value where id = 1`.execute(trx);
  }
}

async function appendEvent(trx: Transaction<Tables>, body: EventBody, at: string): Promise<number> {
  const { value: seq } = await trx
    .updateTable('event_counter')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('id', '=', 1)
    .returning('value')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('events')
    .values({ seq, type: body.type, body: JSON.stringify(body), at })
    .execute();
  return seq;
}

/** Which request field a unique index protects, by table (the API reports these as 409). */
const UNIQUE_FIELD: Record<string, string> = {
  zones: 'name',
  zone_hostnames: 'hostnames',
  tokens: 'secret_hash',
  pops: 'name',
  nodes: 'name',
};

/**
 * A constraint violation as a StoreConflictError. The checks inside each write normally catch these
 * first with a clearer message; the database's constraints are the backstop.
 */
function constraintConflict(err: unknown): StoreConflictError | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, table } = err as Error & { code?: unknown; table?: unknown };
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const name = typeof table === 'string' ? table : /failed: (\w+)\./.exec(err.message)?.[1];
    const field = (name !== undefined ? UNIQUE_FIELD[name] : undefined) ?? 'id';
    return new StoreConflictError(field, `${field} is already in use`);
  }
  if (code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new StoreConflictError('reference', 'the change refers to a missing or still referenced record');
  }
  return undefined;
}
