// Errors that cross a module boundary. Retries, the status sent to a client and the log line come
// from these fields, never from parsing a message (cf. pingora-error). Every code lives in ERROR_CODES;
// docs/errors.md lists them and a test keeps the two in sync.

export type ErrorSource = 'downstream' | 'upstream' | 'internal';

export interface ErrorCodeInfo {
  /** HTTP status a client sees when this error ends its request. */
  readonly status: number;
  readonly source: ErrorSource;
  /** May the operation be retried (on another connection or peer)? */
  readonly retryable: boolean;
  readonly summary: string;
}

export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, source: 'downstream', retryable: false, summary: 'The request is malformed.' },
  MISDIRECTED: {
    status: 421,
    source: 'downstream',
    retryable: false,
    summary: 'The request names a host this node does not serve.',
  },
  NOT_READY: {
    status: 503,
    source: 'internal',
    retryable: true,
    summary:
      'The node is starting: it has not yet applied its configuration and the purges it missed, so it does not serve from its cache.',
  },
  URI_TOO_LONG: {
    status: 414,
    source: 'downstream',
    retryable: false,
    summary: 'The request target is longer than the node accepts.',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    source: 'downstream',
    retryable: false,
    summary: 'The request header section is larger than the node accepts.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    source: 'downstream',
    retryable: false,
    summary: 'The client did not send its request headers in time.',
  },
  LOOP_DETECTED: {
    status: 508,
    source: 'downstream',
    retryable: false,
    summary:
      'The request already went through this node: an origin that points back at the CDN, or an internal hop path that names the node.',
  },
  NOT_CACHED: {
    status: 504,
    source: 'downstream',
    retryable: false,
    summary: 'The request asked for only-if-cached and nothing usable is stored.',
  },
  ORIGIN_UNREACHABLE: {
    status: 502,
    source: 'upstream',
    retryable: true,
    summary: 'The origin refused or dropped the connection.',
  },
  ORIGIN_TIMEOUT: {
    status: 504,
    source: 'upstream',
    retryable: false,
    summary: 'The origin did not answer (connect or response headers) in time.',
  },
  ORIGIN_BAD_RESPONSE: {
    status: 502,
    source: 'upstream',
    retryable: false,
    summary: 'The origin sent a response the node cannot forward.',
  },
  ORIGIN_TLS_FAILED: {
    status: 502,
    source: 'upstream',
    retryable: false,
    summary:
      "The TLS handshake with the origin failed: its certificate did not verify (unknown CA, wrong name, expired) or it refused the node's client certificate (authenticated origin pulls).",
  },
  ORIGIN_ALL_DOWN: {
    status: 503,
    source: 'upstream',
    retryable: false,
    summary:
      'Every origin of the zone is down (failed health checks or an open circuit breaker); none was contacted.',
  },
  ORIGIN_BAD_RANGE: {
    status: 502,
    source: 'upstream',
    retryable: false,
    summary:
      'Slice caching: the upstream answered a slice request with a range other than the one asked for, a Content-Range without the complete length, or a body of another length; nothing was stored.',
  },
  IMAGE_BAD_OPTIONS: {
    status: 400,
    source: 'downstream',
    retryable: false,
    summary: 'Image resizing: an option of /cdn-cgi/image/<options>/ is unknown, repeated or out of bounds.',
  },
  IMAGE_FAILED: {
    status: 502,
    source: 'upstream',
    retryable: false,
    summary:
      'Image resizing: the source image does not decode, has more pixels or bytes than the zone allows, or encodes larger than the output limit; nothing was stored.',
  },
  INTERNAL: {
    status: 500,
    source: 'internal',
    retryable: false,
    summary: 'An unexpected failure inside the node.',
  },
  WORKER_EXCEPTION: {
    status: 500,
    source: 'internal',
    retryable: false,
    summary:
      "The zone's edge worker threw, returned no Response, or its script is not deployed on this node (Cloudflare's 1101).",
  },
  WORKER_LIMIT: {
    status: 503,
    source: 'internal',
    retryable: false,
    summary:
      "The zone's edge worker exceeded its CPU time, wall time or memory limit; its isolate was stopped (Cloudflare's 1102).",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MeridianError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly source: ErrorSource;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    const info: ErrorCodeInfo = ERROR_CODES[code];
    this.name = 'MeridianError';
    this.code = code;
    this.status = info.status;
    this.source = info.source;
    this.retryable = options?.retryable ?? info.retryable;
  }
}

/** Wraps anything thrown into a MeridianError (unknown failures are internal). */
export function toMeridianError(err: unknown): MeridianError {
  if (err instanceof MeridianError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MeridianError('INTERNAL', message, { cause: err });
}
