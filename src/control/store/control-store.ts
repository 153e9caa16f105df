// The control plane's durable store: one implementation of ControlStore over Kysely, for SQLite
// (embedded: `sqlite:/path/to/meridian.db`, `sqlite::memory:`) and PostgreSQL (distributed:
// `postgres://user@host:port/db`). The work lives in one module per resource (zones.ts, rules.ts,
// topology.ts, tokens.ts, event-log.ts); write.ts holds the transaction that ties each change to its
// event and audit entry, and explains why the log stays gapless.
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import { workersStore, type WorkersStore } from './workers-store.ts';
import type { NodeInfo, Pop, PopInput } from '../../common/config/topology.ts';
import type { Rule, RuleInput, Zone, ZoneInput } from '../../common/config/zone.ts';
import type { PurgeRequest } from '../../common/config/purge.ts';
import type { CertificateMeta } from '../../common/config/certificate.ts';
import { createLogger } from '../../common/log.ts';
import { explainMissingKeyFile, resolveMasterKey } from '../secrets/key-source.ts';
import type { MasterKey } from '../secrets/master-key.ts';
import * as certificates from './certificates.ts';
import type { CertificateWithMaterial } from './certificates.ts';
import { prepareSecrets, resealAll } from './secrets.ts';
import type { RotationResult } from './secrets.ts';
import type { AcmeChallenge } from '../../common/config/certificate.ts';
import * as acmeChallenges from './acme-challenges.ts';
import { AnalyticsRepository } from './analytics.ts';
import { listAudit } from './audit.ts';
import { CommitNotifier, PgCommitListener, notifyChannel } from './commit-notifier.ts';
import { connect, parseStoreUrl } from './connect.ts';
import type { Connection } from './connect.ts';
import { clusterKey, keepSecret, readSecret, type SecretName } from './cluster-keys.ts';
import * as eventLog from './event-log.ts';
import * as purges from './purges.ts';
import * as prewarms from './prewarms.ts';
import * as rules from './rules.ts';
import * as security from './security.ts';
import type { Phase, Ruleset, SecuritySettings, ZoneSecurity } from '../../common/config/ruleset.ts';
import * as tokens from './tokens.ts';
import * as topology from './topology.ts';
import type {
  Actor,
  AuditEntry,
  CertificateRecordInput,
  ControlStore,
  Page,
  PageOf,
  PurgeAck,
  PurgeRecord,
  Scope,
  TokenRecord,
  ZonePatch,
} from './types.ts';
import type { StoreContext } from './write.ts';
import * as zones from './zones.ts';

export interface ControlStoreOptions {
  /** PostgreSQL only: create this schema if needed and keep every table in it (search_path). */
  schema?: string;
  /** The clock for timestamps, heartbeat staleness and token use (tests inject one). */
  now?: () => Date;
  /**
   * Seals the secrets at rest. Absent: the default of secrets/key-source.ts without a configured
   * key (the key file beside a SQLite database, made on first open; PostgreSQL refuses).
   */
  masterKey?: MasterKey;
}

/** Opens the store at `url`, bringing its schema up to date (Kysely migrations) first. */
export async function openControlStore(
  url: string,
  options: ControlStoreOptions = {},
): Promise<ControlStore> {
  const location = parseStoreUrl(url, options.schema);
  const resolved =
    options.masterKey !== undefined
      ? { key: options.masterKey, createdFile: null }
      : resolveMasterKey(location, { value: null, file: null }, createLogger('control-store'));
  const masterKey = resolved.key;
  const connection = await connect(location);
  try {
    await prepareSecrets(connection.db, masterKey, (options.now ?? (() => new Date()))());
  } catch (err) {
    await connection.db.destroy();
    throw explainMissingKeyFile(resolved, err);
  }
  const notifier = new CommitNotifier();
  const channel = location.dialect === 'postgres' ? notifyChannel(location.schema) : null;
  const ctx: StoreContext = {
    db: connection.db,
    dialect: location.dialect,
    now: options.now ?? (() => new Date()),
    channel,
    committed: (seq) => notifier.publish(seq),
    masterKey,
  };
  let listener: PgCommitListener | null = null;
  if (channel !== null && connection.pgClientConfig !== null) {
    try {
      listener = await PgCommitListener.start(
        connection.pgClientConfig,
        channel,
        (seq) => notifier.publish(seq),
        () => eventLog.lastSeq(connection.db),
      );
    } catch (err) {
      await connection.db.destroy();
      throw err;
    }
  }
  return new KyselyControlStore(ctx, connection, notifier, listener);
}

class KyselyControlStore implements ControlStore {
  #hopKey: Promise<string> | null = null;
  #ticketKey: Promise<string> | null = null;
  readonly dialect: 'sqlite' | 'postgres';
  readonly analytics: AnalyticsRepository;
  #ctx: StoreContext;
  readonly #connection: Connection;
  readonly #notifier: CommitNotifier;
  readonly #listener: PgCommitListener | null;
  #closing: Promise<void> | null = null;

  constructor(
    ctx: StoreContext,
    connection: Connection,
    notifier: CommitNotifier,
    listener: PgCommitListener | null,
  ) {
    this.dialect = ctx.dialect;
    this.#ctx = ctx;
    this.analytics = new AnalyticsRepository(ctx);
    this.#connection = connection;
    this.#notifier = notifier;
    this.#listener = listener;
  }

  #workers: WorkersStore | null = null;
  workers(): WorkersStore {
    this.#workers ??= workersStore(() => this.#ctx);
    return this.#workers;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#listener?.close();
      await this.#connection.db.destroy();
    })();
    return this.#closing;
  }

  // tokens
  countTokens(): Promise<number> {
    return tokens.countTokens(this.#ctx.db);
  }
  createToken(
    input: { name: string; secretHash: string; scopes: Scope[]; zones: string[] | null },
    actor: Actor,
  ): Promise<TokenRecord> {
    return tokens.createToken(this.#ctx, input, actor);
  }
  findTokenBySecretHash(secretHash: string): Promise<TokenRecord | undefined> {
    return tokens.findTokenBySecretHash(this.#ctx, secretHash);
  }
  listTokens(page: Page): Promise<PageOf<TokenRecord>> {
    return tokens.listTokens(this.#ctx.db, page);
  }
  deleteToken(id: string, actor: Actor): Promise<boolean> {
    return tokens.deleteToken(this.#ctx, id, actor);
  }

  // zones
  createZone(input: ZoneInput, actor: Actor): Promise<Zone> {
    return zones.createZone(this.#ctx, input, actor);
  }
  getZone(id: string): Promise<Zone | undefined> {
    return zones.getZone(this.#ctx.db, id);
  }
  getZoneByName(name: string): Promise<Zone | undefined> {
    return zones.getZoneByName(this.#ctx.db, name);
  }
  listZones(page: Page, zoneIds: string[] | null): Promise<PageOf<Zone>> {
    return zones.listZones(this.#ctx.db, page, zoneIds);
  }
  patchZone(id: string, patch: ZonePatch, actor: Actor): Promise<Zone | undefined> {
    return zones.patchZone(this.#ctx, id, patch, actor);
  }
  deleteZone(id: string, actor: Actor): Promise<boolean> {
    return zones.deleteZone(this.#ctx, id, actor);
  }

  // rules
  listRules(zoneId: string): Promise<Rule[]> {
    return rules.listRules(this.#ctx.db, zoneId);
  }
  createRule(zoneId: string, input: RuleInput, position: number | null, actor: Actor): Promise<Rule> {
    return rules.createRule(this.#ctx, zoneId, input, position, actor);
  }
  updateRule(zoneId: string, ruleId: string, input: RuleInput, actor: Actor): Promise<Rule | undefined> {
    return rules.updateRule(this.#ctx, zoneId, ruleId, input, actor);
  }
  deleteRule(zoneId: string, ruleId: string, actor: Actor): Promise<boolean> {
    return rules.deleteRule(this.#ctx, zoneId, ruleId, actor);
  }
  reorderRules(zoneId: string, ruleIds: string[], actor: Actor): Promise<Rule[]> {
    return rules.reorderRules(this.#ctx, zoneId, ruleIds, actor);
  }

  // edge security
  getSecurity(zoneId: string): Promise<ZoneSecurity> {
    return security.getSecurity(this.#ctx.db, zoneId);
  }
  putRuleset(
    zoneId: string,
    phase: Phase,
    input: { name?: string | undefined; description?: string | undefined; rules: Record<string, unknown>[] },
    actor: Actor,
  ): Promise<Ruleset> {
    return security.putRuleset(this.#ctx, zoneId, phase, input, actor);
  }
  putSecuritySettings(zoneId: string, settings: SecuritySettings, actor: Actor): Promise<SecuritySettings> {
    return security.putSecuritySettings(this.#ctx, zoneId, settings, actor);
  }

  // topology
  upsertPop(input: PopInput, actor: Actor): Promise<Pop> {
    return topology.upsertPop(this.#ctx, input, actor);
  }
  listPops(): Promise<Pop[]> {
    return topology.listPops(this.#ctx.db);
  }
  deletePop(name: string, actor: Actor): Promise<boolean> {
    return topology.deletePop(this.#ctx, name, actor);
  }
  setPopDrained(name: string, drained: boolean, actor: Actor): Promise<Pop | undefined> {
    return topology.setPopDrained(this.#ctx, name, drained, actor);
  }
  registerNode(
    node: { name: string; pop: string; url: string; admin_url: string | null },
    actor: Actor,
  ): Promise<NodeInfo> {
    return topology.registerNode(this.#ctx, node, actor);
  }
  deleteNode(name: string, actor: Actor): Promise<boolean> {
    return topology.deleteNode(this.#ctx, name, actor);
  }
  heartbeat(name: string, appliedSeq: number): Promise<NodeInfo | undefined> {
    return topology.heartbeat(this.#ctx, name, appliedSeq);
  }
  listNodes(): Promise<NodeInfo[]> {
    return topology.listNodes(this.#ctx.db);
  }
  markStaleNodesDown(staleMs: number): Promise<string[]> {
    return topology.markStaleNodesDown(this.#ctx, staleMs);
  }

  // purges
  createPurge(zoneId: string, request: PurgeRequest, actor: Actor): Promise<PurgeRecord | undefined> {
    return purges.createPurge(this.#ctx, zoneId, request, actor);
  }
  getPurge(zoneId: string, purgeId: string): Promise<PurgeRecord | undefined> {
    return purges.getPurge(this.#ctx.db, zoneId, purgeId);
  }
  listPurgeAcks(purgeId: string): Promise<PurgeAck[]> {
    return purges.listPurgeAcks(this.#ctx.db, purgeId);
  }
  recordPurgeAcks(node: string, acks: readonly { purge_id: string; applied_at: string }[]): Promise<number> {
    return purges.recordPurgeAcks(this.#ctx.db, node, acks);
  }
  prunePurges(beforeIso: string): Promise<number> {
    return purges.prunePurges(this.#ctx.db, beforeIso);
  }

  // prewarms
  createPrewarm(
    zoneId: string,
    files: string[],
    pops: string[] | null,
    actor: Actor,
  ): Promise<prewarms.PrewarmRecord | undefined> {
    return prewarms.createPrewarm(this.#ctx, zoneId, files, pops, actor);
  }
  getPrewarm(zoneId: string, prewarmId: string): Promise<prewarms.PrewarmRecord | undefined> {
    return prewarms.getPrewarm(this.#ctx.db, zoneId, prewarmId);
  }
  listPrewarmProgress(prewarmId: string): Promise<prewarms.PrewarmProgress[]> {
    return prewarms.listPrewarmProgress(this.#ctx.db, prewarmId);
  }
  recordPrewarmProgress(
    node: string,
    progress: { prewarm_id: string; total: number; done: number; failed: number },
  ): Promise<boolean> {
    return prewarms.recordPrewarmProgress(this.#ctx.db, node, progress, new Date().toISOString());
  }

  // certificates
  createCertificate(
    zoneId: string,
    input: CertificateRecordInput,
    actor: Actor,
  ): Promise<CertificateMeta | undefined> {
    return certificates.createCertificate(this.#ctx, zoneId, input, actor);
  }
  listCertificates(zoneId: string, usage: CertificateMeta['usage'] | null): Promise<CertificateMeta[]> {
    return certificates.listCertificates(this.#ctx.db, zoneId, usage);
  }
  getCertificate(id: string): Promise<CertificateMeta | undefined> {
    return certificates.getCertificate(this.#ctx.db, id);
  }
  getCertificateMaterial(id: string): Promise<CertificateWithMaterial | undefined> {
    return certificates.getCertificateMaterial(this.#ctx.db, this.#ctx.masterKey, id);
  }
  replaceCertificate(
    id: string,
    input: CertificateRecordInput,
    actor: Actor,
  ): Promise<CertificateMeta | undefined> {
    return certificates.replaceCertificate(this.#ctx, id, input, actor);
  }
  deleteCertificate(id: string, actor: Actor): Promise<CertificateMeta | undefined> {
    return certificates.deleteCertificate(this.#ctx, id, actor);
  }

  // audit
  listAudit(page: Page): Promise<PageOf<AuditEntry>> {
    return listAudit(this.#ctx.db, page);
  }

  // the event log
  lastSeq(): Promise<number> {
    return eventLog.lastSeq(this.#ctx.db);
  }
  firstSeq(): Promise<number> {
    return eventLog.firstSeq(this.#ctx.db);
  }
  readEventsAfter(afterSeq: number, limit: number): Promise<ControlEvent[]> {
    return eventLog.readEventsAfter(this.#ctx.db, afterSeq, limit);
  }
  snapshot(): Promise<Snapshot> {
    return eventLog.snapshot(this.#ctx.db, this.#ctx.dialect, this.#ctx.now());
  }
  hopKey(): Promise<string> {
    this.#hopKey ??= clusterKey(this.#ctx.db, 'hop', this.#ctx.now(), this.#ctx.masterKey).catch(
      (err: unknown) => {
        this.#hopKey = null;
        throw err;
      },
    );
    return this.#hopKey;
  }
  ticketKey(): Promise<string> {
    this.#ticketKey ??= clusterKey(this.#ctx.db, 'ticket', this.#ctx.now(), this.#ctx.masterKey).catch(
      (err: unknown) => {
        this.#ticketKey = null;
        throw err;
      },
    );
    return this.#ticketKey;
  }
  readSecret(name: SecretName): Promise<string | null> {
    return readSecret(this.#ctx.db, name, this.#ctx.masterKey);
  }
  keepSecret(name: SecretName, value: string): Promise<string> {
    return keepSecret(this.#ctx.db, name, value, this.#ctx.now(), this.#ctx.masterKey);
  }
  async rotateMasterKey(next: MasterKey, actor: Actor): Promise<RotationResult> {
    const result = await resealAll(this.#ctx, this.#ctx.masterKey, next, actor);
    this.#ctx = { ...this.#ctx, masterKey: next };
    return result;
  }
  putAcmeChallenge(challenge: AcmeChallenge): Promise<number> {
    return acmeChallenges.putAcmeChallenge(this.#ctx, challenge);
  }
  deleteAcmeChallenge(token: string): Promise<number | null> {
    return acmeChallenges.deleteAcmeChallenge(this.#ctx, token);
  }
  acquireAcmeLease(zoneId: string, holder: string, ttlMs: number): Promise<boolean> {
    return acmeChallenges.acquireAcmeLease(this.#ctx, zoneId, holder, ttlMs);
  }
  releaseAcmeLease(zoneId: string, holder: string): Promise<void> {
    return acmeChallenges.releaseAcmeLease(this.#ctx, zoneId, holder);
  }
  pruneEvents(keep: number): Promise<number> {
    return eventLog.pruneEvents(this.#ctx.db, keep);
  }
  onCommitted(listener: (lastSeq: number) => void): () => void {
    return this.#notifier.subscribe(listener);
  }
}
