// Ordinary mistakes at start (a port in use, a database that is missing or away, NATS away) as one
// line saying what failed and what to do, instead of a stack trace. The command passes what it was
// started with, so that the line names the flag to look at.
import type { ListenAddress } from '../edge/config.ts';

export interface StartContext {
  /** The listeners the process opens, by flag (`listen`, `admin-listen`, ...). */
  listens?: Record<string, ListenAddress | null | undefined>;
  /** --db (control plane). */
  db?: string;
  /** --nats. */
  nats?: string | null;
}

type ErrnoLike = Error & { code?: unknown; address?: unknown; port?: unknown; errors?: unknown };

const CONNECT_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

/** The one line for `err`, or null when it is not an ordinary start failure (a bug: keep its stack). */
export function explainStartFailure(err: unknown, ctx: StartContext = {}): string | null {
  if (!(err instanceof Error)) return null;
  // pg and net give an AggregateError when every address of a name failed (IPv4 and IPv6).
  const e = (
    err instanceof AggregateError && err.errors[0] instanceof Error ? err.errors[0] : err
  ) as ErrnoLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const listenLine = listenFailure(e, code, ctx);
  if (listenLine !== null) return listenLine;
  const dbLine = ctx.db === undefined ? null : dbFailure(e, code, ctx.db);
  if (dbLine !== null) return dbLine;
  if (ctx.nats != null && (e.name === 'ConnectionError' || /nats/i.test(e.name)))
    return `--nats ${ctx.nats}: cannot reach NATS (${e.message}): is nats-server running there, with JetStream on (-js)? Check --nats`;
  if (code in CONNECT_CODES)
    return `cannot connect to ${where(e) ?? 'a server'} (${CONNECT_CODES[code]}): is it running? ${e.message}`;
  return null;
}

function listenFailure(e: ErrnoLike, code: string, ctx: StartContext): string | null {
  if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL' && code !== 'EACCES') return null;
  if (code === 'EACCES' && e.port === undefined) return null;
  const port = typeof e.port === 'number' ? e.port : null;
  const flag =
    Object.entries(ctx.listens ?? {}).find(
      ([, at]) => at != null && (port === null || at.port === port),
    )?.[0] ?? 'listen';
  const address = where(e) ?? 'the address';
  if (code === 'EADDRINUSE')
    return `--${flag} ${address}: the address is already in use (another process listens there; \`ss -ltnp\` names it): stop it or choose another --${flag}`;
  if (code === 'EADDRNOTAVAIL')
    return `--${flag} ${address}: no interface of this machine has that address: choose one it has (or 0.0.0.0 for all)`;
  return `--${flag} ${address}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE): choose a port from 1024 or grant the capability`;
}

function dbFailure(e: ErrnoLike, code: string, db: string): string | null {
  if (db.startsWith('sqlite:')) {
    if (
      !code.startsWith('SQLITE_CANTOPEN') &&
      !/unable to open database|directory does not exist/i.test(e.message)
    )
      return null;
    return `--db ${db}: cannot open the SQLite database (${e.message}): check that its folder exists and is writable`;
  }
  const url = URL.parse(db);
  const server = url === null ? 'the server' : `${url.hostname}:${url.port || '5432'}`;
  const name = url === null ? '' : decodeURIComponent(url.pathname.slice(1));
  const shown = db.replace(/\/\/[^@]*@/, '//***@');
  // PostgreSQL's SQLSTATEs (Appendix A): the database, the login, the role.
  if (code === '3D000')
    return `--db ${shown}: database "${name}" does not exist on ${server}: create it (createdb -h ${url?.hostname ?? 'HOST'} -p ${url?.port || '5432'} ${name}) or fix --db`;
  if (code === '28P01' || code === '28000')
    return `--db ${shown}: PostgreSQL at ${server} refused the login (${e.message}): check the user and password in --db`;
  if (code === '42501')
    return `--db ${shown}: permission denied (${e.message}): the user needs CREATE on the database to run the migrations`;
  if (code in CONNECT_CODES && matchesServer(e, url))
    return `--db ${shown}: cannot reach PostgreSQL at ${server} (${CONNECT_CODES[code]}): is it running and listening there? Check --db`;
  return null;
}

function matchesServer(e: ErrnoLike, url: URL | null): boolean {
  if (url === null) return true;
  const port = Number(url.port || '5432');
  return e.port === undefined || e.port === port || e.message.includes(url.hostname);
}

function where(e: ErrnoLike): string | null {
  if (typeof e.address !== 'string') return null;
  const host = e.address.includes(':') ? `[${e.address}]` : e.address;
  return typeof e.port === 'number' ? `${host}:${e.port}` : host;
}

/** A start failure explained in one line (main.ts prints it and exits 1, without a stack). */
export class StartFailure extends Error {
  override name = 'StartFailure';
}

/** `err` as a StartFailure when it is an ordinary mistake; otherwise `err` itself. */
export function asStartFailure(err: unknown, ctx: StartContext): unknown {
  const line = explainStartFailure(err, ctx);
  return line === null ? err : new StartFailure(line, { cause: err });
}
