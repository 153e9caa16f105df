// The ordered event log that carries every change to the nodes. Each event is a full, idempotent
// statement of new state (upserts carry the whole object; rules carry the zone's whole list), so
// applying an event twice, or after a snapshot that already includes it, changes nothing.
import type { AcmeChallenge, CertificateMeta } from '../config/certificate.ts';
import type { Prewarm } from '../config/prewarm.ts';
import type { Purge } from '../config/purge.ts';
import type { Pop } from '../config/topology.ts';
import type { Rule, Zone } from '../config/zone.ts';
import type { WorkerRoute } from '../config/worker.ts';
import type { KvEntryRef, KvNamespace } from '../config/kv.ts';

/** A deployed worker version, by reference: nodes fetch its source and bindings (secrets) themselves. */
export interface WorkerScriptRef {
  zone_id: string;
  name: string;
  version: number;
  etag: string;
}
import type { ZoneSecurity } from '../config/ruleset.ts';

export type EventBody =
  | { type: 'zone.upsert'; zone: Zone }
  | { type: 'zone.delete'; zone_id: string }
  | { type: 'rules.replace'; zone_id: string; rules: Rule[] }
  | { type: 'pop.upsert'; pop: Pop }
  | { type: 'pop.delete'; name: string }
  | { type: 'node.upsert'; node: { name: string; pop: string; url: string; status: 'up' | 'down' } }
  | { type: 'node.delete'; name: string }
  /** Metadata only: the node fetches the key material itself (common/config/certificate.ts). */
  | { type: 'certificate.upsert'; certificate: CertificateMeta }
  | { type: 'certificate.delete'; id: string; zone_id: string }
  | { type: 'acme.challenge.upsert'; challenge: AcmeChallenge }
  | { type: 'acme.challenge.delete'; token: string }
  /** Not a state: a command each node applies once, in order (its cache state is the node's own). */
  | { type: 'purge'; purge: Purge }
  /** Not a state: the owners in the chosen PoPs load these URLs into their caches (edge/prewarm/). */
  | { type: 'prewarm'; prewarm: Prewarm }
  /** A worker version became current (deploy or rollback); nodes compile it before switching. */
  | { type: 'worker.script.upsert'; script: WorkerScriptRef }
  | { type: 'worker.script.delete'; zone_id: string; name: string }
  /** The zone's whole list of worker routes. */
  | { type: 'worker.routes.replace'; zone_id: string; routes: WorkerRoute[] }
  | { type: 'kv.namespace.upsert'; namespace: KvNamespace }
  | { type: 'kv.namespace.delete'; id: string; zone_id: string }
  /** One KV write; small values inline, large ones by reference (KvEntryRef). */
  | { type: 'kv.put'; namespace_id: string; entry: KvEntryRef }
  | { type: 'kv.delete'; namespace_id: string; key: string }
  /** A zone's whole edge security (rulesets and settings); null: none (edge/security). */
  | { type: 'security.replace'; zone_id: string; security: ZoneSecurity | null };

export type ControlEvent = EventBody & {
  /** Position in the log: 1, 2, 3 … without gaps. */
  seq: number;
  /** ISO time the change was committed. */
  at: string;
};

/** Everything a node needs, as of `seq`: applying the log's events after `seq` brings it up to date. */
export interface Snapshot {
  seq: number;
  zones: Zone[];
  rules: Record<string, Rule[]>;
  pops: Pop[];
  nodes: { name: string; pop: string; url: string; status: 'up' | 'down' }[];
  /**
   * The purges the log still holds (seq >= purges_from), for a node that loads a snapshot after
   * having served from a cache as of an older seq: it applies those after its own seq, and purges
   * everything when its seq is older than purges_from - 1 (it cannot know what it missed). Absent in
   * a node's own saved state (purges are applied, not kept).
   */
  purges?: (Purge & { seq: number })[];
  purges_from?: number;
  /**
   * The key nodes sign internal hops with (base64url; edge/cluster/hop.ts). Given to node tokens
   * only; absent in older saved states, when a node fetches from origins directly.
   */
  hop_key?: string;
  /** Certificates of the zones (metadata; absent in older saved states: none). */
  certificates?: CertificateMeta[];
  /** ACME HTTP-01 challenges in progress (absent: none). */
  acme_challenges?: AcmeChallenge[];
  /**
   * The secret the nodes of a PoP derive their shared, rotating TLS session-ticket keys from
   * (base64url; edge/server/ticket-keys.ts). Given to node tokens only, like hop_key.
   */
  ticket_key?: string;
  /** The current version of every worker script (absent in older saved states: none). */
  worker_scripts?: WorkerScriptRef[];
  /** Worker routes by zone id (zones without routes absent). */
  worker_routes?: Record<string, WorkerRoute[]>;
  /** KV namespaces (their entries are loaded per namespace: GET /internal/v1/kv/:ns/entries). */
  kv_namespaces?: KvNamespace[];
  /** Each zone's edge security (rulesets, settings); absent in older saved states: none. */
  security?: Record<string, ZoneSecurity>;
}

/** How a node receives the log: from `afterSeq` on, in order, until closed. */
export interface EventSubscription {
  close(): Promise<void>;
}

export interface EventSource {
  /**
   * Delivers every event with seq > afterSeq in order; `onEvent` resolves before the next is given.
   * `onGap` is called when the log no longer holds events right after `afterSeq` (retention): the
   * node must reload a snapshot and subscribe again.
   */
  subscribe(
    afterSeq: number,
    onEvent: (event: ControlEvent) => Promise<void>,
    onGap: () => void,
  ): Promise<EventSubscription>;
}
