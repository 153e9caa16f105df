// Which certificate a TLS handshake gets for its SNI name. Pure: no I/O, no clock of its own.
//
// Lookups are two Map gets (the exact name, then the wildcard of its parent domain), so a node
// holding thousands of certificates does the same work per handshake as one holding three.
//
// RFC 6125 §6.4.3: a wildcard is the whole left-most label ("*.example.com") and covers exactly one
// label: a.example.com, not example.com and not a.b.example.com. Partial-label wildcards
// ("f*.example.com") are not honoured: such a host name never matches.

/** What selection needs to know of a certificate. */
export interface SniCandidate {
  readonly id: string;
  /** DNS names covered (any case; "*.example.com" covers one label). */
  readonly hosts: readonly string[];
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

export type SniMatch = 'exact' | 'wildcard';

export interface SniChoice<C extends SniCandidate> {
  candidate: C;
  match: SniMatch;
}

/** The SNI name as a lookup key: lower case, without a trailing dot (RFC 6066 §3 says none is sent). */
export function normalizeServerName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** The parent domain of a wildcard host ("*.example.com" → "example.com"), or null if not a wildcard. */
function wildcardParent(host: string): string | null {
  if (!host.startsWith('*.')) return null;
  const parent = host.slice(2);
  return parent === '' || parent.includes('*') ? null : parent;
}

/** Is `c` valid at `nowMs` (RFC 5280 §4.1.2.5: notBefore ≤ now ≤ notAfter; we treat notAfter as the end)? */
export function isValidAt(c: SniCandidate, nowMs: number): boolean {
  return c.notBeforeMs <= nowMs && nowMs < c.notAfterMs;
}

/**
 * Orders two candidates: a valid one beats one that is not (expired or not yet valid); among
 * equals, the later expiry wins (a renewal overlaps its predecessor), then the id (stable result).
 */
function isBetter(a: SniCandidate, b: SniCandidate, nowMs: number): boolean {
  const va = isValidAt(a, nowMs);
  const vb = isValidAt(b, nowMs);
  if (va !== vb) return va;
  if (a.notAfterMs !== b.notAfterMs) return a.notAfterMs > b.notAfterMs;
  return a.id > b.id;
}

function best<C extends SniCandidate>(set: ReadonlySet<C> | undefined, nowMs: number): C | null {
  if (set === undefined) return null;
  let chosen: C | null = null;
  for (const c of set) if (chosen === null || isBetter(c, chosen, nowMs)) chosen = c;
  return chosen;
}

export class SniIndex<C extends SniCandidate> {
  /** Exact host → the certificates naming it. */
  readonly #exact = new Map<string, Set<C>>();
  /** Parent domain → the certificates naming "*.<parent>". */
  readonly #wildcard = new Map<string, Set<C>>();
  readonly #byId = new Map<string, C>();

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): C | undefined {
    return this.#byId.get(id);
  }

  values(): IterableIterator<C> {
    return this.#byId.values();
  }

  /** Adds `candidate`, replacing the one with its id. */
  put(candidate: C): void {
    this.delete(candidate.id);
    this.#byId.set(candidate.id, candidate);
    for (const { map, key } of this.#keysOf(candidate)) {
      let set = map.get(key);
      if (set === undefined) map.set(key, (set = new Set()));
      set.add(candidate);
    }
  }

  delete(id: string): C | undefined {
    const old = this.#byId.get(id);
    if (old === undefined) return undefined;
    this.#byId.delete(id);
    for (const { map, key } of this.#keysOf(old)) {
      const set = map.get(key);
      set?.delete(old);
      if (set?.size === 0) map.delete(key);
    }
    return old;
  }

  /**
   * The certificate for `serverName` at `nowMs`, or null when none covers it. An exact name beats a
   * wildcard, except that an expired (or not yet valid) certificate is never chosen while a valid one
   * covers the name: a valid wildcard beats an expired exact certificate. When only invalid ones
   * cover the name, an exact one, else the latest-expiring wildcard, is chosen: the client's error
   * then names the real problem (expired) rather than a name mismatch.
   */
  select(serverName: string, nowMs: number): SniChoice<C> | null {
    const name = normalizeServerName(serverName);
    const exact = best(this.#exact.get(name), nowMs);
    if (exact !== null && isValidAt(exact, nowMs)) return { candidate: exact, match: 'exact' };
    const dot = name.indexOf('.');
    const wildcard = dot <= 0 ? null : best(this.#wildcard.get(name.slice(dot + 1)), nowMs);
    if (wildcard !== null && (exact === null || isValidAt(wildcard, nowMs)))
      return { candidate: wildcard, match: 'wildcard' };
    return exact === null ? null : { candidate: exact, match: 'exact' };
  }

  *#keysOf(c: C): Generator<{ map: Map<string, Set<C>>; key: string }> {
    for (const raw of new Set(c.hosts.map(normalizeServerName))) {
      const parent = wildcardParent(raw);
      if (parent !== null) yield { map: this.#wildcard, key: parent };
      else if (!raw.includes('*')) yield { map: this.#exact, key: raw };
    }
  }
}
