// The TLS side of /metrics: certificate expiry (alert on it before customers see it), SNI outcomes,
// handshakes, OCSP fetches and staples. Read when scraped: the hot path only adds to plain numbers.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CertStore } from '../server/cert-store.ts';
import type { OcspStapler } from './ocsp.ts';

/** Handshakes counted by the listener's server (see EdgeTls.attach). */
export interface HandshakeCounts {
  full: number;
  resumed: number;
  failed: number;
}

/** A counter fed from a number that only grows: adds the difference at each scrape. */
function deltaCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelName: L,
  read: () => Record<string, number>,
): void {
  const seen = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames: [labelName],
    registers: [registry],
    collect() {
      for (const [label, value] of Object.entries(read())) {
        const delta = value - (seen.get(label) ?? 0);
        if (delta > 0) this.inc({ [labelName]: label } as Record<L, string>, delta);
        seen.set(label, value);
      }
    },
  });
}

export function registerTlsMetrics(
  registry: Registry,
  store: CertStore,
  ocsp: OcspStapler,
  handshakes: HandshakeCounts,
): void {
  new Gauge({
    name: 'meridian_edge_tls_certificate_expiry_seconds',
    help: 'When each certificate the node holds expires (notAfter, Unix seconds); id "default" is --tls-cert.',
    labelNames: ['id', 'hosts', 'usage'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of store.all()) {
        this.set(
          { id: c.id, hosts: c.hosts.join(','), usage: c.usage ?? 'server' },
          Math.floor(c.notAfterMs / 1000),
        );
      }
    },
  });
  deltaCounter(
    registry,
    'meridian_edge_tls_sni_total',
    'ClientHellos with SNI by how the certificate was chosen: exact, wildcard, default (unknown name), rejected.',
    'outcome',
    () => ({ ...store.counts }),
  );
  deltaCounter(
    registry,
    'meridian_edge_tls_handshakes_total',
    'TLS handshakes: full, resumed (session ticket), failed.',
    'result',
    () => ({ ...handshakes }),
  );
  deltaCounter(
    registry,
    'meridian_edge_tls_ocsp_fetches_total',
    'OCSP responder fetches: good (a response to staple), failed (error, timeout, bad or non-good answer).',
    'result',
    () => ({ good: ocsp.counts.fetchGood, failed: ocsp.counts.fetchFailed }),
  );
  deltaCounter(
    registry,
    'meridian_edge_tls_ocsp_staples_total',
    'Handshakes that asked for certificate status: stapled (yes) or not (no response cached).',
    'stapled',
    () => ({ yes: ocsp.counts.stapled, no: ocsp.counts.notStapled }),
  );
}
