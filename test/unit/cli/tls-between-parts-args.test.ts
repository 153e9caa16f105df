// The TLS-between-the-parts flags (issue 20): read and checked at the boundary, with usage errors
// naming the flag; control --tls-cert/--tls-key, --nats-ca; edge and dns --control-ca.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../../src/cli/args.ts';
import { parseControlArgs } from '../../../src/cli/commands/control.ts';
import { parseDnsArgs } from '../../../src/cli/commands/dns.ts';
import { parseEdgeArgs } from '../../../src/cli/commands/edge.ts';
import { createCertificateAuthority } from '../../../src/common/tls/local-ca.ts';

describe('TLS flags between the parts', () => {
  let dir: string;
  let ca: string;
  let cert: string;
  let key: string;
  let otherKey: string;
  const managed = ['--control', 'https://control.test:8700', '--pop', 'p', '--node', 'n', '--token', 't'];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-tls-args-'));
    const authority = await createCertificateAuthority('args CA');
    const leaf = await authority.issue({ hosts: ['control.test'] });
    const other = await authority.issue({ hosts: ['other.test'] });
    [ca, cert, key, otherKey] = ['ca.pem', 'cert.pem', 'key.pem', 'other-key.pem'].map((f) =>
      join(dir, f),
    ) as [string, string, string, string];
    await writeFile(ca, authority.certPem);
    await writeFile(cert, leaf.chainPem);
    await writeFile(key, leaf.keyPem);
    await writeFile(otherKey, other.keyPem);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const usage = (run: () => unknown, message: RegExp) =>
    assert.throws(run, (err: unknown) => err instanceof UsageError && message.test(err.message));

  it('control: --tls-cert and --tls-key load a matching pair; HTTP without them', () => {
    const config = parseControlArgs(['--tls-cert', cert, '--tls-key', key]);
    assert.ok(config !== 'help' && config.tls?.cert.includes('BEGIN CERTIFICATE'));
    const plain = parseControlArgs([]);
    assert.ok(plain !== 'help' && plain.tls === null);
  });

  it('control: one of the pair, a key of another certificate, or a missing file is a usage error', () => {
    usage(() => parseControlArgs(['--tls-cert', cert]), /--tls-cert and --tls-key: give both/);
    usage(
      () => parseControlArgs(['--tls-cert', cert, '--tls-key', otherKey]),
      /not a usable certificate and key/,
    );
    usage(
      () => parseControlArgs(['--tls-cert', join(dir, 'nope.pem'), '--tls-key', key]),
      /--tls-cert: cannot read/,
    );
  });

  it('control and edge: --nats-ca needs --nats and a PEM certificate', () => {
    const config = parseControlArgs(['--nats', 'tls://nats.test:4222', '--nats-ca', ca]);
    assert.ok(config !== 'help' && config.natsCa?.includes('BEGIN CERTIFICATE'));
    usage(() => parseControlArgs(['--nats-ca', ca]), /--nats-ca: needs --nats/);
    usage(
      () => parseControlArgs(['--nats', 'nats://n:4222', '--nats-ca', key]),
      /--nats-ca: .* holds no PEM certificate/,
    );
    usage(() => parseEdgeArgs([...managed, '--nats-ca', ca]), /--nats-ca: needs --nats/);
  });

  it('edge: --control-ca is read in managed mode and refused standalone', () => {
    const config = parseEdgeArgs([...managed, '--control-ca', ca]);
    assert.ok(config !== 'help' && config.control?.controlCa?.includes('BEGIN CERTIFICATE'));
    usage(
      () => parseEdgeArgs(['--origin', 'http://o.test', '--control-ca', ca]),
      /--control-ca: needs --control/,
    );
    usage(
      () => parseEdgeArgs([...managed, '--control-ca', join(dir, 'nope.pem')]),
      /--control-ca: cannot read/,
    );
  });

  it('dns: --control-ca is read', () => {
    const options = parseDnsArgs([
      '--control',
      'https://control.test:8700',
      '--token',
      't',
      '--zone',
      'cdn.test',
      '--control-ca',
      ca,
    ]);
    assert.ok(options !== 'help' && options.control.ca?.includes('BEGIN CERTIFICATE'));
  });
});
