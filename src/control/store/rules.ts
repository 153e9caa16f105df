// A zone's cache rules: an ordered list whose positions stay dense (0, 1, 2 …). Every change emits
// rules.replace with the zone's whole list, so a node applies it without knowing what changed.
import type { Kysely } from 'kysely';
import type { Rule, RuleInput } from '../../common/config/zone.ts';
import { newId, ruleFromRow, ruleToRow } from './rows.ts';
import type { Tables } from './schema.ts';
import type { Actor } from './types.ts';
import { StoreConflictError } from './types.ts';
import type { StoreContext, WriteTx } from './write.ts';
import { write } from './write.ts';

export async function listRules(db: Kysely<Tables>, zoneId: string): Promise<Rule[]> {
  const rows = await db
    .selectFrom('rules')
    .selectAll()
    .where('zone_id', '=', zoneId)
    .orderBy('position')
    .execute();
  return rows.map(ruleFromRow);
}

/** Every zone's rules in order (snapshots); zones without rules are absent. */
export async function allRules(db: Kysely<Tables>): Promise<Map<string, Rule[]>> {
  const rows = await db.selectFrom('rules').selectAll().orderBy('zone_id').orderBy('position').execute();
  const byZone = new Map<string, Rule[]>();
  for (const row of rows) {
    const list = byZone.get(row.zone_id);
    if (list === undefined) byZone.set(row.zone_id, [ruleFromRow(row)]);
    else list.push(ruleFromRow(row));
  }
  return byZone;
}

/** Inserts at `position` (clamped to 0 … count), or last when null. */
export function createRule(
  ctx: StoreContext,
  zoneId: string,
  input: RuleInput,
  position: number | null,
  actor: Actor,
): Promise<Rule> {
  return write(ctx, async (tx) => {
    await assertZoneExists(tx, zoneId);
    const current = await listRules(tx.trx, zoneId);
    const at =
      position === null ? current.length : Math.min(Math.max(0, Math.trunc(position)), current.length);
    const rule: Rule = {
      id: newId(),
      zone_id: zoneId,
      position: at,
      ...ruleFields(input),
      created_at: tx.at,
      updated_at: tx.at,
    };
    await tx.trx
      .updateTable('rules')
      .set((eb) => ({ position: eb('position', '+', 1) }))
      .where('zone_id', '=', zoneId)
      .where('position', '>=', at)
      .execute();
    await tx.trx.insertInto('rules').values(ruleToRow(rule)).execute();
    await emitRules(tx, zoneId);
    await tx.audit(actor, 'rule.create', rule.id, { zone_id: zoneId, position: at, ...ruleFields(input) });
    return rule;
  });
}

/** Replaces the rule's content; its position stays. */
export function updateRule(
  ctx: StoreContext,
  zoneId: string,
  ruleId: string,
  input: RuleInput,
  actor: Actor,
): Promise<Rule | undefined> {
  return write(ctx, async (tx) => {
    const current = await findRule(tx.trx, zoneId, ruleId);
    if (current === undefined) return undefined;
    const rule: Rule = { ...current, ...ruleFields(input), updated_at: tx.at };
    await tx.trx.updateTable('rules').set(ruleToRow(rule)).where('id', '=', ruleId).execute();
    await emitRules(tx, zoneId);
    await tx.audit(actor, 'rule.update', ruleId, { zone_id: zoneId, ...ruleFields(input) });
    return rule;
  });
}

export function deleteRule(
  ctx: StoreContext,
  zoneId: string,
  ruleId: string,
  actor: Actor,
): Promise<boolean> {
  return write(ctx, async (tx) => {
    const current = await findRule(tx.trx, zoneId, ruleId);
    if (current === undefined) return false;
    await tx.trx.deleteFrom('rules').where('id', '=', ruleId).execute();
    await tx.trx
      .updateTable('rules')
      .set((eb) => ({ position: eb('position', '-', 1) }))
      .where('zone_id', '=', zoneId)
      .where('position', '>', current.position)
      .execute();
    await emitRules(tx, zoneId);
    await tx.audit(actor, 'rule.delete', ruleId, { zone_id: zoneId });
    return true;
  });
}

/** ruleIds must name each of the zone's rules exactly once. */
export function reorderRules(
  ctx: StoreContext,
  zoneId: string,
  ruleIds: string[],
  actor: Actor,
): Promise<Rule[]> {
  return write(ctx, async (tx) => {
    await assertZoneExists(tx, zoneId);
    const current = await listRules(tx.trx, zoneId);
    const known = new Set(current.map((r) => r.id));
    const given = new Set(ruleIds);
    if (given.size !== ruleIds.length || given.size !== known.size || ruleIds.some((id) => !known.has(id))) {
      throw new StoreConflictError(
        'rule_ids',
        `rule_ids must list each of the zone's ${known.size} rules exactly once`,
      );
    }
    for (const [position, id] of ruleIds.entries()) {
      await tx.trx.updateTable('rules').set({ position }).where('id', '=', id).execute();
    }
    const rules = await emitRules(tx, zoneId);
    await tx.audit(actor, 'rules.reorder', zoneId, { rule_ids: ruleIds });
    return rules;
  });
}

async function emitRules(tx: WriteTx, zoneId: string): Promise<Rule[]> {
  const rules = await listRules(tx.trx, zoneId);
  await tx.append({ type: 'rules.replace', zone_id: zoneId, rules });
  return rules;
}

async function findRule(db: Kysely<Tables>, zoneId: string, ruleId: string): Promise<Rule | undefined> {
  const row = await db
    .selectFrom('rules')
    .selectAll()
    .where('id', '=', ruleId)
    .where('zone_id', '=', zoneId)
    .executeTakeFirst();
  return row === undefined ? undefined : ruleFromRow(row);
}

async function assertZoneExists(tx: WriteTx, zoneId: string): Promise<void> {
  const row = await tx.trx.selectFrom('zones').select('id').where('id', '=', zoneId).executeTakeFirst();
  if (row === undefined) throw new StoreConflictError('zone_id', `no zone with id ${zoneId}`);
}

/** The input's fields in a fixed order (so stored and emitted rules look alike). */
function ruleFields(input: RuleInput): RuleInput {
  return { description: input.description, enabled: input.enabled, match: input.match, action: input.action };
}
