// Where the master key comes from: MERIDIAN_MASTER_KEY, or --master-key-file FILE. With neither, an
// embedded (SQLite) control plane keeps a key file beside its database, made on first start; a
// PostgreSQL one refuses to start, because its replicas must all hold the same key and a key made by
// one of them would be unknown to the others.
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../common/log.ts';
import { MasterKey, MasterKeyError, parseMasterKey } from './master-key.ts';

export interface MasterKeySource {
  /** The key itself (MERIDIAN_MASTER_KEY), base64. */
  value: string | null;
  /** A file holding the key (--master-key-file). */
  file: string | null;
}

/** Where the store lives, as far as the key's default location is concerned. */
export type KeyHome = { dialect: 'sqlite'; file: string } | { dialect: 'postgres' };

export const MASTER_KEY_FILE_NAME = 'master.key';

export interface ResolvedMasterKey {
  key: MasterKey;
  /** The key file made just now beside a SQLite database; null when the key came from elsewhere. */
  createdFile: string | null;
}

export function resolveMasterKey(home: KeyHome, source: MasterKeySource, log: Logger): ResolvedMasterKey {
  let createdFile: string | null = null;
  const key = findMasterKey(home, source, log, (path) => (createdFile = path));
  return { key, createdFile };
}

/**
 * Opening the store failed with a key file made just now: the file was missing beside a store whose
 * secrets are sealed. Removes the new file (so restoring the old one is not blocked) and says so.
 */
export function explainMissingKeyFile(resolved: ResolvedMasterKey, err: unknown): unknown {
  if (resolved.createdFile === null || !(err instanceof MasterKeyError)) return err;
  rmSync(resolved.createdFile, { force: true });
  return new MasterKeyError(
    `master key file ${resolved.createdFile} is missing, but this store's secrets are sealed under a master key: restore the file from your backup, or give the key with MERIDIAN_MASTER_KEY or --master-key-file`,
  );
}

function findMasterKey(
  home: KeyHome,
  source: MasterKeySource,
  log: Logger,
  created: (path: string) => void,
): MasterKey {
  if (source.value !== null && source.file !== null) {
    throw new MasterKeyError('master key: give MERIDIAN_MASTER_KEY or --master-key-file, not both');
  }
  if (source.value !== null) return parseMasterKey(source.value, 'MERIDIAN_MASTER_KEY');
  if (source.file !== null) return readMasterKeyFile(source.file, log);
  if (home.dialect === 'postgres') {
    throw new MasterKeyError(
      'master key: a control plane on PostgreSQL needs MERIDIAN_MASTER_KEY or --master-key-file (every replica must use the same key; make one with "openssl rand -base64 32")',
    );
  }
  if (home.file === ':memory:') {
    log.info('no master key given: using a new key for this in-memory store only');
    return MasterKey.generate();
  }
  const path = join(dirname(home.file), MASTER_KEY_FILE_NAME);
  try {
    statSync(path);
    return readMasterKeyFile(path, log);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = MasterKey.generate();
  try {
    // wx: never overwrite a key another process just made; 0600: the key is as secret as the keys it guards.
    writeFileSync(path, `${key.toBase64()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readMasterKeyFile(path, log);
    throw new MasterKeyError(`master key: cannot create ${path}: ${(err as Error).message}`);
  }
  created(path);
  log.info('created a master key file beside the database (keep it with the database and back it up)', {
    path,
    key_id: key.id,
  });
  return key;
}

export function readMasterKeyFile(path: string, log: Logger): MasterKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new MasterKeyError(`master key file ${path}: cannot read it (${code})`);
  }
  const key = parseMasterKey(text, `master key file ${path}`);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn('the master key file is readable by other users; chmod 600 it', {
      path,
      mode: mode.toString(8),
    });
  }
  return key;
}
