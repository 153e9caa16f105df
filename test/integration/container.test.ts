// Builds the image from the Dockerfile and runs it, where a docker daemon answers (`docker info`);
// elsewhere it skips, saying why (test/unit/deploy/dockerfile.test.ts checks the Dockerfile's
// invariants everywhere). The build needs the node:24 base images from Docker Hub.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startEdgeProcess, startTestOrigin, removeDir } from '../helpers/processes.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TAG = `meridian-test:${process.pid}`;

function docker(args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      args,
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, out, err) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 127;
        resolve({ code, out, err: err || (error?.message ?? '') });
      },
    );
  });
}

/** Null when a daemon answers, else why not (no docker binary, no daemon, no permission). */
async function whyNoDocker(): Promise<string | null> {
  const info = await docker(['info', '--format', '{{.ServerVersion}}'], 20_000);
  return info.code === 0 ? null : (info.err.trim().split('\n')[0] ?? 'docker info failed');
}

describe('the container image', () => {
  let built = false;
  after(async () => {
    if (built) await docker(['image', 'rm', '-f', TAG]);
  });

  it('builds, runs the CLI as a non-root user, and declares its health check', async (t) => {
    const why = await whyNoDocker();
    if (why !== null) {
      t.skip(`no docker daemon: ${why}`);
      return;
    }
    const build = await docker(['build', '--pull', '-t', TAG, '.'], 15 * 60_000);
    assert.equal(build.code, 0, build.err.slice(-4_000));
    built = true;
    const help = await docker(['run', '--rm', TAG, '--help']);
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /meridian — a CDN you run yourself/);
    const uid = await docker(['run', '--rm', '--entrypoint', 'id', TAG, '-u']);
    assert.notEqual(uid.out.trim(), '0');
    const inspect = await docker(['image', 'inspect', TAG, '--format', '{{json .Config}}']);
    const config = JSON.parse(inspect.out) as {
      Entrypoint: string[];
      Healthcheck?: { Test: string[] };
      Volumes: Record<string, unknown>;
    };
    assert.deepEqual(config.Entrypoint, ['node', 'src/cli/main.ts']);
    assert.ok(config.Healthcheck?.Test.join(' ').includes('MERIDIAN_HEALTHCHECK_URL'));
    assert.ok('/var/lib/meridian' in config.Volumes);
    // Production dependencies only: no TypeScript compiler in the image.
    const tsc = await docker(['run', '--rm', '--entrypoint', 'ls', TAG, 'node_modules/typescript']);
    assert.notEqual(tsc.code, 0);
    // better-sqlite3's addon (built or fetched in the build stage) loads in the slim stage.
    const sqlite = await docker([
      'run',
      '--rm',
      '--entrypoint',
      'node',
      TAG,
      '-e',
      "process.exit(require('better-sqlite3')(':memory:').prepare('select 1 as x').get().x === 1 ? 0 : 1)",
    ]);
    assert.equal(sqlite.code, 0, sqlite.err);
  });
});

describe("the image's HEALTHCHECK command, run by this Node (no docker needed)", () => {
  /** The `node -e` script of the Dockerfile's HEALTHCHECK, exactly as written there. */
  const script = (() => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const cmd = /^HEALTHCHECK .*?CMD (\[.*\])$/m.exec(text)?.[1] ?? '[]';
    const argv = JSON.parse(cmd) as string[];
    assert.deepEqual(argv.slice(0, 2), ['node', '-e']);
    return argv[2] as string;
  })();
  const check = (url: string): Promise<number> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['-e', script],
        { env: { ...process.env, MERIDIAN_HEALTHCHECK_URL: url }, timeout: 20_000 },
        (error) => resolve(error === null ? 0 : Number(error.code ?? 1)),
      );
    });

  it("passes against an edge's admin /healthz and fails where nothing listens", async () => {
    const origin = await startTestOrigin();
    const edge = await startEdgeProcess(origin.url, [], { admin: true });
    try {
      assert.equal(await check(`${edge.adminUrl}/healthz`), 0);
      await edge.stop();
      assert.equal(await check(`${edge.adminUrl}/healthz`), 1);
    } finally {
      await edge.stop();
      await origin.stop();
      await removeDir(edge.cacheDir);
    }
  });
});
