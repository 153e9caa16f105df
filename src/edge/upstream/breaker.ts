// A circuit breaker for one origin (passive health). Closed: requests flow, and consecutive failures
// (connection errors, timeouts, 5xx answers) are counted; any success resets the count. Open: after
// `failures` in a row no request is sent, so a dead origin costs nothing and every request fails over
// or fails at once. Half-open: after `cooldownMs` one trial request is let through; its success
// closes the circuit, its failure opens it for another cool-down. Pure: the caller passes the time.

export interface BreakerSettings {
  /** Consecutive failures that open the circuit. */
  readonly failures: number;
  /** How long the circuit stays open before a trial request (ms). */
  readonly cooldownMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A trial that never reports (it cannot happen while every upstream request ends in an answer or a
 * timeout) is forgotten after this, so the circuit cannot stay half-open forever.
 */
const TRIAL_EXPIRY_MS = 120_000;

export class CircuitBreaker {
  readonly settings: BreakerSettings;
  #state: BreakerState = 'closed';
  /** Consecutive failures while closed. */
  #failures = 0;
  #openedAtMs = 0;
  /** Start of the half-open trial in flight; -1 when none. */
  #trialAtMs = -1;

  constructor(settings: BreakerSettings) {
    this.settings = settings;
  }

  /** The state, with an open circuit whose cool-down is over reported as half-open. */
  stateAt(nowMs: number): BreakerState {
    if (this.#state === 'open' && nowMs - this.#openedAtMs >= this.settings.cooldownMs) return 'half-open';
    return this.#state;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** May a request be sent now? Pure: use it to choose among origins, then `acquire` the chosen one. */
  canSend(nowMs: number): boolean {
    switch (this.stateAt(nowMs)) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half-open':
        return this.#trialAtMs === -1 || nowMs - this.#trialAtMs >= TRIAL_EXPIRY_MS;
    }
  }

  /** Claims the right to send one request: always while closed; the single trial when half-open. */
  acquire(nowMs: number): boolean {
    if (!this.canSend(nowMs)) return false;
    if (this.#state !== 'closed') {
      this.#state = 'half-open';
      this.#trialAtMs = nowMs;
    }
    return true;
  }

  onSuccess(): void {
    this.#state = 'closed';
    this.#failures = 0;
    this.#trialAtMs = -1;
  }

  /** Returns true when this failure opened the circuit. */
  onFailure(nowMs: number): boolean {
    switch (this.#state) {
      case 'closed':
        if (++this.#failures < this.settings.failures) return false;
        this.#open(nowMs);
        return true;
      case 'half-open':
        // The trial failed (or a request sent before the circuit opened did): another cool-down.
        this.#open(nowMs);
        return true;
      case 'open':
        // Requests sent before the circuit opened, reporting late: the cool-down stands.
        return false;
    }
  }

  /** Back to closed, forgetting failures (an active health check saw the origin come back). */
  reset(): void {
    this.onSuccess();
  }

  #open(nowMs: number): void {
    this.#state = 'open';
    this.#openedAtMs = nowMs;
    this.#failures = 0;
    this.#trialAtMs = -1;
  }
}
