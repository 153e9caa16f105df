// Issue 17: the workers and kv CLI verbs against a real control plane and node — deploy with
// bindings and a route, list, versions, rollback, tail of console lines, delete; kv create, put,
// get, keys — and `meridian workers dev` with live reload.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  api,
  CLI,
  fetchReply,
  removeDir,
  spawnNode,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc } from '../helpers/processes.ts';

const run = promisify(execFile);
const HOST = 'cli.workers.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('meridian workers / kv', () => {
  let origin: Proc;
  let control: ControlProc;
  let edge: EdgeProc;
  let dir: string;
  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, [
      CLI,
      ...args,
      '--api',
      control.url,
      '--token',
      control.adminToken,
    ]);
    return stdout;
  };
  const get = (path: string) => fetchReply(`${edge.url}${path}`, { headers: { host: HOST } });
  async function until(path: string, expect: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = (await get(path)).body.toString();
      if (body === expect) return;
      if (Date.now() > deadline) assert.fail(`${path}: "${body}", expected "${expect}"`);
      await sleep(25);
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-workers-cli-'));
    origin = await startTestOrigin();
    control = await startControlProcess();
    const admin = (method: string, path: string, body?: unknown) =>
      api(control.url, control.adminToken, method, path, body);
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result
      .value;
    await admin('PUT', '/client/v4/pops/ams', { city: 'Amsterdam', latitude: 52.4, longitude: 4.9 });
    await admin('POST', '/client/v4/zones', {
      name: 'cli-zone',
      hostnames: [HOST],
      origins: [{ url: origin.url }],
    });
    edge = await startEdgeProcess(
      '',
      ['--control', control.url, '--pop', 'ams', '--node', 'ams-1', '--token', nodeToken],
      {
        noOrigin: true,
        admin: true,
      },
    );
  });

  after(async () => {
    await edge?.stop();
    await removeDir(edge.cacheDir);
    await control?.stop();
    await removeDir(control.dataDir);
    await origin?.stop();
    await removeDir(dir);
  });

  it('kv create/put/get/keys, workers deploy/list/versions/rollback/tail/delete', async () => {
    const nsId = /created namespace (\w+)/.exec(
      await cli('kv', 'create', '--zone', 'cli-zone', 'config'),
    )?.[1];
    assert.ok(nsId !== undefined);
    assert.match(await cli('kv', 'put', '--zone', 'cli-zone', nsId, 'color', 'blue'), /stored color/);
    assert.equal(await cli('kv', 'get', '--zone', 'cli-zone', nsId, 'color'), 'blue');
    assert.equal(await cli('kv', 'keys', '--zone', 'cli-zone', nsId, '--prefix', 'co'), 'color\n');
    const file = join(dir, 'w.js');
    const script = (tag: string) => `export default { async fetch(request, env) {
      console.log('served', new URL(request.url).pathname);
      return new Response('${tag} ' + env.WHO + ' ' + (await env.CONFIG.get('color')));
    } };`;
    await writeFile(file, script('v1'));
    const deployArgs = [
      'workers',
      'deploy',
      '--zone',
      'cli-zone',
      'site',
      file,
      '--var',
      'WHO=cli',
      '--kv',
      `CONFIG=${nsId}`,
    ];
    assert.match(await cli(...deployArgs, '--route', `${HOST}/*`), /deployed site version 1/);
    await until('/a', 'v1 cli blue');
    await writeFile(file, script('v2'));
    assert.match(await cli(...deployArgs), /version 2/);
    await until('/a', 'v2 cli blue');
    assert.match(await cli('workers', 'list', '--zone', 'cli-zone'), /site\s+2\s/);
    assert.match(await cli('workers', 'versions', '--zone', 'cli-zone', 'site'), /site\s+2[\s\S]*site\s+1/);
    assert.match(await cli('workers', 'rollback', '--zone', 'cli-zone', 'site'), /site is at version 1/);
    await until('/a', 'v1 cli blue');

    // tail: console lines of the script on the node, as they happen.
    const tail = await spawnNode(
      [
        CLI,
        'workers',
        'tail',
        '--zone',
        'cli-zone',
        'site',
        '--node-admin',
        edge.adminUrl as string,
        '--api',
        control.url,
        '--token',
        control.adminToken,
      ],
      (line) => (line.startsWith('tailing site') ? 1 : null),
    );
    const lines = createInterface({ input: tail.child.stdout as NodeJS.ReadableStream });
    const seen = new Promise<string>((resolve) =>
      lines.on('line', (l) => l.includes('/tailed') && resolve(l)),
    );
    await get('/tailed');
    assert.match(await seen, /log\s+served \/tailed/);
    await tail.stop();

    const routes = await cli('workers', 'routes', '--zone', 'cli-zone', '--json');
    const routeId = (JSON.parse(routes) as { id: string }[])[0]?.id as string;
    await assert.rejects(
      cli('workers', 'delete', '--zone', 'cli-zone', 'site'),
      /routes still send requests/,
    );
    await cli('workers', 'route-delete', '--zone', 'cli-zone', routeId);
    assert.match(await cli('workers', 'delete', '--zone', 'cli-zone', 'site'), /deleted site/);
  });

  it('workers dev runs a file in front of an origin and reloads it when it changes', async () => {
    const file = join(dir, 'dev.js');
    await writeFile(
      file,
      'export default { async fetch(request) { const r = await fetch(request); return new Response("dev1 " + r.status); } };',
    );
    const loaded: string[] = [];
    const dev = await spawnNode(
      [CLI, 'workers', 'dev', file, '--origin', origin.url, '--listen', '127.0.0.1:0'],
      (line) => {
        loaded.push(line);
        const m = /^listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        return m === null ? null : Number(m[1]);
      },
    );
    const lines = createInterface({ input: dev.child.stdout as NodeJS.ReadableStream });
    lines.on('line', (l) => loaded.push(l));
    try {
      const at = (path: string) => fetchReply(`${dev.url}${path}`);
      assert.equal((await at('/x')).body.toString(), 'dev1 200');
      await writeFile(file, 'export default { fetch() { return new Response("dev2"); } };');
      const deadline = Date.now() + 10_000;
      while ((await at('/x')).body.toString() !== 'dev2') {
        if (Date.now() > deadline) assert.fail(`not reloaded: ${loaded.join('\n')}`);
        await sleep(50);
      }
      await writeFile(file, 'export default {\n  fetch() { return new Response(; }\n};');
      while (!loaded.some((l) => /dev\.js:2:\d+: Unexpected token/.test(l))) {
        if (Date.now() > deadline + 5_000) assert.fail(`no syntax error reported: ${loaded.join('\n')}`);
        await sleep(50);
      }
      assert.equal((await at('/x')).body.toString(), 'dev2', 'the previous version keeps serving');
    } finally {
      await dev.stop('SIGINT');
    }
  });
});
