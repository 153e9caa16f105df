// The master key's sealing: round trip, a fresh IV per value, tampering and a foreign key detected,
// and the key's text format checked with a message naming its source.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../../../src/common/log.ts';
import { resolveMasterKey } from '../../../../src/control/secrets/key-source.ts';
import {
  isSealed,
  MasterKey,
  MasterKeyError,
  parseMasterKey,
  sealedKeyId,
} from '../../../../src/control/secrets/master-key.ts';

const log = createLogger('test', 'error');

describe('MasterKey', () => {
  it('seals and opens; each seal has its own IV; the sealed text names the key', () => {
    const key = MasterKey.generate();
    const a = key.seal('-----BEGIN PRIVATE KEY-----\nabc\n');
    const b = key.seal('-----BEGIN PRIVATE KEY-----\nabc\n');
    assert.notEqual(a, b);
    assert.match(a, new RegExp(`^mk1:${key.id}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$`));
    assert.doesNotMatch(a, /PRIVATE/);
    assert.equal(key.open(a), '-----BEGIN PRIVATE KEY-----\nabc\n');
    assert.equal(isSealed(a), true);
    assert.equal(isSealed('clear'), false);
    assert.equal(sealedKeyId(a), key.id);
  });

  it('another key, an altered value or a clear value cannot be opened', () => {
    const key = MasterKey.generate();
    const sealed = key.seal('secret');
    assert.throws(() => MasterKey.generate().open(sealed), /sealed by master key/);
    const parts = sealed.split(':');
    const body = Buffer.from(parts[3] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    parts[3] = body.toString('base64url');
    assert.throws(() => key.open(parts.join(':')), /fails authentication/);
    assert.throws(() => key.open('secret'), MasterKeyError);
  });

  it('parses 32 bytes of base64 (padded, unpadded, base64url); refuses anything else', () => {
    const key = MasterKey.generate();
    assert.equal(parseMasterKey(`${key.toBase64()}\n`, 'x').id, key.id);
    assert.equal(parseMasterKey(key.toBase64().replace(/=$/, ''), 'x').id, key.id);
    for (const bad of [
      '',
      'short',
      Buffer.alloc(16).toString('base64'),
      Buffer.alloc(48).toString('base64'),
    ]) {
      assert.throws(
        () => parseMasterKey(bad, 'MERIDIAN_MASTER_KEY'),
        /^MasterKeyError: MERIDIAN_MASTER_KEY: /,
      );
    }
  });
});

describe('resolveMasterKey', () => {
  it('SQLite without a key: makes master.key (0600) beside the database once, then reads it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-mk-'));
    try {
      const home = { dialect: 'sqlite' as const, file: join(dir, 'm.db') };
      const first = resolveMasterKey(home, { value: null, file: null }, log).key;
      assert.equal((await stat(join(dir, 'master.key'))).mode & 0o777, 0o600);
      assert.equal(resolveMasterKey(home, { value: null, file: null }, log).key.id, first.id);
      const other = MasterKey.generate();
      await writeFile(join(dir, 'o.key'), other.toBase64());
      assert.equal(resolveMasterKey(home, { value: null, file: join(dir, 'o.key') }, log).key.id, other.id);
      assert.equal(resolveMasterKey(home, { value: other.toBase64(), file: null }, log).key.id, other.id);
      assert.throws(
        () => resolveMasterKey(home, { value: other.toBase64(), file: join(dir, 'o.key') }, log),
        /not both/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL without a key refuses, saying replicas must share one', () => {
    assert.throws(
      () => resolveMasterKey({ dialect: 'postgres' }, { value: null, file: null }, log),
      /every replica must use the same key/,
    );
  });
});
