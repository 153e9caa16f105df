// meridian control's ACME flags: parsed once at the boundary, a clear usage error otherwise.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/cli/args.ts';
import { CONTROL_HELP, parseControlArgs } from '../../../src/cli/commands/control.ts';
import { createCertificateAuthority } from '../../../src/common/tls/local-ca.ts';

describe('meridian control --acme-*', () => {
  it('is off without --acme-directory', () => {
    const config = parseControlArgs([]);
    assert.notEqual(config, 'help');
    if (config !== 'help') assert.equal(config.acme, null);
  });

  it('reads the directory, the contact and the CA file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-acme-args-'));
    try {
      const ca = await createCertificateAuthority('args CA');
      await writeFile(join(dir, 'ca.pem'), ca.certPem);
      const config = parseControlArgs([
        '--acme-directory',
        'https://127.0.0.1:14000/dir',
        '--acme-email',
        'ops@example.test',
        '--acme-ca',
        join(dir, 'ca.pem'),
      ]);
      assert.ok(config !== 'help');
      assert.deepEqual(config.acme, {
        directoryUrl: 'https://127.0.0.1:14000/dir',
        directoryCa: ca.certPem,
        email: 'ops@example.test',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad values, naming the flag', () => {
    const bad: [string[], RegExp][] = [
      [['--acme-directory', 'http://127.0.0.1:14000/dir'], /--acme-directory: expected an https:\/\/ URL/],
      [['--acme-directory', 'not a url'], /--acme-directory/],
      [['--acme-directory', 'https://ca.test/dir', '--acme-email', 'nobody'], /--acme-email/],
      [
        ['--acme-directory', 'https://ca.test/dir', '--acme-ca', '/nonexistent/ca.pem'],
        /--acme-ca: cannot read/,
      ],
      [['--acme-email', 'ops@example.test'], /need --acme-directory/],
    ];
    for (const [argv, message] of bad) {
      assert.throws(
        () => parseControlArgs(argv),
        (err: unknown) => err instanceof UsageError && message.test(err.message),
      );
    }
  });

  it('lists the flags in --help', () => {
    for (const flag of ['--acme-directory', '--acme-email', '--acme-ca'])
      assert.ok(CONTROL_HELP.includes(flag));
  });
});
