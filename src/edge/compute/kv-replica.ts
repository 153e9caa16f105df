// A node's replica of the KV namespaces of the zones it serves. Every read is local: a Map lookup,
// and for a value sent by reference (larger than the event log carries inline) a fetch of the value
// from the control plane on its first read, kept afterwards. The replica is fed by the event log
// (kv.put / kv.delete / kv.namespace.*) and, after a snapshot, by a full load of each namespace
// (the log may not hold every write since the node's state); it is persisted in
// <cacheDir>/kv.sqlite so a restarted node serves its last state at once, even without the control
// plane. Consistency: eventual, like Cloudflare's: a write is visible on a node once the node applied
// its event (docs/workers.md measures the delay); the writing node applies its own write at once.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { kvEtag, type KvEntryRef, type KvNamespace } from '../../common/config/kv.ts';
import type { KvListPage, KvReader } from './kv-binding.ts';
import { checkKvWrite, expirationOf } from '../../common/workers/kv-limits.ts';

interface Entry {
  /** null: not fetched yet (sent by reference). */
  value: Buffer | null;
  size: number;
  etag: string;
  metadata: string | null;
  /** Seconds since the epoch; null: never. */
  expiration: number | null;
}

export interface KvReplicaOptions {
  /** Directory of kv.sqlite; null: memory only (`meridian workers dev`). */
  dir: string | null;
  /** Fetches a value sent by reference. */
  fetchValue(ns: string, key: string, etag: string): Promise<Buffer | null>;
  /** Where a worker's write goes: the control plane (cluster) or null (apply locally: dev). */
  write:
    | ((
        op:
          | {
              kind: 'put';
              ns: string;
              key: string;
              value: Buffer;
              metadata: string | null;
              expiration: number | null;
            }
          | { kind: 'delete'; ns: string; key: string },
      ) => Promise<void>)
    | null;
}

export class KvReplica implements KvReader {
  readonly #options: KvReplicaOptions;
  readonly #namespaces = new Map<string, KvNamespace>();
  readonly #data = new Map<string, Map<string, Entry>>();
  readonly #db: Database.Database | null;

  constructor(options: KvReplicaOptions) {
    this.#options = options;
    if (options.dir === null) {
      this.#db = null;
      return;
    }
    mkdirSync(options.dir, { recursive: true });
    this.#db = new Database(join(options.dir, 'kv.sqlite'));
    this.#db.pragma('journal_mode = WAL');
    this.#db
      .exec(`CREATE TABLE IF NOT EXISTS kv_namespaces (id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, title TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS kv_entries (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB, size INTEGER NOT NULL,
        etag TEXT NOT NULL, metadata TEXT, expiration INTEGER, PRIMARY KEY (ns, key));`);
    for (const row of this.#db.prepare('SELECT id, zone_id, title FROM kv_namespaces').all() as KvNamespace[])
      this.#namespaces.set(row.id, row);
    const rows = this.#db.prepare('SELECT * FROM kv_entries').all() as (Entry & {
      ns: string;
      key: string;
    })[];
    for (const row of rows)
      this.#mapOf(row.ns).set(row.key, { ...row, value: row.value === null ? null : Buffer.from(row.value) });
  }

  close(): void {
    this.#db?.close();
  }

  namespaces(): IterableIterator<KvNamespace> {
    return this.#namespaces.values();
  }

  /** The namespaces a snapshot lists: others (deleted meanwhile) are dropped with their keys. */
  setNamespaces(namespaces: readonly KvNamespace[]): void {
    const wanted = new Set(namespaces.map((n) => n.id));
    for (const id of [...this.#namespaces.keys()]) if (!wanted.has(id)) this.deleteNamespace(id);
    for (const ns of namespaces) this.upsertNamespace(ns);
  }

  upsertNamespace(ns: KvNamespace): void {
    this.#namespaces.set(ns.id, ns);
    this.#db
      ?.prepare('INSERT OR REPLACE INTO kv_namespaces (id, zone_id, title) VALUES (?, ?, ?)')
      .run(ns.id, ns.zone_id, ns.title);
  }

  deleteNamespace(id: string): void {
    this.#namespaces.delete(id);
    this.#data.delete(id);
    this.#db?.prepare('DELETE FROM kv_namespaces WHERE id = ?').run(id);
    this.#db?.prepare('DELETE FROM kv_entries WHERE ns = ?').run(id);
  }

  /** Replaces a namespace's whole contents (a full load after a snapshot). */
  replaceAll(ns: string, entries: readonly KvEntryRef[]): void {
    const fresh = new Map<string, Entry>();
    const old = this.#data.get(ns);
    for (const e of entries) {
      const prior = old?.get(e.key);
      const value =
        e.value_b64 !== null
          ? Buffer.from(e.value_b64, 'base64')
          : prior?.etag === e.etag
            ? prior.value
            : null;
      fresh.set(e.key, { value, size: e.size, etag: e.etag, metadata: e.metadata, expiration: e.expiration });
    }
    this.#data.set(ns, fresh);
    if (this.#db !== null) {
      const db = this.#db;
      db.transaction(() => {
        db.prepare('DELETE FROM kv_entries WHERE ns = ?').run(ns);
        const insert = db.prepare(
          'INSERT INTO kv_entries (ns, key, value, size, etag, metadata, expiration) VALUES (?, ?, ?, ?, ?, ?, ?)',
        );
        for (const [key, e] of fresh) insert.run(ns, key, e.value, e.size, e.etag, e.metadata, e.expiration);
      })();
    }
  }

  /** A kv.put event (or the writing node's own write). */
  applyPut(ns: string, e: KvEntryRef): void {
    const value = e.value_b64 === null ? null : Buffer.from(e.value_b64, 'base64');
    this.#mapOf(ns).set(e.key, {
      value,
      size: e.size,
      etag: e.etag,
      metadata: e.metadata,
      expiration: e.expiration,
    });
    this.#db
      ?.prepare(
        'INSERT OR REPLACE INTO kv_entries (ns, key, value, size, etag, metadata, expiration) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(ns, e.key, value, e.size, e.etag, e.metadata, e.expiration);
  }

  applyDelete(ns: string, key: string): void {
    this.#data.get(ns)?.delete(key);
    this.#db?.prepare('DELETE FROM kv_entries WHERE ns = ? AND key = ?').run(ns, key);
  }

  #mapOf(ns: string): Map<string, Entry> {
    let map = this.#data.get(ns);
    if (map === undefined) this.#data.set(ns, (map = new Map()));
    return map;
  }

  #owned(zoneId: string, ns: string): boolean {
    return this.#namespaces.get(ns)?.zone_id === zoneId;
  }

  async get(
    zoneId: string,
    ns: string,
    key: string,
  ): Promise<{ value: ArrayBuffer; metadata: string | null } | null> {
    if (!this.#owned(zoneId, ns)) return null;
    const entry = this.#data.get(ns)?.get(key);
    if (entry === undefined) return null;
    if (entry.expiration !== null && entry.expiration <= Date.now() / 1000) return null;
    if (entry.value === null) {
      const value = await this.#options.fetchValue(ns, key, entry.etag);
      if (value === null) return null;
      // Kept, unless a newer write replaced the entry meanwhile.
      if (this.#data.get(ns)?.get(key) === entry) {
        entry.value = value;
        this.#db
          ?.prepare('UPDATE kv_entries SET value = ? WHERE ns = ? AND key = ? AND etag = ?')
          .run(value, ns, key, entry.etag);
      }
      return { value: arrayBufferOf(value), metadata: entry.metadata };
    }
    return { value: arrayBufferOf(entry.value), metadata: entry.metadata };
  }

  async put(
    zoneId: string,
    ns: string,
    key: string,
    value: ArrayBuffer,
    metadata: string | null,
    ttlSec: number | null,
    expiration: number | null,
  ): Promise<string | null> {
    if (!this.#owned(zoneId, ns)) return `KV put: no namespace ${ns} in this zone`;
    const nowSec = Date.now() / 1000;
    const problem = checkKvWrite(key, value.byteLength, metadata, ttlSec, expiration, nowSec);
    if (problem !== null) return problem;
    const op = {
      kind: 'put' as const,
      ns,
      key,
      value: Buffer.from(value),
      metadata,
      expiration: expirationOf(ttlSec, expiration, nowSec),
    };
    try {
      if (this.#options.write !== null) await this.#options.write(op);
    } catch (err) {
      return `KV put: ${err instanceof Error ? err.message : String(err)}`;
    }
    // Read-your-writes on this node at once; the event that follows says the same.
    this.applyPut(ns, {
      key,
      value_b64: op.value.toString('base64'),
      size: op.value.length,
      etag: kvEtag(op.value),
      metadata,
      expiration: op.expiration,
    });
    return null;
  }

  async delete(zoneId: string, ns: string, key: string): Promise<string | null> {
    if (!this.#owned(zoneId, ns)) return `KV delete: no namespace ${ns} in this zone`;
    try {
      if (this.#options.write !== null) await this.#options.write({ kind: 'delete', ns, key });
    } catch (err) {
      return `KV delete: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.applyDelete(ns, key);
    return null;
  }

  async list(
    zoneId: string,
    ns: string,
    prefix: string,
    limit: number,
    cursor: string | null,
  ): Promise<KvListPage> {
    if (!this.#owned(zoneId, ns)) return { keys: [], cursor: null };
    const nowSec = Date.now() / 1000;
    const after = cursor === null ? null : Buffer.from(cursor, 'base64url').toString();
    const names = [...(this.#data.get(ns)?.entries() ?? [])]
      .filter(
        ([k, e]) =>
          k.startsWith(prefix) &&
          (after === null || k > after) &&
          (e.expiration === null || e.expiration > nowSec),
      )
      .map(([k]) => k)
      .sort();
    const page = names.slice(0, limit);
    const map = this.#data.get(ns) as Map<string, Entry>;
    return {
      keys: page.map((name) => {
        const e = map.get(name) as Entry;
        return { name, expiration: e.expiration, metadata: e.metadata };
      }),
      cursor:
        names.length > limit ? Buffer.from(page[page.length - 1] as string).toString('base64url') : null,
    };
  }
}

function arrayBufferOf(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}
