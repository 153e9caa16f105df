// KV namespaces as workers see them (env.NS.get/put/delete/list). Reads are always local (the node's
// replica, kv/replica.ts); writes go where the mode says: through the control plane in a cluster
// (which appends them to the event log for every node, this one included), or to the replica itself
// in `meridian workers dev`. A namespace is usable only by workers of the zone that owns it.

/** One page of a namespace's keys, as `list` answers it (cursor null: the last page). */
export interface KvListPage {
  keys: { name: string; expiration: number | null; metadata: string | null }[];
  cursor: string | null;
}

export interface KvReader {
  get(
    zoneId: string,
    ns: string,
    key: string,
  ): Promise<{ value: ArrayBuffer; metadata: string | null } | null>;
  put(
    zoneId: string,
    ns: string,
    key: string,
    value: ArrayBuffer,
    metadata: string | null,
    ttlSec: number | null,
    expiration: number | null,
  ): Promise<string | null>;
  delete(zoneId: string, ns: string, key: string): Promise<string | null>;
  list(zoneId: string, ns: string, prefix: string, limit: number, cursor: string | null): Promise<KvListPage>;
}
