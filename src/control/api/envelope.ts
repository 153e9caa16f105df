// Every answer of the REST API has Cloudflare v4's shape:
//   { "success": bool, "errors": [{ "code", "message" }], "messages": [], "result": ..., "result_info"? }
import type { FastifyReply } from 'fastify';
import type { ZodError } from 'zod';

export interface ApiErrorBody {
  code: number;
  message: string;
}

/** API error codes (numeric, as in Cloudflare's v4 API); docs/errors.md lists them (generated). */
export const API_ERRORS = {
  validation: 1001,
  unauthenticated: 1002,
  forbidden: 1003,
  not_found: 1004,
  conflict: 1005,
  rate_limited: 1006,
  gone: 1007,
  malformed_body: 1008,
  unsupported_media_type: 1009,
  body_too_large: 1010,
  internal: 1500,
  prewarm_manifest: 1901,
  script_syntax: 1801,
  script_imports: 1802,
  script_too_large: 1803,
  binding_invalid: 1804,
  kv_value_invalid: 1805,
  analytics_unknown_zone: 1501,
  analytics_range: 1502,
} as const;

/** What each API error code means and the HTTP status it comes with (for docs/errors.md). */
export const API_ERROR_INFO: Record<keyof typeof API_ERRORS, { status: number; summary: string }> = {
  validation: { status: 400, summary: 'A field is invalid, missing or unknown; the message names it.' },
  unauthenticated: { status: 401, summary: 'No bearer token, or one that is unknown or revoked.' },
  forbidden: { status: 403, summary: 'The token lacks the scope or the zone.' },
  not_found: { status: 404, summary: 'No such resource or route.' },
  conflict: { status: 409, summary: 'The change conflicts with stored state (a name or hostname taken).' },
  rate_limited: {
    status: 429,
    summary: 'Too many calls (purge rate per zone, API rate per token); Retry-After says when.',
  },
  gone: { status: 410, summary: 'Reserved: the resource existed and is gone (not sent today).' },
  malformed_body: { status: 400, summary: 'The body is not valid JSON.' },
  unsupported_media_type: { status: 415, summary: 'The body is not Content-Type: application/json.' },
  body_too_large: { status: 413, summary: 'The body is larger than the API accepts (1 MiB).' },
  internal: { status: 500, summary: 'An unexpected failure in the control plane.' },
  prewarm_manifest: {
    status: 502,
    summary:
      "Prewarm: the manifest could not be read from the zone's origin, is not an HLS playlist, or names too many URLs.",
  },
  script_syntax: {
    status: 400,
    summary: 'A worker script does not compile; the message gives line and column.',
  },
  script_imports: { status: 400, summary: 'A worker script imports modules (a worker is one module).' },
  script_too_large: { status: 400, summary: 'A worker script is larger than the limit (512 KiB).' },
  binding_invalid: {
    status: 400,
    summary: 'A worker binding is unknown, declared twice, or names a KV namespace not in the zone.',
  },
  kv_value_invalid: {
    status: 400,
    summary: 'A KV write breaks a limit: key length, value size, metadata size or expiration.',
  },
  analytics_unknown_zone: {
    status: 404,
    summary:
      'An analytics batch names a zone the control plane does not have; nothing of the batch is stored.',
  },
  analytics_range: {
    status: 400,
    summary:
      'An analytics time range is backwards, wider than 366 days, or too many buckets for its resolution.',
  },
};

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

/** A 400 whose message names each bad field and what is wrong with it; one per unknown field. */
export function validationErrors(error: ZodError, prefix = ''): ApiErrorBody[] {
  const fieldOf = (path: readonly PropertyKey[]): string =>
    [prefix, ...path.map(String)].filter((p) => p !== '').join('.') || '(body)';
  return error.issues.flatMap((issue) => {
    // A typo ("match.pathh", "setings") must not vanish silently: name each key the schema lacks.
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({
        code: API_ERRORS.validation,
        message: `${fieldOf([...issue.path, key])}: unknown field`,
      }));
    return [{ code: API_ERRORS.validation, message: `${fieldOf(issue.path)}: ${issue.message}` }];
  });
}
