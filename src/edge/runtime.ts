// Everything a request's steps share on one edge node: settings, the cache, the in-flight fetch
// table, upstream pools and metrics. Built once by startEdge (edge.ts).
import type { IncomingMessage } from 'node:http';
import type { Cache } from './cache/cache.ts';
import type { InFlight } from './cache/collapse.ts';
import type { EdgeConfig } from './config.ts';
import type { FetchDeps, FetchSpec, FetchTask } from './fetch/fetch-task.ts';
import type { EdgeMetrics } from './metrics.ts';
import type { UpstreamResponse } from './upstream/origin-client.ts';

export interface EdgeRuntime {
  readonly config: EdgeConfig;
  readonly cache: Cache;
  readonly inflight: InFlight<FetchTask>;
  readonly fetchDeps: FetchDeps;
  readonly metrics: EdgeMetrics;
  /** This node's Via entry ("1.1 <node>"). */
  readonly via: string;
  /** Sends a client's request upstream unstored (pass). */
  pass(req: IncomingMessage, path: string, host: string): Promise<UpstreamResponse>;
  /** The upstream request spec for a fill of this request. */
  fillSpec(req: IncomingMessage, primaryKey: string, key: string, url: string, path: string): FetchSpec;
}
