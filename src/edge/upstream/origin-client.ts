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
  /** Called with each interim (1xx) response before the final one (pipeline/interim.ts forwards them). */
  onInfo?: ((status: number, headers: Record<string, string | string[]>) => void) | undefined;
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
    ...(req.onInfo === undefined
      ? {}
      : { onInfo: ({ statusCode, headers }) => req.onInfo?.(statusCode, headers) }),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: res.body,
    requestTimeMs,
    responseTimeMs: Date.now(),
  };
}

/**
 * OpenSSL's certificate verification results as Node reports them (X509_V_ERR_* without the prefix),
 * and Node's own name check: the node refused the upstream's certificate, so no request was sent.
 */
export const CERT_VERIFY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A failed TLS handshake: the upstream's certificate did not verify, or an alert from the upstream
 * (ERR_SSL_*: it refused the node's client certificate, or speaks no TLS at all).
 */
export function isTlsFailure(code: string): boolean {
  return CERT_VERIFY_CODES.has(code) || code.startsWith('ERR_SSL_');
}

/** Maps an undici/socket failure to a MeridianError with the status a client should see. */
export function classify(err: unknown): MeridianError {
  if (err instanceof MeridianError) return err;
  const code = (err as { code?: string }).code ?? '';
  if (isTlsFailure(code)) {
    const reason = (err as Error).message ?? code;
    return new MeridianError('ORIGIN_TLS_FAILED', `origin TLS handshake failed (${code}: ${reason})`, {
      cause: err,
    });
  }
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
