// Flood defence before the pipeline: per client address, a cap on open connections (the excess is
// closed as it arrives, before any byte is parsed) and a cap on requests per second (the excess gets
// a small 429 without touching zones, rules or the cache). Both off by default (0): a node behind a
// load balancer that does not pass the client address would otherwise limit the balancer. Slow
// clients are bounded by the listener's timeouts (edge.ts: headersTimeout for slowloris,
// requestTimeout for slow bodies), which Node enforces on every connection.
import type { Socket } from 'node:net';

export class FloodGuard {
  readonly #maxConnections: number;
  readonly #maxRps: number;
  readonly #connections = new Map<string, number>();
  /** address → [second, count]; swept every second. */
  readonly #rates = new Map<string, { second: number; count: number }>();
  #sweptSecond = 0;
  refusedConnections = 0;
  limitedRequests = 0;

  constructor(options: { maxConnectionsPerIp: number; maxRequestsPerIpPerSec: number }) {
    this.#maxConnections = options.maxConnectionsPerIp;
    this.#maxRps = options.maxRequestsPerIpPerSec;
  }

  get enabled(): boolean {
    return this.#maxConnections > 0 || this.#maxRps > 0;
  }

  /** server.on('connection'): false when the address holds its quota (the socket is destroyed). */
  admit(socket: Socket): boolean {
    if (this.#maxConnections <= 0) return true;
    const ip = socket.remoteAddress ?? '';
    const open = this.#connections.get(ip) ?? 0;
    if (open >= this.#maxConnections) {
      this.refusedConnections++;
      socket.destroy();
      return false;
    }
    this.#connections.set(ip, open + 1);
    socket.once('close', () => {
      const n = (this.#connections.get(ip) ?? 1) - 1;
      if (n <= 0) this.#connections.delete(ip);
      else this.#connections.set(ip, n);
    });
    return true;
  }

  /** Per request: false when the address exceeded its requests this second. */
  allowRequest(ip: string, nowMs: number): boolean {
    if (this.#maxRps <= 0) return true;
    const second = Math.floor(nowMs / 1000);
    if (second !== this.#sweptSecond) {
      this.#rates.clear();
      this.#sweptSecond = second;
    }
    const entry = this.#rates.get(ip);
    if (entry === undefined) {
      this.#rates.set(ip, { second, count: 1 });
      return true;
    }
    entry.count++;
    if (entry.count <= this.#maxRps) return true;
    this.limitedRequests++;
    return false;
  }
}
