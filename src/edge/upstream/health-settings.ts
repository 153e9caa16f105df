// An origin's health settings as the edge runs them: the zone's `health_check` (or its shorthand
// `health_check_path`) and `circuit_breaker`, with defaults filled and units in milliseconds, and the
// key that says which origins share one health record. Computed once when a zone is compiled.
import { CircuitBreakerSchema, HealthCheckSchema } from '../../common/config/zone.ts';
import type { Origin } from '../../common/config/zone.ts';
import type { BreakerSettings } from './breaker.ts';

export interface HealthCheckSettings {
  /** Path (and query) of the check, under the origin URL's path. */
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export interface OriginHealthSettings {
  /**
   * Identity of the health record. Origins with equal keys share one record on a node, whichever
   * zones list them: the same server (scheme, host, port), the same Host header, the same TLS
   * settings (another CA or client certificate may fail where this one succeeds), the same settings.
   */
  readonly key: string;
  /** Active checks; null: passive health only. */
  readonly check: HealthCheckSettings | null;
  readonly breaker: BreakerSettings;
}

const DEFAULT_BREAKER = CircuitBreakerSchema.parse({});

/** `tlsId`: the origin's TLS settings' identity (origin-tls.ts), null for http://. */
export function healthSettingsOf(
  origin: Origin,
  url: URL,
  tlsId: string | null = null,
): OriginHealthSettings {
  const checkInput =
    origin.health_check ??
    (origin.health_check_path === undefined
      ? null
      : HealthCheckSchema.parse({ path: origin.health_check_path }));
  const check: HealthCheckSettings | null =
    checkInput === null
      ? null
      : {
          path: checkInput.path,
          intervalMs: checkInput.interval_sec * 1000,
          timeoutMs: checkInput.timeout_ms,
          healthyThreshold: checkInput.healthy_threshold,
          unhealthyThreshold: checkInput.unhealthy_threshold,
        };
  const breakerInput = origin.circuit_breaker ?? DEFAULT_BREAKER;
  const breaker: BreakerSettings = {
    failures: breakerInput.failures,
    cooldownMs: breakerInput.cooldown_sec * 1000,
  };
  // The URL's path is part of the key only through the check (sent under it): requests to one server
  // share its connection health whatever base path a zone uses.
  const checkId =
    check === null
      ? '-'
      : `${upstreamPathOf(url, check.path)} ${check.intervalMs} ${check.timeoutMs} ${check.healthyThreshold} ${check.unhealthyThreshold}`;
  const key = `${url.origin} ${tlsId ?? '-'} ${origin.host_header ?? '-'} ${checkId} ${breaker.failures} ${breaker.cooldownMs}`;
  return Object.freeze({
    key,
    check: check === null ? null : Object.freeze(check),
    breaker: Object.freeze(breaker),
  });
}

/** A path under the origin URL's own path, as request paths are sent. */
export function upstreamPathOf(origin: URL, path: string): string {
  return origin.pathname === '/' ? path : `${origin.pathname.replace(/\/$/, '')}${path}`;
}
