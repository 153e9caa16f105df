// The node side of "Changes and purges" (ARCHITECTURE.md): start from a snapshot, apply the log's
// tail in order, persist what was applied, report the applied seq.
//
//   start      register (POST /internal/v1/nodes/register) and load the snapshot
//              (GET /internal/v1/snapshot). If the snapshot cannot be had, apply
//              stateDir/last-known-good.json instead, so the node serves with it; `ready` resolves
//              once either is applied. Whatever failed is retried in the background.
//   follow     subscribe to the EventSource after the applied seq (the snapshot's, or the file's:
//              a node back from an outage catches up from there, no full reload) and apply each
//              event in order.
//   gap        the log no longer holds what follows the applied seq (410 / retention): reload the
//              snapshot, subscribe again from its seq.
//   persist    last-known-good.json follows the applied state at most every persistIntervalMs,
//              and once more on close.
//   heartbeat  POST /internal/v1/nodes/<name>/heartbeat {applied_seq} every heartbeatMs once
//              registered; a 404 (the control plane forgot the node) registers again.
//   purges     a purge event is applied (in effect in memory when applyEvent resolves) and
//              acknowledged with the node's time of application (POST
//              /internal/v1/nodes/<name>/purge-acks), 50 ms later and once its disk side has landed
//              (state-writes.ts), batched with the purges applied meanwhile. A
//              snapshot loaded over older state (restart, gap) carries the purges the log still
//              holds: those after the node's seq are applied before `ready`, so a node back from
//              an outage never serves what was purged meanwhile; when its seq is older than the
//              log, it cannot know what it missed and the whole cache is purged.
import type { Dispatcher } from 'undici';
import type { Purge } from '../../common/config/purge.ts';
import type { ControlEvent, EventSource, EventSubscription, Snapshot } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import { LogThrottle } from '../../common/log-throttle.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { ControlClient, ControlHttpError } from './control-client.ts';
import type { ControlClientOptions, NodeRegistration } from './control-client.ts';
import { loadLastKnownGood, saveLastKnownGood } from './last-known-good.ts';
import { applyEventToSnapshot } from './snapshot.ts';
import { stateWritesSettled } from './state-writes.ts';

/** Where the follower hands state to the rest of the node (e.g. ZoneTable). */
export interface FollowerApply {
  /** Replaces all state (start, last-known-good, reload after a gap). */
  applySnapshot(snapshot: Snapshot): void;
  /** The next event, in seq order (awaited); throwing makes the source deliver it again later. */
  applyEvent(event: ControlEvent): void | Promise<void>;
  /**
   * Purges missed while the node was away, after a snapshot replaced older state: the list in seq
   * order, or 'unknown' when the node cannot tell what it missed (purge everything).
   */
  applyMissedPurges?(missed: readonly Purge[] | 'unknown'): Promise<void>;
}

export interface FollowerOptions {
  /** The control plane: one URL, several (failover), or a pool shared with the node's other clients. */
  controlUrl: ControlClientOptions['controlUrl'];
  /** A token with the `node` scope. */
  token: string;
  node: NodeRegistration;
  /** Where events come from; the caller owns it (close it after the follower). */
  source: EventSource;
  /** Where last-known-good.json lives (created if missing). */
  stateDir: string;
  apply: FollowerApply;
  log: Logger;
  /** Default 2 s. */
  heartbeatMs?: number;
  /** Least time between two writes of last-known-good.json. Default 1 s (each write is a fsync; it is a fallback copy). */
  persistIntervalMs?: number;
  /** Wait before sending purge receipts (they carry the time of application, not of sending). Default 50 ms. */
  purgeAckDelayMs?: number;
  /** Retries of register / snapshot / subscribe. */
  backoff?: BackoffOptions;
  /** Limit of one control-plane call. Default 10 s. */
  requestTimeoutMs?: number;
  dispatcher?: Dispatcher;
}

export interface Follower {
  /** Seq of the state applied (snapshot, file or last event); null before any. */
  readonly appliedSeq: number | null;
  /** Resolves once a state is applied (snapshot or last-known-good); rejects if closed before. */
  readonly ready: Promise<void>;
  /** Stops following and heart-beating, and writes last-known-good.json a last time. */
  close(): Promise<void>;
}

export function startFollower(options: FollowerOptions): Follower {
  const follower = new EventFollower(options);
  follower.start();
  return follower;
}

class EventFollower implements Follower {
  readonly #options: FollowerOptions;
  readonly #client: ControlClient;
  readonly #log: Logger;
  /** Background failures (heartbeat, receipts, retries) repeat every few seconds: logged, not flooded. */
  readonly #failures: LogThrottle;
  readonly #backoff: BackoffOptions;
  readonly #closing = new AbortController();
  readonly ready: Promise<void>;
  #resolveReady: () => void = () => {};
  #rejectReady: (err: Error) => void = () => {};
  #isReady = false;

  /** The applied state, kept as a Snapshot so it can be written out at any time. */
  #state: Snapshot | null = null;
  /** Bumped on every change of #state; the file holds #persistedVersion. */
  #stateVersion = 0;
  #persistedVersion = 0;
  #persistTimer: NodeJS.Timeout | null = null;
  #persisting: Promise<void> | null = null;

  /** Bumped per subscription; a gap or event from an older one is ignored. */
  #generation = 0;
  #subscription: EventSubscription | null = null;
  /** The task that (re)loads state and subscribes; one at a time. */
  #task: Promise<void> = Promise.resolve();
  #isRegistered = false;
  #registering: Promise<void> | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #isHeartbeatInFlight = false;
  /** The seq of the state the node served with before this start (last-known-good.json); null: none. */
  #previousSeq: number | null = null;
  #pendingAcks: { purge_id: string; applied_at: string }[] = [];
  #acking: Promise<void> | null = null;

  constructor(options: FollowerOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#failures = new LogThrottle(options.log);
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#client = new ControlClient({
      controlUrl: options.controlUrl,
      token: options.token,
      ...(options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs }),
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // a caller that never awaits ready must not see an unhandled rejection
  }

  get appliedSeq(): number | null {
    return this.#state?.seq ?? null;
  }

  start(): void {
    this.#task = this.#start();
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#options.heartbeatMs ?? 2_000);
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    await this.#task;
    await this.#registering;
    const subscription = this.#subscription;
    this.#subscription = null;
    await subscription?.close();
    if (this.#persistTimer !== null) clearTimeout(this.#persistTimer);
    this.#persistTimer = null;
    await this.#persisting;
    await this.#persist();
    if (!this.#isReady) this.#rejectReady(new Error('follower closed before any state was applied'));
  }

  async #start(): Promise<void> {
    // Independent calls: an unreachable control plane costs one timeout, not two.
    const [registered, snapshot, saved] = await Promise.allSettled([
      this.#register(),
      this.#client.snapshot(this.#closing.signal),
      loadLastKnownGood(this.#options.stateDir),
    ]);
    if (saved.status === 'fulfilled' && saved.value.kind === 'found')
      this.#previousSeq = saved.value.snapshot.seq;
    if (this.#closing.signal.aborted) return;
    if (registered.status === 'rejected') {
      this.#log.warn('cannot register with the control plane; retrying in the background', {
        err: registered.reason,
      });
      this.#registerInBackground();
    }
    if (snapshot.status === 'fulfilled') {
      await this.#adopt(snapshot.value, true);
    } else {
      this.#log.warn('cannot load the snapshot from the control plane', { err: snapshot.reason });
      await this.#adoptLastKnownGood();
      if (this.#state === null) {
        await this.#retry('snapshot', async () =>
          this.#adopt(await this.#client.snapshot(this.#closing.signal), true),
        );
      }
    }
    await this.#subscribe();
  }

  async #adoptLastKnownGood(): Promise<void> {
    const found = await loadLastKnownGood(this.#options.stateDir).catch((err: unknown) => {
      this.#log.warn('cannot read last-known-good state', { err });
      return null;
    });
    if (found?.kind === 'found') {
      this.#log.info('serving with last-known-good state', {
        seq: found.snapshot.seq,
        savedAt: found.savedAt,
      });
      await this.#adopt(found.snapshot, false);
    } else if (found?.kind === 'invalid') {
      this.#log.warn('ignoring last-known-good state', { reason: found.reason });
    }
  }

  /** Makes `snapshot` the applied state (and, for one from the control plane, the purges it says were missed). */
  async #adopt(snapshot: Snapshot, isNew: boolean): Promise<void> {
    if (this.#closing.signal.aborted) return;
    const previousSeq = this.#state?.seq ?? this.#previousSeq;
    const { purges, purges_from: purgesFrom, ...state } = snapshot;
    this.#options.apply.applySnapshot(state);
    if (isNew && this.#options.apply.applyMissedPurges !== undefined) {
      const missed =
        previousSeq === null ||
        purges === undefined ||
        purgesFrom === undefined ||
        previousSeq < purgesFrom - 1
          ? 'unknown'
          : purges.filter((p) => p.seq > previousSeq);
      if (missed === 'unknown' || missed.length > 0) {
        this.#log.info('applying purges missed while away', {
          previousSeq,
          missed: missed === 'unknown' ? 'unknown: purging everything' : missed.length,
        });
        await this.#options.apply.applyMissedPurges(missed);
        if (missed !== 'unknown') for (const purge of missed) this.#ack(purge.id);
      }
    }
    this.#state = state;
    this.#stateVersion += 1;
    if (!isNew) this.#persistedVersion = this.#stateVersion; // it came from the file
    this.#schedulePersist(0);
    if (!this.#isReady) {
      this.#isReady = true;
      this.#resolveReady();
    }
  }

  /** Subscribes after the applied seq, retrying until the source accepts. */
  async #subscribe(): Promise<void> {
    const generation = ++this.#generation;
    await this.#retry('subscribe', async () => {
      const state = this.#state;
      if (state === null) throw new Error('no state to follow from');
      const subscription = await this.#options.source.subscribe(
        state.seq,
        (event) => this.#onEvent(event, generation),
        () => this.#onGap(generation),
      );
      if (this.#closing.signal.aborted || generation !== this.#generation) await subscription.close();
      else this.#subscription = subscription;
    });
  }

  async #onEvent(event: ControlEvent, generation: number): Promise<void> {
    const state = this.#state;
    if (state === null || generation !== this.#generation || event.seq <= state.seq) return;
    if (event.seq > state.seq + 1) {
      this.#onGap(generation); // sources report gaps themselves; this only guards the state
      return;
    }
    await this.#options.apply.applyEvent(event);
    if (event.type === 'purge') this.#ack(event.purge.id);
    this.#state = applyEventToSnapshot(state, event);
    this.#stateVersion += 1;
    this.#schedulePersist(this.#options.persistIntervalMs ?? 1000);
  }

  #onGap(generation: number): void {
    if (generation !== this.#generation || this.#closing.signal.aborted) return;
    this.#generation += 1; // silences the old subscription until it is closed
    this.#log.info('event log gap: reloading the snapshot', { appliedSeq: this.appliedSeq });
    const previous = this.#task;
    this.#task = (async () => {
      await previous;
      const subscription = this.#subscription;
      this.#subscription = null;
      await subscription?.close();
      await this.#retry('snapshot', async () =>
        this.#adopt(await this.#client.snapshot(this.#closing.signal), true),
      );
      await this.#subscribe();
    })();
  }

  async #register(): Promise<void> {
    await this.#client.register(this.#options.node, this.#closing.signal);
    this.#isRegistered = true;
  }

  #registerInBackground(): void {
    if (this.#registering !== null) return;
    this.#registering = this.#retry('register', () => this.#register()).finally(
      () => (this.#registering = null),
    );
  }

  async #heartbeat(): Promise<void> {
    const seq = this.appliedSeq;
    if (!this.#isRegistered || seq === null || this.#isHeartbeatInFlight) return;
    this.#isHeartbeatInFlight = true;
    try {
      await this.#client.heartbeat(this.#options.node.name, seq, this.#closing.signal);
      this.#failures.recovered('heartbeat', 'heartbeats delivered again', { seq });
    } catch (err) {
      if (this.#closing.signal.aborted) return;
      // Unlogged, a node whose heartbeats go nowhere is marked down by the control plane in silence.
      this.#failures.warn('heartbeat', 'heartbeat failed; the control plane will mark this node down', {
        err,
        control: this.#client.urls.current.origin,
      });
      if (err instanceof ControlHttpError && err.status === 404) {
        this.#isRegistered = false;
        this.#registerInBackground();
      }
    } finally {
      this.#isHeartbeatInFlight = false;
    }
  }

  /** Reports a purge applied now; sent purgeAckDelayMs later with those applied meanwhile, or with the next batch while a report is in flight. */
  #ack(purgeId: string): void {
    this.#pendingAcks.push({ purge_id: purgeId, applied_at: new Date().toISOString() });
    if (this.#acking === null) this.#acking = this.#sendAcks().finally(() => (this.#acking = null));
  }

  async #sendAcks(): Promise<void> {
    // Not at once: the purge reaches the other nodes first (each receipt costs the control plane a
    // request and a write), and purges applied meanwhile share the request.
    await sleep(this.#options.purgeAckDelayMs ?? 50, this.#closing.signal);
    for (let attempt = 0; this.#pendingAcks.length > 0 && !this.#closing.signal.aborted;) {
      const batch = this.#pendingAcks.splice(0, 1000);
      try {
        // A receipt means durable: the purges' disk side (unlinks, purge-rules.json) has landed.
        await stateWritesSettled(this.#options.stateDir);
        await this.#client.purgeAcks(this.#options.node.name, batch, this.#closing.signal);
        this.#failures.recovered('receipts', 'purge receipts delivered again');
        attempt = 0;
      } catch (err) {
        if (this.#closing.signal.aborted) return;
        // The heartbeat's applied_seq still tells the control plane the purge was applied.
        this.#failures.warn('receipts', 'purge receipts not delivered; retrying', { err, attempt });
        this.#pendingAcks.unshift(...batch);
        if (attempt >= 5) {
          this.#log.warn('purge receipts dropped after 6 attempts (the heartbeat still reports the seq)', {
            receipts: this.#pendingAcks.length,
          });
          this.#pendingAcks = [];
          return;
        }
        await sleep(backoffDelayMs(attempt++, this.#backoff), this.#closing.signal);
      }
    }
  }

  /** Runs `fn` until it succeeds or the follower closes, with backoff between failures. */
  async #retry(what: string, fn: () => Promise<void>): Promise<void> {
    const { signal } = this.#closing;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await fn();
        this.#failures.recovered(what, `${what} succeeded after failures`, { attempts: attempt });
        return;
      } catch (err) {
        if (signal.aborted) return;
        this.#failures.warn(what, `${what} failed; retrying`, { err, attempt });
        await sleep(backoffDelayMs(attempt, this.#backoff), signal);
      }
    }
  }

  #schedulePersist(delayMs: number): void {
    if (this.#persistTimer !== null || this.#persisting !== null || this.#closing.signal.aborted) return;
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = null;
      this.#persisting = this.#persist().finally(() => {
        this.#persisting = null;
        if (this.#stateVersion !== this.#persistedVersion)
          this.#schedulePersist(this.#options.persistIntervalMs ?? 1000);
      });
    }, delayMs);
  }

  /** Writes the state if the file is behind it; never throws. */
  async #persist(): Promise<void> {
    const state = this.#state;
    const version = this.#stateVersion;
    if (state === null || version === this.#persistedVersion) return;
    try {
      await saveLastKnownGood(this.#options.stateDir, state);
      this.#failures.recovered('persist', 'last-known-good state written again', { seq: state.seq });
      this.#persistedVersion = Math.max(this.#persistedVersion, version);
    } catch (err) {
      this.#failures.warn('persist', 'cannot write last-known-good state', {
        err,
        stateDir: this.#options.stateDir,
      });
    }
  }
}
