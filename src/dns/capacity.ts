// PoP capacity: how many new users per second DNS may send to a PoP (the PoP's `capacity`; 0 means
// unlimited). Pure: the clock is passed in.
//
// A "user" is a client network: the EDNS Client Subnet (address and source prefix) when the query
// has one, else the resolver's address. A user is new to a PoP when DNS has not sent it there within
// the last `stickyMs`; repeated queries of a user already counted cost nothing, so a resolver that
// re-asks every TTL does not use up the budget. The budget is a sliding window of one second: a PoP
// admits a new user when fewer than `capacity` users were admitted in the last 1000 ms.
export interface CapacityOptions {
  /** How long a user stays counted at the PoP it was sent to (default 5 minutes). */
  stickyMs?: number;
  /** Users remembered at most (oldest forgotten first; default 100000). */
  maxUsers?: number;
}

export class CapacityGate {
  readonly #stickyMs: number;
  readonly #maxUsers: number;
  /** user → the PoP it was last counted at, and until when. Map order is least recently used first. */
  readonly #users = new Map<string, { pop: string; until: number }>();
  /** PoP → ring of admission times (ms); its length is the capacity. */
  readonly #windows = new Map<string, { times: Float64Array; next: number }>();

  constructor(options: CapacityOptions = {}) {
    this.#stickyMs = options.stickyMs ?? 300_000;
    this.#maxUsers = options.maxUsers ?? 100_000;
  }

  /**
   * Whether `user` may be sent to `pop` now; when it may, and is new there, it is counted.
   * capacity 0: unlimited (always admitted).
   */
  admit(pop: string, capacity: number, user: string, now: number): boolean {
    const known = this.#users.get(user);
    if (known !== undefined && known.pop === pop && known.until > now) {
      this.#remember(user, pop, now);
      return true;
    }
    if (capacity > 0 && !this.#take(pop, capacity, now)) return false;
    this.#remember(user, pop, now);
    return true;
  }

  /** The number of users admitted to pop in the last second (for metrics and tests). */
  recent(pop: string, now: number): number {
    const window = this.#windows.get(pop);
    if (window === undefined) return 0;
    let n = 0;
    for (const t of window.times) if (t > now - 1000) n++;
    return n;
  }

  #take(pop: string, capacity: number, now: number): boolean {
    let window = this.#windows.get(pop);
    if (window === undefined || window.times.length !== capacity) {
      window = { times: new Float64Array(capacity).fill(-Infinity), next: 0 };
      this.#windows.set(pop, window);
    }
    // The slot to reuse holds the oldest of the last `capacity` admissions.
    if ((window.times[window.next] as number) > now - 1000) return false;
    window.times[window.next] = now;
    window.next = (window.next + 1) % capacity;
    return true;
  }

  #remember(user: string, pop: string, now: number): void {
    this.#users.delete(user);
    this.#users.set(user, { pop, until: now + this.#stickyMs });
    if (this.#users.size > this.#maxUsers) {
      const oldest = this.#users.keys().next().value;
      if (oldest !== undefined) this.#users.delete(oldest);
    }
  }
}
