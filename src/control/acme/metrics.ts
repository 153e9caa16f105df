// The ACME engine's metrics on the control plane's /metrics: when each managed certificate
// expires and renews, orders by result, and failures in a row per zone (alert on it).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CertificateMeta } from '../../common/config/certificate.ts';

export class AcmeMetrics {
  readonly #expiry: Gauge<'zone' | 'id'>;
  readonly #renewal: Gauge<'zone'>;
  readonly #orders: Counter<'result'>;
  readonly #failures: Gauge<'zone'>;
  /** The expiry series set per zone, so a replaced certificate's series goes. */
  readonly #expiryIds = new Map<string, string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.#expiry = new Gauge({
      name: 'meridian_control_certificate_expiry_timestamp_seconds',
      help: 'When a managed (ACME) certificate expires (Unix time)',
      labelNames: ['zone', 'id'],
      registers,
    });
    this.#renewal = new Gauge({
      name: 'meridian_control_acme_next_order_timestamp_seconds',
      help: "When the zone's next ACME order runs: its renewal at 2/3 of the lifetime, or a retry (Unix time)",
      labelNames: ['zone'],
      registers,
    });
    this.#orders = new Counter({
      name: 'meridian_control_acme_orders_total',
      help: 'ACME orders by result (success, failure)',
      labelNames: ['result'],
      registers,
    });
    this.#failures = new Gauge({
      name: 'meridian_control_acme_consecutive_failures',
      help: 'Failed ACME orders in a row for the zone (0 after a success)',
      labelNames: ['zone'],
      registers,
    });
    this.#orders.inc({ result: 'success' }, 0);
    this.#orders.inc({ result: 'failure' }, 0);
  }

  certificate(zone: string, cert: CertificateMeta | null): void {
    const previous = this.#expiryIds.get(zone);
    if (previous !== undefined && previous !== cert?.id) this.#expiry.remove({ zone, id: previous });
    if (cert === null) {
      this.#expiryIds.delete(zone);
      return;
    }
    this.#expiryIds.set(zone, cert.id);
    this.#expiry.set({ zone, id: cert.id }, Date.parse(cert.expires_on) / 1000);
  }

  scheduled(zone: string, at: Date, failures: number): void {
    this.#renewal.set({ zone }, at.getTime() / 1000);
    this.#failures.set({ zone }, failures);
  }

  order(result: 'success' | 'failure'): void {
    this.#orders.inc({ result });
  }

  forget(zone: string): void {
    this.certificate(zone, null);
    this.#renewal.remove({ zone });
    this.#failures.remove({ zone });
  }
}
