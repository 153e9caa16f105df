// /client/v4/zones/{id}/workers: scripts (ES modules, compiled on upload), their versions and
// rollback, and the zone's worker routes. A script is checked here before it is stored: it must
// compile (a syntax error is a 400 with its line and column), import nothing, stay under the size
// limit, and declare only known bindings (kv_namespace bindings must name the zone's namespaces).
// Nodes compile it again before they switch to it (edge/compute/registry.ts).
import { z } from 'zod';
import {
  BindingInputSchema,
  MAX_BINDINGS,
  MAX_SCRIPT_BYTES,
  RouteInputSchema,
  ScriptNameSchema,
} from '../../common/config/worker.ts';
import { checkWorkerScript } from '../../common/workers/check-script.ts';
import type { ControlStore } from '../store/types.ts';
import { API_ERRORS, ApiError, badRequest, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { translateConflicts } from './zones.ts';

const UploadSchema = z
  .object({
    script: z.string().min(1, 'the module source is empty'),
    bindings: z.array(BindingInputSchema).max(MAX_BINDINGS).default([]),
  })
  .strict();

const ScriptMetaSchema = z
  .object({
    zone_id: z.string(),
    name: z.string(),
    version: z.number(),
    etag: z.string(),
    size: z.number(),
    bindings: z.array(z.object({ type: z.string(), name: z.string() }).passthrough()),
    created_at: z.string(),
  })
  .meta({ id: 'WorkerScript' });

const RouteSchema = RouteInputSchema.extend({
  id: z.string(),
  zone_id: z.string(),
  created_at: z.string(),
}).meta({
  id: 'WorkerRoute',
});

const RollbackSchema = z.object({ version: z.number().int().min(1).optional() }).strict();

export function workerRoutes(router: Router, store: ControlStore): void {
  const workers = store.workers();
  const zoneExists = async (zoneId: string): Promise<void> => {
    if ((await store.getZone(zoneId)) === undefined) throw notFound('zone');
  };
  const nameOf = (params: Record<string, string>): string => {
    const parsed = ScriptNameSchema.safeParse(params.script_name);
    if (!parsed.success) throw badRequest(`script_name: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  };
  router.add(
    {
      method: 'PUT',
      path: '/client/v4/zones/:zone_id/workers/scripts/:script_name',
      operationId: 'uploadWorkerScript',
      summary: 'Upload a worker script (an ES module) and its bindings; it becomes the current version',
      scope: 'workers:write',
      tag: 'workers',
      body: UploadSchema,
      result: ScriptMetaSchema,
    },
    async ({ reply, params, body, actor }) => {
      await zoneExists(params.zone_id as string);
      const name = nameOf(params);
      checkUpload(body.script, body.bindings);
      const meta = await translateConflicts(() =>
        workers.putScript(params.zone_id as string, name, body.script, body.bindings, actor),
      );
      return ok(reply, meta);
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/workers/scripts',
      operationId: 'listWorkerScripts',
      summary: "List the zone's worker scripts (current versions)",
      scope: 'workers:read',
      tag: 'workers',
      result: z.array(ScriptMetaSchema),
    },
    async ({ reply, params }) => {
      await zoneExists(params.zone_id as string);
      return ok(reply, await workers.listScripts(params.zone_id as string));
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/workers/scripts/:script_name',
      operationId: 'getWorkerScript',
      summary: "A script's current version, with ?source=true its module source",
      scope: 'workers:read',
      tag: 'workers',
      queryParams: ['source'],
      result: ScriptMetaSchema,
    },
    async ({ reply, params, query }) => {
      const name = nameOf(params);
      const meta = await workers.getScript(params.zone_id as string, name);
      if (meta === undefined) throw notFound('script');
      if (query.source !== 'true') return ok(reply, meta);
      const material = await workers.getScriptMaterial(meta.zone_id, name, meta.version);
      return ok(reply, { ...meta, script: material?.source ?? '' });
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/workers/scripts/:script_name/versions',
      operationId: 'listWorkerVersions',
      summary: 'Every kept version of a script, newest first',
      scope: 'workers:read',
      tag: 'workers',
      result: z.array(ScriptMetaSchema),
    },
    async ({ reply, params }) => {
      const versions = await workers.listVersions(params.zone_id as string, nameOf(params));
      if (versions.length === 0) throw notFound('script');
      return ok(reply, versions);
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/client/v4/zones/:zone_id/workers/scripts/:script_name/rollback',
      operationId: 'rollbackWorkerScript',
      summary: 'Make an earlier version current again (default: the one before the current)',
      scope: 'workers:write',
      tag: 'workers',
      body: RollbackSchema,
      result: ScriptMetaSchema,
    },
    async ({ reply, params, body, actor }) => {
      const meta = await translateConflicts(() =>
        workers.rollbackScript(params.zone_id as string, nameOf(params), body.version ?? null, actor),
      );
      if (meta === undefined) throw notFound('script');
      return ok(reply, meta);
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: '/client/v4/zones/:zone_id/workers/scripts/:script_name',
      operationId: 'deleteWorkerScript',
      summary: 'Delete a script and its versions (no route may use it)',
      scope: 'workers:write',
      tag: 'workers',
      result: z.object({ name: z.string() }),
    },
    async ({ reply, params, actor }) => {
      const name = nameOf(params);
      if (!(await translateConflicts(() => workers.deleteScript(params.zone_id as string, name, actor))))
        throw notFound('script');
      return ok(reply, { name });
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/client/v4/zones/:zone_id/workers/routes',
      operationId: 'createWorkerRoute',
      summary: 'Send requests matching a pattern (host/path*) to a script',
      scope: 'workers:write',
      tag: 'workers',
      body: RouteInputSchema,
      result: RouteSchema,
    },
    async ({ reply, params, body, actor }) => {
      const zone = await store.getZone(params.zone_id as string);
      if (zone === undefined) throw notFound('zone');
      const host = body.pattern.split('/')[0] as string;
      const bare = host.startsWith('*.') ? host.slice(2) : host;
      if (!zone.hostnames.some((h) => h === bare || h.endsWith(`.${bare}`))) {
        throw badRequest(
          `pattern: ${host} is not one of the zone's hostnames (${zone.hostnames.join(', ')})`,
        );
      }
      return ok(reply, await translateConflicts(() => workers.createRoute(zone.id, body, actor)), 201);
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/workers/routes',
      operationId: 'listWorkerRoutes',
      summary: "List the zone's worker routes",
      scope: 'workers:read',
      tag: 'workers',
      result: z.array(RouteSchema),
    },
    async ({ reply, params }) => {
      await zoneExists(params.zone_id as string);
      return ok(reply, await workers.listRoutes(params.zone_id as string));
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: '/client/v4/zones/:zone_id/workers/routes/:route_id',
      operationId: 'deleteWorkerRoute',
      summary: 'Delete a worker route',
      scope: 'workers:write',
      tag: 'workers',
      result: z.object({ id: z.string() }),
    },
    async ({ reply, params, actor }) => {
      if (!(await workers.deleteRoute(params.zone_id as string, params.route_id as string, actor)))
        throw notFound('route');
      return ok(reply, { id: params.route_id });
    },
  );
}

/** Size, syntax, imports and binding names; each failure a 400 with its own 18xx code. */
function checkUpload(source: string, bindings: readonly { name: string }[]): void {
  const size = Buffer.byteLength(source);
  if (size > MAX_SCRIPT_BYTES) {
    throw new ApiError(
      400,
      API_ERRORS.script_too_large,
      `script: ${size} bytes, more than the ${MAX_SCRIPT_BYTES} allowed`,
    );
  }
  const names = new Set<string>();
  for (const b of bindings) {
    if (names.has(b.name))
      throw new ApiError(400, API_ERRORS.binding_invalid, `bindings: ${b.name} is declared twice`);
    names.add(b.name);
  }
  const problem = checkWorkerScript(source);
  if (problem === null) return;
  switch (problem.kind) {
    case 'syntax':
      throw new ApiError(
        400,
        API_ERRORS.script_syntax,
        problem.line === null
          ? `script: ${problem.message}`
          : `script: line ${problem.line}, column ${problem.column}: ${problem.message}`,
      );
    case 'imports':
      throw new ApiError(
        400,
        API_ERRORS.script_imports,
        `script: imports ${problem.specifiers.map((s) => `"${s}"`).join(', ')}; workers are one module and cannot import`,
      );
  }
}
