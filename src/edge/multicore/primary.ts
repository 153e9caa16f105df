// The primary process of a node that runs several workers (`meridian edge --workers N`, docs/multicore.md).
// It serves no client itself: it forks the workers (node:cluster, which keeps the listening sockets
// here and hands each new connection to a worker in turn), follows the event log once for the whole
// node and fans out what it applies, serves the admin listener (/metrics summed over the workers),
// restarts a worker that dies, forwards SIGHUP, and on SIGUSR2 replaces every worker with a fresh
// process running the code now on disk, one slot at a time, without closing a listener.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import type { Purge } from '../../common/config/purge.ts';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import { FailoverUrls } from '../../common/http/failover-urls.ts';
import type { Logger } from '../../common/log.ts';
import type { EdgeConfig } from '../config.ts';
import type { FollowerApply } from '../sync/follower.ts';
import { startNodeFollower, type NodeFollower } from '../sync/node-follower.ts';
import { applyEventToSnapshot } from '../sync/snapshot.ts';
import { isToPrimary, type ToPrimary, type ToWorker } from './messages.ts';
import { COUNT_ENV, SECRET_ENV, shardName, SLOT_ENV } from './worker.ts';

/** Purges kept for a slot without a live worker; beyond this its replacement purges everything. */
const MAX_MISSED_PURGES = 10_000;
/** A worker that does not ack an event within this is treated as gone for that event. */
const ACK_TIMEOUT_MS = 15_000;
/** How long a new worker may take to listen before a replacement (SIGUSR2) gives up on it. */
const START_TIMEOUT_MS = 60_000;

interface Slot {
  readonly index: number;
  worker: Worker | null;
  startedAtMs: number;
  /** Quick deaths in a row (restart backoff). */
  crashes: number;
  siblingPort: number | null;
  /** Purges applied while the slot had no live worker: its next worker applies them before serving. */
  missed: Purge[] | 'unknown';
}

interface Pending {
  readonly worker: Worker;
  readonly purge: Purge | null;
  readonly resolve: () => void;
}

export interface PrimaryNode {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export class Primary {
  readonly #config: EdgeConfig;
  readonly #count: number;
  readonly #log: Logger;
  readonly #secret = randomBytes(24).toString('base64url');
  readonly #slots: Slot[];
  /** Workers being replaced (SIGUSR2): still serving their last requests, never restarted. */
  readonly #retiring = new Set<Worker>();
  /** Workers that said they listen, by worker id. */
  readonly #listening = new Map<number, ToPrimary & { t: 'listening' }>();
  readonly #pending = new Map<number, Pending>();
  readonly #listenWaiters = new Map<Worker, () => void>();
  #nextId = 0;
  #snapshot: Snapshot | null = null;
  #stateReady: boolean;
  #stopping = false;
  #replacing: Promise<void> | null = null;
  #follower: NodeFollower | null = null;
  #admin: Server | null = null;

  constructor(config: EdgeConfig, count: number, log: Logger) {
    this.#config = config;
    this.#count = count;
    this.#log = log;
    this.#stateReady = config.control === null;
    this.#slots = Array.from({ length: count }, (_, index) => ({
      index,
      worker: null,
      startedAtMs: 0,
      crashes: 0,
      siblingPort: null,
      missed: [],
    }));
  }

  async start(): Promise<PrimaryNode> {
    await pruneOtherLayouts(this.#config.cacheDir, this.#count);
    // Metrics requests (prom-client) and our messages share the IPC channel; the listener is set here.
    const metrics = new AggregatorRegistry<PrometheusContentType>();
    cluster.on('exit', (worker, code, signal) => this.#onExit(worker, code, signal));
    const first = this.#slots.map((slot) => this.#waitListening(this.#fork(slot)));
    await Promise.all(first);
    const listening = this.#listening.values().next().value as ToPrimary & { t: 'listening' };
    const address = { ...listening.address, family: 'IPv4' } as AddressInfo;
    this.#admin = this.#config.adminListen === null ? null : await this.#startAdmin(metrics);
    const adminAddress = this.#admin === null ? null : (this.#admin.address() as AddressInfo);
    if (this.#config.control !== null) {
      const controlUrls = new FailoverUrls(this.#config.control.urls ?? [this.#config.control.url], {
        log: this.#log,
      });
      this.#follower = await startNodeFollower(
        this.#config,
        controlUrls,
        address,
        adminAddress,
        this.#fanOut(),
        this.#log,
      );
      this.#stateReady = true;
      for (const worker of this.#liveWorkers()) send(worker, { t: 'ready' });
    }
    process.on('SIGHUP', () => this.#reload());
    process.on('SIGUSR2', () => void this.replaceAll());
    this.#log.info('edge listening', {
      address: `${address.address}:${address.port}`,
      tls:
        listening.tlsAddress === null
          ? undefined
          : `${listening.tlsAddress.address}:${listening.tlsAddress.port}`,
      admin: adminAddress === null ? undefined : `${adminAddress.address}:${adminAddress.port}`,
      workers: this.#count,
      origin: this.#config.origin?.origin,
      seq: this.#follower?.appliedSeq,
    });
    return { address, close: () => this.close() };
  }

  /** SIGUSR2: each slot in turn gets a new worker; the old one leaves once the new one listens. */
  replaceAll(): Promise<void> {
    this.#replacing ??= (async () => {
      this.#log.info('SIGUSR2: replacing every worker', { workers: this.#count });
      for (const slot of this.#slots) await this.#replace(slot);
      this.#log.info('workers replaced', { workers: this.#count });
    })().finally(() => (this.#replacing = null));
    return this.#replacing;
  }

  async close(): Promise<void> {
    this.#stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const exits = workers.map((w) =>
      w.isDead() ? Promise.resolve() : once(w, 'exit').then(() => undefined),
    );
    for (const worker of workers) worker.process.kill('SIGTERM');
    const timer = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), 10_000);
    await Promise.all(exits);
    clearTimeout(timer);
    await this.#follower?.close();
    this.#admin?.close();
  }

  async #replace(slot: Slot): Promise<void> {
    const old = slot.worker;
    if (old !== null && this.#listening.has(old.id)) {
      // The old worker stops writing its disk shard before the new one opens it.
      await this.#request(old, (id) => ({ t: 'freeze', id }), null);
      this.#retiring.add(old);
    }
    const next = this.#fork(slot);
    try {
      await Promise.race([
        this.#waitListening(next),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), START_TIMEOUT_MS)),
      ]);
    } catch {
      this.#log.error('replacement worker did not start; keeping the old one', { slot: slot.index });
      return;
    }
    if (old !== null) {
      send(old, { t: 'drain' });
      this.#log.info('worker replaced', { slot: slot.index, old: old.process.pid, new: next.process.pid });
    }
  }

  #fork(slot: Slot): Worker {
    const worker = cluster.fork({
      [SLOT_ENV]: String(slot.index),
      [COUNT_ENV]: String(this.#count),
      [SECRET_ENV]: this.#secret,
    });
    slot.worker = worker;
    slot.startedAtMs = Date.now();
    worker.on('message', (message: unknown) => {
      if (isToPrimary(message)) this.#onMessage(slot, worker, message);
    });
    return worker;
  }

  #waitListening(worker: Worker): Promise<void> {
    if (this.#listening.has(worker.id)) return Promise.resolve();
    return new Promise((resolve) => this.#listenWaiters.set(worker, resolve));
  }

  #onMessage(slot: Slot, worker: Worker, message: ToPrimary): void {
    switch (message.t) {
      case 'listening':
        this.#listening.set(worker.id, message);
        if (slot.worker === worker) slot.siblingPort = message.siblingPort;
        this.#broadcastSiblings();
        this.#catchUp(slot, worker);
        this.#log.info('worker started', { slot: slot.index, pid: worker.process.pid });
        this.#listenWaiters.get(worker)?.();
        this.#listenWaiters.delete(worker);
        return;
      case 'ack': {
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return;
        this.#pending.delete(message.id);
        pending.resolve();
        return;
      }
    }
  }

  /** A new worker gets the node's state (and the purges its slot missed) before it serves. */
  #catchUp(slot: Slot, worker: Worker): void {
    if (this.#snapshot === null) return;
    send(worker, { t: 'snapshot', snapshot: this.#snapshot });
    const missed = slot.missed;
    slot.missed = [];
    if (missed === 'unknown' || missed.length > 0) {
      void this.#request(worker, (id) => ({ t: 'missed', id, missed }), null);
    }
    if (this.#stateReady) send(worker, { t: 'ready' });
  }

  #onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.#listening.delete(worker.id);
    this.#listenWaiters.delete(worker);
    const slot = this.#slots.find((s) => s.worker === worker);
    for (const [id, pending] of this.#pending) {
      if (pending.worker !== worker) continue;
      this.#pending.delete(id);
      if (slot !== undefined && pending.purge !== null) this.#noteMissed(slot, pending.purge);
      pending.resolve();
    }
    if (this.#retiring.delete(worker)) {
      this.#log.info('old worker exited', { pid: worker.process.pid, code });
      return;
    }
    if (slot === undefined) return;
    slot.worker = null;
    slot.siblingPort = null;
    this.#broadcastSiblings();
    if (this.#stopping) return;
    // A worker that dies at once (a bad build, a port it cannot get) is restarted with a backoff.
    const quick = Date.now() - slot.startedAtMs < 1_000;
    slot.crashes = quick ? slot.crashes + 1 : 0;
    const delayMs = quick ? Math.min(5_000, 100 * 2 ** slot.crashes) : 0;
    this.#log.warn('worker died; restarting it', {
      slot: slot.index,
      pid: worker.process.pid,
      code,
      signal,
      delayMs,
    });
    setTimeout(() => {
      if (!this.#stopping && slot.worker === null) this.#fork(slot);
    }, delayMs).unref();
  }

  #noteMissed(slot: Slot, purge: Purge): void {
    if (slot.missed === 'unknown') return;
    if (slot.missed.length >= MAX_MISSED_PURGES) slot.missed = 'unknown';
    else slot.missed.push(purge);
  }

  #broadcastSiblings(): void {
    const ports = this.#slots.map((s) => s.siblingPort);
    for (const worker of this.#liveWorkers()) send(worker, { t: 'siblings', ports });
  }

  /** Workers that listen: every slot's, and those being replaced (they still serve until they exit). */
  #liveWorkers(): Worker[] {
    const out: Worker[] = [];
    for (const id of this.#listening.keys()) {
      const worker = cluster.workers?.[id];
      if (worker !== undefined && worker.isConnected()) out.push(worker);
    }
    return out;
  }

  /** Sends a message that the worker acknowledges; resolves on the ack, its exit, or a timeout. */
  #request(worker: Worker, make: (id: number) => ToWorker, purge: Purge | null): Promise<void> {
    const id = ++this.#nextId;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        this.#log.warn('worker did not acknowledge', { pid: worker.process.pid, id });
        resolve();
      }, ACK_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, {
        worker,
        purge,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      send(worker, make(id));
    });
  }

  /**
   * What the node's one follower applies, fanned out: an event counts as applied (seq reported, a
   * purge's receipt sent) once every live worker has applied it; a slot without a live worker keeps
   * its purges for the next one.
   */
  #fanOut(): FollowerApply {
    return {
      applySnapshot: (snapshot) => {
        this.#snapshot = snapshot;
        for (const worker of this.#liveWorkers()) send(worker, { t: 'snapshot', snapshot });
      },
      applyEvent: async (event: ControlEvent) => {
        if (this.#snapshot !== null) this.#snapshot = applyEventToSnapshot(this.#snapshot, event);
        const purge = event.type === 'purge' ? event.purge : null;
        const live = this.#liveWorkers();
        if (purge !== null) {
          for (const slot of this.#slots) {
            const worker = slot.worker;
            if (worker === null || !live.includes(worker)) this.#noteMissed(slot, purge);
          }
        }
        await Promise.all(live.map((w) => this.#request(w, (id) => ({ t: 'event', id, event }), purge)));
      },
      applyMissedPurges: async (missed) => {
        await Promise.all(
          this.#liveWorkers().map((w) => this.#request(w, (id) => ({ t: 'missed', id, missed }), null)),
        );
      },
    };
  }

  #reload(): void {
    const workers = this.#liveWorkers();
    this.#log.info('SIGHUP: reloading the configuration in every worker', { workers: workers.length });
    for (const worker of workers) worker.process.kill('SIGHUP');
  }

  async #startAdmin(metrics: AggregatorRegistry<PrometheusContentType>): Promise<Server> {
    const listen = this.#config.adminListen as NonNullable<EdgeConfig['adminListen']>;
    const server = createServer((req, res) => {
      if (req.url === '/metrics') {
        // One /metrics for the node: every worker's registry, summed (prom-client's cluster aggregation).
        metrics.clusterMetrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.contentType });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            status: 'ok',
            node: this.#config.nodeName,
            workers: this.#count,
            live: this.#liveWorkers().length,
            ...(this.#config.control === null
              ? {}
              : { pop: this.#config.control.pop, seq: this.#follower?.appliedSeq ?? 0 }),
          }),
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    });
    server.listen(listen.port, listen.host);
    await once(server, 'listening');
    return server;
  }
}

function send(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}

/**
 * The disk tier's files of another worker count (shards of another N, or the one-process layout at
 * the top of the cache folder) are removed at start, so the node's byte bound holds on disk.
 */
export async function pruneOtherLayouts(cacheDir: string, workers: number): Promise<void> {
  let names: string[];
  try {
    names = await readdir(cacheDir);
  } catch {
    return;
  }
  const own = new Set(Array.from({ length: workers }, (_, i) => shardName(i, workers)));
  for (const name of names) {
    const isShard = /^shard-\d+-of-\d+$/.test(name);
    const isFlat = name === 'objects' || name === 'tmp';
    if ((isShard && (workers === 1 || !own.has(name))) || (isFlat && workers > 1)) {
      await rm(join(cacheDir, name), { recursive: true, force: true });
    }
  }
}
