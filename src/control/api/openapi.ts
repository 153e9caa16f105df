// The OpenAPI 3.1 document, generated from the route declarations and their zod schemas. Schemas
// given an id with `.meta({ id })` (Zone, Rule, ZoneSettings, …) become shared components that
// operations reference; field descriptions come from `.describe()`.
import { z } from 'zod';
import type { DeclaredRoute, RouteSpec } from './router.ts';

const ERROR_ITEM = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'integer', description: 'API error code (docs/errors.md)' },
    message: { type: 'string', description: 'Names the field first, e.g. "match.pathh: unknown field"' },
  },
};

const Envelope = (result: unknown): unknown => ({
  type: 'object',
  required: ['success', 'errors', 'messages', 'result'],
  properties: {
    success: { type: 'boolean' },
    errors: { type: 'array', items: { $ref: '#/components/schemas/Error' } },
    messages: { type: 'array', items: {} },
    result,
    result_info: {
      type: 'object',
      description: 'Lists only: the page returned and the totals',
      properties: {
        page: { type: 'integer' },
        per_page: { type: 'integer' },
        count: { type: 'integer' },
        total_count: { type: 'integer' },
        total_pages: { type: 'integer' },
      },
    },
  },
});

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
});

const ERROR_RESPONSES = {
  '400': errorResponse('Invalid input: each error message names the field (unknown fields too)'),
  '401': errorResponse('Missing or invalid bearer token'),
  '403': errorResponse('The token lacks the scope or the zone'),
  '404': errorResponse('No such resource'),
};

/** Every route but the nodes' counts against the token's API rate limit (limits.ts). */
const RATE_LIMITED_RESPONSE = {
  ...errorResponse('Over the API rate limit per token (or the purge limit per zone); Retry-After says when'),
  headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 1 } } },
};

/** Only operations that take a body can fail in the body parser. */
const BODY_ERROR_RESPONSES = {
  '413': errorResponse('The body is larger than 1 MiB'),
  '415': errorResponse('The body is not application/json'),
};

/** Turns zod schemas into JSON Schema, moving every schema with an id into `components.schemas`. */
class SchemaCollector {
  readonly components: Record<string, unknown> = {
    Error: ERROR_ITEM,
    ErrorEnvelope: Envelope({ type: 'null' }),
  };

  convert(schema: z.ZodType, io: 'input' | 'output'): unknown {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
    // Request and response shapes of one schema differ (defaults make fields optional in requests).
    const nameOf = (id: string): string => (io === 'input' && !id.endsWith('Input') ? `${id}Input` : id);
    const defs = (json.$defs ?? {}) as Record<string, unknown>;
    delete json.$defs;
    delete json.$schema;
    const rewrite = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value).replace(
          /"#\/\$defs\/([^"]+)"/g,
          (_m, id: string) => `"#/components/schemas/${nameOf(id)}"`,
        ),
      );
    for (const [id, def] of Object.entries(defs)) this.components[nameOf(id)] ??= rewrite(def);
    // A schema that itself has an id comes back as its definition inline: reference it instead.
    const ownId = z.globalRegistry.get(schema)?.id;
    if (ownId !== undefined) {
      this.components[nameOf(ownId)] ??= rewrite(json);
      return { $ref: `#/components/schemas/${nameOf(ownId)}` };
    }
    return rewrite(json);
  }
}

/** A stable, unique operationId: the spec's own, or method + path ("getZonesByZoneIdRules"). */
export function operationIdOf(spec: RouteSpec<unknown>): string {
  if (spec.operationId !== undefined) return spec.operationId;
  const words = spec.path
    .replace(/^\/(client\/v4|internal\/v1)\//, (_m, base: string) =>
      base === 'internal/v1' ? 'internal/' : '',
    )
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (s.startsWith(':') ? `by_${s.slice(1)}` : s))
    .flatMap((s) => s.split(/[_-]/));
  return [spec.method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join('');
}

export function buildOpenApi(routes: readonly DeclaredRoute[], version: string): unknown {
  const schemas = new SchemaCollector();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { spec } of routes) {
    const path = spec.path.replace(/:([a-z_]+)/g, '{$1}');
    const params = [...spec.path.matchAll(/:([a-z_]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    for (const name of spec.queryParams ?? [])
      params.push({ name, in: 'query', required: false, schema: { type: 'string' } });
    const operation: Record<string, unknown> = {
      operationId: operationIdOf(spec),
      summary: spec.summary,
      tags: [spec.tag],
      security: [{ bearer: [] }],
      'x-meridian-scope': spec.scope,
      parameters: params,
      responses: {
        '200': {
          description: 'Success',
          content: {
            'application/json': {
              schema: Envelope(spec.result === undefined ? {} : schemas.convert(spec.result, 'output')),
            },
          },
        },
        ...ERROR_RESPONSES,
      },
    };
    if (spec.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemas.convert(spec.body, 'input') } },
      };
      Object.assign(operation.responses as object, BODY_ERROR_RESPONSES);
    }
    if (spec.scope !== 'node') Object.assign(operation.responses as object, { '429': RATE_LIMITED_RESPONSE });
    (paths[path] ??= {})[spec.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Meridian control plane API',
      version,
      description:
        'Shaped like Cloudflare v4: every answer is {success, errors, messages, result}. Request bodies are strict: an unknown field is a 400 naming it.',
    },
    servers: [{ url: '/' }],
    components: {
      schemas: schemas.components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    paths,
  };
}
