// The head file: one object's metadata, and the commit record of the disk tier (a body without a
// valid head naming it is a leftover, see disk-store.ts). Pure encoding; no I/O.
//
// Layout, little endian:
//   offset 0  4 bytes  magic "MRDH"
//          4  2 bytes  format version (1)
//          6  2 bytes  reserved, 0
//          8  4 bytes  JSON length n
//         12  4 bytes  CRC-32 of the JSON bytes
//         16  n bytes  JSON { "bodyId": "<16 hex digits>", "meta": ObjectMeta }
//
// A head is valid only if every field checks out and the file is exactly 16 + n bytes, so a torn or
// truncated write (or any foreign file) is never mistaken for a head.
import { crc32 } from 'node:zlib';
import type { ObjectMeta } from '../storage.ts';
import { isBodyId } from './disk-layout.ts';

const MAGIC = 0x4844524d; // "MRDH" read as a little-endian u32
export const HEAD_VERSION = 1;
export const HEAD_PREFIX_BYTES = 16;

export interface HeadRecord {
  /** Names the body file: objects/<hh>/<hash>.<bodyId>.body. */
  bodyId: string;
  meta: ObjectMeta;
}

export type DecodedHead = { kind: 'valid'; record: HeadRecord } | { kind: 'invalid'; reason: string };

export function encodeHead(record: HeadRecord): Buffer {
  const json = Buffer.from(JSON.stringify({ bodyId: record.bodyId, meta: record.meta }), 'utf8');
  const file = Buffer.allocUnsafe(HEAD_PREFIX_BYTES + json.length);
  file.writeUInt32LE(MAGIC, 0);
  file.writeUInt16LE(HEAD_VERSION, 4);
  file.writeUInt16LE(0, 6);
  file.writeUInt32LE(json.length, 8);
  file.writeUInt32LE(crc32(json), 12);
  json.copy(file, HEAD_PREFIX_BYTES);
  return file;
}

export function decodeHead(file: Buffer): DecodedHead {
  if (file.length < HEAD_PREFIX_BYTES) return invalid(`${file.length} bytes is shorter than the prefix`);
  if (file.readUInt32LE(0) !== MAGIC) return invalid('bad magic');
  const version = file.readUInt16LE(4);
  if (version !== HEAD_VERSION) return invalid(`unknown version ${version}`);
  const jsonLength = file.readUInt32LE(8);
  if (file.length !== HEAD_PREFIX_BYTES + jsonLength) {
    return invalid(`length ${file.length} does not match ${HEAD_PREFIX_BYTES} + ${jsonLength}`);
  }
  const json = file.subarray(HEAD_PREFIX_BYTES);
  if (crc32(json) !== file.readUInt32LE(12)) return invalid('checksum mismatch');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    return invalid('JSON does not parse');
  }
  if (!isRecord(parsed) || !isBodyId(parsed['bodyId'])) return invalid('bodyId missing');
  if (!isObjectMeta(parsed['meta'])) return invalid('meta malformed');
  return { kind: 'valid', record: { bodyId: parsed['bodyId'], meta: parsed['meta'] } };
}

/**
 * Structural check of a meta read back from disk. Freshness is opaque to this tier (lib/http-cache
 * owns it), so only its being an object is checked.
 */
export function isObjectMeta(value: unknown): value is ObjectMeta {
  if (!isRecord(value)) return false;
  const v = value;
  return (
    typeof v['key'] === 'string' &&
    typeof v['primaryKey'] === 'string' &&
    typeof v['url'] === 'string' &&
    Number.isInteger(v['status']) &&
    isRecord(v['headers']) &&
    isStringArray(v['varyNames']) &&
    isStringArray(v['tags']) &&
    typeof v['storedAtMs'] === 'number' &&
    Number.isSafeInteger(v['bodySize']) &&
    (v['bodySize'] as number) >= 0 &&
    isRecord(v['freshness'])
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function invalid(reason: string): DecodedHead {
  return { kind: 'invalid', reason };
}
