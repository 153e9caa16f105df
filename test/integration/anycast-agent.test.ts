// Issue 19: `meridian anycast` against a real BIRD (static protocols only: no BGP session and no
// kernel routes, so it runs in the root namespace and touches no routing), a real control plane and
// a real edge node: it announces while the PoP is healthy, withdraws when the node dies, the PoP is
// drained or the agent stops, never announces what it cannot verify, and fails clearly when BIRD
// is missing or refuses. Bad input to `meridian up --anycast` (not root, a namespace name taken)
// fails before anything is built.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { labLeftovers, labUnavailable } from '../helpers/anycast.ts';
import { eventually } from '../helpers/dns.ts';
import {
  api,
  CLI,
  startControlProcess,
  startEdgeProcess,
  type ControlProc,
  type EdgeProc,
} from '../helpers/processes.ts';

const run = promisify(execFile);
const noBird = await run('bird', ['--version']).then(
  () => null,
  () => 'bird (bird2) is not installed',
);
if (noBird !== null) process.stdout.write(`# anycast agent tests skipped: ${noBird}\n`);

interface Agent {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startAgent(args: string[]): Agent {
  const child = spawn(process.execPath, [CLI, 'anycast', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  for (const s of [child.stdout, child.stderr])
    createInterface({ input: s }).on('line', (l) => (text += `${l}\n`));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => text, exited };
}

describe('meridian anycast with BIRD', { skip: noBird ?? false }, () => {
  let dir = '';
  let bird: ChildProcess;
  let control: ControlProc;
  let edge: EdgeProc;
  let readToken = '';
  let socket = '';
  let include = '';
  const agents: Agent[] = [];
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  /** The routes BIRD holds from the agent's announcing protocol. */
  const announced = async (): Promise<boolean> => {
    const { stdout } = await run('birdc', ['-s', socket, 'show', 'route', 'protocol', 'meridian_anycast']);
    return stdout.includes('198.19.0.0/24');
  };
  const agentArgs = (extra: string[] = []): string[] => [
    '--pop',
    'lab',
    '--control',
    control.url,
    '--token',
    readToken,
    '--prefix',
    '198.19.0.0/24',
    '--bird-socket',
    socket,
    '--include',
    include,
    '--probe-interval',
    '100ms',
    '--announce-delay',
    '500ms',
    ...extra,
  ];
  const agent = (extra: string[] = []): Agent => {
    const a = startAgent(agentArgs(extra));
    agents.push(a);
    return a;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-anycast-'));
    socket = join(dir, 'bird.ctl');
    include = join(dir, 'anycast.conf');
    await writeFile(include, 'protocol static meridian_anycast { ipv4; }\n');
    const conf = join(dir, 'bird.conf');
    await writeFile(conf, `router id 198.18.0.9;\nprotocol device {}\ninclude "${include}";\n`);
    bird = spawn('bird', ['-f', '-c', conf, '-s', socket], { stdio: 'ignore' });
    await eventually(
      async () => (await run('birdc', ['-s', socket, 'show', 'status'])).stdout.includes('Daemon is up'),
      10_000,
      'BIRD answers',
    );
    control = await startControlProcess();
    assert.equal((await admin('PUT', '/client/v4/pops/lab', { city: 'fra' })).status, 200);
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result
      .value;
    readToken = (await admin('POST', '/client/v4/tokens', { name: 'r', scopes: ['zones:read'] })).body.result
      .value;
    edge = await startEdgeProcess(
      '',
      ['--control', control.url, '--pop', 'lab', '--node', 'lab-1', '--token', nodeToken],
      { noOrigin: true, admin: true },
    );
  });

  after(async () => {
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGKILL');
    await edge?.stop();
    await control?.stop();
    bird?.kill('SIGTERM');
    if (bird !== undefined && bird.exitCode === null) await once(bird, 'exit');
    await rm(dir, { recursive: true, force: true });
    if (control !== undefined) await rm(control.dataDir, { recursive: true, force: true });
  });

  it('without BIRD: a clear error, nothing announced', async () => {
    const a = startAgent([...agentArgs(), '--bird-socket', join(dir, 'none.ctl')]);
    assert.notEqual(await a.exited, 0);
    assert.match(a.output(), /BIRD control socket .*none\.ctl: ENOENT \(is bird running/);
  });

  it('a configuration BIRD refuses: its message, and the include file put back', async () => {
    const before = await readFile(include, 'utf8');
    // "device1" is the name BIRD gave the device protocol: a second protocol of that name is refused.
    const a = startAgent([...agentArgs(), '--protocol', 'device1']);
    assert.notEqual(await a.exited, 0);
    assert.match(a.output(), /BIRD refused its configuration: .*device1/);
    assert.equal(await readFile(include, 'utf8'), before);
  });

  it('with the control plane unreachable from the start it never announces', async () => {
    const a = startAgent([...agentArgs(), '--control', 'http://127.0.0.1:1']);
    agents.push(a);
    await eventually(async () => a.output().includes('anycast agent running'), 10_000, 'the agent runs');
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(await announced(), false);
    assert.match(a.output(), /control plane unreachable/);
    assert.match(a.output(), /"reason":"no-control-data"/);
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
  });

  it('under its capacity floor it does not announce', async () => {
    const a = agent(['--floor', '2']);
    await eventually(
      async () => /"reason":"below-floor","healthyNodes":\["lab-1"\]/.test(a.output()),
      10_000,
      'below the floor',
    );
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await announced(), false);
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
  });

  it('announces while healthy; withdraws on drain, on the node dying (control plane away too) and on exit', async () => {
    const a = agent(['--control-stale', '500ms']);
    await eventually(announced, 10_000, 'announced');
    await admin('PATCH', '/client/v4/pops/lab', { drained: true });
    await eventually(async () => !(await announced()), 5_000, 'withdrawn on drain');
    await admin('PATCH', '/client/v4/pops/lab', { drained: false });
    await eventually(announced, 5_000, 'announced again on undrain');
    // The control plane goes away: the node still answers its probes, so the PoP stays announced.
    await control.stop('SIGKILL');
    await eventually(
      async () => a.output().includes('control plane unreachable'),
      5_000,
      'the agent sees it',
    );
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await announced(), true, 'still announced on the probes alone');
    await edge.stop('SIGKILL');
    const withdrawnMs = await eventually(
      async () => !(await announced()),
      5_000,
      'withdrawn when the node dies',
    );
    process.stdout.write(`# withdrawn ${withdrawnMs} ms after the node died\n`);
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    assert.equal(await announced(), false);
    assert.doesNotMatch(await readFile(include, 'utf8'), /route /);
  });
});

describe('meridian up --anycast: bad input builds nothing', { skip: false }, () => {
  it('not root: a clear error', async () => {
    if (process.getuid?.() !== 0) return;
    const out = await run('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      CLI,
      'up',
      '--anycast',
      '--dir',
      join(tmpdir(), `mrd-nonroot-${process.pid}`),
    ]).then(
      () => 'exit 0',
      (err: { stderr: string }) => err.stderr,
    );
    assert.match(out, /must run as root/);
    await rm(join(tmpdir(), `mrd-nonroot-${process.pid}`), { recursive: true, force: true });
  });

  it('a namespace name taken: a clear error, the namespace left alone, nothing else made', async (t) => {
    const why = await labUnavailable();
    if (why !== null) return t.skip(why);
    await run('ip', ['netns', 'add', 'mrd-c-nyc']);
    const dir = await mkdtemp(join(tmpdir(), 'meridian-up-'));
    try {
      const out = await run(process.execPath, [CLI, 'up', '--anycast', '--dir', join(dir, 'state')]).then(
        () => 'exit 0',
        (err: { stderr: string }) => err.stderr,
      );
      assert.match(out, /network namespace mrd-c-nyc already exist/);
      assert.deepEqual(await labLeftovers(), ['netns mrd-c-nyc']);
    } finally {
      await run('ip', ['netns', 'delete', 'mrd-c-nyc']);
      await rm(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await labLeftovers(), []);
  });
});
