// Where the disk tier keeps its files. Everything below `dir`:
//
//   tmp/<id>.body                       a body being written (DiskWriter); deleted by open()
//   tmp/<id>.head                       a head being written; deleted by open()
//   objects/<hh>/<hash>.head            the commit record of one object (head-file.ts)
//   objects/<hh>/<hash>.<bodyId>.body   its body, raw bytes, never modified once here
//
// <hash> is the SHA-256 of the variant key in hex and <hh> its first two digits (256 shards, so no
// folder holds more than ~1/256 of the objects). The key itself is kept inside the head, so a file
// found under the wrong name (or a hash collision) is detected instead of served.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const OBJECTS_DIR = 'objects';
export const TMP_DIR = 'tmp';
export const SHARD_COUNT = 256;

const HEAD_NAME = /^([0-9a-f]{64})\.head$/;
const BODY_NAME = /^([0-9a-f]{64})\.([0-9a-f]{16})\.body$/;

/** The file-name hash of a variant key: SHA-256, lower-case hex. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A fresh random id for a body (and for temporary file names): 16 hex digits. */
export function newFileId(): string {
  return randomBytes(8).toString('hex');
}

/** Shard folder names `00` … `ff`. */
export function shardNames(): string[] {
  return Array.from({ length: SHARD_COUNT }, (_, i) => i.toString(16).padStart(2, '0'));
}

export function shardDir(dir: string, hash: string): string {
  return join(dir, OBJECTS_DIR, hash.slice(0, 2));
}

export function headPath(dir: string, hash: string): string {
  return join(shardDir(dir, hash), `${hash}.head`);
}

export function bodyPath(dir: string, hash: string, bodyId: string): string {
  return join(shardDir(dir, hash), `${hash}.${bodyId}.body`);
}

export function isBodyId(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{16}$/.test(value);
}

/** What a file name found in a shard folder is. */
export type ObjectFileName =
  { kind: 'head'; hash: string } | { kind: 'body'; hash: string; bodyId: string } | { kind: 'other' };

export function parseObjectFileName(name: string): ObjectFileName {
  const head = HEAD_NAME.exec(name);
  if (head?.[1] !== undefined) return { kind: 'head', hash: head[1] };
  const body = BODY_NAME.exec(name);
  if (body?.[1] !== undefined && body[2] !== undefined)
    return { kind: 'body', hash: body[1], bodyId: body[2] };
  return { kind: 'other' };
}
