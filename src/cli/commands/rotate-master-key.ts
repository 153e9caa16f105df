// meridian control rotate-master-key: re-seals every secret of a control store (certificate keys,
// cluster keys) under a new master key, in one transaction.
import { parseArgs } from 'node:util';
import { createLogger } from '../../common/log.ts';
import { readMasterKeyFile, resolveMasterKey } from '../../control/secrets/key-source.ts';
import { parseMasterKey } from '../../control/secrets/master-key.ts';
import type { MasterKey } from '../../control/secrets/master-key.ts';
import { openControlStore } from '../../control/store/control-store.ts';
import { parseStoreUrl } from '../../control/store/connect.ts';
import { UsageError } from '../args.ts';

export const ROTATE_HELP = `meridian control rotate-master-key — re-seal every secret under a new master key

Usage:
  meridian control rotate-master-key --db URL [--master-key-file OLD] --new-master-key-file NEW

  --db URL                   the store (as for meridian control; default sqlite:./meridian-data/meridian.db)
  --master-key-file FILE     the current key (or MERIDIAN_MASTER_KEY; SQLite default: master.key beside the database)
  --new-master-key-file FILE the new key (or MERIDIAN_NEW_MASTER_KEY); make one with "openssl rand -base64 32"

Stop every control plane on the store first, rotate, then start them with the new key
(--master-key-file NEW or MERIDIAN_MASTER_KEY). The old key no longer opens the store.
`;

export async function runRotateMasterKey(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string', default: 'sqlite:./meridian-data/meridian.db' },
      'master-key-file': { type: 'string' },
      'new-master-key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(ROTATE_HELP);
    return;
  }
  const log = createLogger('control');
  const location = parseStoreUrl(values.db, undefined);
  const { key: current } = resolveMasterKey(
    location,
    { value: process.env.MERIDIAN_MASTER_KEY || null, file: values['master-key-file'] ?? null },
    log,
  );
  const next = newKey(values['new-master-key-file'], log);
  if (next.id === current.id) throw new UsageError('--new-master-key-file: that is the current key');
  const store = await openControlStore(values.db, { masterKey: current });
  try {
    const result = await store.rotateMasterKey(next, { token_id: null, token_name: 'cli', ip: '' });
    process.stdout.write(
      `re-sealed ${result.cluster_keys} cluster key(s) and ${result.certificates} certificate key(s): master key ${result.from} → ${result.to}\n` +
        'start the control plane with the new key now (--master-key-file or MERIDIAN_MASTER_KEY)\n',
    );
  } finally {
    await store.close();
  }
}

function newKey(file: string | undefined, log: ReturnType<typeof createLogger>): MasterKey {
  const fromEnv = process.env.MERIDIAN_NEW_MASTER_KEY || null;
  if (file !== undefined && fromEnv !== null)
    throw new UsageError('--new-master-key-file: give it or MERIDIAN_NEW_MASTER_KEY, not both');
  if (file !== undefined) return readMasterKeyFile(file, log);
  if (fromEnv !== null) return parseMasterKey(fromEnv, 'MERIDIAN_NEW_MASTER_KEY');
  throw new UsageError('--new-master-key-file: required (or MERIDIAN_NEW_MASTER_KEY)');
}
