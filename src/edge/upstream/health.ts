// Origin health on one node: active checks (GET a path every interval, with thresholds) and passive
// health (a circuit breaker fed by real requests). An origin may be sent a request when its checks
// say up and its circuit allows; the fetch path asks before every attempt (failover.ts).
//
// Records live in a per-node registry keyed by OriginHealthSettings.key (same server, same Host
// header, same settings), not in the compiled zone: zones are recompiled on every zone or rule change
// and must not forget health then, and zones that share an origin share what is known about it (a
// dead server found by one zone's requests is skipped by every zone at once, with one checker).
//
// Records are created when a request first uses one of a zone's origins (for all of that zone's
// origins at once) and dropped after a sweep period without use, which also stops their checks: a
// node checks the origins it sends traffic to, not every origin of every zone in the configuration,
// and a zone's removed or changed origins stop being checked by themselves. The weighted pick does
// not look at health (failover.ts does, per attempt), so every origin of a zone with traffic keeps
// being used, down or not. A new record starts up (nothing is known against it yet); its first check
// runs at once.
import type { Dispatcher } from 'undici';
import type { OriginChoice } from '../zones/types.ts';
import type { BreakerState } from './breaker.ts';
import { CircuitBreaker } from './breaker.ts';
import type { HealthCheckSettings, OriginHealthSettings } from './health-settings.ts';
import { upstreamPathOf } from './health-settings.ts';

export type HealthTransition = 'down' | 'up' | 'circuit-open' | 'circuit-closed';

export interface HealthEvent {
  /** scheme://host:port */
  readonly origin: string;
  readonly hostHeader: string | null;
  readonly transition: HealthTransition;
}

/** The health of one origin (one key) on this node. */
export class OriginHealth {
  readonly settings: OriginHealthSettings;
  readonly url: URL;
  readonly hostHeader: string | null;
  readonly #breaker: CircuitBreaker;
  readonly #now: () => number;
  readonly #emit: (state: OriginHealth, transition: HealthTransition) => void;
  /** The active checks' verdict; true without checks. */
  #isCheckedUp = true;
  /** Consecutive check results that disagree with the verdict. */
  #streak = 0;
  /** Passive failures seen (metrics). */
  failures = 0;
  /** Used since the registry's last sweep. */
  isTouched = true;

  constructor(
    choice: OriginChoice,
    now: () => number,
    emit: (state: OriginHealth, transition: HealthTransition) => void,
  ) {
    this.settings = choice.health;
    this.url = choice.url;
    this.hostHeader = choice.hostHeader;
    this.#breaker = new CircuitBreaker(choice.health.breaker);
    this.#now = now;
    this.#emit = emit;
  }

  /** May a request go to this origin now? Pure: choose with it, then `acquire` the chosen origin. */
  canSend(): boolean {
    return this.#isCheckedUp && (this.#breaker.isClosed || this.#breaker.canSend(this.#now()));
  }

  /** Claims an attempt: true while up and closed (no clock read); the one trial when half-open. */
  acquire(): boolean {
    if (!this.#isCheckedUp) return false;
    return this.#breaker.isClosed || this.#breaker.acquire(this.#now());
  }

  /** The origin answered: a 5xx counts against it, anything else for it. */
  onAnswer(status: number): void {
    if (status >= 500) return this.onFailure();
    const wasClosed = this.#breaker.isClosed;
    this.#breaker.onSuccess();
    if (!wasClosed) this.#emit(this, 'circuit-closed');
  }

  /** No answer: connection refused or dropped, a timeout, an unparseable response. */
  onFailure(): void {
    this.failures++;
    if (this.#breaker.onFailure(this.#now())) this.#emit(this, 'circuit-open');
  }

  /** One active check's result; thresholds of consecutive results flip the verdict. */
  onCheck(isSuccess: boolean): void {
    if (isSuccess === this.#isCheckedUp) {
      this.#streak = 0;
      return;
    }
    const check = this.settings.check;
    const needed = isSuccess ? check?.healthyThreshold : check?.unhealthyThreshold;
    if (++this.#streak < (needed ?? 1)) return;
    this.#streak = 0;
    this.#isCheckedUp = isSuccess;
    // Back up by its checks: forget the passive failures too (Envoy's uneject on a passing check).
    if (isSuccess && !this.#breaker.isClosed) this.#breaker.reset();
    this.#emit(this, isSuccess ? 'up' : 'down');
  }

  get isCheckedUp(): boolean {
    return this.#isCheckedUp;
  }

  get breakerState(): BreakerState {
    return this.#breaker.stateAt(this.#now());
  }

  /** Requests may go here (checks up, circuit not open). */
  get isUp(): boolean {
    return this.#isCheckedUp && this.breakerState !== 'open';
  }
}

export interface HealthRegistryOptions {
  /** The connection pool for an origin, TLS settings included (checks share it with requests). */
  poolOf(origin: OriginChoice): Dispatcher;
  /** Records unused for a whole period are dropped (ms). Default 5 minutes. */
  sweepMs?: number;
  now?: () => number;
}

export class OriginHealthRegistry {
  readonly #states = new Map<string, OriginHealth>();
  readonly #checks = new Map<OriginHealth, ActiveCheck>();
  readonly #poolOf: (origin: OriginChoice) => Dispatcher;
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;
  #listeners: ((event: HealthEvent) => void)[] = [];
  /** Requests sent to another origin than the one first chosen (metrics). */
  failovers = 0;

  constructor(options: HealthRegistryOptions) {
    this.#poolOf = options.poolOf;
    this.#now = options.now ?? Date.now;
    this.#sweep = setInterval(() => this.sweep(), options.sweepMs ?? 300_000);
    this.#sweep.unref();
  }

  /**
   * The record of an origin: one Map lookup. Created on first use, with the records of the other
   * origins of its zone, so that all of them are checked before a request needs to fail over.
   */
  stateOf(choice: OriginChoice): OriginHealth {
    let state = this.#states.get(choice.health.key);
    if (state === undefined) {
      state = this.#create(choice);
      for (const sibling of choice.group.choices) {
        if (!this.#states.has(sibling.health.key)) this.#create(sibling);
      }
    }
    state.isTouched = true;
    return state;
  }

  /** For WeightedOrigins.pick: may a request go to this origin now? */
  readonly isUsable = (choice: OriginChoice): boolean => this.stateOf(choice).canSend();

  states(): IterableIterator<OriginHealth> {
    return this.#states.values();
  }

  /** Called on every transition (an origin down or up, a circuit opened or closed). */
  observe(listener: (event: HealthEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Drops the records unused since the last sweep (runs by itself every sweep period). */
  sweep(): void {
    for (const [key, state] of this.#states) {
      if (state.isTouched) {
        state.isTouched = false;
        continue;
      }
      this.#states.delete(key);
      this.#checks.get(state)?.stop();
      this.#checks.delete(state);
    }
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const check of this.#checks.values()) check.stop();
    this.#checks.clear();
    this.#states.clear();
  }

  #create(choice: OriginChoice): OriginHealth {
    const state = new OriginHealth(choice, this.#now, (s, transition) => this.#emit(s, transition));
    this.#states.set(choice.health.key, state);
    const check = choice.health.check;
    // The pool is asked for on every check: a renewed client certificate gets a new one.
    if (check !== null) this.#checks.set(state, new ActiveCheck(state, check, () => this.#poolOf(choice)));
    return state;
  }

  #emit(state: OriginHealth, transition: HealthTransition): void {
    const event = { origin: state.url.origin, hostHeader: state.hostHeader, transition };
    for (const listener of this.#listeners) listener(event);
  }
}

/** Runs one origin's checks, one at a time: the next starts an interval after the last ended. */
class ActiveCheck {
  readonly #state: OriginHealth;
  readonly #check: HealthCheckSettings;
  readonly #poolOf: () => Dispatcher;
  #timer: NodeJS.Timeout | null = null;
  #isStopped = false;

  constructor(state: OriginHealth, check: HealthCheckSettings, poolOf: () => Dispatcher) {
    this.#state = state;
    this.#check = check;
    this.#poolOf = poolOf;
    this.#schedule(0);
  }

  stop(): void {
    this.#isStopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => void this.#run(), delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    this.#timer = null;
    const isSuccess = await probe(this.#poolOf(), this.#state, this.#check);
    if (this.#isStopped) return;
    this.#state.onCheck(isSuccess);
    this.#schedule(this.#check.intervalMs);
  }
}

/** GET the check path; a 2xx or 3xx answer within the timeout is a success. Never throws. */
async function probe(pool: Dispatcher, state: OriginHealth, check: HealthCheckSettings): Promise<boolean> {
  try {
    const res = await pool.request({
      method: 'GET',
      path: upstreamPathOf(state.url, check.path),
      headers: { host: state.hostHeader ?? state.url.host, 'user-agent': 'meridian-health-check' },
      headersTimeout: check.timeoutMs,
      bodyTimeout: check.timeoutMs,
      // Covers the connect too, whose pool timeout may be longer than the check's.
      signal: AbortSignal.timeout(check.timeoutMs),
    });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 400;
  } catch {
    return false;
  }
}
