// Applies purges to this node's cache (docs/purge.md):
//
//   files        each URL's primary keys (every key the zone's cache-key rules may give it) lose
//                all their variants at once, in memory and on disk; `{url, headers}` only the
//                variant those headers select. Soft: the variants' heads are rewritten stale.
//   prefixes, hosts, tags, everything
//                one rule each in cache.invalidations, with this node's time: lookups test objects
//                against it (O(rules), not O(objects)), so the purge costs the same whatever the
//                cache holds. The sweeper then removes (or, soft, expires) the matched objects in
//                the background — through the tag index for tag purges, a walk of both tiers
//                otherwise — and drops a rule after a complete pass that began once no fetch older
//                than the rule was still running: nothing older than it can remain.
//
// Active rules live in stateDir/purge-rules.json, so a restart keeps them until the sweep is done.
//
// A purge takes effect in memory within the call to apply(), before it returns: URL and variant
// purges are noted in cache.invalidations (every variant stored before the purge misses from then
// on) and leave the memory tier and the disk index; rules are added. Nothing on the way waits for
// the disk, so a node that received a purge answers misses for it from the same turn of its event
// loop on. The disk side (unlinks, rewritten heads, purge-rules.json with fsync) finishes in the
// background; it is registered with edge/sync/state-writes.ts, so last-known-good.json and the purge
// receipts wait for it: a crash before it lands leaves the node's saved seq before the purge, and
// the node applies the purge again when it starts.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Purge, PurgeFile } from '../../common/config/purge.ts';
import { normalizePrefix } from '../../common/config/purge.ts';
import type { Logger } from '../../common/log.ts';
import type { Cache, CachedObject } from '../cache/cache.ts';
import type { InvalidationRule } from '../cache/invalidation.ts';
import { purgeClockMs } from '../cache/invalidation.ts';
import type { ZoneRuntime } from '../zones/types.ts';
import { primaryKeysForUrl, primaryKeysForUrlBothSchemes } from '../zones/zone-table.ts';
import { trackStateWrite } from '../sync/state-writes.ts';
import { loadRules, saveRules } from './rules-file.ts';

export interface PurgerOptions {
  cache: Cache;
  /** The zone a purge names (its hostnames scope tag and everything purges; its rules give URL keys). */
  zoneOf: (zoneId: string) => ZoneRuntime | undefined;
  /** Where purge-rules.json lives; null: rules are not persisted (tests, memory-only caches). */
  stateDir: string | null;
  log: Logger;
  /** Objects the sweeper examines per turn of the event loop (default 2000). */
  sweepBatch?: number;
  /** Wait before another pass when old fetches still run (default 1 s). */
  retryMs?: number;
  now?: () => number;
}

export class Purger {
  readonly #cache: Cache;
  readonly #options: PurgerOptions;
  readonly #now: () => number;
  #sweeping: Promise<void> | null = null;
  #closed = false;
  /** The disk side of applied purges, under way. */
  readonly #writes = new Set<Promise<void>>();
  /** purge-rules.json: the write under way, and whether the rules changed since it began. */
  #rulesWrite: Promise<void> | null = null;
  #isRulesDirty = false;
  /** Completed sweep passes (tests and metrics). */
  passes = 0;

  constructor(options: PurgerOptions) {
    this.#cache = options.cache;
    this.#options = options;
    this.#now = options.now ?? purgeClockMs;
    if (options.stateDir !== null) {
      try {
        for (const rule of loadRules(options.stateDir)) this.#cache.invalidations.addRule(rule);
      } catch (err) {
        // An unreadable file must not let purged objects back: treat the whole cache as purged.
        options.log.warn('purge-rules.json unreadable: purging the whole cache', { err });
        this.#addRules([everything(`unreadable-${this.#now()}`, this.#now())]);
      }
    }
    if (this.#cache.invalidations.rules.length > 0) this.#sweep();
  }

  /** Active rules (prefix, host, tag, everything) not yet swept. */
  get activeRules(): readonly InvalidationRule[] {
    return this.#cache.invalidations.rules;
  }

  /**
   * Applies one purge. Lookups can no longer return what it purged once this returns (synchronously:
   * the returned promise is already resolved, so a caller that awaits it resumes before any I/O
   * callback, e.g. a request, runs). The disk side goes on in the background (see flush()).
   */
  apply(purge: Purge): Promise<void> {
    const nowMs = this.#now();
    const zone = this.#options.zoneOf(purge.zone_id);
    if (purge.files !== undefined) {
      for (const file of purge.files) this.#purgeFile(zone, file, purge.soft, nowMs);
      return Promise.resolve();
    }
    const hosts = zone?.zone.hostnames ?? null;
    const rule = (
      i: number,
      kind: InvalidationRule['kind'],
      value: string,
      scoped: boolean,
    ): InvalidationRule => ({
      id: `${purge.id}/${i}`,
      kind,
      value,
      hosts: scoped ? hosts : null,
      soft: purge.soft,
      atMs: nowMs,
    });
    const rules: InvalidationRule[] = [];
    purge.prefixes?.forEach((p, i) => rules.push(rule(i, 'prefix', normalizePrefix(p), false)));
    purge.hosts?.forEach((h, i) => rules.push(rule(i, 'host', h, false)));
    purge.tags?.forEach((t, i) => rules.push(rule(i, 'tag', t, true)));
    if (purge.purge_everything === true) rules.push(rule(0, 'everything', '', true));
    this.#addRules(rules);
    return Promise.resolve();
  }

  /** Resolves once the disk side of every purge applied so far has landed (or failed, logged). */
  async flush(): Promise<void> {
    while (this.#writes.size > 0) await Promise.all([...this.#writes]);
  }

  /** Purges every object of every zone (a node that cannot know which purges it missed). */
  purgeEverything(reason: string): void {
    this.#addRules([everything(`${reason}-${this.#now()}`, this.#now())]);
  }

  /** Stops the sweeper (rules stay on disk; the next start resumes) once the disk side has landed. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#sweeping;
    await this.flush();
  }

  /**
   * In effect at once: the cache notes the purge time first, then starts removing (or expiring). A
   * URL names its resource under both schemes: http and https are stored apart (cache/key.ts), and a
   * purge of "https://host/p" must not leave the copy a client fetched over http (issue 20).
   */
  #purgeFile(zone: ZoneRuntime | undefined, file: PurgeFile, soft: boolean, nowMs: number): void {
    const cache = this.#cache;
    if (typeof file === 'string') {
      for (const primaryKey of primaryKeysForUrlBothSchemes(zone, file) ?? []) {
        this.#background(soft ? cache.expireUrl(primaryKey, nowMs) : cache.removeUrl(primaryKey, nowMs));
      }
      return;
    }
    const url = new URL(file.url);
    this.#purgeVariant(zone, url, file.headers, soft, nowMs);
    url.protocol = url.protocol === 'https:' ? 'http:' : 'https:';
    this.#purgeVariant(zone, url, file.headers, soft, nowMs);
  }

  /** One variant: the key a GET with these headers gets (cache-key rules and Vary included). */
  #purgeVariant(
    zone: ZoneRuntime | undefined,
    url: URL,
    given: Record<string, string>,
    soft: boolean,
    nowMs: number,
  ): void {
    const cache = this.#cache;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(given)) headers[name.toLowerCase()] = value;
    const target = `${url.pathname}${url.search}`;
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const decision = zone?.decide({ method: 'GET', host: url.host, target, headers, scheme });
    const primaryKey = decision?.primaryKey ?? primaryKeysForUrl(undefined, url.href)?.[0];
    if (primaryKey === undefined) return;
    const key = cache.variantKeyFor(primaryKey, headers, decision?.keyExtra ?? '');
    // Also what refuses a fill of this variant that started before the purge and lands after it.
    cache.invalidations.noteKeyPurge(key, soft, nowMs);
    this.#background(soft ? cache.expireKey(key, nowMs) : cache.removeKey(key));
  }

  /** Tracks the disk side of a purge (flush(), and the node's state writes wait for it). */
  #background(work: Promise<unknown>): void {
    this.#track(
      work.then(
        () => undefined,
        (err: unknown) => this.#options.log.warn('purge: removing from the disk tier failed', { err }),
      ),
    );
  }

  /** A disk write under way: flush() waits for it, and so do the node's state writes. */
  #track(write: Promise<void>): void {
    this.#writes.add(write);
    void write.then(() => this.#writes.delete(write));
    if (this.#options.stateDir !== null) trackStateWrite(this.#options.stateDir, write);
  }

  #addRules(rules: readonly InvalidationRule[]): void {
    if (rules.length === 0) return;
    for (const rule of rules) this.#cache.invalidations.addRule(rule);
    this.#persist();
    this.#sweep();
  }

  /**
   * Writes purge-rules.json with the current rules, in the background. One write at a time; changes
   * made while one is under way are written by one more write after it (its promise is tracked).
   */
  #persist(): void {
    const stateDir = this.#options.stateDir;
    if (stateDir === null) return;
    if (this.#rulesWrite !== null) {
      this.#isRulesDirty = true;
      return;
    }
    const write = (async () => {
      do {
        this.#isRulesDirty = false;
        try {
          await saveRules(stateDir, this.#cache.invalidations.rules);
        } catch (err) {
          this.#options.log.warn('cannot write purge-rules.json', { err });
        }
      } while (this.#isRulesDirty);
      // Here, not in a .finally(): a change between the last check and a later callback would be lost.
      this.#rulesWrite = null;
    })();
    this.#rulesWrite = write;
    this.#track(write);
  }

  #sweep(): void {
    if (this.#sweeping !== null || this.#closed) return;
    // Started on a later turn, and after purge-rules.json is written: applying a purge never pays
    // for any part of the sweep, and the sweep does not hold up the write (nor the receipt, which
    // waits for it).
    this.#sweeping = nextTurn()
      .then(() => this.#rulesWrite)
      .then(() => this.#sweepUntilDone())
      .catch((err: unknown) => this.#options.log.warn('purge sweep failed', { err }))
      .finally(() => {
        this.#sweeping = null;
        if (this.#cache.invalidations.rules.length > 0 && !this.#closed) {
          setTimeout(() => this.#sweep(), this.#options.retryMs ?? 1000).unref();
        }
      });
  }

  async #sweepUntilDone(): Promise<void> {
    const invalidations = this.#cache.invalidations;
    while (!this.#closed && invalidations.rules.length > 0) {
      const passStartMs = this.#now();
      const oldestFillMs = this.#cache.oldestFillStartMs();
      // A rule is done after this pass if every object older than it exists now (no fetch that
      // started before it is still running) and the pass sees them all.
      const covered = invalidations.rules.filter((r) => r.atMs < passStartMs && r.atMs < oldestFillMs);
      if (covered.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, this.#options.retryMs ?? 1000).unref());
        continue;
      }
      const tagsOnly = covered.every((r) => r.kind === 'tag');
      const ok = tagsOnly ? await this.#pass(this.#tagged(covered)) : await this.#pass(this.#everyObject());
      if (!ok) return;
      for (const rule of covered) {
        invalidations.removeRule(rule);
        if (
          rule.kind === 'tag' &&
          !invalidations.rules.some((r) => r.kind === 'tag' && r.value === rule.value)
        )
          this.#cache.dropTag(rule.value);
      }
      this.passes += 1;
      this.#persist();
    }
  }

  *#everyObject(): Generator<CachedObject> {
    yield* this.#cache.memory.objects();
    yield* this.#cache.disk.objects();
  }

  *#tagged(rules: readonly InvalidationRule[]): Generator<CachedObject> {
    for (const tag of new Set(rules.map((r) => r.value))) {
      for (const key of this.#cache.keysTagged(tag)) {
        const object = this.#cache.memory.peek(key) ?? this.#cache.disk.get(key);
        if (object !== undefined) yield object;
      }
    }
  }

  /** Removes or expires what the active rules match; false when closed midway. */
  async #pass(objects: Iterable<CachedObject>): Promise<boolean> {
    const batch = this.#options.sweepBatch ?? 2000;
    const cache = this.#cache;
    let seen = 0;
    let work: Promise<unknown>[] = [];
    for (const object of objects) {
      const invalidated = cache.invalidations.check(object.meta);
      if (invalidated !== null) {
        work.push(
          invalidated.soft
            ? cache.expireKey(object.meta.key, invalidated.atMs)
            : cache.removeKey(object.meta.key),
        );
      }
      if (++seen % batch === 0 || work.length >= 64) {
        await Promise.allSettled(work);
        work = [];
        if (seen % batch === 0) await nextTurn();
        if (this.#closed) return false;
      }
    }
    await Promise.allSettled(work);
    return !this.#closed;
  }
}

function everything(id: string, atMs: number): InvalidationRule {
  return { id, kind: 'everything', value: '', hosts: null, soft: false, atMs };
}
