// The worker side of a node that runs several (docs/multicore.md): its slot, its share of the disk
// tier, the loopback listener its siblings send the fills of the keys it owns to, and what the
// primary tells it over IPC (the state it follows, drain, freeze).
import cluster from 'node:cluster';
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../../common/log.ts';
import type { FollowerApply } from '../sync/follower.ts';
import { stateWritesSettled } from '../sync/state-writes.ts';
import { isToWorker, type ToPrimary, type ToWorker } from './messages.ts';
import { ownerOf } from './owner.ts';

/** Set by the primary in each worker's environment. */
export const SLOT_ENV = 'MERIDIAN_WORKER_SLOT';
export const COUNT_ENV = 'MERIDIAN_WORKER_COUNT';
export const SECRET_ENV = 'MERIDIAN_WORKER_SECRET';

/** The header a sibling's fill carries: the node's per-start secret (only siblings know it). */
export const WORKER_HEADER = 'meridian-worker';

export interface WorkerRole {
  readonly slot: number;
  readonly count: number;
  readonly secret: string;
}

/** This process's role when the primary forked it; null: a node of one process. */
export function workerRoleFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerRole | null {
  if (!cluster.isWorker) return null;
  const slot = Number(env[SLOT_ENV]);
  const count = Number(env[COUNT_ENV]);
  const secret = env[SECRET_ENV] ?? '';
  if (!Number.isInteger(slot) || !Number.isInteger(count) || slot < 0 || slot >= count || secret === '')
    return null;
  return { slot, count, secret };
}

/**
 * Slot i of N keeps its disk objects in its own folder under the cache folder, bounded by 1/N of
 * --disk-cache-size: the shards' bounds add up to the node's. Another N starts from other folders
 * (the primary removes shards of other counts, so the bound holds on disk too).
 */
export function shardDirOf(cacheDir: string, role: WorkerRole): string {
  return join(cacheDir, shardName(role.slot, role.count));
}

export function shardName(slot: number, count: number): string {
  return `shard-${slot}-of-${count}`;
}

/** The node's workers as one worker sees them (EdgeRuntime.workers). */
export class Siblings {
  readonly slot: number;
  readonly count: number;
  readonly secret: string;
  readonly #secret: Buffer;
  /** Sibling listener ports by slot (from the primary); null: not listening yet. */
  ports: (number | null)[];
  /**
   * A replacement is opening this slot's disk shard (SIGUSR2): this worker stores in memory only
   * until it exits, so that two processes never write one shard.
   */
  frozen = false;
  /** Draining: responses say Connection: close, listeners are closed. */
  draining = false;

  constructor(role: WorkerRole) {
    this.slot = role.slot;
    this.count = role.count;
    this.secret = role.secret;
    this.#secret = Buffer.from(role.secret);
    this.ports = Array.from({ length: role.count }, () => null);
  }

  ownerOf(primaryKey: string): number {
    return ownerOf(primaryKey, this.count);
  }

  /** Where the owner of a key listens for its siblings; null: not known (yet), fetch here. */
  urlOf(slot: number): string | null {
    const port = this.ports[slot];
    return port === null || port === undefined ? null : `http://127.0.0.1:${port}`;
  }

  isSibling(value: string | string[] | undefined): boolean {
    if (typeof value !== 'string') return false;
    const given = Buffer.from(value);
    return given.length === this.#secret.length && timingSafeEqual(given, this.#secret);
  }
}

export interface PrimaryLinkOptions {
  siblings: Siblings;
  /** Applies the state the primary followed (null standalone: nothing is followed). */
  apply: FollowerApply | null;
  /** The worker's state folder (its shard): acks wait for its purge writes. */
  stateDir: string;
  onReady(): void;
  /** Waits for the disk writes under way (after `frozen` is set, no new ones start). */
  freeze(): Promise<void>;
  drain(): Promise<void>;
  log: Logger;
}

/** Answers the primary's metrics requests (prom-client's cluster aggregation) with this registry. */
export function exposeMetricsToPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one adds the worker's IPC listener for the primary's requests.
  void new AggregatorRegistry();
}

export function sendToPrimary(message: ToPrimary): void {
  process.send?.(message);
}

/** Handles the primary's messages, in order (an event is applied only after the one before it). */
export function linkToPrimary(options: PrimaryLinkOptions): void {
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return;
    queue = queue.then(
      () => handleMessage(options, message),
      () => handleMessage(options, message),
    );
  });
  // The primary is gone (killed): a worker must not outlive it and hold the port.
  process.on('disconnect', () => void options.drain());
}

async function handleMessage(options: PrimaryLinkOptions, message: ToWorker): Promise<void> {
  const { apply, siblings } = options;
  switch (message.t) {
    case 'siblings':
      siblings.ports = message.ports;
      return;
    case 'snapshot':
      apply?.applySnapshot(message.snapshot);
      return;
    case 'event':
      try {
        await apply?.applyEvent(message.event);
        await stateWritesSettled(options.stateDir);
      } catch (err) {
        options.log.error('event not applied', { seq: message.event.seq, err });
      }
      sendToPrimary({ t: 'ack', id: message.id });
      return;
    case 'missed':
      await apply?.applyMissedPurges?.(message.missed);
      await stateWritesSettled(options.stateDir);
      sendToPrimary({ t: 'ack', id: message.id });
      return;
    case 'ready':
      options.onReady();
      return;
    case 'freeze':
      siblings.frozen = true;
      await options.freeze();
      sendToPrimary({ t: 'ack', id: message.id });
      return;
    case 'drain':
      await options.drain();
      return;
  }
}
