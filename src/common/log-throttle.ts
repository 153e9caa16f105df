// Log lines for failures that can repeat quickly (a heartbeat every 2 s against a dead control
// plane): the first one of a kind is written at once, repeats within the interval are counted and
// reported with the next line written, and the first success after failures is written once.
import type { Logger } from './log.ts';

export class LogThrottle {
  readonly #log: Logger;
  readonly #intervalMs: number;
  /** kind → when it was last written, and the repeats not written since. */
  readonly #kinds = new Map<string, { atMs: number; suppressed: number }>();

  constructor(log: Logger, intervalMs = 60_000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  /** A failure of `kind`: written now, or counted when one was written less than the interval ago. */
  warn(kind: string, msg: string, fields: Record<string, unknown> = {}, nowMs = Date.now()): void {
    const seen = this.#kinds.get(kind);
    if (seen !== undefined && nowMs - seen.atMs < this.#intervalMs) {
      seen.suppressed += 1;
      return;
    }
    const repeats = seen === undefined || seen.suppressed === 0 ? {} : { repeats: seen.suppressed };
    this.#kinds.set(kind, { atMs: nowMs, suppressed: 0 });
    this.#log.warn(msg, { ...fields, ...repeats });
  }

  /** `kind` works again: says so once if it had failed. */
  recovered(kind: string, msg: string, fields: Record<string, unknown> = {}): void {
    const seen = this.#kinds.get(kind);
    if (seen === undefined) return;
    this.#kinds.delete(kind);
    this.#log.info(msg, seen.suppressed === 0 ? fields : { ...fields, repeats: seen.suppressed });
  }
}
