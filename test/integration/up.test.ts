// Issues 5 and 6: `meridian up` as a person runs it. One real `up` process (in its own process group)
// on free ports and a temporary folder; once its --describe file appears, the cluster it describes is
// checked from outside: each PoP's nodes serve the demo zone and answer /healthz, the control API
// answers with the admin token, and GeoDNS sends each test subnet to its PoP's nodes. Then SIGINT to
// the `up` process alone (Ctrl-C) must stop every process it started.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { UpDescription } from '../../src/cli/commands/up.ts';
import { addressesOf, eventually, kdig } from '../helpers/dns.ts';
import { api, fetchReply } from '../helpers/processes.ts';
import { groupAlive, startUp, type UpPorts, type UpRun } from '../helpers/up.ts';

const STARTUP_MS = 90_000;
const execFileAsync = promisify(execFile);

/** Does host:port accept a TCP connection (within 2 s)? */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

describe('meridian up', () => {
  let run: UpRun;
  let dir: string;
  let ports: UpPorts;
  let up: ChildProcess;
  let cluster: UpDescription;
  let pgid = 0;
  let startupMs = 0;
  const output = (): string => run.output();

  before(async () => {
    run = await startUp([], STARTUP_MS);
    ({ dir, ports, child: up, cluster, pgid, startupMs } = run);
  });

  after(async () => {
    await run?.cleanup();
  });

  it('describes the cluster: control plane, origin, zone, DNS, three edge PoPs and a shield', (t) => {
    t.diagnostic(`the describe file appeared ${startupMs} ms after up started`);
    assert.deepEqual(Object.keys(cluster), ['control', 'origin', 'zone', 'tls', 'dns', 'pops']);
    assert.deepEqual(cluster.tls, { ca: join(dir, 'state', 'tls', 'ca.pem'), internal: false });
    assert.equal(cluster.control.url, `http://127.0.0.1:${ports.control}`);
    assert.match(cluster.control.token, /^mrd_up_[0-9a-f]{48}$/);
    assert.equal(cluster.origin.url, `http://127.0.0.1:${ports.origin}`);
    assert.equal(cluster.zone.hostname, 'demo.meridian.test');
    assert.match(cluster.zone.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(cluster.dns, {
      address: `127.0.0.1:${ports.dns}`,
      name: 'demo-meridian-test.cdn.meridian.test',
      subnets: { nyc: '198.51.100.0/24', fra: '192.0.2.0/24', sin: '203.0.113.0/24' },
    });
    const pop = (name: string, role: 'edge' | 'shield', octet: number): UpDescription['pops'][number] => ({
      name,
      role,
      nodes: [1, 2].map((j) => ({
        name: `${name}-${j}`,
        url: `http://127.0.${octet}.${j}:${ports.http}`,
        https_url: `https://127.0.${octet}.${j}:${ports.https}`,
        admin_url: `http://127.0.${octet}.${j}:${ports.admin}`,
      })),
    });
    assert.deepEqual(cluster.pops, [
      pop('nyc', 'edge', 1),
      pop('fra', 'edge', 2),
      pop('sin', 'edge', 3),
      pop('iad', 'shield', 100),
    ]);
    assert.match(output(), /Meridian is up\./);
  });

  it("serves the demo zone through every PoP, and every node's /healthz answers", async () => {
    for (const pop of cluster.pops) {
      const node = pop.nodes[0];
      assert.ok(node !== undefined);
      const reply = await fetchReply(`${node.url}/static/app.js`, {
        headers: { host: cluster.zone.hostname },
      });
      assert.equal(reply.status, 200, `${node.name}: ${reply.body.toString()}`);
      // RFC 9211: one entry per cache on the path, the node asked last; an edge PoP's miss went
      // through the shield (iad) first.
      const caches = String(reply.headers['cache-status'])
        .split(', ')
        .map((e) => e.split(';')[0]);
      assert.equal(caches.at(-1), node.name, String(reply.headers['cache-status']));
      if (pop.role === 'edge' && pop === cluster.pops[0])
        assert.match(caches[0] ?? '', /^iad-/, String(reply.headers['cache-status']));
      for (const n of pop.nodes) {
        assert.equal((await fetchReply(`${n.admin_url}/healthz`)).status, 200, `${n.name} /healthz`);
      }
    }
    // Every PoP asked, the shield in front: the origin served the file once.
    const stats = JSON.parse((await fetchReply(`${cluster.origin.url}/__stats`)).body.toString()) as Record<
      string,
      number
    >;
    assert.equal(stats['/static/app.js'], 1);
  });

  it("serves the demo zone over HTTPS (HTTP/2) with the certificate uploaded from up's local CA", async () => {
    for (const pop of cluster.pops.filter((p) => p.role === 'edge')) {
      const node = pop.nodes[0];
      assert.ok(node !== undefined);
      const { hostname, port } = new URL(node.https_url);
      const host = cluster.zone.hostname;
      // curl checks the chain against up's CA and the name against demo.meridian.test: the node's
      // own default certificate (its address) would fail, so this is the zone's certificate by SNI.
      const { stdout } = await execFileAsync('curl', [
        '-sS',
        '-D',
        '-',
        '-o',
        '/dev/null',
        '--http2',
        '--cacert',
        cluster.tls.ca,
        '--resolve',
        `${host}:${port}:${hostname}`,
        `https://${host}:${port}/static/app.js`,
      ]);
      assert.match(stdout, /^HTTP\/2 200/, `${node.name}: ${stdout}`);
      assert.match(stdout, new RegExp(`cache-status: .*${node.name}`, 'i'), stdout);
    }
  });

  it('the control API answers with the admin token (and not without one)', async () => {
    const zones = await api(cluster.control.url, cluster.control.token, 'GET', '/client/v4/zones');
    assert.equal(zones.status, 200);
    assert.deepEqual(
      (zones.body.result as { id: string; hostnames: string[] }[]).map((z) => [z.id, z.hostnames]),
      [[cluster.zone.id, [cluster.zone.hostname]]],
    );
    const nodes = await api(cluster.control.url, cluster.control.token, 'GET', '/client/v4/nodes');
    assert.equal(nodes.body.result.length, 8, 'every node registered');
    assert.equal((await api(cluster.control.url, null, 'GET', '/client/v4/zones')).status, 401);
  });

  it("GeoDNS answers each test subnet with its PoP's nodes, and loopback with the first PoP", async () => {
    const dns = cluster.dns;
    assert.ok(dns !== null);
    const port = Number(dns.address.split(':')[1]);
    const addressesOfPop = (name: string): string[] =>
      (cluster.pops.find((p) => p.name === name)?.nodes ?? []).map((n) => new URL(n.url).hostname).sort();
    for (const [pop, subnet] of Object.entries(dns.subnets)) {
      const answer = await kdig(port, [`+subnet=${subnet}`, dns.name, 'A']);
      assert.equal(answer.RCODE, 0, `${subnet}: rcode`);
      assert.equal(answer.AA, 1, `${subnet}: authoritative`);
      assert.deepEqual(addressesOf(answer).sort(), addressesOfPop(pop), `${subnet} lands on ${pop}`);
    }
    // No ECS: the resolver (loopback) is at --default-location, the first PoP.
    assert.deepEqual(addressesOf(await kdig(port, [dns.name, 'A'])).sort(), addressesOfPop('nyc'));
  });

  it('SIGINT to up stops it and every process it started', async (t) => {
    const exited = once(up, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const started = Date.now();
    up.kill('SIGINT');
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`up still running 30 s after SIGINT\n${output()}`)), 30_000).unref(),
    );
    const [code, signal] = await Promise.race([exited, timeout]);
    assert.equal(signal, null);
    assert.equal(code, 0, output());
    await eventually(async () => !groupAlive(pgid), 5_000, 'no process of the group is left');
    const dns = cluster.dns;
    assert.ok(dns !== null);
    const listeners = [
      new URL(cluster.control.url),
      new URL(cluster.origin.url),
      new URL(`http://${dns.address}`),
      ...cluster.pops.flatMap((p) =>
        p.nodes.flatMap((n) => [new URL(n.url), new URL(n.https_url), new URL(n.admin_url)]),
      ),
    ];
    for (const url of listeners) {
      assert.equal(await accepts(url.hostname, Number(url.port)), false, `${url.host} still accepts`);
    }
    assert.doesNotMatch(output(), /meridian up: \S+ exited/, 'no part of the cluster died on its own');
    t.diagnostic(`up and its processes were gone ${Date.now() - started} ms after SIGINT`);
  });
});
