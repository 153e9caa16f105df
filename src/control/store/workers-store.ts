// The store's worker and KV calls, bound to its context: ControlStore.workers() hands this out so
// the store's main interface grows by one entry (workers.ts and kv.ts hold the queries).
import type { KvEntryRef, KvNamespace } from '../../common/config/kv.ts';
import type {
  Binding,
  RouteInput,
  WorkerRoute,
  WorkerScript,
  WorkerScriptMeta,
} from '../../common/config/worker.ts';
import * as kv from './kv.ts';
import type { Actor } from './types.ts';
import * as workers from './workers.ts';
import type { StoreContext } from './write.ts';

export interface WorkersStore {
  putScript(
    zoneId: string,
    name: string,
    source: string,
    bindings: readonly Binding[],
    actor: Actor,
  ): Promise<WorkerScriptMeta>;
  getScript(zoneId: string, name: string): Promise<WorkerScriptMeta | undefined>;
  listScripts(zoneId: string): Promise<WorkerScriptMeta[]>;
  listVersions(zoneId: string, name: string): Promise<WorkerScriptMeta[]>;
  getScriptMaterial(zoneId: string, name: string, version: number): Promise<WorkerScript | undefined>;
  rollbackScript(
    zoneId: string,
    name: string,
    toVersion: number | null,
    actor: Actor,
  ): Promise<WorkerScriptMeta | undefined>;
  deleteScript(zoneId: string, name: string, actor: Actor): Promise<boolean>;
  listRoutes(zoneId: string): Promise<WorkerRoute[]>;
  createRoute(zoneId: string, input: RouteInput, actor: Actor): Promise<WorkerRoute>;
  deleteRoute(zoneId: string, routeId: string, actor: Actor): Promise<boolean>;
  createNamespace(zoneId: string, title: string, actor: Actor): Promise<KvNamespace>;
  listNamespaces(zoneId: string): Promise<KvNamespace[]>;
  getNamespace(id: string): Promise<KvNamespace | undefined>;
  deleteNamespace(zoneId: string, id: string, actor: Actor): Promise<boolean>;
  putValue(
    namespaceId: string,
    key: string,
    value: Buffer,
    metadata: string | null,
    expiration: number | null,
    actor: Actor,
  ): Promise<KvEntryRef>;
  deleteValue(namespaceId: string, key: string, actor: Actor): Promise<boolean>;
  getValue(namespaceId: string, key: string): ReturnType<typeof kv.getValue>;
  listKeys(
    namespaceId: string,
    prefix: string,
    cursor: string | null,
    limit: number,
  ): ReturnType<typeof kv.listKeys>;
  allEntries(namespaceId: string): Promise<KvEntryRef[]>;
}

export function workersStore(ctx: () => StoreContext): WorkersStore {
  const nowSec = (): number => Math.floor(ctx().now().getTime() / 1000);
  return {
    putScript: (z, n, s, b, a) => workers.putScript(ctx(), z, n, s, b, a),
    getScript: (z, n) => workers.getScript(ctx().db, z, n),
    listScripts: (z) => workers.listScripts(ctx().db, z),
    listVersions: (z, n) => workers.listVersions(ctx().db, z, n),
    getScriptMaterial: (z, n, v) => workers.getScriptMaterial(ctx().db, ctx().masterKey, z, n, v),
    rollbackScript: (z, n, v, a) => workers.rollbackScript(ctx(), z, n, v, a),
    deleteScript: (z, n, a) => workers.deleteScript(ctx(), z, n, a),
    listRoutes: (z) => workers.listRoutes(ctx().db, z),
    createRoute: (z, i, a) => workers.createRoute(ctx(), z, i, a),
    deleteRoute: (z, r, a) => workers.deleteRoute(ctx(), z, r, a),
    createNamespace: (z, t, a) => kv.createNamespace(ctx(), z, t, a),
    listNamespaces: (z) => kv.listNamespaces(ctx().db, z),
    getNamespace: (id) => kv.getNamespace(ctx().db, id),
    deleteNamespace: (z, id, a) => kv.deleteNamespace(ctx(), z, id, a),
    putValue: (ns, k, v, m, e, a) => kv.putValue(ctx(), ns, k, v, m, e, a),
    deleteValue: (ns, k, a) => kv.deleteValue(ctx(), ns, k, a),
    getValue: (ns, k) => kv.getValue(ctx().db, ns, k, nowSec()),
    listKeys: (ns, p, c, l) => kv.listKeys(ctx().db, ns, p, c, l, nowSec()),
    allEntries: (ns) => kv.allEntries(ctx().db, ns, nowSec()),
  };
}
