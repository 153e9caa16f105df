// One undici Pool per upstream origin: keep-alive connections, pipelining off, bounded size. The
// node's origin health records (health.ts) live beside the pools, and their checks use them.
import { Pool } from 'undici';
import { OriginHealthRegistry } from './health.ts';

export interface PoolOptions {
  connectTimeoutMs: number;
  /** Connections per origin. */
  connections: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #options: PoolOptions;
  /** Health of the origins this node sends to: active checks and circuit breakers. */
  readonly health: OriginHealthRegistry;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.health = new OriginHealthRegistry({ poolOf: (url) => this.get(url) });
  }

  /** The pool for an origin (scheme://host:port), created on first use. */
  get(origin: URL): Pool {
    const id = origin.origin;
    let pool = this.#pools.get(id);
    if (pool === undefined) {
      pool = new Pool(id, {
        connections: this.#options.connections,
        connect: { timeout: this.#options.connectTimeoutMs },
        keepAliveTimeout: 4_000,
        pipelining: 1,
      });
      this.#pools.set(id, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    this.health.close();
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    this.#pools.clear();
  }
}
