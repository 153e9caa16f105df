// The tables as Kysely sees them: one row type per table, shared by SQLite and PostgreSQL. Storage is
// kept portable: text ids, integers, JSON as text, ISO-8601 timestamps as text (they sort as times).
import type { Generated } from 'kysely';

export interface TokenRow {
  id: string;
  name: string;
  /** SHA-256 of the secret, lower-case hex; the secret itself is never stored. */
  secret_hash: string;
  /** JSON: Scope[]. */
  scopes: string;
  /** JSON: string[] (zone ids), or null for every zone. */
  zones: string | null;
  created_at: string;
  last_used_at: string | null;
}

export interface ZoneRow {
  id: string;
  name: string;
  /** JSON: Origin[]. */
  origins: string;
  shield_pop: string | null;
  /** JSON: ZoneSettings. */
  settings: string;
  created_at: string;
  updated_at: string;
}

/** One row per hostname: the primary key makes a hostname belong to at most one zone. */
export interface ZoneHostnameRow {
  hostname: string;
  zone_id: string;
  /** Order within the zone's list. */
  position: number;
}

export interface RuleRow {
  id: string;
  zone_id: string;
  position: number;
  description: string;
  /** 0 or 1 (portable boolean). */
  enabled: number;
  /** JSON: RuleMatch. */
  match: string;
  /** JSON: RuleAction. */
  action: string;
  created_at: string;
  updated_at: string;
}

export interface PopRow {
  name: string;
  city: string;
  latitude: number;
  longitude: number;
  role: string;
  capacity: number;
  /** 0 or 1 (migration 0010): the PoP is drained. */
  drained: number;
  created_at: string;
}

export interface NodeRow {
  name: string;
  pop: string;
  url: string;
  admin_url: string | null;
  status: string;
  last_heartbeat_at: string | null;
  applied_seq: number;
  registered_at: string;
}

export interface EventRow {
  seq: number;
  type: string;
  /** JSON: the EventBody (type included). */
  body: string;
  at: string;
}

export interface AuditRow {
  id: Generated<number>;
  at: string;
  token_id: string | null;
  token_name: string;
  ip: string;
  action: string;
  resource_id: string | null;
  /** JSON. */
  details: string;
}

/** One row (id 1): the last allocated event seq. Its row lock serialises appenders. */
export interface EventCounterRow {
  id: number;
  value: number;
}

export interface PurgeRow {
  id: string;
  zone_id: string;
  /** The seq of the purge's event in the log. */
  seq: number;
  /** JSON: the PurgeRequest. */
  request: string;
  created_at: string;
}

/** A key every node of the cluster shares (base64url of 32 random bytes), sealed under the master key. */
export interface ClusterKeyRow {
  name: string;
  value: string;
  created_at: string;
}

/** A prewarm call (issue 18); `request` is JSON: the Prewarm's files and pops. */
export interface PrewarmRow {
  id: string;
  zone_id: string;
  seq: number;
  request: string;
  created_at: string;
}

/** A node's progress on a prewarm: of `total` URLs it owns, `done` loaded, `failed` not. */
export interface PrewarmProgressRow {
  prewarm_id: string;
  node: string;
  total: number;
  done: number;
  failed: number;
  updated_at: string;
}

/** A node applied a purge (the time is the node's clock). */
export interface PurgeAckRow {
  purge_id: string;
  node: string;
  applied_at: string;
}

/** A zone's certificate: the chain (public) in clear, the private key sealed under the master key. */
export interface CertificateRow {
  id: string;
  zone_id: string;
  usage: string;
  type: string;
  status: string;
  /** JSON: string[]. */
  hosts: string;
  issuer: string;
  signature: string;
  serial_number: string;
  fingerprint_sha256: string;
  not_before: string;
  expires_on: string;
  /** PEM chain, leaf first; null while an ACME order is pending. */
  certificate: string | null;
  /** The PEM key sealed (secrets/master-key.ts); null while an ACME order is pending. */
  private_key: string | null;
  uploaded_on: string;
  modified_on: string;
}

/** An ACME HTTP-01 challenge in progress (control/acme/). */
export interface AcmeChallengeRow {
  token: string;
  key_authorization: string;
  expires_at: string;
  created_at: string;
}

/** Which control-plane replica orders a zone's ACME certificate, until when. */
export interface AcmeLeaseRow {
  zone_id: string;
  holder: string;
  expires_at: string;
}

/** One uploaded version of a worker script. */
export interface WorkerVersionRow {
  zone_id: string;
  name: string;
  version: number;
  etag: string;
  source: string;
  /** JSON: Binding[], each secret_text's text sealed (secrets/master-key.ts). */
  bindings: string;
  created_at: string;
}

/** A worker script and the version that runs. */
export interface WorkerScriptRow {
  zone_id: string;
  name: string;
  current_version: number;
  created_at: string;
  updated_at: string;
}

export interface WorkerRouteRow {
  id: string;
  zone_id: string;
  pattern: string;
  script: string;
  /** 0 or 1. */
  fail_open: number;
  created_at: string;
}

export interface KvNamespaceRow {
  id: string;
  zone_id: string;
  title: string;
  created_at: string;
}

export interface KvEntryRow {
  namespace_id: string;
  key: string;
  value_b64: string;
  size: number;
  etag: string;
  /** JSON text, or null. */
  metadata: string | null;
  /** Seconds since the epoch, or null. */
  expiration: number | null;
  updated_at: string;
}

/** A node's analytics batch that was added (its id is never added twice). */
export interface AnalyticsBatchRow {
  batch_id: string;
  node: string;
  received_at: string;
}

/** One zone's counts in one bucket (minute, hour or day start, ISO) from one node. */
export interface AnalyticsRollupRow {
  zone_id: string;
  resolution: string;
  bucket: string;
  node: string;
  pop: string;
  requests: number;
  bytes: number;
  /** JSON: the Tally (common/analytics/tally.ts). */
  data: string;
  updated_at: string;
}

/** A node reported (heartbeat) that it applied up to `seq`, first at `at`. */
export interface NodeAppliedRow {
  node: string;
  seq: number;
  at: string;
}

/** A zone's edge security document (common/config/ruleset.ts ZoneSecurity, JSON). */
export interface ZoneSecurityRow {
  zone_id: string;
  body: string;
  updated_at: string;
}

export interface Tables {
  tokens: TokenRow;
  zones: ZoneRow;
  zone_hostnames: ZoneHostnameRow;
  rules: RuleRow;
  pops: PopRow;
  nodes: NodeRow;
  events: EventRow;
  audit_log: AuditRow;
  event_counter: EventCounterRow;
  purges: PurgeRow;
  purge_acks: PurgeAckRow;
  prewarms: PrewarmRow;
  prewarm_progress: PrewarmProgressRow;
  cluster_keys: ClusterKeyRow;
  certificates: CertificateRow;
  acme_challenges: AcmeChallengeRow;
  acme_leases: AcmeLeaseRow;
  worker_versions: WorkerVersionRow;
  worker_scripts: WorkerScriptRow;
  worker_routes: WorkerRouteRow;
  kv_namespaces: KvNamespaceRow;
  kv_entries: KvEntryRow;
  analytics_batches: AnalyticsBatchRow;
  analytics_rollups: AnalyticsRollupRow;
  node_applied: NodeAppliedRow;
  zone_security: ZoneSecurityRow;
}
