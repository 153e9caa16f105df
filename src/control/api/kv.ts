// /client/v4/zones/{id}/storage/kv: namespaces and their values in Cloudflare's shape. A value is
// the raw request body (any content type); expiration_ttl / expiration and metadata (JSON) come as
// query fields. Writes go to the store and, through the event log, to every node's replica.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkKvWrite, expirationOf, KV_MAX_VALUE_BYTES } from '../../common/workers/kv-limits.ts';
import type { ControlStore } from '../store/types.ts';
import { API_ERRORS, ApiError, badRequest, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { translateConflicts } from './zones.ts';

const NamespaceSchema = z
  .object({ id: z.string(), zone_id: z.string(), title: z.string() })
  .meta({ id: 'KvNamespace' });
const CreateNamespaceSchema = z.object({ title: z.string().min(1).max(512) }).strict();

const VALUES_PATH = /^\/client\/v4\/zones\/[^/]+\/storage\/kv\/namespaces\/[^/]+\/values\//;

/**
 * A KV value is the raw body, whatever its type: a parser for every content type on these paths
 * only (every other route still takes application/json alone, answering 415 otherwise).
 */
export function acceptKvValueBodies(app: FastifyInstance): void {
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: KV_MAX_VALUE_BYTES }, (req, body, done) => {
    if (VALUES_PATH.test(req.url)) return done(null, body);
    const err = Object.assign(new Error('unsupported media type'), {
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      statusCode: 415,
    });
    done(err, undefined);
  });
}

export function kvRoutes(router: Router, store: ControlStore): void {
  const workers = store.workers();
  const zoneExists = async (zoneId: string): Promise<void> => {
    if ((await store.getZone(zoneId)) === undefined) throw notFound('zone');
  };
  /** The namespace, if it belongs to the zone in the path. */
  const namespaceOf = async (params: Record<string, string>): Promise<string> => {
    const ns = await workers.getNamespace(params.namespace_id as string);
    if (ns === undefined || ns.zone_id !== params.zone_id) throw notFound('namespace');
    return ns.id;
  };
  const base = '/client/v4/zones/:zone_id/storage/kv/namespaces';
  router.add(
    {
      method: 'POST',
      path: base,
      operationId: 'createKvNamespace',
      summary: 'Create a KV namespace in the zone',
      scope: 'workers:write',
      tag: 'kv',
      body: CreateNamespaceSchema,
      result: NamespaceSchema,
    },
    async ({ reply, params, body, actor }) => {
      await zoneExists(params.zone_id as string);
      return ok(
        reply,
        await translateConflicts(() => workers.createNamespace(params.zone_id as string, body.title, actor)),
        201,
      );
    },
  );
  router.add(
    {
      method: 'GET',
      path: base,
      operationId: 'listKvNamespaces',
      summary: "List the zone's KV namespaces",
      scope: 'workers:read',
      tag: 'kv',
      result: z.array(NamespaceSchema),
    },
    async ({ reply, params }) => {
      await zoneExists(params.zone_id as string);
      return ok(reply, await workers.listNamespaces(params.zone_id as string));
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: `${base}/:namespace_id`,
      operationId: 'deleteKvNamespace',
      summary: 'Delete a KV namespace and every value in it',
      scope: 'workers:write',
      tag: 'kv',
      result: z.object({ id: z.string() }),
    },
    async ({ reply, params, actor }) => {
      if (!(await workers.deleteNamespace(params.zone_id as string, params.namespace_id as string, actor)))
        throw notFound('namespace');
      return ok(reply, { id: params.namespace_id });
    },
  );
  router.add(
    {
      method: 'PUT',
      path: `${base}/:namespace_id/values/:key_name`,
      operationId: 'putKvValue',
      summary: 'Write a value (the raw body); ?expiration_ttl= or ?expiration=, ?metadata= (JSON)',
      scope: 'workers:write',
      tag: 'kv',
      queryParams: ['expiration_ttl', 'expiration', 'metadata'],
      result: z.object({ key: z.string(), size: z.number(), etag: z.string() }),
    },
    async ({ req, reply, params, query, actor }) => {
      const ns = await namespaceOf(params);
      const key = params.key_name as string;
      const value = bodyBytes(req.body);
      const metadata = query.metadata === undefined || query.metadata === '' ? null : query.metadata;
      if (metadata !== null) {
        try {
          JSON.parse(metadata);
        } catch {
          throw badRequest('metadata: not valid JSON');
        }
      }
      const ttl = numberParam(query, 'expiration_ttl');
      const exp = numberParam(query, 'expiration');
      const nowSec = Date.now() / 1000;
      const problem = checkKvWrite(key, value.length, metadata, ttl, exp, nowSec);
      if (problem !== null)
        throw new ApiError(400, API_ERRORS.kv_value_invalid, problem.replace(/^KV put: /, ''));
      const entry = await workers.putValue(ns, key, value, metadata, expirationOf(ttl, exp, nowSec), actor);
      return ok(reply, { key, size: entry.size, etag: entry.etag });
    },
  );
  router.add(
    {
      method: 'GET',
      path: `${base}/:namespace_id/values/:key_name`,
      operationId: 'getKvValue',
      summary: 'Read a value: the raw bytes (404 when absent or expired)',
      scope: 'workers:read',
      tag: 'kv',
    },
    async ({ reply, params }) => {
      const ns = await namespaceOf(params);
      const found = await workers.getValue(ns, params.key_name as string);
      if (found === undefined) throw notFound('key');
      if (found.metadata !== null) reply.header('meridian-kv-metadata', found.metadata);
      if (found.expiration !== null) reply.header('meridian-kv-expiration', String(found.expiration));
      return reply.type('application/octet-stream').send(found.value);
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: `${base}/:namespace_id/values/:key_name`,
      operationId: 'deleteKvValue',
      summary: 'Delete a value (absent keys too: nothing happens)',
      scope: 'workers:write',
      tag: 'kv',
      result: z.object({ key: z.string() }),
    },
    async ({ reply, params, actor }) => {
      const ns = await namespaceOf(params);
      await workers.deleteValue(ns, params.key_name as string, actor);
      return ok(reply, { key: params.key_name });
    },
  );
  router.add(
    {
      method: 'GET',
      path: `${base}/:namespace_id/keys`,
      operationId: 'listKvKeys',
      summary: 'List keys in order: ?prefix=, ?limit= (10 to 1000), ?cursor= from the last page',
      scope: 'workers:read',
      tag: 'kv',
      queryParams: ['prefix', 'limit', 'cursor'],
    },
    async ({ reply, params, query }) => {
      const ns = await namespaceOf(params);
      const limit = numberParam(query, 'limit') ?? 1000;
      if (!Number.isInteger(limit) || limit < 10 || limit > 1000)
        throw badRequest(`limit: expected an integer from 10 to 1000, got "${query.limit}"`);
      const cursor = query.cursor === undefined || query.cursor === '' ? null : decodeCursor(query.cursor);
      const page = await workers.listKeys(ns, query.prefix ?? '', cursor, limit);
      const next = page.cursor === null ? '' : Buffer.from(page.cursor).toString('base64url');
      reply.code(200).send({
        success: true,
        errors: [],
        messages: [],
        result: page.keys.map((k) => ({
          name: k.name,
          ...(k.expiration === null ? {} : { expiration: k.expiration }),
          ...(k.metadata === null ? {} : { metadata: k.metadata }),
        })),
        result_info: { count: page.keys.length, cursor: next },
      });
      return reply;
    },
  );
}

function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  // application/json bodies arrive parsed (the API's JSON parser): the value is their JSON text.
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}

function numberParam(query: Record<string, string | undefined>, name: string): number | null {
  const raw = query[name];
  if (raw === undefined || raw === '') return null;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name}: expected a whole number, got "${raw}"`);
  return Number(raw);
}

function decodeCursor(raw: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw badRequest(`cursor: not a cursor from a previous page`);
  return Buffer.from(raw, 'base64url').toString();
}
