// meridian control: the control plane (REST API, durable state, the event log).
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  startControl,
  type AcmeSettings,
  type ControlConfig,
  type ControlPlane,
} from '../../control/control.ts';
import { DEFAULT_EVENT_STREAM, isValidStreamName } from '../../common/events/nats-names.ts';
import { DEFAULT_PURGE_RATE } from '../../control/api/purge.ts';
import { DEFAULT_API_RATE } from '../../control/api/limits.ts';
import { DEFAULT_ANALYTICS_RETENTION, type AnalyticsRetention } from '../../control/store/analytics.ts';
import { MasterKeyError } from '../../control/secrets/master-key.ts';
import { parseDuration, parseListen, UsageError } from '../args.ts';
import { readCaFlag, readServerPair } from '../tls-files.ts';
import {
  CONFIG_HELP,
  CONFIG_OPTIONS,
  reloadLogLevel,
  type FlagValues,
  parseCommand,
  type Invocation,
} from '../config-file.ts';
import { readSecretFile } from '../secret-file.ts';
import { asStartFailure, StartFailure } from '../start-failure.ts';
import { stopOnSignals } from '../stop-signals.ts';
import { meridianVersion } from '../version.ts';
import { createLogger, setLogLevel, type Logger } from '../../common/log.ts';

export function streamName(value: string): string {
  if (!isValidStreamName(value))
    throw new UsageError(`--nats-stream: letters, digits, "_" and "-" only, got "${value}"`);
  return value;
}

export const CONTROL_HELP = `meridian control — the control plane (REST API, state, event log)

Usage:
  meridian control [--listen 127.0.0.1:8700] [--db sqlite:DIR/meridian.db | --db postgres://...] [--nats nats://127.0.0.1:4222]
  meridian control rotate-master-key --db URL [--master-key-file OLD] --new-master-key-file NEW   (see its --help)

Options:
  --listen HOST:PORT     API listener (default 127.0.0.1:8700)
  --db URL               sqlite:PATH (default sqlite:./meridian-data/meridian.db) or postgres://user@host:port/db
  --nats URL             also publish the event log to NATS JetStream (distributed mode)
  --nats-stream NAME     JetStream stream for the log (default MERIDIAN_EVENTS; one per database)
  --nats-ca FILE         PEM CAs that verify the NATS servers' TLS (tls://; a CA makes TLS required)
  --tls-cert FILE        serve the API over HTTPS with this certificate chain (PEM, leaf first);
                         nodes then verify it with --control-ca (docs/deploy/README.md)
  --tls-key FILE         its private key (PEM); required with --tls-cert
  --node-stale DURATION  mark a node down after this long without a heartbeat (default 10s)
  --event-retention N    events kept in the log (default 100000)
  --purge-rate N         purge calls per second and zone, sustained (default 50)
  --purge-burst N        purge calls a zone may make at once (default 500)
  --api-rate N[/s]       API calls per second and token, sustained (default 50/s; 429 + Retry-After
                         beyond; the node endpoints are exempt; per replica, docs/control-plane.md)
  --api-burst N          API calls a token may make at once (default 200)
  --master-key-file FILE the master key (32 bytes, base64) sealing private keys and cluster keys at rest;
                         or MERIDIAN_MASTER_KEY. Neither: SQLite keeps DIR/master.key (made on first start,
                         mode 0600); PostgreSQL refuses to start (every replica needs the same key)
  --acme-directory URL   issue and renew managed certificates with this ACME CA (its directory URL;
                         e.g. a local pebble for tests; see docs/tls.md "ACME")
  --acme-email ADDRESS   contact for the ACME account
  --acme-ca FILE         PEM root that signs the ACME directory's HTTPS (a private CA such as pebble's)
  --admin-token-file FILE  the admin token on the first line of FILE (or MERIDIAN_ADMIN_TOKEN_FILE)
  --analytics-retention minute=7d,hour=90d,day=730d
                         how long analytics rollups are kept per resolution (any subset; docs/analytics.md)
${CONFIG_HELP}  -h, --help             this help

On first start an admin token is created and printed once the control plane is up; set
MERIDIAN_ADMIN_TOKEN (or --admin-token-file) to choose it instead: it is created if missing.
SIGHUP re-reads --config, the --tls-cert/--tls-key files and --log-level (logged); SIGTERM and
SIGINT stop the control plane (logged).
`;

const OPTIONS = {
  listen: { type: 'string', default: '127.0.0.1:8700' },
  db: { type: 'string', default: 'sqlite:./meridian-data/meridian.db' },
  nats: { type: 'string' },
  'nats-stream': { type: 'string', default: DEFAULT_EVENT_STREAM },
  'nats-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'node-stale': { type: 'string', default: '10s' },
  'event-retention': { type: 'string', default: '100000' },
  'purge-rate': { type: 'string', default: String(DEFAULT_PURGE_RATE.perSecond) },
  'purge-burst': { type: 'string', default: String(DEFAULT_PURGE_RATE.burst) },
  'api-rate': { type: 'string', default: `${DEFAULT_API_RATE.perSecond}/s` },
  'api-burst': { type: 'string', default: String(DEFAULT_API_RATE.burst) },
  'master-key-file': { type: 'string' },
  'acme-directory': { type: 'string' },
  'acme-email': { type: 'string' },
  'acme-ca': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'analytics-retention': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  ...CONFIG_OPTIONS,
} as const;

/** What `meridian control ARGV` runs (cli/config-file.ts parseCommand). */
export type ControlInvocation = Invocation<ControlConfig>;

export function parseControlArgs(argv: string[]): ControlConfig | 'help' {
  const parsed = parseControlCommand(argv);
  return parsed === 'help' ? parsed : parsed.config;
}

/** The command line and its --config file, validated: a UsageError names the flag or the file's key. */
export function parseControlCommand(argv: string[]): ControlInvocation | 'help' {
  return parseCommand(argv, OPTIONS, controlConfigOf);
}

function controlConfigOf(values: FlagValues<typeof OPTIONS>): ControlConfig {
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(values.db))
    throw new UsageError(`--db: expected sqlite:PATH or postgres://..., got "${values.db}"`);
  if (values.nats !== undefined && !/^(nats|tls):\/\//.test(values.nats))
    throw new UsageError(`--nats: expected nats://HOST:PORT, got "${values.nats}"`);
  const retention = values['event-retention'];
  if (!/^\d+$/.test(retention) || Number(retention) < 100)
    throw new UsageError(`--event-retention: expected an integer >= 100, got "${retention}"`);
  return {
    listen: parseListen('listen', values.listen),
    db: values.db,
    nats: values.nats ?? null,
    natsStream: streamName(values['nats-stream']),
    natsCa: natsCaOf(values['nats-ca'], values.nats),
    tls: readServerPair('tls-cert', 'tls-key', values['tls-cert'], values['tls-key']),
    adminToken: adminTokenOf(values['admin-token-file']),
    nodeStaleMs: parseDuration('node-stale', values['node-stale']),
    eventRetention: Number(retention),
    purgeRate: {
      perSecond: positiveNumber('purge-rate', values['purge-rate']),
      burst: burstNumber('purge-burst', values['purge-burst']),
    },
    apiRate: {
      perSecond: positiveNumber('api-rate', values['api-rate'].replace(/\/s$/, '')),
      burst: burstNumber('api-burst', values['api-burst']),
    },
    version: meridianVersion(),
    masterKey: {
      value: process.env.MERIDIAN_MASTER_KEY || null,
      file: values['master-key-file'] ?? null,
    },
    acme: acmeSettingsOf(values['acme-directory'], values['acme-email'], values['acme-ca']),
    analyticsRetention: analyticsRetentionOf(values['analytics-retention']),
  };
}

/** minute=7d,hour=90d,day=730d (any subset; the rest keep their defaults). */
export function analyticsRetentionOf(value: string | undefined): AnalyticsRetention {
  const out = { ...DEFAULT_ANALYTICS_RETENTION };
  if (value === undefined) return out;
  for (const part of value.split(',')) {
    const [key, duration] = part.split('=');
    if ((key !== 'minute' && key !== 'hour' && key !== 'day') || duration === undefined)
      throw new UsageError(`--analytics-retention: expected minute=DUR,hour=DUR,day=DUR, got "${part}"`);
    out[`${key}Ms`] = parseDuration('analytics-retention', duration);
  }
  if (out.minuteMs > out.hourMs || out.hourMs > out.dayMs)
    throw new UsageError('--analytics-retention: minutes cannot outlive hours, nor hours days');
  return out;
}

function acmeSettingsOf(
  directory: string | undefined,
  email: string | undefined,
  caFile: string | undefined,
): AcmeSettings | null {
  if (directory === undefined) {
    if (email !== undefined || caFile !== undefined)
      throw new UsageError('--acme-email and --acme-ca need --acme-directory');
    return null;
  }
  const url = URL.parse(directory);
  if (url === null || url.protocol !== 'https:')
    throw new UsageError(`--acme-directory: expected an https:// URL, got "${directory}"`);
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email))
    throw new UsageError(`--acme-email: expected an e-mail address, got "${email}"`);
  let directoryCa: string | null = null;
  if (caFile !== undefined) {
    try {
      directoryCa = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--acme-ca: cannot read ${caFile}: ${(err as Error).message}`);
    }
    if (!directoryCa.includes('-----BEGIN CERTIFICATE-----'))
      throw new UsageError(`--acme-ca: ${caFile} holds no PEM certificate`);
  }
  return { directoryUrl: url.href, directoryCa, email: email ?? null };
}

/** --admin-token-file, else MERIDIAN_ADMIN_TOKEN_FILE, else MERIDIAN_ADMIN_TOKEN; null: none. */
function adminTokenOf(file: string | undefined): string | null {
  if (file !== undefined) return readSecretFile('admin-token-file', file);
  const envFile = process.env.MERIDIAN_ADMIN_TOKEN_FILE;
  if (envFile !== undefined && envFile !== '') return readSecretFile('admin-token-file', envFile);
  return process.env.MERIDIAN_ADMIN_TOKEN || null;
}

/** --nats-ca without --nats has nothing to verify: say so rather than ignore it. */
export function natsCaOf(file: string | undefined, nats: string | undefined): string | null {
  if (file !== undefined && nats === undefined) throw new UsageError('--nats-ca: needs --nats');
  return readCaFlag('nats-ca', file);
}

/** A bucket's size: at least one call, or nothing would ever pass. */
function burstNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n < 1)
    throw new UsageError(`--${flag}: expected a number >= 1, got "${value}"`);
  return n;
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n <= 0)
    throw new UsageError(`--${flag}: expected a number > 0, got "${value}"`);
  return n;
}

export async function runControl(argv: string[]): Promise<void> {
  if (argv[0] === 'rotate-master-key') {
    const { runRotateMasterKey } = await import('./rotate-master-key.ts');
    return refuseBadKey(() => runRotateMasterKey(argv.slice(1)));
  }
  const parsed = parseControlCommand(argv);
  if (parsed === 'help') {
    process.stdout.write(CONTROL_HELP);
    return;
  }
  const { config } = parsed;
  setLogLevel(parsed.logLevel);
  const log = createLogger('control');
  if (config.db.startsWith('sqlite:') && config.db !== 'sqlite::memory:') {
    const folder = dirname(config.db.slice('sqlite:'.length));
    try {
      mkdirSync(folder, { recursive: true });
    } catch (err) {
      throw new StartFailure(
        `--db ${config.db}: cannot make the database's folder ${folder} (${(err as NodeJS.ErrnoException).code ?? 'error'}): choose a path the process may write`,
      );
    }
  }
  // SIGHUP before the start: its default action would end the process.
  let control: ControlPlane | null = null;
  process.on('SIGHUP', () => {
    if (control !== null) reloadControl(control, argv, log);
  });
  control = await refuseBadKey(() =>
    startControl(config, log).catch((err: unknown) => {
      throw asStartFailure(err, { listens: { listen: config.listen }, db: config.db, nats: config.nats });
    }),
  );
  if (control.createdAdminToken !== null) {
    process.stdout.write(`Admin token (shown once; store it now):\n  ${control.createdAdminToken}\n`);
  }
  process.stdout.write(`control plane: ${control.url}  (OpenAPI: ${control.url}/client/v4/openapi.json)\n`);
  const started = control;
  stopOnSignals(() => started.close(), log);
}

/**
 * SIGHUP: the command line and --config re-read; the log level and the API's TLS certificate (the
 * --tls-cert/--tls-key files, read again) apply at once. A file that does not load keeps the old pair.
 */
function reloadControl(control: ControlPlane, argv: string[], log: Logger): void {
  let next: ControlInvocation | 'help';
  try {
    next = parseControlCommand(argv);
  } catch (err) {
    log.error('SIGHUP: reload refused, the running configuration stays', { error: (err as Error).message });
    return;
  }
  if (next === 'help') return;
  const tls = next.config.tls ?? null;
  const reloadedTls = tls !== null && control.reloadTls(tls);
  const fields = {
    config: next.file ?? undefined,
    log_level: next.logLevel,
    tls_certificate: reloadedTls ? 'reloaded' : 'none',
  };
  reloadLogLevel(next.logLevel, () => log.info('SIGHUP: reloaded', fields));
}

/** A master key that is wrong, malformed or unreadable: one line, and no control plane. */
async function refuseBadKey<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof MasterKeyError)) throw err;
    process.stderr.write(`meridian control: ${err.message}\n`);
    process.exit(1);
  }
}
