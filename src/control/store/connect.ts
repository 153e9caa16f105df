// Opening the database behind the store: the URL picks the dialect, both dialects end up as one
// Kysely instance, and the migrations run before the store is handed out.
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { ClientConfig } from 'pg';
import { createLogger } from '../../common/log.ts';
import { migrationProvider } from './migrations/index.ts';
import type { Tables } from './schema.ts';

export type StoreDialect = 'sqlite' | 'postgres';

export type StoreLocation =
  | { dialect: 'sqlite'; file: string }
  | { dialect: 'postgres'; connectionString: string; schema: string | null };

export interface Connection {
  db: Kysely<Tables>;
  location: StoreLocation;
  /** PostgreSQL: how to open one more client (the LISTEN connection) like the pool's. */
  pgClientConfig: ClientConfig | null;
}

const log = createLogger('control-store');
const SQLITE_BUSY_TIMEOUT_MS = 5_000;
const PG_INT8_OID = 20;

/**
 * `sqlite:/path/to/file.db`, `sqlite:relative.db`, `sqlite:///abs.db`, `sqlite::memory:`, or
 * `postgres://user@host:port/db` (also `postgresql://`). `schema` applies to PostgreSQL only.
 */
export function parseStoreUrl(url: string, schema: string | undefined): StoreLocation {
  if (url.startsWith('sqlite:')) {
    if (schema !== undefined) throw new TypeError('store option "schema" applies to PostgreSQL only');
    let file = url.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2);
    if (file === '')
      throw new TypeError('store URL "sqlite:" names no file (use sqlite:/path/to/meridian.db)');
    return { dialect: 'sqlite', file };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,46}$/.test(schema)) {
      throw new TypeError(
        `store option "schema" must be a lower-case SQL identifier of at most 47 characters, got ${JSON.stringify(schema)}`,
      );
    }
    return { dialect: 'postgres', connectionString: url, schema: schema ?? null };
  }
  throw new TypeError(`store URL must start with sqlite: or postgres://, got ${JSON.stringify(redact(url))}`);
}

export async function connect(location: StoreLocation): Promise<Connection> {
  if (location.dialect === 'sqlite') {
    const connection = connectSqlite(location.file);
    try {
      await migrate(connection, null);
    } catch (err) {
      await connection.db.destroy();
      throw err;
    }
    return connection;
  }
  return connectPostgres(location);
}

async function migrate(connection: Connection, schema: string | null): Promise<void> {
  const migrator = new Migrator({
    db: connection.db,
    provider: migrationProvider(connection.location.dialect),
    ...(schema !== null ? { migrationTableSchema: schema } : {}),
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw new Error('control store: migration failed', { cause: error });
}

function connectSqlite(file: string): Connection {
  const database = new Database(file);
  // WAL: readers never block the writer; busy_timeout: wait for another process's write lock
  // instead of failing at once; foreign keys are off by default in SQLite.
  database.pragma('journal_mode = WAL');
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
  return { db, location: { dialect: 'sqlite', file }, pgClientConfig: null };
}

async function connectPostgres(location: {
  connectionString: string;
  schema: string | null;
}): Promise<Connection> {
  const config: ClientConfig = {
    connectionString: location.connectionString,
    // bigint columns (seq, counts) come back as numbers: they stay far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
    ...(location.schema !== null ? { options: `-c search_path=${location.schema}` } : {}),
  };
  // Replicas may start together: a session advisory lock per schema makes one of them create the
  // schema and run the migrations while the others wait (CREATE SCHEMA IF NOT EXISTS and Kysely's
  // own migration tables are not safe against a concurrent first run).
  const setup = new pg.Client(config);
  await setup.connect();
  const lockKey = `meridian.control-store.migrate:${location.schema ?? ''}`;
  let db: Kysely<Tables> | null = null;
  try {
    await setup.query('select pg_advisory_lock(hashtext($1))', [lockKey]);
    if (location.schema !== null) await setup.query(`create schema if not exists "${location.schema}"`);
    const pool = new pg.Pool(config);
    // An idle pooled connection that breaks (database restart) emits 'error' on the pool; unhandled,
    // that would end the process. The pool drops the client and the next query connects anew.
    pool.on('error', (err) => log.warn('idle PostgreSQL connection failed', { err }));
    db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    const connection: Connection = {
      db,
      location: { dialect: 'postgres', ...location },
      pgClientConfig: config,
    };
    await migrate(connection, location.schema);
    return connection;
  } catch (err) {
    await db?.destroy();
    throw err;
  } finally {
    // Ending the session also releases its advisory lock.
    await setup.end().catch(() => undefined);
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
