// One undici Pool per upstream origin: keep-alive connections, pipelining off, bounded size.
import { Pool } from 'undici';

export interface PoolOptions {
  connectTimeoutMs: number;
  /** Connections per origin. */
  connections: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #options: PoolOptions;

  constructor(options: PoolOptions) {
    this.#options = options;
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
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    this.#pools.clear();
  }
}
