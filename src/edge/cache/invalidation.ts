// What purges left behind, as the cache checks it on every lookup and admission:
//
//   urls    primary key → when its URL was last purged (hard or soft). A URL purge removes the
//           variants at once; the time still matters for fills that started before the purge and
//           finish after it (their object must not be stored as fresh), and it is what makes every
//           variant miss at once while the tiers are still removing them.
//   keys    variant key → the same, for a purge of one variant (`{url, headers}`).
//   rules   prefix / host / tag / everything purges, recorded with their time instead of walking
//           the cache (a purge costs the same with ten objects or ten million): an object stored
//           before a matching rule is gone (hard) or stale (soft). The sweeper (edge/purge) removes
//           matched objects in the background and drops a rule once nothing older than it remains.
//
// Times are this node's clock when it applied the purge (not the control plane's): an object whose
// fetch started before the node heard of the purge is covered, clock skew between machines cannot
// leave one out, and an object fetched after that is newer than the purge anyway.
import type { ObjectMeta } from './storage.ts';

/**
 * Wall-clock ms with sub-millisecond precision: the clock of purge times and of fetch starts
 * (ObjectMeta.storedAtMs). A fetch that starts in the same millisecond as a purge, just after it,
 * must not count as older than the purge (its refill would never be stored); whole milliseconds
 * cannot order the two, microseconds can.
 */
export function purgeClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export type RuleKind = 'prefix' | 'host' | 'tag' | 'everything';

export interface InvalidationRule {
  /** Purge id, with the index of the value for purges naming several. */
  readonly id: string;
  readonly kind: RuleKind;
  /** prefix: "host/path" (lower-case host, no port); host: hostname; tag: the tag; everything: ''. */
  readonly value: string;
  /** The zone's hostnames at purge time (tag and everything are per zone); null: every object. */
  readonly hosts: readonly string[] | null;
  readonly soft: boolean;
  /** When this node applied the purge (ms since the epoch). */
  readonly atMs: number;
}

/** Why a stored object may not be used as it is. */
export interface Invalidated {
  readonly soft: boolean;
  /** The purge's time: a soft purge makes the object stale from then on. */
  readonly atMs: number;
}

interface PurgeTimes {
  hardAtMs: number;
  softAtMs: number;
}

/** URL purge times kept at least this long (fills rarely take longer), and at most this many beyond that. */
const URL_PURGE_MIN_KEEP_MS = 600_000;
const URL_PURGE_SOFT_LIMIT = 100_000;

export class Invalidations {
  readonly #urls = new Map<string, PurgeTimes>();
  readonly #keys = new Map<string, PurgeTimes>();
  #rules: InvalidationRule[] = [];
  readonly #hostSets = new Map<InvalidationRule, ReadonlySet<string>>();
  /** The newest time of any purge: an object stored after it needs no further check. */
  #newestAtMs = -Infinity;

  /** Nothing to check (the common case: one comparison per lookup). */
  get isEmpty(): boolean {
    return this.#rules.length === 0 && this.#urls.size === 0 && this.#keys.size === 0;
  }

  get rules(): readonly InvalidationRule[] {
    return this.#rules;
  }

  /** The rules to persist (edge/purge writes them to disk so they survive a restart). */
  addRule(rule: InvalidationRule): void {
    this.#rules = [...this.#rules.filter((r) => r.id !== rule.id), rule];
    if (rule.hosts !== null) this.#hostSets.set(rule, new Set(rule.hosts));
    this.#newestAtMs = Math.max(this.#newestAtMs, rule.atMs);
  }

  removeRule(rule: InvalidationRule): void {
    this.#rules = this.#rules.filter((r) => r !== rule);
    this.#hostSets.delete(rule);
  }

  /** Every variant of the URL (its primary key) stored until `atMs` is purged. */
  noteUrlPurge(primaryKey: string, soft: boolean, atMs: number): void {
    this.#note(this.#urls, primaryKey, soft, atMs);
  }

  /** The one variant (its variant key) stored until `atMs` is purged. */
  noteKeyPurge(key: string, soft: boolean, atMs: number): void {
    this.#note(this.#keys, key, soft, atMs);
  }

  #note(times: Map<string, PurgeTimes>, key: string, soft: boolean, atMs: number): void {
    const entry = times.get(key) ?? { hardAtMs: -Infinity, softAtMs: -Infinity };
    if (soft) entry.softAtMs = Math.max(entry.softAtMs, atMs);
    else entry.hardAtMs = Math.max(entry.hardAtMs, atMs);
    // Re-inserted at the end: the map stays in time order, so the oldest are trimmed first.
    times.delete(key);
    times.set(key, entry);
    this.#newestAtMs = Math.max(this.#newestAtMs, atMs);
    if (times.size <= URL_PURGE_SOFT_LIMIT) return;
    for (const [old, at] of times) {
      if (Math.max(at.hardAtMs, at.softAtMs) > atMs - URL_PURGE_MIN_KEEP_MS) break;
      times.delete(old);
    }
  }

  /** null: usable as stored. Otherwise hard (gone) wins over soft (stale since atMs). */
  check(meta: ObjectMeta): Invalidated | null {
    if (meta.storedAtMs > this.#newestAtMs) return null;
    let soft = byTimes(this.#urls.get(meta.primaryKey), meta.storedAtMs, null);
    if (this.#keys.size > 0) soft = byTimes(this.#keys.get(meta.key), meta.storedAtMs, soft);
    if (soft?.soft === false) return soft;
    if (this.#rules.length === 0) return soft;
    const target = targetOf(meta.url);
    for (const rule of this.#rules) {
      if (meta.storedAtMs > rule.atMs || !this.#matches(rule, meta, target)) continue;
      if (!rule.soft) return { soft: false, atMs: rule.atMs };
      if (soft === null || rule.atMs > soft.atMs) soft = { soft: true, atMs: rule.atMs };
    }
    return soft;
  }

  #matches(rule: InvalidationRule, meta: ObjectMeta, target: UrlTarget): boolean {
    const hosts = this.#hostSets.get(rule);
    if (hosts !== undefined && !hosts.has(target.host)) return false;
    switch (rule.kind) {
      case 'everything':
        return true;
      case 'host':
        return target.host === rule.value;
      case 'prefix':
        return target.hostPath.startsWith(rule.value);
      case 'tag':
        return meta.tags.includes(rule.value);
    }
  }
}

/** What purge times impose on an object stored at `storedAtMs`: a hard purge, or the later soft one. */
function byTimes(
  times: PurgeTimes | undefined,
  storedAtMs: number,
  soft: Invalidated | null,
): Invalidated | null {
  if (times === undefined || soft?.soft === false) return soft;
  if (storedAtMs <= times.hardAtMs) return { soft: false, atMs: times.hardAtMs };
  if (storedAtMs <= times.softAtMs && (soft === null || times.softAtMs > soft.atMs))
    return { soft: true, atMs: times.softAtMs };
  return soft;
}

export interface UrlTarget {
  /** Lower-case host without port. */
  host: string;
  /** host + path and query, without scheme and port: what prefix purges match. */
  hostPath: string;
}

/** scheme://host[:port]/path?query → { host, hostPath }. */
export function targetOf(url: string): UrlTarget {
  const start = url.indexOf('://') + 3;
  let end = url.indexOf('/', start);
  if (end === -1) end = url.length;
  const authority = url.slice(start, end).toLowerCase();
  const colon = authority.lastIndexOf(':');
  const host = colon !== -1 && !authority.endsWith(']') ? authority.slice(0, colon) : authority;
  return { host, hostPath: `${host}${url.slice(end) || '/'}` };
}
