import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStoreUrl, redact } from '../../../../src/control/store/connect.ts';

describe('parseStoreUrl', () => {
  it('reads SQLite files, absolute sqlite:/// paths and :memory:', () => {
    assert.deepEqual(parseStoreUrl('sqlite:/var/lib/meridian.db', undefined), {
      dialect: 'sqlite',
      file: '/var/lib/meridian.db',
    });
    assert.deepEqual(parseStoreUrl('sqlite:///var/lib/m.db', undefined), {
      dialect: 'sqlite',
      file: '/var/lib/m.db',
    });
    assert.deepEqual(parseStoreUrl('sqlite:data/m.db', undefined), { dialect: 'sqlite', file: 'data/m.db' });
    assert.deepEqual(parseStoreUrl('sqlite::memory:', undefined), { dialect: 'sqlite', file: ':memory:' });
  });

  it('reads PostgreSQL URLs with an optional schema', () => {
    const url = 'postgres://postgres@127.0.0.1:5432/test';
    assert.deepEqual(parseStoreUrl(url, undefined), {
      dialect: 'postgres',
      connectionString: url,
      schema: null,
    });
    assert.deepEqual(parseStoreUrl(url, 'tenant_1'), {
      dialect: 'postgres',
      connectionString: url,
      schema: 'tenant_1',
    });
    assert.equal(parseStoreUrl('postgresql://h/db', undefined).dialect, 'postgres');
  });

  it('refuses other schemes, an empty SQLite path, and schemas that are not plain identifiers', () => {
    assert.throws(() => parseStoreUrl('mysql://u:pw@h/db', undefined), /got "mysql:\/\/u:\*\*\*@h\/db"/);
    assert.throws(() => parseStoreUrl('sqlite:', undefined), /names no file/);
    assert.throws(() => parseStoreUrl('sqlite:/x.db', 'public'), /PostgreSQL only/);
    for (const bad of ['Upper', '1abc', 'a-b', 'a"b', 'x'.repeat(48)]) {
      assert.throws(() => parseStoreUrl('postgres://h/db', bad), /"schema"/, bad);
    }
  });
});

describe('redact', () => {
  it('hides the password and keeps the rest', () => {
    assert.equal(redact('postgres://meridian:s3cret@db:5432/m'), 'postgres://meridian:***@db:5432/m');
    assert.equal(redact('postgres://meridian@db/m'), 'postgres://meridian@db/m');
  });
});
