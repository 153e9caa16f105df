// Worker scripts, their versions and the zones' worker routes. Every upload is a new version (kept);
// one version per script is current, and its reference (worker.script.upsert) goes to the nodes,
// which fetch the source and bindings themselves (secret texts are sealed here, opened only for a
// node). Routes change as a whole list per zone (worker.routes.replace), like rules.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type {
  Binding,
  RouteInput,
  WorkerRoute,
  WorkerScript,
  WorkerScriptMeta,
} from '../../common/config/worker.ts';
import type { WorkerScriptRef } from '../../common/events/types.ts';
import type { MasterKey } from '../secrets/master-key.ts';
import { newId } from './rows.ts';
import type { Tables, WorkerRouteRow, WorkerVersionRow } from './schema.ts';
import type { Actor } from './types.ts';
import { StoreConflictError } from './types.ts';
import type { StoreContext, WriteTx } from './write.ts';
import { write } from './write.ts';

function sealBindings(bindings: readonly Binding[], key: MasterKey): string {
  return JSON.stringify(
    bindings.map((b) => (b.type === 'secret_text' ? { ...b, text: key.seal(b.text) } : b)),
  );
}

function openBindings(json: string, key: MasterKey): Binding[] {
  return (JSON.parse(json) as Binding[]).map((b) =>
    b.type === 'secret_text' ? { ...b, text: key.open(b.text) } : b,
  );
}

function metaOf(row: WorkerVersionRow): WorkerScriptMeta {
  const bindings = (JSON.parse(row.bindings) as Binding[]).map((b) =>
    b.type === 'secret_text' ? { type: 'secret_text' as const, name: b.name } : b,
  );
  return {
    zone_id: row.zone_id,
    name: row.name,
    version: Number(row.version),
    etag: row.etag,
    size: Buffer.byteLength(row.source),
    bindings,
    created_at: row.created_at,
  };
}

function routeOf(row: WorkerRouteRow): WorkerRoute {
  return {
    id: row.id,
    zone_id: row.zone_id,
    pattern: row.pattern,
    script: row.script,
    fail_open: row.fail_open === 1,
    created_at: row.created_at,
  };
}

/** The etag of a version: its source and its bindings (a new secret makes a new version). */
function etagOf(source: string, bindings: readonly Binding[]): string {
  return createHash('sha256').update(source).update('\0').update(JSON.stringify(bindings)).digest('hex');
}

async function currentRow(
  db: Kysely<Tables>,
  zoneId: string,
  name: string,
): Promise<WorkerVersionRow | undefined> {
  return db
    .selectFrom('worker_scripts as s')
    .innerJoin('worker_versions as v', (j) =>
      j
        .onRef('v.zone_id', '=', 's.zone_id')
        .onRef('v.name', '=', 's.name')
        .onRef('v.version', '=', 's.current_version'),
    )
    .selectAll('v')
    .where('s.zone_id', '=', zoneId)
    .where('s.name', '=', name)
    .executeTakeFirst();
}

export async function getScript(
  db: Kysely<Tables>,
  zoneId: string,
  name: string,
): Promise<WorkerScriptMeta | undefined> {
  const row = await currentRow(db, zoneId, name);
  return row === undefined ? undefined : metaOf(row);
}

export async function listScripts(db: Kysely<Tables>, zoneId: string): Promise<WorkerScriptMeta[]> {
  const rows = await db
    .selectFrom('worker_scripts as s')
    .innerJoin('worker_versions as v', (j) =>
      j
        .onRef('v.zone_id', '=', 's.zone_id')
        .onRef('v.name', '=', 's.name')
        .onRef('v.version', '=', 's.current_version'),
    )
    .selectAll('v')
    .where('s.zone_id', '=', zoneId)
    .orderBy('s.name')
    .execute();
  return rows.map(metaOf);
}

export async function listVersions(
  db: Kysely<Tables>,
  zoneId: string,
  name: string,
): Promise<WorkerScriptMeta[]> {
  const rows = await db
    .selectFrom('worker_versions')
    .selectAll()
    .where('zone_id', '=', zoneId)
    .where('name', '=', name)
    .orderBy('version', 'desc')
    .execute();
  return rows.map(metaOf);
}

/** A version's source and bindings with secrets opened: for nodes only (the API checks the node). */
export async function getScriptMaterial(
  db: Kysely<Tables>,
  key: MasterKey,
  zoneId: string,
  name: string,
  version: number,
): Promise<WorkerScript | undefined> {
  const row = await db
    .selectFrom('worker_versions')
    .selectAll()
    .where('zone_id', '=', zoneId)
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    zone_id: row.zone_id,
    name: row.name,
    version: Number(row.version),
    etag: row.etag,
    source: row.source,
    bindings: openBindings(row.bindings, key),
    created_at: row.created_at,
  };
}

/** Uploads a new version and makes it current. The API compiled it and checked its bindings. */
export function putScript(
  ctx: StoreContext,
  zoneId: string,
  name: string,
  source: string,
  bindings: readonly Binding[],
  actor: Actor,
): Promise<WorkerScriptMeta> {
  return write(ctx, async (tx) => {
    await assertZoneExists(tx, zoneId);
    await assertNamespacesOfZone(tx, zoneId, bindings);
    const last = await tx.trx
      .selectFrom('worker_versions')
      .select((eb) => eb.fn.max('version').as('v'))
      .where('zone_id', '=', zoneId)
      .where('name', '=', name)
      .executeTakeFirst();
    const version = Number(last?.v ?? 0) + 1;
    const row: WorkerVersionRow = {
      zone_id: zoneId,
      name,
      version,
      etag: etagOf(source, bindings),
      source,
      bindings: sealBindings(bindings, ctx.masterKey),
      created_at: tx.at,
    };
    await tx.trx.insertInto('worker_versions').values(row).execute();
    await tx.trx
      .insertInto('worker_scripts')
      .values({ zone_id: zoneId, name, current_version: version, created_at: tx.at, updated_at: tx.at })
      .onConflict((oc) =>
        oc.columns(['zone_id', 'name']).doUpdateSet({ current_version: version, updated_at: tx.at }),
      )
      .execute();
    await tx.append({ type: 'worker.script.upsert', script: refOf(row) });
    await tx.audit(actor, 'worker.deploy', `${zoneId}/${name}`, {
      version,
      etag: row.etag,
      size: Buffer.byteLength(source),
    });
    return metaOf(row);
  });
}

/** Makes `toVersion` (default: the newest older than the current) current again. */
export function rollbackScript(
  ctx: StoreContext,
  zoneId: string,
  name: string,
  toVersion: number | null,
  actor: Actor,
): Promise<WorkerScriptMeta | undefined> {
  return write(ctx, async (tx) => {
    const current = await currentRow(tx.trx, zoneId, name);
    if (current === undefined) return undefined;
    let query = tx.trx
      .selectFrom('worker_versions')
      .selectAll()
      .where('zone_id', '=', zoneId)
      .where('name', '=', name);
    query =
      toVersion === null
        ? query.where('version', '<', current.version).orderBy('version', 'desc').limit(1)
        : query.where('version', '=', toVersion);
    const target = await query.executeTakeFirst();
    if (target === undefined) {
      throw new StoreConflictError(
        'version',
        toVersion === null
          ? `script ${name} has no version before ${current.version}`
          : `script ${name} has no version ${toVersion}`,
      );
    }
    await tx.trx
      .updateTable('worker_scripts')
      .set({ current_version: target.version, updated_at: tx.at })
      .where('zone_id', '=', zoneId)
      .where('name', '=', name)
      .execute();
    await tx.append({ type: 'worker.script.upsert', script: refOf(target) });
    await tx.audit(actor, 'worker.rollback', `${zoneId}/${name}`, {
      from: current.version,
      to: target.version,
    });
    return metaOf(target);
  });
}

export function deleteScript(
  ctx: StoreContext,
  zoneId: string,
  name: string,
  actor: Actor,
): Promise<boolean> {
  return write(ctx, async (tx) => {
    const used = await tx.trx
      .selectFrom('worker_routes')
      .select('pattern')
      .where('zone_id', '=', zoneId)
      .where('script', '=', name)
      .execute();
    const exists = await currentRow(tx.trx, zoneId, name);
    if (exists === undefined) return false;
    if (used.length > 0) {
      throw new StoreConflictError(
        'script',
        `routes still send requests to ${name}: ${used.map((r) => r.pattern).join(', ')}`,
      );
    }
    await tx.trx
      .deleteFrom('worker_scripts')
      .where('zone_id', '=', zoneId)
      .where('name', '=', name)
      .execute();
    await tx.trx
      .deleteFrom('worker_versions')
      .where('zone_id', '=', zoneId)
      .where('name', '=', name)
      .execute();
    await tx.append({ type: 'worker.script.delete', zone_id: zoneId, name });
    await tx.audit(actor, 'worker.delete', `${zoneId}/${name}`, {});
    return true;
  });
}

export async function listRoutes(db: Kysely<Tables>, zoneId: string): Promise<WorkerRoute[]> {
  const rows = await db
    .selectFrom('worker_routes')
    .selectAll()
    .where('zone_id', '=', zoneId)
    .orderBy('pattern')
    .execute();
  return rows.map(routeOf);
}

export function createRoute(
  ctx: StoreContext,
  zoneId: string,
  input: RouteInput,
  actor: Actor,
): Promise<WorkerRoute> {
  return write(ctx, async (tx) => {
    await assertZoneExists(tx, zoneId);
    if ((await currentRow(tx.trx, zoneId, input.script)) === undefined)
      throw new StoreConflictError('script', `no script named ${input.script} in this zone`);
    const row: WorkerRouteRow = {
      id: newId(),
      zone_id: zoneId,
      pattern: input.pattern,
      script: input.script,
      fail_open: input.fail_open ? 1 : 0,
      created_at: tx.at,
    };
    await tx.trx.insertInto('worker_routes').values(row).execute();
    await emitRoutes(tx, zoneId);
    await tx.audit(actor, 'worker.route.create', row.id, { pattern: row.pattern, script: row.script });
    return routeOf(row);
  });
}

export function deleteRoute(
  ctx: StoreContext,
  zoneId: string,
  routeId: string,
  actor: Actor,
): Promise<boolean> {
  return write(ctx, async (tx) => {
    const { numDeletedRows } = await tx.trx
      .deleteFrom('worker_routes')
      .where('zone_id', '=', zoneId)
      .where('id', '=', routeId)
      .executeTakeFirst();
    if (Number(numDeletedRows) === 0) return false;
    await emitRoutes(tx, zoneId);
    await tx.audit(actor, 'worker.route.delete', routeId, {});
    return true;
  });
}

/** For snapshots: every script's current version, and routes by zone. */
export async function allWorkers(
  db: Kysely<Tables>,
): Promise<{ scripts: WorkerScriptRef[]; routes: Record<string, WorkerRoute[]> }> {
  const rows = await db
    .selectFrom('worker_scripts as s')
    .innerJoin('worker_versions as v', (j) =>
      j
        .onRef('v.zone_id', '=', 's.zone_id')
        .onRef('v.name', '=', 's.name')
        .onRef('v.version', '=', 's.current_version'),
    )
    .select(['v.zone_id', 'v.name', 'v.version', 'v.etag'])
    .execute();
  const routes: Record<string, WorkerRoute[]> = {};
  for (const row of await db.selectFrom('worker_routes').selectAll().orderBy('pattern').execute()) {
    (routes[row.zone_id] ??= []).push(routeOf(row));
  }
  return {
    scripts: rows.map((r) => ({
      zone_id: r.zone_id,
      name: r.name,
      version: Number(r.version),
      etag: r.etag,
    })),
    routes,
  };
}

async function emitRoutes(tx: WriteTx, zoneId: string): Promise<void> {
  await tx.append({
    type: 'worker.routes.replace',
    zone_id: zoneId,
    routes: await listRoutes(tx.trx, zoneId),
  });
}

function refOf(row: WorkerVersionRow): WorkerScriptRef {
  return { zone_id: row.zone_id, name: row.name, version: Number(row.version), etag: row.etag };
}

async function assertZoneExists(tx: WriteTx, zoneId: string): Promise<void> {
  const row = await tx.trx.selectFrom('zones').select('id').where('id', '=', zoneId).executeTakeFirst();
  if (row === undefined) throw new StoreConflictError('zone_id', `no zone with id ${zoneId}`);
}

async function assertNamespacesOfZone(
  tx: WriteTx,
  zoneId: string,
  bindings: readonly Binding[],
): Promise<void> {
  for (const b of bindings) {
    if (b.type !== 'kv_namespace') continue;
    const ns = await tx.trx
      .selectFrom('kv_namespaces')
      .select('id')
      .where('id', '=', b.namespace_id)
      .where('zone_id', '=', zoneId)
      .executeTakeFirst();
    if (ns === undefined)
      throw new StoreConflictError('bindings', `${b.name}: no KV namespace ${b.namespace_id} in this zone`);
  }
}
