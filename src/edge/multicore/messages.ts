// What the primary process and its workers tell each other over the cluster IPC channel
// (docs/multicore.md). The primary follows the event log once and fans out what it applied; each
// worker acknowledges the events it applied (a purge counts as applied on the node once every live
// worker has it in effect and its disk side landed).
import type { Purge } from '../../common/config/purge.ts';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';

export type ToWorker =
  /** Loopback ports of every slot's sibling listener (null: that slot is not listening yet). */
  | { t: 'siblings'; ports: (number | null)[] }
  | { t: 'snapshot'; snapshot: Snapshot }
  | { t: 'event'; id: number; event: ControlEvent }
  | { t: 'missed'; id: number; missed: readonly Purge[] | 'unknown' }
  /** The worker has the node's state: it may answer from its cache. */
  | { t: 'ready' }
  /** A replacement for this slot is about to open its disk shard: stop writing to it, then ack. */
  | { t: 'freeze'; id: number }
  /** Stop accepting, finish the requests under way, close, exit 0. */
  | { t: 'drain' };

export type ToPrimary =
  | {
      t: 'listening';
      address: { address: string; port: number };
      tlsAddress: { address: string; port: number } | null;
      siblingPort: number;
    }
  | { t: 'ack'; id: number };

/** Messages of ours carry `t`; prom-client's (metrics aggregation) carry `type`. */
export function isToWorker(message: unknown): message is ToWorker {
  return (
    typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string'
  );
}

export function isToPrimary(message: unknown): message is ToPrimary {
  return isToWorker(message);
}
