// Origin choice: nginx's smooth weighted round-robin (ngx_http_upstream_get_peer). Each pick adds
// every eligible peer's weight to its current weight, chooses the largest (first on ties), and takes
// the total back from the chosen one. Weights 5:1:1 give a a b a c a a — spread out, not bursts — and
// every window of sum(weights) picks holds each peer exactly `weight` times.
//
// Unlike nginx there is no effective_weight decay on failures: failover is the caller's `exclude`,
// and health belongs to upstream/health.ts, consulted through `isUsable` (peers it refuses are not
// eligible for that pick, so the others share the load by weight). Origins with weight 0 are never
// chosen (standby off).
import type { Origin } from '../../common/config/zone.ts';
import { healthSettingsOf } from '../upstream/health-settings.ts';
import { upstreamTlsOf } from '../upstream/origin-tls.ts';
import type { OriginChoice, OriginGroup, OriginUsable } from './types.ts';

export class WeightedOrigins implements OriginGroup {
  /** Eligible origins (weight > 0), in zone order; choices are built once and returned as is. */
  readonly #choices: readonly OriginChoice[];
  readonly #weights: readonly number[];
  readonly #current: Float64Array;

  /**
   * `clientCertZone`: the zone whose origin_client certificate its https:// origins are given
   * (authenticated origin pulls), null when it has that setting off.
   */
  constructor(origins: readonly Origin[], clientCertZone: string | null = null) {
    const choices: OriginChoice[] = [];
    const weights: number[] = [];
    origins.forEach((o, index) => {
      if (o.weight <= 0) return;
      const url = new URL(o.url);
      const tls = upstreamTlsOf(url, o.tls, clientCertZone);
      choices.push(
        Object.freeze({
          index,
          url,
          hostHeader: o.host_header ?? null,
          tls,
          health: healthSettingsOf(o, url, tls?.id ?? null),
          group: this,
        }),
      );
      weights.push(o.weight);
    });
    this.#choices = choices;
    this.#weights = weights;
    this.#current = new Float64Array(choices.length);
  }

  get size(): number {
    return this.#choices.length;
  }

  get choices(): readonly OriginChoice[] {
    return this.#choices;
  }

  /**
   * The next origin, skipping those whose index is in `exclude` and those `isUsable` refuses;
   * undefined when none is left.
   */
  pick(exclude?: ReadonlySet<number>, isUsable?: OriginUsable): OriginChoice | undefined {
    const choices = this.#choices;
    if (choices.length === 1 && exclude === undefined) {
      const only = choices[0] as OriginChoice;
      return isUsable === undefined || isUsable(only) ? only : undefined;
    }
    const current = this.#current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i] as OriginChoice;
      if (exclude !== undefined && exclude.has(choice.index)) continue;
      if (isUsable !== undefined && !isUsable(choice)) continue;
      const weight = this.#weights[i] as number;
      current[i] = (current[i] as number) + weight;
      total += weight;
      if (best === -1 || (current[i] as number) > (current[best] as number)) best = i;
    }
    if (best === -1) return undefined;
    current[best] = (current[best] as number) - total;
    return choices[best];
  }
}
