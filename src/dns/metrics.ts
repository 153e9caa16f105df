// Prometheus metrics of the DNS server (GET /metrics on the admin listener). The hot path adds to
// plain numbers; prom-client reads them when /metrics is scraped.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  serial(): number;
  dataAgeSeconds(): number;
  tcpConnections(): number;
  nodes(): { name: string; pop: string; healthy: boolean }[];
}

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  16: 'BADVERS',
};

const UDP_KEYS = Array.from({ length: 17 }, (_, rcode) => `udp ${rcode}`);
const TCP_KEYS = Array.from({ length: 17 }, (_, rcode) => `tcp ${rcode}`);

export class DnsMetrics {
  readonly registry = new Registry();
  readonly #queries = new Map<string, number>();
  readonly #pops = new Map<string, number>();
  truncated = 0;
  dropped = 0;
  failOpen = 0;
  pollFailures = 0;
  sendErrors = 0;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'meridian_dns_',
      eventLoopMonitoringPrecision: 100,
    });
    const queries = this.#queries;
    const pops = this.#pops;
    new Counter({
      name: 'meridian_dns_queries_total',
      help: 'Queries answered, by transport (udp, tcp) and response code.',
      labelNames: ['transport', 'rcode'],
      registers,
      collect() {
        this.reset();
        for (const [key, n] of queries) {
          const [transport, rcode] = key.split(' ') as [string, string];
          this.inc({ transport, rcode: RCODE_NAMES[Number(rcode)] ?? rcode }, n);
        }
      },
    });
    new Counter({
      name: 'meridian_dns_answers_by_pop_total',
      help: 'A and AAAA answers, by the PoP chosen for the client.',
      labelNames: ['pop'],
      registers,
      collect() {
        this.reset();
        for (const [pop, n] of pops) this.inc({ pop }, n);
      },
    });
    const plain = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    plain(
      'meridian_dns_truncated_total',
      'UDP answers cut to the header and question (TC=1).',
      () => this.truncated,
    );
    plain(
      'meridian_dns_dropped_packets_total',
      'Packets not answered: too short, or responses.',
      () => this.dropped,
    );
    plain(
      'meridian_dns_fail_open_total',
      'Answers made while no candidate node was healthy.',
      () => this.failOpen,
    );
    plain(
      'meridian_dns_control_poll_failures_total',
      'Failed polls of the control plane.',
      () => this.pollFailures,
    );
    new Gauge({
      name: 'meridian_dns_zone_serial',
      help: 'The SOA serial in force.',
      registers,
      collect() {
        this.set(sources.serial());
      },
    });
    new Gauge({
      name: 'meridian_dns_data_age_seconds',
      help: 'Seconds since the control plane last answered.',
      registers,
      collect() {
        this.set(sources.dataAgeSeconds());
      },
    });
    new Gauge({
      name: 'meridian_dns_tcp_connections',
      help: 'Open TCP connections.',
      registers,
      collect() {
        this.set(sources.tcpConnections());
      },
    });
    new Gauge({
      name: 'meridian_dns_node_healthy',
      help: '1 when a node is answered (up at the control plane and passing probes), else 0.',
      labelNames: ['node', 'pop'],
      registers,
      collect() {
        this.reset();
        for (const n of sources.nodes()) this.set({ node: n.name, pop: n.pop }, n.healthy ? 1 : 0);
      },
    });
  }

  query(transport: 'udp' | 'tcp', rcode: number): void {
    // Keys are made once per (transport, rcode): no string is built per query.
    const keys = transport === 'udp' ? UDP_KEYS : TCP_KEYS;
    const key = keys[rcode] ?? `${transport} ${rcode}`;
    this.#queries.set(key, (this.#queries.get(key) ?? 0) + 1);
  }

  chosen(pop: string): void {
    this.#pops.set(pop, (this.#pops.get(pop) ?? 0) + 1);
  }
}
