// The control plane's durable state, as the API and the event transports use it. One implementation
// (control-store.ts) over Kysely serves both SQLite (embedded) and PostgreSQL (distributed); the
// contract suite in test/contract/control-store*.test.ts runs against both.
//
// Every mutating call runs in ONE transaction that also appends its event(s) to the log and writes
// an audit entry, so a change and its event are committed together or not at all.
import type { AnalyticsRepository } from './analytics.ts';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import type { AcmeChallenge } from '../../common/config/certificate.ts';
import type { Purge, PurgeRequest } from '../../common/config/purge.ts';
import type { PrewarmProgress, PrewarmRecord } from './prewarms.ts';
import type { NodeInfo, Pop, PopInput } from '../../common/config/topology.ts';
import type { Rule, RuleInput, Zone, ZoneInput } from '../../common/config/zone.ts';
import type { z } from 'zod';
import type { ZonePatchSchema } from '../../common/config/zone.ts';
import type { CertificateMeta } from '../../common/config/certificate.ts';
import type { CertificateWithMaterial } from './certificates.ts';
import type { SecretName } from './cluster-keys.ts';
import type { MasterKey } from '../secrets/master-key.ts';
import type { RotationResult } from './secrets.ts';
import type { WorkersStore } from './workers-store.ts';

import type { Phase, Ruleset, SecuritySettings, ZoneSecurity } from '../../common/config/ruleset.ts';

export type Scope =
  | 'zones:read'
  | 'zones:write'
  | 'purge'
  | 'analytics:read'
  | 'tokens:write'
  | 'audit:read'
  | 'node'
  | 'admin'
  | 'workers:read'
  | 'workers:write'
  | 'firewall:read'
  | 'firewall:write';

export interface TokenRecord {
  id: string;
  name: string;
  scopes: Scope[];
  /** Zone ids the token is limited to; null: every zone. */
  zones: string[] | null;
  created_at: string;
  last_used_at: string | null;
}

/** Who made a change (the audit log's "who" and "from where"). */
export interface Actor {
  token_id: string | null;
  token_name: string;
  ip: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  token_id: string | null;
  token_name: string;
  ip: string;
  /** e.g. "zone.create", "rule.delete", "token.create". */
  action: string;
  resource_id: string | null;
  details: unknown;
}

export interface Page {
  page: number;
  per_page: number;
}

export interface PageOf<T> {
  items: T[];
  total: number;
}

export type ZonePatch = z.infer<typeof ZonePatchSchema>;

/** A conflict the API reports as 409 (duplicate name or hostname), or a missing reference as 404. */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** A purge and the seq of its event. */
export type PurgeRecord = Purge & { seq: number };

/** A node's receipt for a purge: when (its clock) it applied it. */
export interface PurgeAck {
  node: string;
  applied_at: string;
}

/**
 * A certificate as the store writes it: the metadata (read from the leaf by the API), the PEM chain
 * and the private key in clear, which the store seals. Chain and key are null while an ACME order is
 * pending.
 */
export type CertificateRecordInput = Omit<
  CertificateMeta,
  'id' | 'zone_id' | 'uploaded_on' | 'modified_on'
> & {
  certificate: string | null;
  private_key: string | null;
};

export interface ControlStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** Analytics rollups, batch ids and propagation times (analytics.ts). */
  readonly analytics: AnalyticsRepository;
  close(): Promise<void>;

  // tokens: only the SHA-256 of a secret is stored
  countTokens(): Promise<number>;
  createToken(
    input: { name: string; secretHash: string; scopes: Scope[]; zones: string[] | null },
    actor: Actor,
  ): Promise<TokenRecord>;
  /** Also records last_used_at (at most once a minute per token). */
  findTokenBySecretHash(secretHash: string): Promise<TokenRecord | undefined>;
  listTokens(page: Page): Promise<PageOf<TokenRecord>>;
  deleteToken(id: string, actor: Actor): Promise<boolean>;

  // zones (events: zone.upsert / zone.delete)
  createZone(input: ZoneInput, actor: Actor): Promise<Zone>;
  getZone(id: string): Promise<Zone | undefined>;
  getZoneByName(name: string): Promise<Zone | undefined>;
  /** zoneIds: only these (a token limited to zones); null: all. */
  listZones(page: Page, zoneIds: string[] | null): Promise<PageOf<Zone>>;
  patchZone(id: string, patch: ZonePatch, actor: Actor): Promise<Zone | undefined>;
  deleteZone(id: string, actor: Actor): Promise<boolean>;

  // rules (event: rules.replace with the zone's whole ordered list)
  listRules(zoneId: string): Promise<Rule[]>;
  /** position: where to insert (0-based); default last. */
  createRule(zoneId: string, input: RuleInput, position: number | null, actor: Actor): Promise<Rule>;
  updateRule(zoneId: string, ruleId: string, input: RuleInput, actor: Actor): Promise<Rule | undefined>;
  deleteRule(zoneId: string, ruleId: string, actor: Actor): Promise<boolean>;
  /** Sets the order: ruleIds must be exactly the zone's rules. */
  reorderRules(zoneId: string, ruleIds: string[], actor: Actor): Promise<Rule[]>;

  // edge security (event: security.replace with the zone's whole document; migration 0007)
  getSecurity(zoneId: string): Promise<ZoneSecurity>;
  putRuleset(
    zoneId: string,
    phase: Phase,
    input: { name?: string | undefined; description?: string | undefined; rules: Record<string, unknown>[] },
    actor: Actor,
  ): Promise<Ruleset>;
  putSecuritySettings(zoneId: string, settings: SecuritySettings, actor: Actor): Promise<SecuritySettings>;

  // topology (events: pop.upsert / pop.delete / node.upsert / node.delete)
  upsertPop(input: PopInput, actor: Actor): Promise<Pop>;
  listPops(): Promise<Pop[]>;
  deletePop(name: string, actor: Actor): Promise<boolean>;
  /** Drains a PoP or puts it back (event pop.upsert); undefined when there is no such PoP. */
  setPopDrained(name: string, drained: boolean, actor: Actor): Promise<Pop | undefined>;
  /** A node (re)registers: its address and PoP are recorded, status up. */
  registerNode(
    node: { name: string; pop: string; url: string; admin_url: string | null },
    actor: Actor,
  ): Promise<NodeInfo>;
  /** Removes a node (event node.delete); false when there is none. */
  deleteNode(name: string, actor: Actor): Promise<boolean>;
  /**
   * Heartbeat: last_heartbeat_at = now, applied_seq recorded; no event (too frequent). A node that
   * was marked down comes back up, which is a change: that heartbeat emits node.upsert.
   */
  heartbeat(name: string, appliedSeq: number): Promise<NodeInfo | undefined>;
  listNodes(): Promise<NodeInfo[]>;
  /** Marks nodes whose last heartbeat is older than `staleMs` as down (emits node.upsert for each change). */
  markStaleNodesDown(staleMs: number): Promise<string[]>;

  // purges (event: purge)
  /** Appends a purge for the zone; undefined when the zone does not exist. */
  createPurge(zoneId: string, request: PurgeRequest, actor: Actor): Promise<PurgeRecord | undefined>;
  getPurge(zoneId: string, purgeId: string): Promise<PurgeRecord | undefined>;
  listPurgeAcks(purgeId: string): Promise<PurgeAck[]>;
  /** A node's receipts (unknown ids skipped, repeats ignored); returns how many were new or known. */
  recordPurgeAcks(node: string, acks: readonly { purge_id: string; applied_at: string }[]): Promise<number>;
  /** Forgets purges created before the given time (ISO). */
  prunePurges(beforeIso: string): Promise<number>;

  // prewarms (event: prewarm; store/prewarms.ts)
  createPrewarm(
    zoneId: string,
    files: string[],
    pops: string[] | null,
    actor: Actor,
  ): Promise<PrewarmRecord | undefined>;
  getPrewarm(zoneId: string, prewarmId: string): Promise<PrewarmRecord | undefined>;
  listPrewarmProgress(prewarmId: string): Promise<PrewarmProgress[]>;
  recordPrewarmProgress(
    node: string,
    progress: { prewarm_id: string; total: number; done: number; failed: number },
  ): Promise<boolean>;

  // certificates (events: certificate.upsert with metadata only / certificate.delete)
  /** undefined when the zone does not exist. */
  createCertificate(
    zoneId: string,
    input: CertificateRecordInput,
    actor: Actor,
  ): Promise<CertificateMeta | undefined>;
  /** usage null: both usages. */
  listCertificates(zoneId: string, usage: CertificateMeta['usage'] | null): Promise<CertificateMeta[]>;
  getCertificate(id: string): Promise<CertificateMeta | undefined>;
  /** The metadata and the decrypted chain and key (nodes of the zone only: the API checks). */
  getCertificateMaterial(id: string): Promise<CertificateWithMaterial | undefined>;
  /** Replaces chain, key and metadata; usage and zone stay. */
  replaceCertificate(
    id: string,
    input: CertificateRecordInput,
    actor: Actor,
  ): Promise<CertificateMeta | undefined>;
  deleteCertificate(id: string, actor: Actor): Promise<CertificateMeta | undefined>;

  // audit
  listAudit(page: Page): Promise<PageOf<AuditEntry>>;

  // the event log
  /** Highest committed seq (0 when the log is empty). */
  lastSeq(): Promise<number>;
  /** Lowest seq still held (retention); lastSeq() + 1 when the log is empty. */
  firstSeq(): Promise<number>;
  /** Events with seq > afterSeq in order, at most `limit`. */
  readEventsAfter(afterSeq: number, limit: number): Promise<ControlEvent[]>;
  /** A consistent view of all state and the seq it reflects. */
  snapshot(): Promise<Snapshot>;
  /** The key nodes sign internal hops with (made on first use, the same for every node). */
  hopKey(): Promise<string>;
  /** The secret a PoP's nodes derive TLS session-ticket keys from (made on first use, sealed). */
  ticketKey(): Promise<string>;
  /** A sealed value kept beside the cluster keys (opened), or null when there is none. */
  readSecret(name: SecretName): Promise<string | null>;
  /** Keeps `value` sealed as `name` unless one is there already; answers the value kept. */
  keepSecret(name: SecretName, value: string): Promise<string>;
  /**
   * Re-seals every secret under `next` in one transaction; the store then uses `next`. Stop every
   * other replica first: they still hold the old key.
   */
  rotateMasterKey(next: MasterKey, actor: Actor): Promise<RotationResult>;
  // ACME HTTP-01 challenges (events acme.challenge.upsert / delete; the snapshot's acme_challenges)
  /** Publishes a challenge for every node to answer; returns the seq of its event. */
  putAcmeChallenge(challenge: AcmeChallenge): Promise<number>;
  /** Withdraws it; returns the seq of its event, or null when it was not there. */
  deleteAcmeChallenge(token: string): Promise<number | null>;
  /**
   * One control-plane replica orders a zone's certificate at a time: true when `holder` holds the
   * zone's lease now (free, expired, or its own), for `ttlMs`.
   */
  acquireAcmeLease(zoneId: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseAcmeLease(zoneId: string, holder: string): Promise<void>;

  /** Drops events older than the newest `keep` (retention). */
  pruneEvents(keep: number): Promise<number>;
  /**
   * Called after every commit that appended events, with the new lastSeq. With PostgreSQL this also
   * fires for commits made by other control-plane replicas (LISTEN/NOTIFY). Returns an unsubscribe.
   */
  onCommitted(listener: (lastSeq: number) => void): () => void;

  /** Edge workers and KV (events worker.*, kv.*). */
  workers(): WorkersStore;
}
