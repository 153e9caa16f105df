// The README's CLI examples run verbatim (issue 20): every fenced block marked ```sh example is
// read, and each of its lines that starts with `meridian` or `./meridian` (continuation lines
// joined) runs through bash, in order, against a `meridian up` this test starts. A line that exits
// non-zero fails the test, with its output. Other lines of those blocks (the `export` a reader types
// first) are the environment the test gives: MERIDIAN_API and MERIDIAN_TOKEN from up's description.
// `./meridian` and `meridian` are a shim in the test's working folder that runs src/cli/main.ts,
// as the checkout's launcher does once Node 24 and node_modules are there (the test must not run
// the launcher's `npm ci` on a shared node_modules); chain.pem and key.pem there are a certificate
// for the examples' shop.example.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { CLI } from '../helpers/processes.ts';
import { startUp, type UpRun } from '../helpers/up.ts';

const README = join(import.meta.dirname, '..', '..', 'README.md');

/** The command lines of the README's ```sh example blocks, in order. */
export function readmeExamples(markdown: string): string[] {
  const commands: string[] = [];
  let inExample = false;
  let pending = '';
  for (const line of markdown.split('\n')) {
    if (!inExample) {
      inExample = /^```sh example\s*$/.test(line);
      continue;
    }
    if (/^```\s*$/.test(line)) {
      inExample = false;
      pending = '';
      continue;
    }
    const joined = pending + line;
    if (joined.endsWith('\\')) {
      pending = `${joined.slice(0, -1)} `;
      continue;
    }
    pending = '';
    if (/^(\.\/)?meridian\s/.test(joined.trim())) commands.push(joined.trim());
  }
  return commands;
}

describe('README examples', () => {
  let run: UpRun;
  let cwd: string;

  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'meridian-readme-'));
    const shim = `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`;
    await writeFile(join(cwd, 'meridian'), shim);
    await chmod(join(cwd, 'meridian'), 0o755);
    const ca = await createCertificateAuthority('README example CA', { key: 'ecdsa-p256' });
    const leaf = await ca.issue({ hosts: ['shop.example'] });
    await writeFile(join(cwd, 'chain.pem'), leaf.chainPem);
    await writeFile(join(cwd, 'key.pem'), leaf.keyPem);
    // The smallest cluster the examples need: one edge PoP of one node (purge --wait waits on it).
    run = await startUp(['--pops', 'fra', '--nodes', '1', '--shield', 'none'], 90_000);
  });

  after(async () => {
    await run?.cleanup();
    await rm(cwd, { recursive: true, force: true });
  });

  it('the extractor finds the marked blocks only, with continuation lines joined', () => {
    const md = [
      '```sh',
      './meridian up',
      '```',
      '```sh example',
      'export X=1',
      './meridian zones list --json \\',
      '  --api http://x',
      'meridian tokens list  # a comment is shell',
      '```',
    ].join('\n');
    assert.deepEqual(readmeExamples(md), [
      './meridian zones list --json    --api http://x',
      'meridian tokens list  # a comment is shell',
    ]);
  });

  it('every CLI example exits 0', async () => {
    const commands = readmeExamples(await readFile(README, 'utf8'));
    assert.ok(commands.length >= 10, `the README's examples are marked (found ${commands.length})`);
    const env = {
      ...process.env,
      PATH: `${cwd}:${process.env.PATH ?? ''}`,
      MERIDIAN_API: run.cluster.control.url,
      MERIDIAN_TOKEN: run.cluster.control.token,
    };
    for (const command of commands) {
      const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', command], {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(timer);
      assert.equal(code, 0, `README example failed: ${command}\n${output}`);
    }
  });
});
