// Ships the collector's counts to the control plane over the node's authenticated link (the node
// token, the same failover URLs as the follower): every intervalMs the counts since the last tick
// become one batch with a fresh id, queued; the queue is sent oldest first, one batch at a time.
// A batch stays queued until the control plane answers 2xx for it, so while the control plane is
// away batches wait (bounded: the oldest are dropped past maxQueued, and counted) and go out when it
// is back. A batch whose answer was lost is sent again with the same id, and the control plane,
// which stores each id once, adds it once: never lost while queued, never counted twice.
import { randomUUID } from 'node:crypto';
import type { AnalyticsBatch } from '../../common/analytics/batch.ts';
import { LogThrottle } from '../../common/log-throttle.ts';
import type { Logger } from '../../common/log.ts';
import { ControlHttpError, type ControlClient } from '../sync/control-client.ts';
import type { AnalyticsCollector } from './collector.ts';

export interface ShipperOptions {
  collector: AnalyticsCollector;
  client: ControlClient;
  node: string;
  pop: string;
  /** How often counts are batched and sent. Default 2 s. */
  intervalMs?: number;
  /** Batches kept while the control plane is away (default 3600: two hours at 2 s). */
  maxQueued?: number;
  /** Zones this node serves: counts of a zone deleted meanwhile are not sent (the control plane would refuse). */
  isKnownZone?: (zoneId: string) => boolean;
  log: Logger;
  /** The zones being tailed, from each receipt. */
  onTails?: (zoneIds: string[]) => void;
}

export class AnalyticsShipper {
  readonly #options: ShipperOptions;
  readonly #queue: AnalyticsBatch[] = [];
  readonly #failures: LogThrottle;
  readonly #closing = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #sending: Promise<void> | null = null;
  /** Batches acknowledged, dropped (queue full), refused (4xx: never accepted as they are). */
  sent = 0;
  dropped = 0;
  refused = 0;

  constructor(options: ShipperOptions) {
    this.#options = options;
    this.#failures = new LogThrottle(options.log);
  }

  get queued(): number {
    return this.#queue.length;
  }

  start(): void {
    this.#timer = setInterval(() => void this.tick(), this.#options.intervalMs ?? 2_000);
    this.#timer.unref();
  }

  /** Batches what was counted and sends the queue (also what tests call to ship now). */
  tick(): Promise<void> {
    this.#enqueue();
    this.#sending ??= this.#sendQueue().finally(() => (this.#sending = null));
    return this.#sending;
  }

  /**
   * Stops the timer and ships what is counted once more, for at most `graceMs` (a control plane
   * that is down must not hold the node's shutdown); what is left is logged as not delivered.
   */
  async close(graceMs = 2_000): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    const deadline = setTimeout(() => this.#closing.abort(), graceMs);
    try {
      await this.#sending;
      await this.tick();
    } finally {
      clearTimeout(deadline);
      this.#closing.abort();
    }
    if (this.#queue.length > 0) {
      this.#options.log.warn('analytics batches not delivered at shutdown', { batches: this.#queue.length });
    }
  }

  #enqueue(): void {
    const known = this.#options.isKnownZone;
    const drained = this.#options.collector.drain();
    const minutes = known === undefined ? drained : drained.filter((m) => known(m.zone_id));
    if (minutes.length === 0) return;
    this.#queue.push({ batch_id: randomUUID(), node: this.#options.node, pop: this.#options.pop, minutes });
    const max = this.#options.maxQueued ?? 3_600;
    while (this.#queue.length > max) {
      this.#queue.shift();
      this.dropped++;
      this.#failures.warn('analytics-dropped', 'analytics queue full: the oldest batch was dropped', { max });
    }
  }

  async #sendQueue(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closing.signal.aborted) {
      const batch = this.#queue[0] as AnalyticsBatch;
      try {
        const receipt = await this.#options.client.analyticsBatch(batch, this.#closing.signal);
        this.#queue.shift();
        this.sent++;
        this.#options.onTails?.(receipt.tails);
        this.#failures.recovered('analytics', 'analytics batches delivered again', {
          queued: this.#queue.length,
        });
      } catch (err) {
        if (isRefusal(err)) {
          // Sending it again would be refused again: dropped, loudly.
          this.#queue.shift();
          this.refused++;
          this.#options.log.warn('analytics batch refused by the control plane; dropped', {
            batch_id: batch.batch_id,
            err,
          });
          continue;
        }
        this.#failures.warn('analytics', 'analytics batch not delivered; kept and retried', {
          queued: this.#queue.length,
          err,
        });
        return;
      }
    }
  }
}

/** 400/404/413/422: the batch itself is wrong. 401/403/408/429 and 5xx may pass later. */
function isRefusal(err: unknown): boolean {
  return (
    err instanceof ControlHttpError &&
    err.status >= 400 &&
    err.status < 500 &&
    ![401, 403, 408, 429].includes(err.status)
  );
}
