// What an operator meets at start (issue 20): ordinary mistakes (a port in use, PostgreSQL away or
// missing its database, NATS away) stop the process with one line naming the flag and exit 1, never
// a stack trace; a first start that fails creates no admin token, so the next start prints one; a
// pipe whose reader left (`| head`) ends the CLI quietly; `--version`; `demo` removes its folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { freeFixedPorts } from '../helpers/ports.ts';
import { api, CLI, removeDir, spawnNode, TEST_MASTER_KEY } from '../helpers/processes.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `meridian ARGS` to its end (bounded), with `env` added to this process's environment. */
async function meridian(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...withoutAdminToken(), ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function withoutAdminToken(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MERIDIAN_ADMIN_TOKEN;
  delete env.MERIDIAN_ADMIN_TOKEN_FILE;
  return env;
}

/** The CLI's own line: "meridian VERB: ...", and no stack frame anywhere. */
function assertOneLine(run: Run, verb: string, expected: RegExp): void {
  assert.equal(run.code, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace:\n${run.stderr}`);
  const own = run.stderr.split('\n').filter((line) => line.startsWith(`meridian ${verb}: `));
  assert.equal(own.length, 1, run.stderr);
  assert.match(own[0] as string, expected);
}

let dir: string;
let held: Server;
let heldPort: number;
let deadPort: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-operator-'));
  [heldPort, deadPort] = (await freeFixedPorts(2)) as [number, number];
  held = createServer();
  held.listen(heldPort, '127.0.0.1');
  await once(held, 'listening');
});

after(async () => {
  held.close();
  await removeDir(dir);
});

describe('start failures: one line naming the flag, exit 1', () => {
  it('a port in use: edge, control and dns', async () => {
    const inUse = new RegExp(
      `--listen 127\\.0\\.0\\.1:${heldPort}: the address is already in use.*choose another --listen`,
    );
    const [edge, control, dns] = await Promise.all([
      meridian([
        'edge',
        '--origin',
        'http://127.0.0.1:9',
        '--listen',
        `127.0.0.1:${heldPort}`,
        '--cache-dir',
        join(dir, 'edge-cache'),
      ]),
      meridian([
        'control',
        '--listen',
        `127.0.0.1:${heldPort}`,
        '--db',
        `sqlite:${join(dir, 'busy', 'm.db')}`,
      ]),
      meridian([
        'dns',
        '--listen',
        `127.0.0.1:${heldPort}`,
        '--control',
        'http://127.0.0.1:9',
        '--token',
        't',
        '--zone',
        'cdn.test',
        '--geoip',
        'none',
      ]),
    ]);
    assertOneLine(edge, 'edge', inUse);
    assertOneLine(control, 'control', inUse);
    assertOneLine(dns, 'dns', inUse);
  });

  it('PostgreSQL away, a database that does not exist, NATS away, a SQLite folder that cannot be made', async () => {
    const key = { MERIDIAN_MASTER_KEY: TEST_MASTER_KEY };
    const [away, missing, nats] = await Promise.all([
      meridian(
        ['control', '--listen', '127.0.0.1:0', '--db', `postgres://127.0.0.1:${deadPort}/meridian`],
        key,
      ),
      meridian(
        [
          'control',
          '--listen',
          '127.0.0.1:0',
          '--db',
          'postgres://postgres@127.0.0.1:5432/meridian_i20_no_such_db',
        ],
        key,
      ),
      meridian([
        'control',
        '--listen',
        '127.0.0.1:0',
        '--db',
        `sqlite:${join(dir, 'nats', 'm.db')}`,
        '--nats',
        `nats://127.0.0.1:${deadPort}`,
      ]),
    ]);
    assertOneLine(
      away,
      'control',
      new RegExp(`--db .*cannot reach PostgreSQL at 127\\.0\\.0\\.1:${deadPort} \\(connection refused\\)`),
    );
    assertOneLine(missing, 'control', /database "meridian_i20_no_such_db" does not exist .*createdb/);
    assertOneLine(
      nats,
      'control',
      new RegExp(`--nats nats://127\\.0\\.0\\.1:${deadPort}: cannot reach NATS`),
    );
    // A SQLite path whose folder cannot be made (a file stands where a folder should be).
    await writeFile(join(dir, 'a-file'), '');
    const sqlite = await meridian([
      'control',
      '--listen',
      '127.0.0.1:0',
      '--db',
      `sqlite:${join(dir, 'a-file', 'm.db')}`,
    ]);
    assertOneLine(
      sqlite,
      'control',
      /--db sqlite:.*a-file\/m\.db: cannot make the database's folder .*\((EEXIST|ENOTDIR)\)/,
    );
  });
});

describe('the first admin token', () => {
  it('a first start that fails creates none; the next start prints one that works', async () => {
    const db = `sqlite:${join(dir, 'first', 'meridian.db')}`;
    const failed = await meridian([
      'control',
      '--listen',
      '127.0.0.1:0',
      '--db',
      db,
      '--nats',
      `nats://127.0.0.1:${deadPort}`,
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.doesNotMatch(failed.stdout, /Admin token/);
    const saved = process.env.MERIDIAN_ADMIN_TOKEN;
    delete process.env.MERIDIAN_ADMIN_TOKEN;
    let stdout = '';
    const control = await spawnNode([CLI, 'control', '--listen', '127.0.0.1:0', '--db', db], (line) => {
      stdout += `${line}\n`;
      const match = /^control plane: http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      return match === null ? null : Number(match[1]);
    }).finally(() => {
      if (saved !== undefined) process.env.MERIDIAN_ADMIN_TOKEN = saved;
    });
    try {
      const token = /Admin token \(shown once; store it now\):\n\s+(\S+)/.exec(stdout)?.[1];
      assert.ok(token !== undefined, stdout);
      assert.equal((await api(control.url, token, 'GET', '/client/v4/zones')).status, 200);
    } finally {
      await control.stop();
    }
  });
});

describe('the CLI as a Unix tool', () => {
  it('a reader that left the pipe (| head) ends it quietly', async () => {
    const child = spawn(
      'bash',
      ['-c', `"${process.execPath}" "${CLI}" --help | true; echo "status=\${PIPESTATUS[0]}"`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await once(child, 'exit');
    assert.equal(err, '', 'nothing on stderr (no EPIPE stack trace)');
    assert.match(out, /status=0/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    const run = await meridian(['--version']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, new RegExp(`^meridian ${pkg.version.replaceAll('.', '\\.')} `));
  });

  it('demo removes its temporary cache folder when it stops', async () => {
    const [listen, origin, admin] = (await freeFixedPorts(3)) as [number, number, number];
    const child = spawn(
      process.execPath,
      [
        CLI,
        'demo',
        '--listen',
        `127.0.0.1:${listen}`,
        '--origin-listen',
        `127.0.0.1:${origin}`,
        '--admin-listen',
        `127.0.0.1:${admin}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr.resume();
    const cacheDir = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('demo did not start')), 20_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /\(cache in (\S+)\)/.exec(line);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      });
    });
    assert.ok(existsSync(cacheDir));
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.equal(existsSync(cacheDir), false, `${cacheDir} removed`);
  });
});
