// `meridian edge|control|dns --config FILE`: a TOML file whose keys are the process's flags
// (`memory-cache-size = "256MB"`, `control = ["http://a:8700", "http://b:8700"]`, `disk-fsync = true`).
// The file is not a second parser: its keys are checked against the command's parseArgs options
// (unknown key, wrong type: an error naming the key), turned into flags placed before the command
// line's, and read by the same parseArgs and the same validators as flags. A flag given on the
// command line replaces the file's key of that name (a list flag too: its values replace the file's).
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { parse as parseToml, TomlError } from 'smol-toml';
import { currentLogLevel, isLogLevel, LOG_LEVELS, setLogLevel, type LogLevel } from '../common/log.ts';
import { UsageError } from './args.ts';

type FlagSpec = ParseArgsOptionsConfig[string];

/** What parseArgs gives for `options` (strict, no positionals). */
export type FlagValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>['values'];

/** Flags every process kind with a config file has (besides its own). */
export const CONFIG_OPTIONS = {
  config: { type: 'string' },
  'log-level': { type: 'string', default: 'info' },
} as const;

export const CONFIG_HELP = `  --config FILE             a TOML file of these flags (key = flag name without "--": listen =
                            "127.0.0.1:8080", disk-fsync = true, lists as arrays); flags on the
                            command line override it (--no-SWITCH turns a switch off); SIGHUP
                            re-reads it (docs/deploy/config.md)
  --log-level LEVEL         debug, info, warn or error (default info; SIGHUP applies a new one)
`;

/** Keys that only make sense on a command line. */
const NOT_IN_FILE = new Set(['config', 'help']);

export interface ResolvedFlags<V> {
  values: V;
  /** The config file (--config), null without one. */
  file: string | null;
  /** The flags whose values came from the file (and not from the command line). */
  fromFile: ReadonlySet<string>;
}

/**
 * Parses `argv` with `options`, after the keys of the --config file (if any) are turned into flags.
 * Errors: UsageError naming the flag, or the file and its key.
 */
export function resolveFlags<O extends ParseArgsOptionsConfig>(
  argv: string[],
  options: O,
): ResolvedFlags<FlagValues<O>> {
  const parsed = parseArgs({
    args: argv,
    options,
    strict: true,
    allowPositionals: false,
    // --no-disk-fsync: a switch the file turns on can be turned off on the command line.
    allowNegative: true,
    tokens: true,
  });
  const onCommandLine = new Set(parsed.tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : [])));
  const file = (parsed.values as { config?: string }).config;
  if (file === undefined) return { values: parsed.values as FlagValues<O>, file: null, fromFile: new Set() };
  const fromFile = new Set<string>();
  const fileArgs: string[] = [];
  for (const [key, value] of Object.entries(readConfigFile(file))) {
    const spec: FlagSpec | undefined =
      Object.hasOwn(options, key) && !NOT_IN_FILE.has(key) ? options[key] : undefined;
    if (spec === undefined) throw new UsageError(`${file}: unknown key "${key}"${suggestion(key, options)}`);
    const args = flagsOf(file, key, spec, value);
    if (onCommandLine.has(key)) continue;
    fromFile.add(key);
    fileArgs.push(...args);
  }
  const merged = parseArgs({
    args: [...fileArgs, ...argv],
    options,
    strict: true,
    allowPositionals: false,
    allowNegative: true,
  });
  return { values: merged.values as FlagValues<O>, file, fromFile };
}

/**
 * Runs `build` (the flag validators); a UsageError about a flag that came from the config file is
 * reworded to name the file and its key, since that is where the operator must look.
 */
export function namingFileKeys<T>(
  resolved: { file: string | null; fromFile: ReadonlySet<string> },
  build: () => T,
): T {
  try {
    return build();
  } catch (err) {
    if (!(err instanceof UsageError) || resolved.file === null) throw err;
    const flag = /^--([a-z0-9-]+)/.exec(err.message)?.[1];
    if (flag === undefined || !resolved.fromFile.has(flag)) throw err;
    throw new UsageError(`${resolved.file}: key "${flag}": ${err.message.replace(/^--[a-z0-9-]+:\s*/, '')}`);
  }
}

/** What a process command runs: its settings, the log level, and the config file read (null: none). */
export interface Invocation<C> {
  config: C;
  logLevel: LogLevel;
  file: string | null;
}

/**
 * A process command's line and its --config file, validated by the command's own `configOf`: a
 * UsageError names the flag, or the file and its key. 'help' for -h.
 */
export function parseCommand<O extends ParseArgsOptionsConfig, C>(
  argv: string[],
  options: O,
  configOf: (values: FlagValues<O>) => C,
): Invocation<C> | 'help' {
  const resolved = resolveFlags(argv, options);
  const values = resolved.values as Record<string, unknown>;
  if (values.help === true) return 'help';
  return namingFileKeys(resolved, () => ({
    config: configOf(resolved.values),
    logLevel: logLevelFlag(values['log-level'] as string | undefined),
    file: resolved.file,
  }));
}

export function logLevelFlag(value: string | undefined): LogLevel {
  if (value === undefined) return 'info';
  if (!isLogLevel(value))
    throw new UsageError(`--log-level: expected ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return value;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--config: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const what = err.message.split('\n')[0]?.replace(/^Invalid TOML document:\s*/, '') ?? 'invalid TOML';
    throw new UsageError(`${file}: line ${err.line}, column ${err.column}: ${what} (expected TOML)`);
  }
}

/** The flags one key stands for; an error naming the key when its value has the wrong type. */
function flagsOf(file: string, key: string, spec: FlagSpec, value: unknown): string[] {
  const wrong = (expected: string): UsageError =>
    new UsageError(`${file}: key "${key}": expected ${expected}, got ${describe(value)}`);
  if (spec.type === 'boolean') {
    if (typeof value !== 'boolean') throw wrong('true or false');
    return value ? [`--${key}`] : [];
  }
  if (spec.multiple === true) {
    const list = Array.isArray(value) ? (value as unknown[]) : [value];
    if (!list.every(isScalar)) throw wrong('a string or an array of strings');
    return list.map((item) => `--${key}=${String(item)}`);
  }
  if (!isScalar(value)) throw wrong('a string');
  return [`--${key}=${String(value)}`];
}

/** Strings, and numbers where a flag takes one (`event-retention = 100000`, `ttl = 30`). */
function isScalar(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return value instanceof Date ? 'a date' : 'a table';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** ` (did you mean "memory-cache-size"?)` for a near miss (edit distance at most 2). */
function suggestion(key: string, options: ParseArgsOptionsConfig): string {
  const near = Object.keys(options)
    .filter((k) => !NOT_IN_FILE.has(k))
    .map((k) => ({ k, d: editDistance(key.replaceAll('_', '-'), k) }))
    .sort((a, b) => a.d - b.d)[0];
  return near !== undefined && near.d <= 2 ? ` (did you mean "${near.k}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] as number) + 1,
        (next[j - 1] as number) + 1,
        (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length] as number;
}

/**
 * SIGHUP's new --log-level: the reload's own line is written where the old or the new level shows
 * it (going from info to warn still says so), then the new level applies.
 */
export function reloadLogLevel(next: LogLevel, writeLine: () => void): void {
  const old = currentLogLevel();
  setLogLevel(LOG_LEVELS.indexOf(next) < LOG_LEVELS.indexOf(old) ? next : old);
  writeLine();
  setLogLevel(next);
}
