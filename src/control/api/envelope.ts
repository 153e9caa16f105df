// Every answer of the REST API has Cloudflare v4's shape:
//   { "success": bool, "errors": [{ "code", "message" }], "messages": [], "result": ..., "result_info"? }
import type { FastifyReply } from 'fastify';
import type { ZodError } from 'zod';

export interface ApiErrorBody {
  code: number;
  message: string;
}

/** API error codes (numeric, as in Cloudflare's v4 API); docs/api-errors.md lists them. */
export const API_ERRORS = {
  validation: 1001,
  unauthenticated: 1002,
  forbidden: 1003,
  not_found: 1004,
  conflict: 1005,
  rate_limited: 1006,
  gone: 1007,
  internal: 1500,
} as const;

export class ApiError extends Error {
  readonly status: number;
  readonly code: number;
  constructor(status: number, code: number, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, API_ERRORS.validation, message);
export const notFound = (what: string): ApiError =>
  new ApiError(404, API_ERRORS.not_found, `${what} not found`);
export const forbidden = (message: string): ApiError => new ApiError(403, API_ERRORS.forbidden, message);
export const conflict = (message: string): ApiError => new ApiError(409, API_ERRORS.conflict, message);

export interface ResultInfo {
  page: number;
  per_page: number;
  count: number;
  total_count: number;
  total_pages: number;
}

export function ok<T>(reply: FastifyReply, result: T, status = 200, resultInfo?: ResultInfo): FastifyReply {
  const body: Record<string, unknown> = { success: true, errors: [], messages: [], result };
  if (resultInfo !== undefined) body.result_info = resultInfo;
  return reply.code(status).send(body);
}

export function fail(reply: FastifyReply, status: number, errors: ApiErrorBody[]): FastifyReply {
  return reply.code(status).send({ success: false, errors, messages: [], result: null });
}

/** A 400 whose message names each bad field and what is wrong with it. */
export function validationErrors(error: ZodError, prefix = ''): ApiErrorBody[] {
  return error.issues.map((issue) => {
    const field = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.') || '(body)';
    return { code: API_ERRORS.validation, message: `${field}: ${issue.message}` };
  });
}
