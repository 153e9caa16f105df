// Flag values for the CLI: sizes, durations and addresses, each validated with an error that names
// the flag and the bad value.
export class UsageError extends Error {
  override name = 'UsageError';
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size as nginx users write it: a number of bytes, or with a unit K, M, G or T, optionally
 * followed by B or iB, in any case ("256M", "256mb", "256MiB", "10G", "1t"). Every unit is a power
 * of 1024, as nginx's k/m/g are: 1K = 1KB = 1KiB = 1024 bytes. Anything else is an error naming the
 * flag ("1XB", "12 potatoes", "-1G"), never a silent byte count.
 */
export function parseSize(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:([kmgt])(?:i?b)?|b)?$/i.exec(value.trim());
  const bytes = match === null ? NaN : Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? NaN);
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new UsageError(
      `--${flag}: expected a size such as 256M, 10G or 512KiB (bytes, or K/M/G/T with optional B or iB; 1K = 1024), got "${value}"`,
    );
  }
  return Math.floor(bytes);
}

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "2m", "1h", "1d" or a number of seconds; returns milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (match === null)
    throw new UsageError(
      `--${flag}: expected a duration such as 30s, 500ms, 5m, 1h or 1d (a bare number is seconds), got "${value}"`,
    );
  return Math.round(Number(match[1]) * (DURATION_MS[match[2] ?? 's'] as number));
}

/** A duration in whole seconds (TTLs: "3600", "1h", "1d"); an error naming the flag below one second. */
export function parseSeconds(flag: string, value: string): number {
  const ms = parseDuration(flag, value);
  if (ms % 1000 !== 0)
    throw new UsageError(`--${flag}: expected whole seconds (e.g. 90s, 5m, 1h, 1d), got "${value}"`);
  return ms / 1000;
}

/** "127.0.0.1:8080", "[::1]:8080" or ":8080" (all interfaces). */
export function parseListen(flag: string, value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new UsageError(`--${flag}: expected HOST:PORT, got "${value}"`);
  return { host: match[1] ?? (match[2] === '' ? '0.0.0.0' : (match[2] as string)), port };
}

export function parseHttpUrl(flag: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--${flag}: expected an http:// URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--${flag}: expected an http:// or https:// URL, got "${value}"`);
  }
  return url;
}

/** An RFC 9110 token: usable in Via and as the Cache-Status cache name. */
export function parseToken(flag: string, value: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value)) {
    throw new UsageError(`--${flag}: expected letters, digits and -._ only, got "${value}"`);
  }
  return value;
}
