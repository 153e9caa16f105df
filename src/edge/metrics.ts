// Prometheus metrics of one edge node (GET /metrics on the admin listener).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Cache } from './cache/cache.ts';
import type { FetchOutcome } from './fetch/fetch-task.ts';
import type { Phase } from './pipeline/context.ts';
import type { OriginHealth, OriginHealthRegistry } from './upstream/health.ts';

export class EdgeMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'cache' | 'status'>;
  readonly #bytes: Counter<'cache'>;
  readonly #origin: Counter<'outcome'>;
  /** Counts since the last scrape, per cache outcome and status class. */
  readonly #tallies = new Map<string, { phase: Phase; klass: string; requests: number; bytes: number }>();

  constructor(cache: Cache) {
    const registers = [this.registry];
    // Event-loop delay sampled every 100 ms, not prom-client's 10 ms: a cluster of idle nodes on few
    // cores otherwise wakes thousands of times a second for a histogram nobody reads that finely.
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'meridian_edge_',
      eventLoopMonitoringPrecision: 100,
    });
    const flush = (): void => this.#flush();
    this.#requests = new Counter({
      name: 'meridian_edge_requests_total',
      help: 'Client requests by how the cache answered them (hit, stale, miss, revalidated, pass, stale-if-error, synth) and status class.',
      labelNames: ['cache', 'status'],
      registers,
      collect: flush,
    });
    this.#bytes = new Counter({
      name: 'meridian_edge_response_body_bytes_total',
      help: 'Response body bytes sent to clients, by how the cache answered.',
      labelNames: ['cache'],
      registers,
      collect: flush,
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

  /**
   * Origin health, read when /metrics is scraped: up (checks pass and the circuit is not open),
   * circuit open (or half-open), passive failures, and failovers. Records shared by several zones
   * appear once; two records of one origin and Host (different settings) report the worse state.
   */
  trackOrigins(health: OriginHealthRegistry): void {
    const registers = [this.registry];
    const labelNames = ['origin', 'host'] as const;
    new Gauge({
      name: 'meridian_edge_origin_up',
      help: 'Origins this node sends to: 1 when requests may go to it (health checks pass, circuit not open), else 0.',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, isUp] of worst(health, (s) => s.isUp)) this.set(labels, isUp ? 1 : 0);
      },
    });
    new Gauge({
      name: 'meridian_edge_origin_circuit_open',
      help: 'Origins whose circuit breaker is open or half-open (1) after consecutive passive failures.',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, isClosed] of worst(health, (s) => s.breakerState === 'closed')) {
          this.set(labels, isClosed ? 0 : 1);
        }
      },
    });
    const reported = new WeakMap<OriginHealth, number>();
    new Counter({
      name: 'meridian_edge_origin_failures_total',
      help: 'Passive failures per origin: connection errors, timeouts and 5xx answers to real requests.',
      labelNames,
      registers,
      collect() {
        for (const s of health.states()) {
          const delta = s.failures - (reported.get(s) ?? 0);
          if (delta > 0) this.inc(labelsOf(s), delta);
          reported.set(s, s.failures);
        }
      },
    });
    let failovers = 0;
    new Counter({
      name: 'meridian_edge_origin_failovers_total',
      help: 'Upstream requests sent to another origin than the one first chosen (it was down or failed).',
      registers,
      collect() {
        if (health.failovers > failovers) this.inc(health.failovers - failovers);
        failovers = health.failovers;
      },
    });
  }

  /** The hot path only adds to plain numbers; prom-client sees them when /metrics is scraped. */
  recordRequest(phase: Phase, status: number, bytes: number): void {
    const klass =
      status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : status >= 200 ? '2xx' : '1xx';
    const id = `${phase} ${klass}`;
    let tally = this.#tallies.get(id);
    if (tally === undefined) {
      tally = { phase, klass, requests: 0, bytes: 0 };
      this.#tallies.set(id, tally);
    }
    tally.requests++;
    tally.bytes += bytes;
  }

  recordFetch(outcome: FetchOutcome): void {
    this.#origin.labels(outcome.kind).inc();
  }

  /** Moves the tallies into the prom-client counters (called on scrape). */
  #flush(): void {
    for (const tally of this.#tallies.values()) {
      if (tally.requests > 0) this.#requests.labels(tally.phase, tally.klass).inc(tally.requests);
      if (tally.bytes > 0) this.#bytes.labels(tally.phase).inc(tally.bytes);
      tally.requests = 0;
      tally.bytes = 0;
    }
  }
}

type OriginLabels = { origin: string; host: string };

function labelsOf(s: OriginHealth): OriginLabels {
  return { origin: s.url.origin, host: s.hostHeader ?? '' };
}

/** Per origin and Host: whether `isGood` holds for every record of it. */
function worst(
  health: OriginHealthRegistry,
  isGood: (s: OriginHealth) => boolean,
): Iterable<[OriginLabels, boolean]> {
  const out = new Map<string, [OriginLabels, boolean]>();
  for (const s of health.states()) {
    const labels = labelsOf(s);
    const id = `${labels.origin} ${labels.host}`;
    out.set(id, [labels, isGood(s) && (out.get(id)?.[1] ?? true)]);
  }
  return out.values();
}
