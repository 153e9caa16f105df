// Each zone's compiled edge security, fed by the sync module (snapshot, then security.replace and
// zone.delete events) and read by the filter step (one Map lookup per request; absent: nothing to
// run). A document that does not compile on this node (a rule a newer control plane accepts, a bug)
// leaves the zone's last good security in force; the error is logged, counted and kept for /healthz.
import type { ZoneSecurity } from '../../common/config/ruleset.ts';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import { compileSecurity, type CompiledSecurity } from './compiled.ts';

export class SecurityTable {
  readonly #zones = new Map<string, CompiledSecurity>();
  readonly #errors = new Map<string, string>();
  readonly #log: Logger | null;
  readonly #onError: ((zoneId: string) => void) | null;

  constructor(options: { log?: Logger; onCompileError?: (zoneId: string) => void } = {}) {
    this.#log = options.log ?? null;
    this.#onError = options.onCompileError ?? null;
  }

  get(zoneId: string): CompiledSecurity | undefined {
    return this.#zones.get(zoneId);
  }

  /** Zones whose latest document did not compile, with the error (they run their last good one). */
  errors(): ReadonlyMap<string, string> {
    return this.#errors;
  }

  applySnapshot(snapshot: Snapshot): void {
    const given = snapshot.security ?? {};
    for (const zoneId of [...this.#zones.keys()]) if (given[zoneId] === undefined) this.#zones.delete(zoneId);
    for (const [zoneId, security] of Object.entries(given)) this.replace(zoneId, security);
  }

  applyEvent(event: ControlEvent): void {
    if (event.type === 'security.replace') this.replace(event.zone_id, event.security);
    else if (event.type === 'zone.delete') {
      this.#zones.delete(event.zone_id);
      this.#errors.delete(event.zone_id);
    }
  }

  /** Compiles and installs; on failure the previous compiled state stays. */
  replace(zoneId: string, security: ZoneSecurity | null): boolean {
    let compiled: CompiledSecurity | null;
    try {
      compiled = security === null ? null : compileSecurity(security);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#errors.set(zoneId, message);
      this.#log?.error('security rules did not compile: the zone keeps its last good rules', {
        zone: zoneId,
        err: message,
      });
      this.#onError?.(zoneId);
      return false;
    }
    this.#errors.delete(zoneId);
    if (compiled === null) this.#zones.delete(zoneId);
    else this.#zones.set(zoneId, compiled);
    return true;
  }
}
