// Everything a request's steps share on one edge node: settings, the cache, the in-flight fetch
// table, the zones, upstream access and metrics. Built once by startEdge (edge.ts).
import type { ChallengeTable } from './acme/challenges.ts';
import type { Cache } from './cache/cache.ts';
import type { InFlight } from './cache/collapse.ts';
import type { Cluster } from './cluster/cluster.ts';
import type { EdgeConfig } from './config.ts';
import type { FetchDeps, FetchSpec, FetchTask } from './fetch/fetch-task.ts';
import type { EdgeMetrics } from './metrics.ts';
import type { EdgeAnalytics } from './analytics/analytics.ts';
import type { RequestContext } from './pipeline/context.ts';
import type { UpstreamResponse } from './upstream/origin-client.ts';
import type { ZoneRuntime } from './zones/types.ts';
import type { Siblings } from './multicore/worker.ts';
import type { WorkerRegistry } from './compute/registry.ts';
import type { EdgeSecurity } from './security/edge-security.ts';
import type { FloodGuard } from './server/flood.ts';

export interface EdgeRuntime {
  readonly config: EdgeConfig;
  readonly cache: Cache;
  readonly inflight: InFlight<FetchTask>;
  readonly fetchDeps: FetchDeps;
  readonly metrics: EdgeMetrics;
  /** Per-zone counts, access log and live tail (analytics/); null: none of them on this node. */
  analytics: EdgeAnalytics | null;
  /** Managed mode: the ACME HTTP-01 challenges this node answers (from the event log). */
  readonly acmeChallenges: ChallengeTable;
  /** Managed mode: the node's PoP, its peers and shield, the hop key (set once listening). */
  cluster: Cluster | null;
  /** A node of several workers: this worker's slot and its siblings (edge/multicore); null: one process. */
  readonly workers: Siblings | null;
  /** Edge workers (the compute step); null until started, and in nodes that run none. */
  compute: WorkerRegistry | null;
  /** Zone security (WAF, rate limits, challenges); null: none on this node (standalone). */
  security: EdgeSecurity | null;
  /** Per-address connection and request-rate caps before the pipeline; null: none. */
  flood: FloodGuard | null;
  /** This node's Via entry ("1.1 <node>"). */
  readonly via: string;
  /** The Host assumed for an HTTP/1.0 request that sends none (standalone: SIGHUP may change it). */
  defaultHost: string;
  /** The zone serving a hostname (lower case, no port); undefined: not served here (421), or not ready (503). */
  resolveZone(host: string): ZoneRuntime | undefined;
  /**
   * Managed mode: false until the node applied its state and every purge it missed, so that it never
   * serves from its cache what was purged while it was away. Always true standalone.
   */
  isReady(): boolean;
  /** Sends the client's request upstream unstored (pass). */
  pass(ctx: RequestContext): Promise<UpstreamResponse>;
  /** The upstream fetch of this request's object, collapsed under `key`. */
  fillSpec(ctx: RequestContext, key: string): FetchSpec;
}
