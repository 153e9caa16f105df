// Flag values for the CLI: sizes, durations and addresses, each validated with an error that names
// the flag and the bad value.
import bytes from 'bytes';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** "256MB", "10GB", "512KiB" or a number of bytes. */
export function parseSize(flag: string, value: string): number {
  const parsed = /^\d+$/.test(value) ? Number(value) : bytes.parse(value.replace(/iB$/i, 'B'));
  if (parsed === null || !Number.isFinite(parsed) || parsed <= 0) {
    throw new UsageError(`--${flag}: expected a size such as 256MB or 10GB, got "${value}"`);
  }
  return Math.floor(parsed);
}

/** "30s", "500ms", "2m" or a number of seconds; returns milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (match === null)
    throw new UsageError(`--${flag}: expected a duration such as 30s or 500ms, got "${value}"`);
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(unit === 'ms' ? amount : unit === 'm' ? amount * 60_000 : amount * 1000);
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
