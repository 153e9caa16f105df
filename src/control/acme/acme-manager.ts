// The control plane's ACME engine: keeps a certificate for every managed zone, issued and renewed
// with acme-client. One timer: it wakes at the earliest due zone (a first issue, a renewal at 2/3 of
// the lifetime, or a retry after exponential backoff), runs that zone's order (one at a time per
// zone), and re-reads the managed zones every rescan. Nothing is kept that the store does not hold
// (failures in a row live in memory only): after a restart the schedule is recomputed from the
// stored certificates, and a zone that was failing retries once at start, then backs off again.
import * as acme from 'acme-client';
import type { Registry } from 'prom-client';
import type { CertificateMeta } from '../../common/config/certificate.ts';
import type { Zone } from '../../common/config/zone.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { trustDirectoryCa } from './ca-trust.ts';
import { AcmeMetrics } from './metrics.ts';
import { runOrder } from './order.ts';
import { dueFor, orderableHosts, retryDelay } from './schedule.ts';
import type { AcmeDeps, AcmeManagerOptions, ManagedZone, ZoneAcmeState } from './types.ts';

/** setTimeout's longest delay (about 24.8 days); later wake-ups are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface ZoneEntry {
  state: ZoneAcmeState;
  managed: ManagedZone;
  hosts: string[];
}

export class AcmeManager {
  readonly #options: Required<Omit<AcmeManagerOptions, 'directoryCa' | 'email'>> &
    Pick<AcmeManagerOptions, 'directoryCa' | 'email'>;
  readonly #deps: AcmeDeps;
  readonly #log: Logger;
  readonly #metrics: AcmeMetrics | null;
  readonly #zones = new Map<string, ZoneEntry>();
  /** Failures in a row and when the retry is due, by zone id (kept across rescans). */
  readonly #failures = new Map<string, { count: number; retryAt: Date; delayMs: number; error: string }>();
  readonly #running = new Map<string, Promise<CertificateMeta>>();
  /** Zones another replica is ordering for: looked at again at this time. */
  readonly #busyUntil = new Map<string, Date>();
  /**
   * The last certificate issued per zone: used when deps.managed() does not list it yet (a store
   * that lags, a replica), so a success is never ordered again at once (CAs rate-limit duplicates).
   */
  readonly #issued = new Map<string, CertificateMeta>();
  #client: Promise<acme.Client> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #rescanning: Promise<void> | null = null;
  #stopped = false;
  readonly #releaseCa: () => void;

  constructor(options: AcmeManagerOptions, registry: Registry | null = null, log?: Logger) {
    this.#options = {
      retryBaseMs: 60_000,
      retryMaxMs: 6 * 3_600_000,
      rescanMs: 60_000,
      propagationTimeoutMs: 60_000,
      pollMs: 1_000,
      ...options,
    };
    this.#deps = options.deps;
    this.#log = log ?? createLogger('acme');
    this.#metrics = registry === null ? null : new AcmeMetrics(registry);
    this.#releaseCa =
      options.directoryCa === undefined
        ? () => undefined
        : trustDirectoryCa(options.directoryUrl, options.directoryCa);
  }

  /** Reads the managed zones and arms the timer; orders that are due run now. */
  async start(): Promise<void> {
    await this.rescan();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#running.values()]);
    this.#releaseCa();
  }

  /**
   * The API's hook (POST custom_certificates {"type":"acme"}, or settings.acme turned on): order for
   * the zone now. Returns at once; the outcome reaches the store (saveCertificate / markFailed).
   */
  order(zone: Zone, _actor?: unknown): void {
    this.#failures.delete(zone.id);
    void this.rescan().catch((err: unknown) => this.#log.warn('acme rescan failed', { err }));
  }

  /**
   * Runs (or joins) the zone's order now, for tests and the CLI; rejects when it fails. A zone whose
   * certificate is not due yet (valid, covering its names) is not ordered again: its current one
   * is the answer (CAs rate-limit duplicate certificates).
   */
  async orderNow(zoneId: string): Promise<CertificateMeta> {
    await this.#rescanOnce();
    const entry = this.#zones.get(zoneId);
    if (entry === undefined) throw new Error(`zone ${zoneId} is not managed by ACME`);
    return this.#run(entry);
  }

  /** What the engine knows, by zone (for tests, logs and an API that shows renewal state). */
  states(): ZoneAcmeState[] {
    return [...this.#zones.values()].map((e) => ({ ...e.state }));
  }

  /** Re-reads the managed zones, recomputes each one's due time, runs what is due, re-arms the timer. */
  async rescan(): Promise<void> {
    try {
      await this.#rescanOnce();
    } catch (err) {
      // The store is away: keep the last known zones and try again at the next rescan.
      this.#arm();
      throw err;
    }
    if (this.#stopped) return;
    const now = this.#deps.now();
    for (const entry of this.#zones.values()) {
      if (Date.parse(entry.state.nextAttemptAt) <= now.getTime() && !this.#running.has(entry.state.zoneId)) {
        void this.#run(entry).catch(() => undefined);
      }
    }
    this.#arm();
  }

  /** One read of deps.managed() at a time; callers meanwhile share it. */
  #rescanOnce(): Promise<void> {
    this.#rescanning ??= this.#readZones().finally(() => (this.#rescanning = null));
    return this.#rescanning;
  }

  async #readZones(): Promise<void> {
    const managed = await this.#deps.managed();
    const now = this.#deps.now();
    const seen = new Set<string>();
    for (const listed of managed) {
      const m = this.#withIssued(listed);
      seen.add(m.zone.id);
      const hosts = orderableHosts(m.zone);
      const entry: ZoneEntry = { managed: m, hosts, state: this.#stateOf(m, hosts, now) };
      this.#zones.set(m.zone.id, entry);
      this.#metrics?.certificate(m.zone.name, m.current?.status === 'active' ? m.current : null);
      this.#metrics?.scheduled(m.zone.name, new Date(entry.state.nextAttemptAt), entry.state.failures);
    }
    for (const [id, entry] of this.#zones) {
      if (seen.has(id)) continue;
      this.#zones.delete(id);
      this.#failures.delete(id);
      this.#issued.delete(id);
      this.#metrics?.forget(entry.state.zoneName);
    }
  }

  #withIssued(m: ManagedZone): ManagedZone {
    const issued = this.#issued.get(m.zone.id);
    if (issued === undefined) return m;
    if (m.current !== null && Date.parse(m.current.not_before) >= Date.parse(issued.not_before)) {
      this.#issued.delete(m.zone.id);
      return m;
    }
    return { zone: m.zone, current: issued };
  }

  #stateOf(m: ManagedZone, hosts: string[], now: Date): ZoneAcmeState {
    const due = dueFor(m.current, hosts, now);
    const failed = this.#failures.get(m.zone.id);
    // A failure's retry wins over "due now"; a renewal due later than the retry keeps its time.
    const retrying = failed !== undefined && failed.retryAt > now && due.at <= failed.retryAt;
    let next = retrying ? failed.retryAt : due.at;
    let reason: ZoneAcmeState['reason'] = retrying ? 'retry' : due.reason;
    const busy = this.#busyUntil.get(m.zone.id);
    if (busy !== undefined && busy <= now) this.#busyUntil.delete(m.zone.id);
    else if (busy !== undefined && next < busy) [next, reason] = [busy, 'busy-elsewhere'];
    return {
      zoneId: m.zone.id,
      zoneName: m.zone.name,
      nextAttemptAt: next.toISOString(),
      reason,
      failures: failed?.count ?? 0,
      retryDelayMs: retrying ? failed.delayMs : 0,
      lastError: failed?.error ?? null,
      ordering: this.#running.has(m.zone.id),
    };
  }

  #run(entry: ZoneEntry): Promise<CertificateMeta> {
    const zoneId = entry.state.zoneId;
    let running = this.#running.get(zoneId);
    if (running === undefined) {
      entry.state.ordering = true;
      running = this.#issue(entry).finally(() => {
        this.#running.delete(zoneId);
        entry.state.ordering = false;
        if (!this.#stopped) {
          void this.rescan().catch((err: unknown) => this.#log.warn('acme rescan failed', { err }));
        }
      });
      this.#running.set(zoneId, running);
    }
    return running;
  }

  /** The order under the zone's lock (deps.lockZone), when another replica does not hold it. */
  async #issue(entry: ZoneEntry): Promise<CertificateMeta> {
    const zone = entry.managed.zone;
    let release: (() => Promise<void>) | null;
    try {
      release = this.#deps.lockZone === undefined ? async () => {} : await this.#deps.lockZone(zone.id);
    } catch (err) {
      await this.#failed(entry, err);
      throw err;
    }
    if (release === null) {
      // Not a failure: the other replica's certificate shows up in managed() by then.
      this.#busyUntil.set(zone.id, new Date(this.#deps.now().getTime() + this.#options.rescanMs));
      throw new Error(`zone ${zone.name}: another control plane is ordering its certificate`);
    }
    try {
      // Under the lock, look again: another replica may have just stored the zone's certificate.
      const fresh = (await this.#deps.managed()).find((m) => m.zone.id === zone.id);
      if (fresh === undefined) throw new Error(`zone ${zone.name} is no longer managed by ACME`);
      const current = this.#withIssued(fresh);
      const hosts = orderableHosts(current.zone);
      const now = this.#deps.now();
      if (current.current !== null && dueFor(current.current, hosts, now).at > now) return current.current;
      return await this.#order({ ...entry, managed: current, hosts });
    } finally {
      await release().catch((err: unknown) =>
        this.#log.warn('acme: releasing the zone lock failed', { err }),
      );
    }
  }

  async #order(entry: ZoneEntry): Promise<CertificateMeta> {
    const { zone, current } = entry.managed;
    const hosts = entry.hosts;
    const started = Date.now();
    try {
      if (hosts.length === 0) throw new Error('the zone has no hostname an http-01 order can cover');
      this.#log.info('acme order', { zone: zone.name, hosts, reason: entry.state.reason });
      const client = await this.#clientOnce();
      const result = await runOrder(client, hosts, this.#deps, this.#options);
      const meta = await this.#deps.saveCertificate({
        zoneId: zone.id,
        hosts,
        certificate: result.certificate,
        privateKey: result.privateKey,
        replaces: current?.id ?? null,
      });
      this.#failures.delete(zone.id);
      this.#issued.set(zone.id, meta);
      this.#metrics?.order('success');
      this.#log.info('acme certificate issued', {
        zone: zone.name,
        id: meta.id,
        expires_on: meta.expires_on,
        ms: Date.now() - started,
      });
      return meta;
    } catch (err) {
      await this.#failed(entry, err);
      throw err;
    }
  }

  async #failed(entry: ZoneEntry, err: unknown): Promise<void> {
    const zone = entry.managed.zone;
    const message = err instanceof Error ? err.message : String(err);
    const count = (this.#failures.get(zone.id)?.count ?? 0) + 1;
    const delayMs = retryDelay(count, this.#options.retryBaseMs, this.#options.retryMaxMs);
    const retryAt = new Date(this.#deps.now().getTime() + delayMs);
    this.#failures.set(zone.id, { count, retryAt, delayMs, error: message });
    this.#metrics?.order('failure');
    this.#log.warn('acme order failed', { zone: zone.name, failures: count, retry_in_ms: delayMs, message });
    await this.#deps
      .markFailed(zone.id, message)
      .catch((e: unknown) =>
        this.#log.warn('acme: recording the failure failed', { zone: zone.name, err: e }),
      );
  }

  /** The ACME account: its key from the store, or a new one saved first (so a crash keeps it). */
  #clientOnce(): Promise<acme.Client> {
    this.#client ??= this.#account().catch((err: unknown) => {
      this.#client = null;
      throw err;
    });
    return this.#client;
  }

  async #account(): Promise<acme.Client> {
    let key = await this.#deps.loadAccountKey();
    if (key === null) {
      key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
      await this.#deps.saveAccountKey(key);
    }
    const poll = this.#options.pollMs;
    const client = new acme.Client({
      directoryUrl: this.#options.directoryUrl,
      accountKey: key,
      backoffMin: poll,
      backoffMax: poll * 4,
      backoffAttempts: Math.max(10, Math.ceil(this.#options.propagationTimeoutMs / (poll * 4)) + 5),
    });
    // RFC 8555 §7.3: newAccount with an existing key answers 200 with that account (idempotent).
    await client.createAccount({
      termsOfServiceAgreed: true,
      ...(this.#options.email === undefined ? {} : { contact: [`mailto:${this.#options.email}`] }),
    });
    return client;
  }

  /** Wakes at the earliest due zone, and at the latest after one rescan interval. */
  #arm(): void {
    if (this.#stopped) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const now = this.#deps.now().getTime();
    let wake = now + this.#options.rescanMs;
    for (const entry of this.#zones.values()) {
      if (this.#running.has(entry.state.zoneId)) continue;
      wake = Math.min(wake, Date.parse(entry.state.nextAttemptAt));
    }
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, wake - now));
    this.#timer = setTimeout(
      () => void this.rescan().catch((err: unknown) => this.#log.warn('acme rescan failed', { err })),
      delay,
    );
    this.#timer.unref();
  }
}
