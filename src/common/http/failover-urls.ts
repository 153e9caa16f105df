// Several control-plane URLs (replicas, or replicas and a load balancer) behind one client: calls go to
// the current URL; when it is unreachable (connection refused or reset, a timeout, a 5xx answer) the
// client moves to the next one and stays there while it works (no flapping back to the first). What
// happened is logged once per change, not once per call: a failover (which URL failed, why, which one
// answers now), every URL failing, and the recovery.
import type { Logger } from '../log.ts';

/** An answer from the server with an error status (network failures are plain errors). */
export interface HttpStatusError {
  readonly status: number;
}

/** Is `err` worth trying another URL for: the request failed in transit, timed out, or got a 5xx. */
export function isFailoverError(err: unknown): boolean {
  const status = (err as Partial<HttpStatusError> | null)?.status;
  return typeof status !== 'number' || status >= 500;
}

/** Connection-level failures: the request never reached a server, so even a non-idempotent call may go elsewhere. */
export function isConnectError(err: unknown): boolean {
  const code = String((err as { code?: unknown; cause?: { code?: unknown } } | null)?.code ?? '');
  const causeCode = String((err as { cause?: { code?: unknown } } | null)?.cause?.code ?? '');
  return /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|UND_ERR_CONNECT_TIMEOUT)$/.test(
    code || causeCode,
  );
}

export interface FailoverUrlsOptions {
  /** What the URLs are, for log lines ("control plane"). */
  what?: string;
  log?: Logger;
}

export class FailoverUrls {
  readonly urls: readonly URL[];
  readonly #what: string;
  readonly #log: Logger | undefined;
  #current = 0;
  /** The URL of the last call that worked (null before any). */
  #lastGood: URL | null = null;
  /** Why each URL failed since the last call that worked. */
  readonly #failures = new Map<string, string>();
  #isDown = false;

  constructor(urls: readonly (string | URL)[], options: FailoverUrlsOptions = {}) {
    if (urls.length === 0) throw new TypeError('urls: at least one URL');
    this.urls = urls.map((u) => {
      const url = new URL(u);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new TypeError(`expected an http:// or https:// URL, got ${JSON.stringify(String(u))}`);
      return url;
    });
    this.#what = options.what ?? 'control plane';
    this.#log = options.log;
  }

  /** The URL calls go to now. */
  get current(): URL {
    return this.urls[this.#current] as URL;
  }

  /** True while every URL failed since the last call that worked. */
  get isDown(): boolean {
    return this.#isDown;
  }

  /** `url` failed with `err`: the next URL becomes current (unless another caller moved on already). */
  failed(url: URL, err: unknown): void {
    this.#failures.set(url.href, reasonOf(err));
    if (url.href === this.current.href) this.#current = (this.#current + 1) % this.urls.length;
    if (!this.#isDown && this.urls.every((u) => this.#failures.has(u.href))) {
      this.#isDown = true;
      const where = this.urls.length === 1 ? this.current.origin : 'every URL';
      this.#log?.warn(`${this.#what} unreachable at ${where}`, {
        urls: this.urls.map((u) => u.origin),
        reasons: Object.fromEntries(this.#failures),
      });
    }
  }

  /** A call to `url` worked: it stays current; a change from the last good one is logged once. */
  succeeded(url: URL): void {
    const index = this.urls.findIndex((u) => u.href === url.href);
    if (index >= 0) this.#current = index;
    // The URL given up on: the one that worked before, else (a fresh start) the first that failed.
    const from = this.#lastGood ?? this.urls.find((u) => this.#failures.has(u.href)) ?? null;
    if (this.#isDown) {
      this.#log?.info(`${this.#what} reachable again at ${url.origin}`, { url: url.origin });
    } else if (from !== null && from.href !== url.href) {
      const reason = this.#failures.get(from.href) ?? 'unknown';
      this.#log?.warn(`${this.#what} failover: ${from.origin} failed (${reason}), now using ${url.origin}`, {
        from: from.origin,
        to: url.origin,
        reason,
      });
    }
    this.#failures.clear();
    this.#isDown = false;
    this.#lastGood = url;
  }

  /**
   * Runs `fn` against the current URL, then each other one in turn while it fails with an error
   * `canFailOver` accepts (default isFailoverError); throws the last error when none worked. An
   * aborted `signal` stops at once and marks nothing.
   */
  async call<T>(
    fn: (base: URL) => Promise<T>,
    options: { signal?: AbortSignal; canFailOver?: (err: unknown) => boolean } = {},
  ): Promise<T> {
    const canFailOver = options.canFailOver ?? isFailoverError;
    const tried = new Set<string>();
    for (;;) {
      const url = this.current;
      tried.add(url.href);
      try {
        const result = await fn(url);
        this.succeeded(url);
        return result;
      } catch (err) {
        if (options.signal?.aborted === true || !canFailOver(err)) throw err;
        this.failed(url, err);
        if (tried.has(this.current.href)) throw err;
      }
    }
  }
}

/** Several URLs given as one flag value (comma separated) or repeated flags. */
export function splitUrlList(values: string | readonly string[]): string[] {
  return (typeof values === 'string' ? [values] : values)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  const status = (err as Partial<HttpStatusError>).status;
  if (typeof status === 'number') return `HTTP ${status}`;
  if (err.name === 'TimeoutError') return 'timeout';
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
}
