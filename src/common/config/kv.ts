// KV namespaces and entries as the control plane stores them and the event log carries them.
import { createHash } from 'node:crypto';

export interface KvNamespace {
  id: string;
  zone_id: string;
  title: string;
}

/**
 * One entry as a node receives it. Values up to KV_INLINE_BYTES travel inline (base64) in the
 * event; larger ones by reference (value_b64 null): the node fetches them on first read.
 */
export interface KvEntryRef {
  key: string;
  value_b64: string | null;
  size: number;
  /** sha-256 of the value, hex: names the version a by-reference fetch must get. */
  etag: string;
  /** JSON text, or null. */
  metadata: string | null;
  /** Seconds since the epoch, or null. */
  expiration: number | null;
}

export const KV_INLINE_BYTES = 64 * 1024;

export function kvEtag(value: Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}
