// Prometheus metrics of one edge node (GET /metrics on the admin listener).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Cache } from './cache/cache.ts';
import type { FetchOutcome } from './fetch/fetch-task.ts';
import type { Phase } from './pipeline/context.ts';

type Inc = { inc(value?: number): void };

export class EdgeMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'cache' | 'status'>;
  readonly #bytes: Counter<'cache'>;
  readonly #origin: Counter<'outcome'>;
  /** Pre-bound counter children: the request path does no label hashing. */
  readonly #bound = new Map<string, Inc>();

  constructor(cache: Cache) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'meridian_edge_' });
    this.#requests = new Counter({
      name: 'meridian_edge_requests_total',
      help: 'Client requests by how the cache answered them (hit, stale, miss, revalidated, pass, stale-if-error, synth) and status class.',
      labelNames: ['cache', 'status'],
      registers,
    });
    this.#bytes = new Counter({
      name: 'meridian_edge_response_body_bytes_total',
      help: 'Response body bytes sent to clients, by how the cache answered.',
      labelNames: ['cache'],
      registers,
    });
    this.#origin = new Counter({
      name: 'meridian_edge_upstream_fetches_total',
      help: 'Fetches sent upstream for cacheable requests, by outcome (fill, revalidated, uncacheable, failed).',
      labelNames: ['outcome'],
      registers,
    });
    const tierGauge = (
      name: string,
      help: string,
      pick: (s: ReturnType<Cache['memory']['stats']>) => number,
    ): void => {
      new Gauge({
        name,
        help,
        labelNames: ['tier'],
        registers,
        collect() {
          this.set({ tier: 'memory' }, pick(cache.memory.stats()));
          this.set({ tier: 'disk' }, pick(cache.disk.stats()));
        },
      });
    };
    tierGauge('meridian_edge_cache_objects', 'Objects stored, per tier.', (s) => s.objects);
    tierGauge('meridian_edge_cache_bytes', 'Bytes stored, per tier.', (s) => s.bytes);
    tierGauge('meridian_edge_cache_max_bytes', 'Configured capacity in bytes, per tier.', (s) => s.maxBytes);
  }

  recordRequest(phase: Phase, status: number, bytes: number): void {
    const klass =
      status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : status >= 200 ? '2xx' : '1xx';
    this.#child(`r${phase}${klass}`, () => this.#requests.labels(phase, klass)).inc();
    if (bytes > 0) this.#child(`b${phase}`, () => this.#bytes.labels(phase)).inc(bytes);
  }

  recordFetch(outcome: FetchOutcome): void {
    this.#child(`o${outcome.kind}`, () => this.#origin.labels(outcome.kind)).inc();
  }

  #child(id: string, make: () => Inc): Inc {
    let child = this.#bound.get(id);
    if (child === undefined) {
      child = make();
      this.#bound.set(id, child);
    }
    return child;
  }
}
