// Prewarm (docs/media.md): a `prewarm` event from the log names URLs and PoPs. A node of a chosen
// PoP loads the URLs it owns (the PoP's rendezvous owner for the URL's key, as a client's request
// would be routed), a few at a time, through ordinary fetch tasks (collapsed with clients' misses,
// routed through the shield), and reports its progress to the control plane as it goes: at the
// start (how many it owns), at most every 250 ms, and at the end. Applying the event never waits
// for the loading, so the log moves on.
import type { Prewarm } from '../../common/config/prewarm.ts';
import type { Logger } from '../../common/log.ts';
import { primaryKeyOf } from '../cache/key.ts';
import { compressionPlanOf } from '../fetch/compression.ts';
import type { FetchSpec } from '../fetch/fetch-task.ts';
import { FetchTask } from '../fetch/fetch-task.ts';
import { streamingPlanOf } from '../fetch/streaming.ts';
import type { EdgeRuntime } from '../runtime.ts';

export interface PrewarmProgress {
  prewarm_id: string;
  total: number;
  done: number;
  failed: number;
}

export interface PrewarmerOptions {
  runtime: EdgeRuntime;
  report(progress: PrewarmProgress): Promise<void>;
  log: Logger;
  /** URLs loaded at once. Default 4. */
  concurrency?: number;
}

const REPORT_EVERY_MS = 250;

export class Prewarmer {
  readonly #options: PrewarmerOptions;
  readonly #seen = new Set<string>();

  constructor(options: PrewarmerOptions) {
    this.#options = options;
  }

  /** Starts loading this node's part (once per prewarm id); returns at once. */
  apply(prewarm: Prewarm): void {
    const cluster = this.#options.runtime.cluster;
    if (cluster === null || this.#seen.has(prewarm.id)) return;
    if (prewarm.pops !== null && !prewarm.pops.includes(cluster.self.pop)) return;
    this.#seen.add(prewarm.id);
    void this.#load(prewarm).catch((err: unknown) =>
      this.#options.log.warn('prewarm failed', { prewarm: prewarm.id, err }),
    );
  }

  async #load(prewarm: Prewarm): Promise<void> {
    const specs = this.#owned(prewarm);
    const progress: PrewarmProgress = { prewarm_id: prewarm.id, total: specs.length, done: 0, failed: 0 };
    await this.#send(progress);
    let lastReport = Date.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < specs.length) {
        const spec = specs[next++] as FetchSpec;
        if (await this.#fetch(spec)) progress.done++;
        else progress.failed++;
        if (Date.now() - lastReport >= REPORT_EVERY_MS) {
          lastReport = Date.now();
          void this.#send({ ...progress });
        }
      }
    };
    await Promise.all(Array.from({ length: this.#options.concurrency ?? 4 }, worker));
    await this.#send(progress);
  }

  /** The fills for the URLs this node owns in its PoP. */
  #owned(prewarm: Prewarm): FetchSpec[] {
    const runtime = this.#options.runtime;
    const cluster = runtime.cluster;
    if (cluster === null) return [];
    const specs: FetchSpec[] = [];
    for (const file of prewarm.files) {
      let url: URL;
      try {
        url = new URL(file);
      } catch {
        continue;
      }
      const zone = runtime.resolveZone(url.hostname);
      const origin = zone?.pickOrigin();
      if (zone === undefined || origin === undefined) continue;
      const scheme = url.protocol === 'https:' ? 'https' : 'http';
      const target = `${url.pathname}${url.search}`;
      const decision = zone.decide({ method: 'GET', host: url.host, target, headers: {}, scheme });
      if (decision.bypass) continue;
      const owner = cluster.membership.ranked(cluster.self.pop, decision.primaryKey)[0];
      if (owner !== undefined && owner.name !== cluster.self.name) continue;
      const key = runtime.cache.variantKeyFor(decision.primaryKey, {}, decision.keyExtra);
      specs.push({
        primaryKey: decision.primaryKey,
        key,
        keyExtra: decision.keyExtra,
        policy: zone.policy,
        rules: decision,
        origin,
        maxObjectBytes: Math.min(
          runtime.config.maxObjectBytes,
          zone.zone.settings.max_object_size ?? Infinity,
        ),
        url: primaryKeyOf(scheme, url.host, target),
        path: target,
        upstreamHeaders: {
          host: origin.hostHeader ?? url.host,
          via: runtime.via,
          'x-forwarded-proto': scheme,
        },
        clientHeaders: {},
        stored: null,
        background: true,
        route: cluster.plan(zone.zone.shield_pop, decision.primaryKey, null, url.host, target, scheme),
        compression: compressionPlanOf(zone.zone.settings),
        streaming: streamingPlanOf(zone.zone.settings),
        range: null,
      });
    }
    return specs;
  }

  /** Loads one URL (already stored: done); true when it is stored. */
  async #fetch(spec: FetchSpec): Promise<boolean> {
    const runtime = this.#options.runtime;
    const found = runtime.cache.lookup(spec.primaryKey, {}, spec.keyExtra);
    if (found.kind === 'found') return true;
    const { task } = runtime.inflight.join(spec.key, () => new FetchTask(runtime.fetchDeps, spec));
    const outcome = await task.outcome;
    if (outcome.kind === 'revalidated') return true;
    if (outcome.kind !== 'fill') return false;
    try {
      for await (const chunk of outcome.fill.createReader()) void chunk;
    } catch {
      return false;
    }
    return outcome.fill.error === null;
  }

  async #send(progress: PrewarmProgress): Promise<void> {
    try {
      await this.#options.report(progress);
    } catch (err) {
      this.#options.log.warn('prewarm progress not reported', { prewarm: progress.prewarm_id, err });
    }
  }
}
