// The OpenAPI 3.1 document, generated from the route declarations and their zod schemas.
import { z } from 'zod';
import type { DeclaredRoute } from './router.ts';

const Envelope = (result: unknown): unknown => ({
  type: 'object',
  required: ['success', 'errors', 'messages', 'result'],
  properties: {
    success: { type: 'boolean' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { code: { type: 'integer' }, message: { type: 'string' } } },
    },
    messages: { type: 'array', items: {} },
    result,
    result_info: { type: 'object' },
  },
});

const ERROR_RESPONSES = {
  '400': { description: 'Invalid input: each error message names the field' },
  '401': { description: 'Missing or invalid bearer token' },
  '403': { description: 'The token lacks the scope or the zone' },
  '404': { description: 'No such resource' },
};

export function buildOpenApi(routes: readonly DeclaredRoute[], version: string): unknown {
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
              schema: Envelope(
                spec.result === undefined
                  ? {}
                  : z.toJSONSchema(spec.result, { io: 'output', unrepresentable: 'any' }),
              ),
            },
          },
        },
        ...ERROR_RESPONSES,
      },
    };
    if (spec.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: {
          'application/json': { schema: z.toJSONSchema(spec.body, { io: 'input', unrepresentable: 'any' }) },
        },
      };
    }
    (paths[path] ??= {})[spec.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Meridian control plane API',
      version,
      description: 'Shaped like Cloudflare v4: every answer is {success, errors, messages, result}.',
    },
    servers: [{ url: '/' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
