// KV's limits and expiration rules, checked by the API and by the nodes (a worker's put).

/** Cloudflare's limits: keys up to 512 bytes, values up to 25 MiB, metadata up to 1024 bytes. */
export const KV_MAX_KEY_BYTES = 512;
export const KV_MAX_VALUE_BYTES = 25 * 1024 * 1024;
export const KV_MAX_METADATA_BYTES = 1024;
/** Cloudflare's: an expiration at least 60 s ahead. */
export const KV_MIN_TTL_SEC = 60;

/** Checks a write; an error message for the worker's TypeError, or null. */
export function checkKvWrite(
  key: string,
  valueBytes: number,
  metadata: string | null,
  ttlSec: number | null,
  expiration: number | null,
  nowSec: number,
): string | null {
  if (key === '' || key === '.' || key === '..') return 'KV put: the key may not be empty, "." or ".."';
  if (Buffer.byteLength(key) > KV_MAX_KEY_BYTES) return `KV put: keys are at most ${KV_MAX_KEY_BYTES} bytes`;
  if (valueBytes > KV_MAX_VALUE_BYTES) return `KV put: values are at most ${KV_MAX_VALUE_BYTES} bytes`;
  if (metadata !== null && Buffer.byteLength(metadata) > KV_MAX_METADATA_BYTES)
    return `KV put: metadata is at most ${KV_MAX_METADATA_BYTES} bytes of JSON`;
  if (ttlSec !== null && !(Number.isFinite(ttlSec) && ttlSec >= KV_MIN_TTL_SEC))
    return `KV put: expirationTtl must be at least ${KV_MIN_TTL_SEC} seconds`;
  if (expiration !== null && !(Number.isFinite(expiration) && expiration >= nowSec + KV_MIN_TTL_SEC))
    return `KV put: expiration must be at least ${KV_MIN_TTL_SEC} seconds in the future`;
  return null;
}

/** The absolute expiration (seconds since the epoch) of a write, or null. */
export function expirationOf(
  ttlSec: number | null,
  expiration: number | null,
  nowSec: number,
): number | null {
  if (expiration !== null) return Math.floor(expiration);
  if (ttlSec !== null) return Math.floor(nowSec + ttlSec);
  return null;
}
