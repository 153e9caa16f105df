// Sends one request upstream and classifies failures. A connection that fails before any byte of the
// response arrives is retried once on a fresh connection, for idempotent requests without a body
// (a keep-alive connection the origin closed while idle is the usual cause).
import type { Readable } from 'node:stream';
import { errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import { MeridianError } from '../../common/errors.ts';

export interface UpstreamRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string | string[]>;
  body: Readable | null;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** RFC 9111 §4.2.3 request_time and response_time, ms since the epoch. */
  requestTimeMs: number;
  responseTimeMs: number;
}

/** RFC 9110 §9.2.2: methods whose repetition has the effect of one request. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

/** Connection-level failures before the response started: safe to retry an idempotent request. */
const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export async function sendUpstream(pool: Dispatcher, req: UpstreamRequest): Promise<UpstreamResponse> {
  const canRetry = req.body === null && IDEMPOTENT_METHODS.has(req.method);
  try {
    return await attempt(pool, req);
  } catch (err) {
    const failure = classify(err);
    if (!canRetry || !failure.retryable) throw failure;
    try {
      return await attempt(pool, req);
    } catch (again) {
      throw classify(again);
    }
  }
}

async function attempt(pool: Dispatcher, req: UpstreamRequest): Promise<UpstreamResponse> {
  const requestTimeMs = Date.now();
  const res = await pool.request({
    method: req.method as Dispatcher.HttpMethod,
    path: req.path,
    headers: req.headers,
    body: req.body,
    headersTimeout: req.headersTimeoutMs,
    bodyTimeout: req.bodyTimeoutMs,
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: res.body,
    requestTimeMs,
    responseTimeMs: Date.now(),
  };
}

/** Maps an undici/socket failure to a MeridianError with the status a client should see. */
export function classify(err: unknown): MeridianError {
  if (err instanceof MeridianError) return err;
  const code = (err as { code?: string }).code ?? '';
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return new MeridianError('ORIGIN_TIMEOUT', `origin timed out (${code})`, { cause: err });
  }
  if (RETRYABLE_CODES.has(code)) {
    return new MeridianError('ORIGIN_UNREACHABLE', `origin connection failed (${code})`, { cause: err });
  }
  if (code.startsWith('UND_ERR_') || code.startsWith('E')) {
    return new MeridianError('ORIGIN_BAD_RESPONSE', `origin request failed (${code})`, { cause: err });
  }
  return new MeridianError('ORIGIN_UNREACHABLE', 'origin request failed', { cause: err });
}
