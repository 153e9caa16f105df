// Managed certificates: the node follows the certificates of the event log (snapshot
// `certificates`, events certificate.upsert / certificate.delete: metadata only) and, for each
// server or origin_client certificate of a zone its PoP serves, fetches the chain and key with
// GET /internal/v1/certificates/{id}?node=<name>, builds its context once and swaps it into the
// store: new handshakes get it at once, established connections keep theirs, nothing restarts.
// It fetches again when modified_on moves. A failed fetch is retried with backoff while the old
// certificate keeps serving. What it fetched is kept encrypted in the state folder
// (material-cache.ts), so a restart without the control plane still serves the last good ones.
import type { CertificateMaterial, CertificateMeta } from '../../common/config/certificate.ts';
import type { Zone } from '../../common/config/zone.ts';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import type { CertStore } from '../server/cert-store.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from '../sync/backoff.ts';
import { ControlHttpError } from '../sync/control-client.ts';
import type { MaterialCache } from './material-cache.ts';

export interface MaterialFetcher {
  certificate(id: string, nodeName: string, signal?: AbortSignal): Promise<CertificateMaterial>;
}

export interface ManagedSourceOptions {
  store: CertStore;
  fetcher: MaterialFetcher;
  cache: MaterialCache;
  nodeName: string;
  pop: string;
  log: Logger;
  backoff?: BackoffOptions;
  /** Fetches at once. Default 8. */
  concurrency?: number;
}

type ZoneReach = Pick<Zone, 'shield_pop'> & { settings: Pick<Zone['settings'], 'dns_pops'> };

/** Does the node's PoP serve `zone` (the control plane's rule for handing out material)? */
export function popServesZone(zone: ZoneReach, pop: string): boolean {
  const pops = zone.settings.dns_pops;
  return pops === null || pops === undefined || pops.includes(pop) || zone.shield_pop === pop;
}

export class ManagedSource {
  readonly #o: ManagedSourceOptions;
  readonly #closing = new AbortController();
  readonly #zones = new Map<string, ZoneReach>();
  readonly #metas = new Map<string, CertificateMeta>();
  /** id → modified_on of what the store serves. */
  readonly #loaded = new Map<string, string>();
  /** id → failed attempts in a row (backoff). */
  readonly #attempts = new Map<string, number>();
  readonly #retryTimers = new Map<string, NodeJS.Timeout>();
  /** ids the control plane refused (403) at this modified_on: not asked again until it changes. */
  readonly #refused = new Map<string, string>();
  readonly #queue = new Set<string>();
  readonly #running = new Set<string>();
  /** Writes and removals in the state folder under way. */
  readonly #disk = new Set<Promise<void>>();
  readonly #diskById = new Map<string, Promise<void>>();
  #idleWaiters: (() => void)[] = [];
  fetches = 0;
  fetchFailures = 0;

  constructor(options: ManagedSourceOptions) {
    this.#o = options;
  }

  applySnapshot(snapshot: Snapshot): void {
    this.#zones.clear();
    for (const zone of snapshot.zones) this.#zones.set(zone.id, zone);
    const ids = new Set([...this.#metas.keys()]);
    this.#metas.clear();
    for (const meta of snapshot.certificates ?? []) {
      this.#metas.set(meta.id, meta);
      ids.add(meta.id);
    }
    for (const id of ids) this.#reconcile(id);
  }

  applyEvent(event: ControlEvent): void {
    switch (event.type) {
      case 'certificate.upsert':
        this.#metas.set(event.certificate.id, event.certificate);
        this.#reconcile(event.certificate.id);
        break;
      case 'certificate.delete':
        this.#metas.delete(event.id);
        this.#reconcile(event.id);
        break;
      case 'zone.upsert':
        this.#zones.set(event.zone.id, event.zone);
        this.#reconcileZone(event.zone.id);
        break;
      case 'zone.delete':
        this.#zones.delete(event.zone_id);
        this.#reconcileZone(event.zone_id);
        break;
      default:
        break;
    }
  }

  /** Resolves when no fetch is queued, running or waiting for a retry, and the state folder is written (tests). */
  async whenIdle(): Promise<void> {
    if (!this.#isIdle()) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await Promise.all([...this.#disk]);
  }

  close(): void {
    this.#closing.abort();
    for (const timer of this.#retryTimers.values()) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#queue.clear();
    this.#notifyIdle();
  }

  #reconcileZone(zoneId: string): void {
    for (const meta of this.#metas.values()) if (meta.zone_id === zoneId) this.#reconcile(meta.id);
    for (const id of this.#loaded.keys()) if (!this.#metas.has(id)) this.#reconcile(id);
  }

  #wanted(meta: CertificateMeta | undefined): meta is CertificateMeta {
    if (meta === undefined) return false;
    if (meta.status !== 'active' && meta.status !== 'expired') return false; // pending/error: no material
    const zone = this.#zones.get(meta.zone_id);
    return zone !== undefined && popServesZone(zone, this.#o.pop);
  }

  #reconcile(id: string): void {
    const meta = this.#metas.get(id);
    if (!this.#wanted(meta)) {
      this.#cancelRetry(id);
      this.#queue.delete(id);
      if (this.#loaded.delete(id)) {
        this.#o.store.delete(id);
        this.#o.log.info('tls certificate removed', { id });
      }
      if (meta === undefined) this.#onDisk(id, () => this.#o.cache.remove(id));
      this.#notifyIdle();
      return;
    }
    if (this.#loaded.get(id) === meta.modified_on || this.#refused.get(id) === meta.modified_on) return;
    this.#cancelRetry(id);
    this.#queue.add(id);
    this.#pump();
  }

  #pump(): void {
    const limit = this.#o.concurrency ?? 8;
    for (const id of this.#queue) {
      if (this.#running.size >= limit) return;
      if (this.#running.has(id)) continue; // re-queued while running: picked up once it ends
      this.#queue.delete(id);
      this.#running.add(id);
      void this.#load(id).finally(() => {
        this.#running.delete(id);
        this.#pump();
        this.#notifyIdle();
      });
    }
  }

  async #load(id: string): Promise<void> {
    const meta = this.#metas.get(id);
    if (!this.#wanted(meta) || this.#closing.signal.aborted) return;
    const cached = await this.#o.cache.load(id);
    if (
      cached !== null &&
      cached.modified_on === meta.modified_on &&
      this.#install(meta, cached, 'state folder')
    )
      return;
    let material: CertificateMaterial;
    try {
      this.fetches++;
      material = await this.#o.fetcher.certificate(id, this.#o.nodeName, this.#closing.signal);
    } catch (err) {
      if (this.#closing.signal.aborted) return;
      this.fetchFailures++;
      if (err instanceof ControlHttpError && err.status === 403) {
        // The control plane says this PoP does not serve the zone: wait for a change, do not hammer it.
        this.#refused.set(id, meta.modified_on);
        this.#o.log.warn('tls certificate refused to this node (403); not retrying until it changes', { id });
        return;
      }
      this.#retryLater(id, 'fetch failed', err);
      return;
    }
    if (this.#metas.get(id)?.modified_on !== meta.modified_on) {
      this.#queue.add(id); // changed while fetching: fetch the newer one
      return;
    }
    if (this.#install(meta, material, 'control plane')) this.#onDisk(id, () => this.#o.cache.save(material));
  }

  /** Swaps the certificate in; false (and a retry) when the material does not load. */
  #install(meta: CertificateMeta, material: CertificateMaterial, from: string): boolean {
    try {
      const served = this.#o.store.putPem(
        { id: meta.id, usage: meta.usage, zoneId: meta.zone_id },
        material.certificate,
        material.private_key,
      );
      this.#loaded.set(meta.id, meta.modified_on);
      this.#attempts.delete(meta.id);
      this.#refused.delete(meta.id);
      this.#o.log.info('tls certificate installed', {
        id: meta.id,
        zone: meta.zone_id,
        usage: meta.usage,
        hosts: served.hosts,
        expiresOn: new Date(served.notAfterMs).toISOString(),
        from,
      });
      return true;
    } catch (err) {
      if (from === 'state folder') return false; // a stale copy: fetch a new one
      this.#retryLater(meta.id, 'material does not load', err);
      return false;
    }
  }

  /** Runs a state-folder write for `id` after the previous one for it (a save never lands after a later removal). */
  #onDisk(id: string, write: () => Promise<void>): void {
    const previous = this.#diskById.get(id) ?? Promise.resolve();
    const next = previous
      .then(write)
      .catch((err: unknown) =>
        this.#o.log.warn('cannot update the tls certificate state folder', { id, err }),
      );
    this.#diskById.set(id, next);
    this.#disk.add(next);
    void next.finally(() => {
      this.#disk.delete(next);
      if (this.#diskById.get(id) === next) this.#diskById.delete(id);
    });
  }

  #retryLater(id: string, what: string, err: unknown): void {
    const attempt = this.#attempts.get(id) ?? 0;
    this.#attempts.set(id, attempt + 1);
    const delay = backoffDelayMs(attempt, this.#o.backoff ?? DEFAULT_BACKOFF);
    this.#o.log.warn(
      `tls certificate ${what}; ${this.#loaded.has(id) ? 'serving the old one, ' : ''}retrying`,
      {
        id,
        attempt,
        retryInMs: delay,
        err,
      },
    );
    this.#cancelRetry(id);
    const timer = setTimeout(() => {
      this.#retryTimers.delete(id);
      this.#reconcile(id);
    }, delay);
    timer.unref();
    this.#retryTimers.set(id, timer);
  }

  #cancelRetry(id: string): void {
    const timer = this.#retryTimers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.#retryTimers.delete(id);
  }

  #isIdle(): boolean {
    return this.#queue.size === 0 && this.#running.size === 0 && this.#retryTimers.size === 0;
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
