// Assembles `meridian control`: the store, the API server, the first admin token, the NATS
// publisher (distributed mode) and the housekeeping timers.
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { Registry } from 'prom-client';
import { createLogger, type Logger } from '../common/log.ts';
import { eventSubjectOf } from '../common/events/nats-names.ts';
import { AcmeManager } from './acme/acme-manager.ts';
import { orderAcme, storeAcmeCertificates } from './acme/store-certificates.ts';
import { storeAcmeDeps, type AcmeCertificateStore } from './acme/store-challenges.ts';
import type { Zone } from '../common/config/zone.ts';
import type { Actor } from './store/types.ts';
import { hashSecret, newTokenSecret } from './api/auth.ts';
import type { PurgeRateLimit } from './api/purge.ts';
import type { BucketRate } from '../lib/ratelimit/bucket.ts';
import { buildApi } from './api/server.ts';
import { startNatsPublisher } from './events/nats-publisher.ts';
import { explainMissingKeyFile, resolveMasterKey } from './secrets/key-source.ts';
import type { MasterKeySource } from './secrets/key-source.ts';
import { openControlStore } from './store/control-store.ts';
import { DEFAULT_ANALYTICS_RETENTION, type AnalyticsRetention } from './store/analytics.ts';
import { parseStoreUrl } from './store/connect.ts';
import type { ControlStore } from './store/types.ts';

/** How long a purge's status stays queryable. */
const PURGE_STATUS_RETENTION_MS = 7 * 24 * 3_600_000;

export interface ControlConfig {
  listen: { host: string; port: number };
  /** sqlite:/path/meridian.db or postgres://... */
  db: string;
  /** NATS servers for the distributed event transport; null: HTTP stream only. */
  nats: string | null;
  /** JetStream stream of this control plane's log (one per database). */
  natsStream: string;
  /** PEM CAs that verify the NATS servers' TLS (--nats-ca); absent or null: the system's. */
  natsCa?: string | null;
  /** Serve the API over HTTPS with this chain and key (PEM; --tls-cert/--tls-key); absent or null: HTTP. */
  tls?: { cert: string; key: string } | null;
  /** MERIDIAN_ADMIN_TOKEN: use this secret as the admin token. */
  adminToken: string | null;
  /** A node is marked down when its last heartbeat is older than this. */
  nodeStaleMs: number;
  /** Events kept in the log (older ones are pruned; a node further behind reloads a snapshot). */
  eventRetention: number;
  /** Purge calls per zone: sustained rate and burst. */
  purgeRate: PurgeRateLimit;
  /** API calls per token (--api-rate/--api-burst); absent: DEFAULT_API_RATE. Node endpoints are exempt. */
  apiRate?: BucketRate;
  version: string;
  /**
   * The master key that seals secrets at rest (MERIDIAN_MASTER_KEY / --master-key-file); absent or
   * neither set: the key file beside a SQLite database (made on first start), refused on PostgreSQL.
   */
  masterKey?: MasterKeySource;
  /** Managed certificates over ACME (--acme-directory); absent or null: off. */
  acme?: AcmeSettings | null;
  /** How long analytics are kept per resolution (--analytics-retention); absent: the defaults. */
  analyticsRetention?: AnalyticsRetention;
  /** Serve the dashboard at /dashboard/ (web/); default true. */
  dashboard?: boolean;
}

export interface AcmeSettings {
  /** The CA's directory URL (RFC 8555 §7.1.1). */
  directoryUrl: string;
  /** PEM root for the directory's HTTPS when it is not publicly trusted (--acme-ca; pebble). */
  directoryCa: string | null;
  email: string | null;
}

export interface ControlPlane {
  readonly url: string;
  readonly store: ControlStore;
  /** The admin token created on first start (null when it existed or came from the environment). */
  readonly createdAdminToken: string | null;
  /** The ACME engine (null unless config.acme). */
  readonly acme: AcmeManager | null;
  /** SIGHUP: serve new TLS handshakes with this chain and key (false: the API is plain HTTP). */
  reloadTls(pair: { cert: string; key: string }): boolean;
  close(): Promise<void>;
}

export async function startControl(
  config: ControlConfig,
  logger: Logger = createLogger('control'),
  extras: { acmeCertificates?: AcmeCertificateStore } = {},
): Promise<ControlPlane> {
  const location = parseStoreUrl(config.db, undefined);
  const resolved = resolveMasterKey(location, config.masterKey ?? { value: null, file: null }, logger);
  const masterKey = resolved.key;
  const store = await openControlStore(config.db, { masterKey }).catch((err: unknown) => {
    throw explainMissingKeyFile(resolved, err);
  });
  const acmeSettings = config.acme ?? null;
  const registry = new Registry();
  // Bound late: the engine starts after the API listens (a CA that is down must not hold the API).
  let acme: AcmeManager | null = null;
  const acmeHook =
    acmeSettings === null
      ? null
      : {
          order: (zone: Zone, actor: Actor) => orderAcme(store, zone, actor, (z) => acme?.order(z)),
          // Fix (e2e): a zone created or changed with settings.acme used to wait for the engine's next
          // rescan (up to 60 s) before its first order; now this replica orders at once. Zones saved
          // through another replica are still picked up by that replica's hook or the rescan.
          zoneSaved: (zone: Zone) => {
            if (zone.settings.acme) acme?.order(zone);
          },
        };
  const app = buildApi({
    store,
    version: config.version,
    purgeRate: config.purgeRate,
    apiRate: config.apiRate,
    registry,
    acme: acmeHook,
    https: config.tls ?? null,
    dashboard: config.dashboard ?? true,
  });
  let publisher: Awaited<ReturnType<typeof startNatsPublisher>> | null = null;
  let createdAdminToken: string | null;
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
    publisher =
      config.nats === null
        ? null
        : await startNatsPublisher(store, {
            servers: config.nats,
            stream: config.natsStream,
            subject: eventSubjectOf(config.natsStream),
            tlsCa: config.natsCa ?? null,
          });
    // Last, once nothing else can fail: a start that fails (port in use, NATS away) must not create
    // a token it never prints, which would leave the next start with none to print and none known.
    createdAdminToken = await bootstrapAdminToken(store, config.adminToken);
  } catch (err) {
    await publisher?.close().catch(() => undefined);
    await app.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const url = `${config.tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const timers = [
    setInterval(
      () =>
        void store
          .markStaleNodesDown(config.nodeStaleMs)
          .catch((err: unknown) => logger.warn('marking stale nodes failed', { err })),
      1_000,
    ),
    setInterval(
      () =>
        void store
          .pruneEvents(config.eventRetention)
          .catch((err: unknown) => logger.warn('pruning events failed', { err })),
      60_000,
    ),
    setInterval(
      () =>
        void store.analytics
          .prune(config.analyticsRetention ?? DEFAULT_ANALYTICS_RETENTION)
          .catch((err: unknown) => logger.warn('pruning analytics failed', { err })),
      600_000,
    ),
    setInterval(
      () =>
        void store
          .prunePurges(new Date(Date.now() - PURGE_STATUS_RETENTION_MS).toISOString())
          .catch((err: unknown) => logger.warn('pruning purges failed', { err })),
      3_600_000,
    ),
  ];
  acme =
    acmeSettings === null
      ? null
      : new AcmeManager(
          {
            directoryUrl: acmeSettings.directoryUrl,
            ...(acmeSettings.directoryCa === null ? {} : { directoryCa: acmeSettings.directoryCa }),
            ...(acmeSettings.email === null ? {} : { email: acmeSettings.email }),
            deps: storeAcmeDeps(store, extras.acmeCertificates ?? storeAcmeCertificates(store, logger)),
          },
          registry,
          logger,
        );
  // Not awaited: a CA that is down must not keep the API from starting (the engine retries).
  void acme?.start().catch((err: unknown) => logger.warn('acme start failed', { err }));
  logger.info('control plane listening', {
    url,
    db: config.db.replace(/\/\/[^@]*@/, '//***@'),
    nats: config.nats,
    tls: config.tls ? 'https' : 'off',
    master_key: masterKey.id,
  });
  return {
    url,
    store,
    createdAdminToken,
    acme,
    reloadTls(pair) {
      if (!config.tls) return false;
      // Connections already open keep their session; new handshakes get the new pair.
      (app.server as unknown as TlsServer).setSecureContext({ ...pair, minVersion: 'TLSv1.2' });
      return true;
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      await acme?.stop();
      await publisher?.close();
      await app.close();
      await store.close();
    },
  };
}

/** First start: an admin token is created (returned once) unless one is given in the environment. */
async function bootstrapAdminToken(store: ControlStore, fromEnv: string | null): Promise<string | null> {
  const system = { token_id: null, token_name: 'system', ip: '' };
  if (fromEnv !== null) {
    if ((await store.findTokenBySecretHash(hashSecret(fromEnv))) === undefined) {
      await store.createToken(
        {
          name: 'admin (MERIDIAN_ADMIN_TOKEN)',
          secretHash: hashSecret(fromEnv),
          scopes: ['admin'],
          zones: null,
        },
        system,
      );
    }
    return null;
  }
  if ((await store.countTokens()) > 0) return null;
  const secret = newTokenSecret();
  await store.createToken(
    { name: 'admin', secretHash: hashSecret(secret), scopes: ['admin'], zones: null },
    system,
  );
  return secret;
}
