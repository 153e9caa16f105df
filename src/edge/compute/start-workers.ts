// Builds a node's workers: the registry of scripts and isolates, the host functions (sub-requests,
// cache, KV), the KV replica, and how deployed versions and KV values are loaded — from the control
// plane with the node's token (managed), kept in <cacheDir>/workers/ (0600: bindings hold secrets)
// so that a node restarted while the control plane is away still runs its last versions.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Counter, Gauge } from 'prom-client';
import { join } from 'node:path';
import type { WorkerScript } from '../../common/config/worker.ts';
import type { ControlEvent, Snapshot, WorkerScriptRef } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import { WORKER_DEFAULTS, type EdgeConfig } from '../config.ts';
import type { EdgeRuntime } from '../runtime.ts';
import type { ControlClient } from '../sync/control-client.ts';
import { NodeWorkerCache } from './cache-binding.ts';
import { KvReplica } from './kv-replica.ts';
import { NodeWorkerHosts } from './node-host.ts';
import { WorkerRegistry } from './registry.ts';
import { ConsoleTail } from './tail.ts';
import type { ZoneRuntime } from '../zones/types.ts';

export interface NodeWorkers {
  readonly registry: WorkerRegistry;
  readonly kv: KvReplica;
  readonly tail: ConsoleTail;
  /** The node's plain listener, for sub-requests that loop back (set once listening). */
  setSelfAddress(address: { host: string; port: number }): void;
  applySnapshot(snapshot: Snapshot): void;
  applyEvent(event: ControlEvent): Promise<void>;
  close(): Promise<void>;
}

export function startWorkers(
  runtime: EdgeRuntime,
  config: EdgeConfig,
  /** The node's (or, with several processes, this worker's) state folder: kept scripts, KV replica. */
  stateDir: string,
  zoneById: (zoneId: string) => ZoneRuntime | undefined,
  control: { client: ControlClient } | null,
  log: Logger,
): NodeWorkers {
  const settings = config.compute ?? WORKER_DEFAULTS;
  let self: { host: string; port: number } | null = null;
  const dir = join(stateDir, 'workers');
  const nodeName = config.nodeName;
  const tail = new ConsoleTail();
  const kv = new KvReplica({
    dir: control === null ? null : stateDir,
    fetchValue: async (ns, key, etag) =>
      control === null ? null : await control.client.kvValue(ns, key, etag, nodeName),
    write:
      control === null
        ? null
        : async (op) => {
            await control.client.kvWrite(op, nodeName);
          },
  });
  const hosts = new NodeWorkerHosts({
    zoneOfHost: (host) => runtime.resolveZone(host)?.zone.id,
    selfAddress: () => self,
    allowsPrivate: (zoneId) => zoneById(zoneId)?.zone.settings.workers_private_subrequests === true,
    kv,
    cache: new NodeWorkerCache(runtime.cache, (zoneId) => zoneById(zoneId)),
    log,
    onConsole: (zoneId, script, level, message) => tail.publish(zoneId, script, level, message),
  });
  const load = async (ref: WorkerScriptRef): Promise<WorkerScript> => {
    const file = join(dir, `${ref.zone_id}__${ref.name}.json`);
    if (control === null) throw new Error(`no control plane to load ${ref.name} from`);
    try {
      const script = await control.client.workerScript(ref, nodeName);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(file, JSON.stringify(script), { mode: 0o600 });
      return script;
    } catch (err) {
      // The control plane is away: the copy kept from the last load, if it is this version.
      const kept = await readFile(file, 'utf8').then(
        (t) => JSON.parse(t) as WorkerScript,
        () => null,
      );
      if (kept !== null && kept.version === ref.version && kept.etag === ref.etag) return kept;
      throw err;
    }
  };
  const registry = new WorkerRegistry({
    limits: { memoryMb: settings.memoryMb, cpuMs: settings.cpuMs, wallMs: settings.wallMs },
    hostFor: (zoneId, script) => hosts.hostFor(zoneId, script),
    load,
    log,
  });
  runtime.compute = registry;
  trackWorkerMetrics(runtime, registry);
  const loadNamespaces = async (): Promise<void> => {
    if (control === null) return;
    for (const ns of kv.namespaces()) {
      try {
        kv.replaceAll(ns.id, await control.client.kvEntries(ns.id, nodeName));
      } catch (err) {
        log.warn('KV namespace not reloaded: serving the local replica', {
          namespace: ns.id,
          error: String(err),
        });
      }
    }
  };
  return {
    registry,
    kv,
    tail,
    setSelfAddress(address) {
      self = {
        host: address.host === '0.0.0.0' || address.host === '::' ? '127.0.0.1' : address.host,
        port: address.port,
      };
    },
    applySnapshot(snapshot) {
      registry.applySnapshot(snapshot);
      kv.setNamespaces(snapshot.kv_namespaces ?? []);
      // A snapshot replaces state the log may not fully cover: every namespace is reloaded whole.
      void loadNamespaces();
    },
    async applyEvent(event) {
      switch (event.type) {
        case 'kv.namespace.upsert':
          kv.upsertNamespace(event.namespace);
          break;
        case 'kv.namespace.delete':
          kv.deleteNamespace(event.id);
          break;
        case 'kv.put':
          kv.applyPut(event.namespace_id, event.entry);
          break;
        case 'kv.delete':
          kv.applyDelete(event.namespace_id, event.key);
          break;
        default:
          await registry.applyEvent(event);
      }
    },
    async close() {
      registry.close();
      await hosts.close();
      kv.close();
    },
  };
}

/** meridian_edge_worker_* on the node's /metrics, read from the registry when scraped. */
function trackWorkerMetrics(runtime: EdgeRuntime, registry: WorkerRegistry): void {
  const registers = [runtime.metrics.registry];
  const reported = new Map<string, number>();
  new Counter({
    name: 'meridian_edge_worker_requests_total',
    help: 'Requests run by edge workers, by outcome: response, exception, cpu, wall, memory (limits), disposed.',
    labelNames: ['outcome'],
    registers,
    collect() {
      for (const [outcome, count] of registry.outcomes) {
        const delta = count - (reported.get(outcome) ?? 0);
        if (delta > 0) this.inc({ outcome }, delta);
        reported.set(outcome, count);
      }
    },
  });
  let reportedStarts = 0;
  new Counter({
    name: 'meridian_edge_worker_cold_starts_total',
    help: 'New worker isolates started (deploys, first requests, and after a limit or eviction).',
    registers,
    collect() {
      if (registry.coldStarts > reportedStarts) this.inc(registry.coldStarts - reportedStarts);
      reportedStarts = registry.coldStarts;
    },
  });
  new Gauge({
    name: 'meridian_edge_worker_isolates',
    help: 'Worker isolates alive on this node.',
    registers,
    collect() {
      this.set(registry.liveIsolates());
    },
  });
}
