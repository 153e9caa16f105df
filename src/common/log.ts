// One JSON object per line on stderr: machine-readable, no dependency on the hot path.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// The process's level (--log-level), read at each line rather than fixed per logger: the loggers are
// made in many modules at start, and SIGHUP may change the level of all of them at once.
let processMin = RANK.info;

/** Sets the level of every logger made without a level of its own (--log-level; SIGHUP reload). */
export function setLogLevel(level: LogLevel): void {
  processMin = RANK[level];
}

/** The process's level now. */
export function currentLogLevel(): LogLevel {
  return LOG_LEVELS.find((level) => RANK[level] === processMin) ?? 'info';
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** `level`: a fixed level for this logger (tests); absent: the process's (setLogLevel). */
export function createLogger(component: string, level?: LogLevel): Logger {
  const fixed = level === undefined ? null : RANK[level];
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[lvl] < (fixed ?? processMin)) return;
    const line = { time: new Date().toISOString(), level: lvl, component, msg, ...fields };
    process.stderr.write(`${JSON.stringify(line, errorReplacer)}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error)
    return { message: value.message, name: value.name, code: (value as { code?: unknown }).code };
  return value;
}
