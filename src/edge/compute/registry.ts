// The node's workers: the scripts the event log deployed (each compiled into its isolate before it
// replaces the previous version), the routes of each zone, and the isolates' lifecycle.
//
//   deploy     a new version is loaded (its source and bindings: the event carries only a
//              reference, see common/events/types.ts) and compiled into a fresh isolate; only then
//              does it replace the running version. A version that does not compile is logged and
//              the previous one keeps serving (last known good).
//   run        one isolate per script serves every request of that script, concurrently.
//   evict      an isolate idle for idleMs, the least recently used beyond maxIsolates, or one whose
//              heap grew past 3/4 of its limit is disposed; the script's next request starts a new
//              one (a cold start). An isolate killed by a limit is replaced the same way.
import type { WorkerRoute, WorkerScript } from '../../common/config/worker.ts';
import type { ControlEvent, Snapshot, WorkerScriptRef } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import type { WorkerHost } from './host-functions.ts';
import { WorkerIsolate, type WorkerLimits, type WorkerOutcome, type WorkerRequest } from './isolate.ts';
import { compileRoutes, type CompiledRoute } from './routes.ts';

export interface WorkerRegistryOptions {
  limits: WorkerLimits;
  /** The host functions a zone's workers get (sub-requests, KV, cache, console). */
  hostFor(zoneId: string, scriptName: string): WorkerHost;
  /** Loads a deployed version's source and bindings (from the control plane, or a local copy). */
  load(ref: WorkerScriptRef): Promise<WorkerScript>;
  log: Logger;
  /** Default 256. */
  maxIsolates?: number;
  /** Default 5 minutes. */
  idleMs?: number;
}

interface Entry {
  script: WorkerScript;
  isolate: WorkerIsolate | null;
  starting: Promise<WorkerIsolate> | null;
  /** Cold starts (new isolates) of this script, for metrics and tests. */
  starts: number;
}

const HEAP_CHECK_EVERY = 64;

export class WorkerRegistry {
  readonly #options: WorkerRegistryOptions;
  readonly #scripts = new Map<string, Entry>();
  /** Scripts being loaded for a snapshot: requests wait for them rather than fail. */
  readonly #loading = new Map<string, Promise<void>>();
  readonly #routes = new Map<string, readonly CompiledRoute[]>();
  readonly #sweeper: NodeJS.Timeout;
  #seq = 0;
  /** Requests by outcome ('response', or a failure reason), and cold starts, since the start. */
  readonly outcomes = new Map<string, number>();
  coldStarts = 0;

  constructor(options: WorkerRegistryOptions) {
    this.#options = options;
    const idleMs = options.idleMs ?? 300_000;
    this.#sweeper = setInterval(() => this.#sweep(idleMs), Math.max(1000, Math.min(30_000, idleMs / 2)));
    this.#sweeper.unref();
  }

  /** The zone's compiled routes, undefined when it has none (compute is then a map miss). */
  routesFor(zoneId: string): readonly CompiledRoute[] | undefined {
    return this.#routes.get(zoneId);
  }

  setRoutes(zoneId: string, routes: readonly WorkerRoute[]): void {
    const compiled = compileRoutes(routes);
    if (compiled === null) this.#routes.delete(zoneId);
    else this.#routes.set(zoneId, compiled);
  }

  script(zoneId: string, name: string): WorkerScript | undefined {
    return this.#scripts.get(keyOf(zoneId, name))?.script;
  }

  /** Cold starts of a script so far. */
  startsOf(zoneId: string, name: string): number {
    return this.#scripts.get(keyOf(zoneId, name))?.starts ?? 0;
  }

  /** Compiles `script` into a new isolate, then makes it the running version. Throws ScriptError. */
  async deploy(script: WorkerScript): Promise<void> {
    const key = keyOf(script.zone_id, script.name);
    const current = this.#scripts.get(key);
    if (
      current !== undefined &&
      current.script.etag === script.etag &&
      sameBindings(current.script, script)
    ) {
      current.script = script;
      return;
    }
    const isolate = await this.#create(script);
    const entry: Entry = { script, isolate, starting: null, starts: (current?.starts ?? 0) + 1 };
    this.#scripts.set(key, entry);
    // The old version finishes its in-flight requests; its isolate is dropped when they are done.
    if (current?.isolate) retire(current.isolate);
  }

  remove(zoneId: string, name: string): void {
    const key = keyOf(zoneId, name);
    const entry = this.#scripts.get(key);
    this.#scripts.delete(key);
    if (entry?.isolate) retire(entry.isolate);
  }

  /**
   * Runs the script for one request. null: no such script here (not deployed, or deleted after the
   * route was matched).
   */
  async run(
    zoneId: string,
    name: string,
    req: WorkerRequest,
    afterResponse: (work: Promise<void>) => void,
  ): Promise<WorkerOutcome | null> {
    const key = keyOf(zoneId, name);
    let entry = this.#scripts.get(key);
    if (entry === undefined) {
      const loading = this.#loading.get(key);
      if (loading !== undefined) await loading;
      entry = this.#scripts.get(key);
      if (entry === undefined) return null;
    }
    let isolate: WorkerIsolate;
    try {
      isolate = await this.#isolateOf(entry);
    } catch (err) {
      return { kind: 'failed', reason: 'exception', message: `the worker did not start: ${String(err)}` };
    }
    const outcome = await isolate.handle(req, afterResponse);
    if (isolate.served % HEAP_CHECK_EVERY === 0) void this.#checkHeap(entry, isolate);
    const label = outcome.kind === 'response' ? 'response' : outcome.reason;
    this.outcomes.set(label, (this.outcomes.get(label) ?? 0) + 1);
    return outcome;
  }

  applySnapshot(snapshot: Snapshot): void {
    this.#routes.clear();
    for (const [zoneId, routes] of Object.entries(snapshot.worker_routes ?? {}))
      this.setRoutes(zoneId, routes);
    const wanted = new Set<string>();
    for (const ref of snapshot.worker_scripts ?? []) {
      const key = keyOf(ref.zone_id, ref.name);
      wanted.add(key);
      const current = this.#scripts.get(key)?.script;
      if (current !== undefined && current.version === ref.version && current.etag === ref.etag) continue;
      this.#loadInBackground(key, ref);
    }
    for (const [key, entry] of this.#scripts) {
      if (!wanted.has(key)) this.remove(entry.script.zone_id, entry.script.name);
    }
    this.#seq = snapshot.seq;
  }

  /** Throws when a deployed version cannot be loaded (the source delivers the event again later). */
  async applyEvent(event: ControlEvent): Promise<void> {
    if (event.seq <= this.#seq) return;
    switch (event.type) {
      case 'worker.script.upsert':
        await this.#upsert(event.script);
        break;
      case 'worker.script.delete':
        this.remove(event.zone_id, event.name);
        break;
      case 'worker.routes.replace':
        this.setRoutes(event.zone_id, event.routes);
        break;
      case 'zone.delete':
        for (const entry of [...this.#scripts.values()]) {
          if (entry.script.zone_id === event.zone_id) this.remove(event.zone_id, entry.script.name);
        }
        this.#routes.delete(event.zone_id);
        break;
      default:
        break;
    }
    this.#seq = event.seq;
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const entry of this.#scripts.values()) entry.isolate?.dispose();
    this.#scripts.clear();
  }

  async #upsert(ref: WorkerScriptRef): Promise<void> {
    const current = this.#scripts.get(keyOf(ref.zone_id, ref.name))?.script;
    if (current !== undefined && current.version === ref.version && current.etag === ref.etag) return;
    const script = await this.#options.load(ref);
    try {
      await this.deploy(script);
    } catch (err) {
      // The control plane compiled it on upload; a node that cannot keeps the previous version.
      this.#options.log.error('worker version does not compile here: the previous version keeps serving', {
        zone_id: ref.zone_id,
        script: ref.name,
        version: ref.version,
        error: String(err),
      });
    }
  }

  #loadInBackground(key: string, ref: WorkerScriptRef): void {
    const task = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#upsert(ref);
          return;
        } catch (err) {
          if (attempt === 0 || attempt % 10 === 0) {
            this.#options.log.warn('worker script not loaded yet, retrying', {
              script: ref.name,
              error: String(err),
            });
          }
          if (attempt >= 30) return;
          await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)).unref());
        }
      }
    })().finally(() => {
      if (this.#loading.get(key) === task) this.#loading.delete(key);
    });
    this.#loading.set(key, task);
  }

  #isolateOf(entry: Entry): Promise<WorkerIsolate> | WorkerIsolate {
    if (entry.isolate !== null && entry.isolate.isAlive) return entry.isolate;
    entry.isolate = null;
    entry.starting ??= this.#create(entry.script).then(
      (isolate) => {
        entry.starting = null;
        entry.starts++;
        // Deployed again meanwhile: this isolate runs an old version.
        if (this.#scripts.get(keyOf(entry.script.zone_id, entry.script.name)) !== entry) retire(isolate);
        else entry.isolate = isolate;
        return isolate;
      },
      (err: unknown) => {
        entry.starting = null;
        throw err;
      },
    );
    return entry.starting;
  }

  /** Isolates alive now. */
  liveIsolates(): number {
    let n = 0;
    for (const entry of this.#scripts.values()) if (entry.isolate?.isAlive === true) n++;
    return n;
  }

  #create(script: WorkerScript): Promise<WorkerIsolate> {
    this.#evictBeyondMax();
    this.coldStarts++;
    return WorkerIsolate.create(
      script.source,
      script.bindings,
      this.#options.limits,
      this.#options.hostFor(script.zone_id, script.name),
    );
  }

  async #checkHeap(entry: Entry, isolate: WorkerIsolate): Promise<void> {
    const used = await isolate.heapUsedBytes();
    if (used > this.#options.limits.memoryMb * 1024 * 1024 * 0.75 && entry.isolate === isolate) {
      entry.isolate = null;
      retire(isolate);
    }
  }

  #sweep(idleMs: number): void {
    const now = Date.now();
    for (const entry of this.#scripts.values()) {
      const isolate = entry.isolate;
      if (isolate !== null && isolate.inFlight === 0 && now - isolate.lastUsedMs > idleMs) {
        entry.isolate = null;
        isolate.dispose();
      }
    }
  }

  #evictBeyondMax(): void {
    const max = this.#options.maxIsolates ?? 256;
    const live = [...this.#scripts.values()].filter((e) => e.isolate !== null);
    if (live.length < max) return;
    live.sort((a, b) => (a.isolate as WorkerIsolate).lastUsedMs - (b.isolate as WorkerIsolate).lastUsedMs);
    for (const entry of live.slice(0, live.length - max + 1)) {
      const isolate = entry.isolate as WorkerIsolate;
      entry.isolate = null;
      retire(isolate);
    }
  }
}

function keyOf(zoneId: string, name: string): string {
  return `${zoneId}/${name}`;
}

function sameBindings(a: WorkerScript, b: WorkerScript): boolean {
  return JSON.stringify(a.bindings) === JSON.stringify(b.bindings);
}

/** Disposes of an isolate once its in-flight requests are done (at most 30 s later). */
function retire(isolate: WorkerIsolate): void {
  const deadline = Date.now() + 30_000;
  const check = (): void => {
    if (isolate.inFlight === 0 || Date.now() > deadline) isolate.dispose();
    else setTimeout(check, 50).unref();
  };
  check();
}
