// Declares API routes once: authentication, scope, zone access, body validation and the OpenAPI
// entry all come from the same declaration, so the document cannot miss a route.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Actor, ControlStore, Scope, TokenRecord } from '../store/types.ts';
import { actorOf, authenticate, requireScope, requireZone } from './auth.ts';
import { ApiError, API_ERRORS, badRequest, validationErrors } from './envelope.ts';
import type { TokenRateLimit } from './limits.ts';

export interface RouteContext<B> {
  req: FastifyRequest;
  reply: FastifyReply;
  token: TokenRecord;
  actor: Actor;
  body: B;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
}

export interface RouteSpec<B> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify path, e.g. /client/v4/zones/:zone_id */
  path: string;
  summary: string;
  /** OpenAPI operationId (default: derived from method and path, e.g. getZonesByZoneId). */
  operationId?: string;
  scope: Scope;
  /** When the path has :zone_id, a zone-limited token must include it. */
  body?: z.ZodType<B>;
  /** Shape of `result` for the OpenAPI document. */
  result?: z.ZodType;
  /** Query parameters, for the OpenAPI document. */
  queryParams?: string[];
  tag: string;
}

export interface DeclaredRoute {
  spec: RouteSpec<unknown>;
}

export class Router {
  readonly routes: DeclaredRoute[] = [];
  readonly #app: FastifyInstance;
  readonly #store: ControlStore;
  readonly #limit: TokenRateLimit | null;

  /** `limit`: API calls per token, counted once the token is known (null: none). */
  constructor(app: FastifyInstance, store: ControlStore, limit: TokenRateLimit | null = null) {
    this.#app = app;
    this.#store = store;
    this.#limit = limit;
  }

  add<B>(spec: RouteSpec<B>, handler: (ctx: RouteContext<B>) => Promise<unknown>): void {
    this.routes.push({ spec: spec as RouteSpec<unknown> });
    this.#app.route({
      method: spec.method,
      url: spec.path,
      handler: async (req, reply) => {
        const token = await authenticate(this.#store, req);
        // Before scope and body checks: a loop of refused calls is still a loop of calls.
        this.#limit?.check(reply, token, spec.scope);
        requireScope(token, spec.scope);
        const params = req.params as Record<string, string>;
        if (params.zone_id !== undefined) requireZone(token, params.zone_id);
        let body = undefined as B;
        if (spec.body !== undefined) {
          if (
            req.body === undefined ||
            req.body === null ||
            typeof req.body !== 'object' ||
            Array.isArray(req.body)
          ) {
            throw badRequest('(body): expected a JSON object');
          }
          const parsed = spec.body.safeParse(req.body);
          if (!parsed.success) throw new ValidationFailure(parsed.error);
          body = parsed.data;
        }
        const ctx: RouteContext<B> = {
          req,
          reply,
          token,
          actor: actorOf(token, req),
          body,
          params,
          query: req.query as Record<string, string | undefined>,
        };
        return handler(ctx);
      },
    });
  }
}

export class ValidationFailure extends ApiError {
  readonly error: z.ZodError;
  constructor(error: z.ZodError) {
    super(
      400,
      API_ERRORS.validation,
      validationErrors(error)
        .map((e) => e.message)
        .join('; '),
    );
    this.error = error;
  }
}

/** ?page=&per_page= with bounds; 400 naming the parameter when invalid. */
export function pageOf(query: Record<string, string | undefined>): { page: number; per_page: number } {
  const page = intParam(query, 'page', 1, 1, 1_000_000);
  const perPage = intParam(query, 'per_page', 20, 1, 100);
  return { page, per_page: perPage };
}

function intParam(
  query: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw badRequest(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

export function resultInfo(page: { page: number; per_page: number }, count: number, total: number) {
  return {
    page: page.page,
    per_page: page.per_page,
    count,
    total_count: total,
    total_pages: Math.max(1, Math.ceil(total / page.per_page)),
  };
}
