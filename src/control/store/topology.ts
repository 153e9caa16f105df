// PoPs and nodes. Nodes register and heartbeat; the control plane marks silent ones down. Only
// changes that matter to edges and DNS (address, PoP, up/down) become events: heartbeats do not.
import type { Kysely } from 'kysely';
import type { NodeInfo, Pop, PopInput } from '../../common/config/topology.ts';
import { nodeFromRow, nodeSummary, popFromRow } from './rows.ts';
import type { Tables } from './schema.ts';
import type { Actor } from './types.ts';
import { StoreConflictError } from './types.ts';
import type { StoreContext, WriteTx } from './write.ts';
import { SYSTEM_ACTOR, write } from './write.ts';

export async function listPops(db: Kysely<Tables>): Promise<Pop[]> {
  return (await db.selectFrom('pops').selectAll().orderBy('name').execute()).map(popFromRow);
}

export async function listNodes(db: Kysely<Tables>): Promise<NodeInfo[]> {
  return (await db.selectFrom('nodes').selectAll().orderBy('name').execute()).map(nodeFromRow);
}

export function upsertPop(ctx: StoreContext, input: PopInput, actor: Actor): Promise<Pop> {
  return write(ctx, async (tx) => {
    const existing = await tx.trx
      .selectFrom('pops')
      .select(['created_at', 'drained'])
      .where('name', '=', input.name)
      .executeTakeFirst();
    // A PUT describes the PoP's place and role; whether it is drained is PATCH's alone and stays.
    const drained = Number(existing?.drained ?? 0) === 1;
    const pop: Pop = {
      name: input.name,
      city: input.city,
      latitude: input.latitude,
      longitude: input.longitude,
      role: input.role,
      capacity: input.capacity,
      drained,
      created_at: existing?.created_at ?? tx.at,
    };
    const row = { ...pop, drained: drained ? 1 : 0 };
    if (existing === undefined) await tx.trx.insertInto('pops').values(row).execute();
    else await tx.trx.updateTable('pops').set(row).where('name', '=', pop.name).execute();
    await tx.append({ type: 'pop.upsert', pop });
    await tx.audit(actor, existing === undefined ? 'pop.create' : 'pop.update', pop.name, input);
    return pop;
  });
}

/**
 * Drains a PoP or puts it back (event pop.upsert, so nodes and DNS see it as any topology change).
 * undefined when there is no such PoP; no event when the flag already has that value.
 */
export function setPopDrained(
  ctx: StoreContext,
  name: string,
  drained: boolean,
  actor: Actor,
): Promise<Pop | undefined> {
  return write(ctx, async (tx) => {
    const row = await tx.trx.selectFrom('pops').selectAll().where('name', '=', name).executeTakeFirst();
    if (row === undefined) return undefined;
    if ((Number(row.drained) === 1) === drained) return popFromRow(row);
    await tx.trx
      .updateTable('pops')
      .set({ drained: drained ? 1 : 0 })
      .where('name', '=', name)
      .execute();
    const pop = popFromRow({ ...row, drained: drained ? 1 : 0 });
    await tx.append({ type: 'pop.upsert', pop });
    await tx.audit(actor, drained ? 'pop.drain' : 'pop.undrain', name, { drained });
    return pop;
  });
}

/** Refuses (StoreConflictError 'pop') while nodes belong to the PoP or zones use it as shield. */
export function deletePop(ctx: StoreContext, name: string, actor: Actor): Promise<boolean> {
  return write(ctx, async (tx) => {
    const row = await tx.trx.selectFrom('pops').select('name').where('name', '=', name).executeTakeFirst();
    if (row === undefined) return false;
    const nodes = await tx.trx
      .selectFrom('nodes')
      .select('name')
      .where('pop', '=', name)
      .orderBy('name')
      .execute();
    if (nodes.length > 0) {
      throw new StoreConflictError(
        'pop',
        `PoP ${name} still has nodes: ${nodes.map((n) => n.name).join(', ')}`,
      );
    }
    const shielded = await tx.trx
      .selectFrom('zones')
      .select('name')
      .where('shield_pop', '=', name)
      .orderBy('name')
      .execute();
    if (shielded.length > 0) {
      throw new StoreConflictError(
        'pop',
        `PoP ${name} is the shield of zones: ${shielded.map((z) => z.name).join(', ')}`,
      );
    }
    await tx.trx.deleteFrom('pops').where('name', '=', name).execute();
    await tx.append({ type: 'pop.delete', name });
    await tx.audit(actor, 'pop.delete', name, null);
    return true;
  });
}

/**
 * A node (re)registers: address and PoP recorded, status up, heartbeat now, registered_at now.
 * applied_seq is kept across re-registrations. The PoP must exist (StoreConflictError 'pop').
 */
export function registerNode(
  ctx: StoreContext,
  input: { name: string; pop: string; url: string; admin_url: string | null },
  actor: Actor,
): Promise<NodeInfo> {
  return write(ctx, async (tx) => {
    const pop = await tx.trx
      .selectFrom('pops')
      .select('name')
      .where('name', '=', input.pop)
      .executeTakeFirst();
    if (pop === undefined) throw new StoreConflictError('pop', `no PoP named ${input.pop}`);
    const existing = await tx.trx
      .selectFrom('nodes')
      .select('applied_seq')
      .where('name', '=', input.name)
      .executeTakeFirst();
    const node: NodeInfo = {
      name: input.name,
      pop: input.pop,
      url: input.url,
      admin_url: input.admin_url,
      status: 'up',
      last_heartbeat_at: tx.at,
      applied_seq: Number(existing?.applied_seq ?? 0),
      registered_at: tx.at,
    };
    if (existing === undefined) await tx.trx.insertInto('nodes').values(node).execute();
    else await tx.trx.updateTable('nodes').set(node).where('name', '=', node.name).execute();
    await tx.append({ type: 'node.upsert', node: nodeSummary(node) });
    await tx.audit(actor, 'node.register', node.name, {
      pop: node.pop,
      url: node.url,
      admin_url: node.admin_url,
    });
    return node;
  });
}

export function deleteNode(ctx: StoreContext, name: string, actor: Actor): Promise<boolean> {
  return write(ctx, async (tx) => {
    const { numDeletedRows } = await tx.trx.deleteFrom('nodes').where('name', '=', name).executeTakeFirst();
    if (numDeletedRows === 0n) return false;
    await tx.append({ type: 'node.delete', name });
    await tx.audit(actor, 'node.delete', name, null);
    return true;
  });
}

/**
 * Records a heartbeat without an event (too frequent). A node that was marked down and heartbeats
 * again is back: that flip is a change edges and DNS must see, so it is a write with node.upsert.
 */
export async function heartbeat(
  ctx: StoreContext,
  name: string,
  appliedSeq: number,
): Promise<NodeInfo | undefined> {
  const at = ctx.now().toISOString();
  const row = await ctx.db
    .updateTable('nodes')
    .set({ last_heartbeat_at: at, applied_seq: appliedSeq })
    .where('name', '=', name)
    .where('status', '=', 'up')
    .returningAll()
    .executeTakeFirst();
  if (row !== undefined) return nodeFromRow(row);
  return write(ctx, async (tx) => {
    const down = await tx.trx
      .updateTable('nodes')
      .set({ status: 'up', last_heartbeat_at: tx.at, applied_seq: appliedSeq })
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    if (down === undefined) return undefined;
    const node = nodeFromRow(down);
    await emitNodeStatus(tx, node, 'node.up');
    return node;
  });
}

/** Marks nodes silent for longer than staleMs as down; returns their names. */
export async function markStaleNodesDown(ctx: StoreContext, staleMs: number): Promise<string[]> {
  const cutoff = new Date(ctx.now().getTime() - staleMs).toISOString();
  const staleNodes = (db: Kysely<Tables>) =>
    db
      .selectFrom('nodes')
      .selectAll()
      .where('status', '=', 'up')
      .where((eb) => eb(eb.fn.coalesce('last_heartbeat_at', 'registered_at'), '<', cutoff))
      .orderBy('name')
      .execute();
  // The common case (nothing stale) costs one read and takes no lock.
  if ((await staleNodes(ctx.db)).length === 0) return [];
  return write(ctx, async (tx) => {
    const names: string[] = [];
    for (const row of await staleNodes(tx.trx)) {
      // Heartbeats do not take the log lock: the condition is checked again as the row is written,
      // so a heartbeat that landed after the read above keeps the node up.
      const { numUpdatedRows } = await tx.trx
        .updateTable('nodes')
        .set({ status: 'down' })
        .where('name', '=', row.name)
        .where('status', '=', 'up')
        .where((eb) => eb(eb.fn.coalesce('last_heartbeat_at', 'registered_at'), '<', cutoff))
        .executeTakeFirst();
      if (numUpdatedRows === 0n) continue;
      await emitNodeStatus(tx, { ...nodeFromRow(row), status: 'down' }, 'node.down');
      names.push(row.name);
    }
    return names;
  });
}

async function emitNodeStatus(tx: WriteTx, node: NodeInfo, action: 'node.up' | 'node.down'): Promise<void> {
  await tx.append({ type: 'node.upsert', node: nodeSummary(node) });
  await tx.audit(SYSTEM_ACTOR, action, node.name, { last_heartbeat_at: node.last_heartbeat_at });
}
