// A zone's edge security: its rulesets by phase and its security settings, one JSON document per
// zone (migration 0007). Every change emits security.replace with the whole document, so a node
// applies it without knowing what changed.
import type { Kysely } from 'kysely';
import {
  SecuritySettingsSchema,
  type Phase,
  type Ruleset,
  type SecuritySettings,
  type ZoneSecurity,
} from '../../common/config/ruleset.ts';
import { newId } from './rows.ts';
import type { Tables } from './schema.ts';
import type { Actor } from './types.ts';
import { StoreConflictError } from './types.ts';
import type { StoreContext, WriteTx } from './write.ts';
import { write } from './write.ts';

export function emptySecurity(): ZoneSecurity {
  return { rulesets: {}, settings: SecuritySettingsSchema.parse({}) };
}

export async function getSecurity(db: Kysely<Tables>, zoneId: string): Promise<ZoneSecurity> {
  const row = await db
    .selectFrom('zone_security')
    .select('body')
    .where('zone_id', '=', zoneId)
    .executeTakeFirst();
  return row === undefined ? emptySecurity() : (JSON.parse(row.body) as ZoneSecurity);
}

/** Every zone's document (snapshots); zones without one are absent. */
export async function allSecurity(db: Kysely<Tables>): Promise<Record<string, ZoneSecurity>> {
  const rows = await db.selectFrom('zone_security').selectAll().orderBy('zone_id').execute();
  const out: Record<string, ZoneSecurity> = {};
  for (const row of rows) out[row.zone_id] = JSON.parse(row.body) as ZoneSecurity;
  return out;
}

/** The phase's entrypoint: rules keep their ids (given or made), version goes up by one. */
export function putRuleset(
  ctx: StoreContext,
  zoneId: string,
  phase: Phase,
  input: { name?: string | undefined; description?: string | undefined; rules: Record<string, unknown>[] },
  actor: Actor,
): Promise<Ruleset> {
  return write(ctx, async (tx) => {
    const security = await current(tx, zoneId);
    const before = security.rulesets[phase];
    const version = String(Number(before?.version ?? '0') + 1);
    const ruleset: Ruleset = {
      id: before?.id ?? newId(),
      zone_id: zoneId,
      name: input.name ?? before?.name ?? `${phase} entrypoint`,
      description: input.description ?? before?.description ?? '',
      kind: 'zone',
      phase,
      version,
      last_updated: tx.at,
      rules: input.rules.map((rule) => ({
        ...rule,
        id: typeof rule.id === 'string' ? rule.id : newId(),
        version,
        last_updated: tx.at,
      })) as Ruleset['rules'],
    };
    security.rulesets[phase] = ruleset;
    await save(tx, zoneId, security);
    await tx.audit(actor, 'ruleset.replace', ruleset.id, {
      zone_id: zoneId,
      phase,
      rules: ruleset.rules.length,
    });
    return ruleset;
  });
}

export function putSecuritySettings(
  ctx: StoreContext,
  zoneId: string,
  settings: SecuritySettings,
  actor: Actor,
): Promise<SecuritySettings> {
  return write(ctx, async (tx) => {
    const security = await current(tx, zoneId);
    security.settings = settings;
    await save(tx, zoneId, security);
    await tx.audit(actor, 'security.settings', zoneId, settings);
    return settings;
  });
}

async function current(tx: WriteTx, zoneId: string): Promise<ZoneSecurity> {
  const zone = await tx.trx.selectFrom('zones').select('id').where('id', '=', zoneId).executeTakeFirst();
  if (zone === undefined) throw new StoreConflictError('zone_id', `no zone with id ${zoneId}`);
  return getSecurity(tx.trx, zoneId);
}

async function save(tx: WriteTx, zoneId: string, security: ZoneSecurity): Promise<void> {
  const body = JSON.stringify(security);
  await tx.trx
    .insertInto('zone_security')
    .values({ zone_id: zoneId, body, updated_at: tx.at })
    .onConflict((oc) => oc.column('zone_id').doUpdateSet({ body, updated_at: tx.at }))
    .execute();
  await tx.append({ type: 'security.replace', zone_id: zoneId, security });
}
