// The compose topology without containers (issue 20): every Meridian service of compose.yaml, started
// from the same commands (docs/deploy/topology.json, which test/unit/deploy/compose.test.ts holds equal
// to compose.yaml) as real processes on loopback. Each service gets the loopback address that stands
// for its compose address (172.28.0.N → 127.A.B.N, A.B random per run) and the same ports; the
// database, NATS, the stream name, the cache folders and the master key file are the test's own.
// Then: a zone created through replica A is served by both edges of the PoP, a miss goes through the
// shield, a purge through replica B reaches every node, and DNS answers with the edge PoP's nodes.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { eventually } from '../helpers/dns.ts';
import {
  api,
  CLI,
  fetchReply,
  originCount,
  removeDir,
  spawnNode,
  startTestOrigin,
  TEST_MASTER_KEY,
  type Proc,
} from '../helpers/processes.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const NATS = process.env.MERIDIAN_TEST_NATS ?? 'nats://127.0.0.1:4222';
const PG_ADMIN = process.env.MERIDIAN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Service {
  address: string;
  command: string[];
  environment: Record<string, string>;
}

const topology = JSON.parse(await readFile(join(ROOT, 'docs', 'deploy', 'topology.json'), 'utf8')) as {
  services: Record<string, Service>;
};

async function adminDatabase(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A loopback /16 for this run whose addresses are free on the ports the topology uses. */
async function loopbackBase(): Promise<string> {
  for (;;) {
    const base = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}`;
    const checks = await Promise.all(
      Object.values(topology.services).map(async (s) => {
        const ip = `${base}.${s.address.split('.').pop()}`;
        return (
          (await isFreeOn(ip, 8080)) &&
          (await isFreeOn(ip, 8700)) &&
          (await isFreeOn(ip, 9180)) &&
          (await isFreeOn(ip, 5353))
        );
      }),
    );
    if (checks.every(Boolean)) return base;
  }
}

/** Can something listen on ip:port (TCP, and UDP for DNS's port)? */
async function isFreeOn(ip: string, port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  const { createSocket } = await import('node:dgram');
  const server = createServer();
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: ip, port, exclusive: true }, resolve);
    });
    if (port !== 5353) return true;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: ip, port, exclusive: true }, resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
    socket.close();
  }
}

describe('the compose topology, as processes on loopback', () => {
  const run = `${process.pid}_${Date.now()}`;
  const database = `meridian_deploy_${run}`;
  const stream = `DEPLOY_${run}`;
  const adminToken = `mrd_deploy_${run}`;
  let dir: string;
  let base: string;
  let origin: Proc;
  const procs: Proc[] = [];
  const secrets: Record<string, string> = { MERIDIAN_ADMIN_TOKEN: adminToken };

  const ipOf = (name: string): string =>
    `${base}.${(topology.services[name] as Service).address.split('.').pop()}`;
  const urlOf = (name: string, port: number): string => `http://${ipOf(name)}:${port}`;

  /** compose's names and addresses → this run's: the substitutions a container network does. */
  async function localCommand(name: string, service: Service): Promise<string[]> {
    const args: string[] = [];
    for (let i = 0; i < service.command.length; i++) {
      const arg = service.command[i] as string;
      const flag = service.command[i - 1];
      if (flag === '--db') args.push(PG_ADMIN.replace(/\/[^/]*$/, `/${database}`));
      else if (flag === '--nats') args.push(NATS);
      else if (flag === '--nats-stream') args.push(stream);
      else if (flag === '--cache-dir') args.push(await mkdtemp(join(dir, `${name}-cache-`)));
      else if (flag === '--master-key-file') args.push(join(dir, 'master.key'));
      else {
        let local = arg.replace(/^0\.0\.0\.0:/, `${ipOf(name)}:`).replace(/172\.28\.0\.(\d+)/g, `${base}.$1`);
        for (const other of Object.keys(topology.services))
          local = local.replace(`//${other}:`, `//${ipOf(other)}:`);
        args.push(local);
      }
    }
    return args;
  }

  /** `${NAME...}` values come from the test's secrets (the .env of a compose deployment). */
  function localEnvironment(service: Service): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(service.environment)) {
      const variable = /^\$\{(\w+)/.exec(value)?.[1];
      env[key] = variable === undefined ? value : (secrets[variable] ?? '');
    }
    return env;
  }

  async function startService(name: string): Promise<Proc> {
    const service = topology.services[name] as Service;
    const args = await localCommand(name, service);
    const env = localEnvironment(service);
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const proc = await spawnNode(
        [CLI, ...args],
        (line) => {
          if (/^control plane: http:\/\//.test(line)) return Number(line.split(':')[3]?.split(/\s/)[0]);
          try {
            const entry = JSON.parse(line) as { msg?: string; address?: string };
            if (entry.msg === 'edge listening' || entry.msg === 'dns listening')
              return Number(entry.address?.split(':').pop());
          } catch {
            // not a log line
          }
          return null;
        },
        60_000,
      );
      procs.push(proc);
      return proc;
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  const viaA = (method: string, path: string, body?: unknown) =>
    api(urlOf('control-a', 8700), adminToken, method, path, body);
  const viaB = (method: string, path: string, body?: unknown) =>
    api(urlOf('control-b', 8700), adminToken, method, path, body);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-deploy-'));
    base = await loopbackBase();
    await writeFile(join(dir, 'master.key'), `${TEST_MASTER_KEY}\n`, { mode: 0o600 });
    await adminDatabase(`CREATE DATABASE ${database}`);
    origin = await startTestOrigin();
    // The order of docs/deploy/README.md: control replicas, then the bootstrap, then nodes and DNS.
    await startService('control-a');
    await startService('control-b');
    const nodeToken = await viaA('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] });
    const dnsToken = await viaA('POST', '/client/v4/tokens', { name: 'dns', scopes: ['zones:read'] });
    secrets.MERIDIAN_NODE_TOKEN = nodeToken.body.result.value;
    secrets.MERIDIAN_DNS_TOKEN = dnsToken.body.result.value;
    const fra = await viaA('PUT', '/client/v4/pops/fra', {
      city: 'Frankfurt',
      latitude: 50.11,
      longitude: 8.68,
    });
    assert.equal(fra.status, 200, JSON.stringify(fra.body.errors));
    const iad = await viaA('PUT', '/client/v4/pops/iad', {
      city: 'Ashburn',
      latitude: 39.04,
      longitude: -77.49,
      role: 'shield',
    });
    assert.equal(iad.status, 200, JSON.stringify(iad.body.errors));
    for (const name of Object.keys(topology.services)) {
      if (!name.startsWith('control-')) await startService(name);
    }
  });

  after(async () => {
    for (const proc of procs.reverse()) await proc.stop();
    await origin?.stop();
    const nc = await connect({ servers: NATS });
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
    await nc.close();
    await adminDatabase(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await removeDir(dir);
  });

  let zoneId: string;
  const get = (node: string, path: string) =>
    fetchReply(`${urlOf(node, 8080)}${path}`, { headers: { host: 'shop.example' } });
  const cacheStatus = (reply: { headers: Record<string, unknown> }) => String(reply.headers['cache-status']);

  it('a zone created through replica A is served by both edges; a miss goes through the shield', async () => {
    const zone = await viaA('POST', '/client/v4/zones', {
      name: 'shop',
      hostnames: ['shop.example'],
      origins: [{ url: origin.url }],
      shield_pop: 'iad',
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body.errors));
    zoneId = zone.body.result.id;
    const path = '/p?cc=max-age%3D600';
    await eventually(async () => (await get('edge-fra-1', '/ready')).status === 200, 20_000, 'edge-fra-1');
    await eventually(async () => (await get('edge-fra-2', '/ready')).status === 200, 20_000, 'edge-fra-2');
    const first = await get('edge-fra-1', path);
    assert.equal(first.status, 200);
    assert.match(cacheStatus(first), /shield-iad-1/, 'the miss went through the shield');
    const second = await get('edge-fra-2', path);
    assert.equal(second.status, 200);
    assert.match(cacheStatus(second), /hit/);
    assert.equal(await originCount(origin, '/p'), 1, 'one origin fetch for the PoP and the shield');
  });

  it('a purge through replica B reaches every node', async () => {
    const purge = await viaB('POST', `/client/v4/zones/${zoneId}/purge_cache`, { purge_everything: true });
    assert.equal(purge.status, 200, JSON.stringify(purge.body.errors));
    const id = purge.body.result.id as string;
    await eventually(
      async () => (await viaB('GET', `/client/v4/zones/${zoneId}/purge_cache/${id}`)).body.result.complete,
      20_000,
      'purge complete',
    );
    const status = (await viaB('GET', `/client/v4/zones/${zoneId}/purge_cache/${id}`)).body.result as {
      pops: { name: string; nodes: { name: string; applied: boolean }[] }[];
    };
    const applied = status.pops.flatMap((p) => p.nodes.filter((n) => n.applied).map((n) => n.name));
    assert.deepEqual(applied.sort(), ['edge-fra-1', 'edge-fra-2', 'shield-iad-1']);
    const again = await get('edge-fra-2', '/p?cc=max-age%3D600');
    assert.equal(again.status, 200);
    assert.equal(await originCount(origin, '/p'), 2, 'purged everywhere, the shield included');
  });

  it('DNS answers with the edge PoP’s nodes, never the shield', async () => {
    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([`${ipOf('dns')}:5353`]);
    let addresses: string[] = [];
    await eventually(
      async () => {
        addresses = (await resolver.resolve4('shop-example.cdn.example.net')).sort();
        return addresses.length === 2;
      },
      20_000,
      'DNS answer',
    );
    assert.deepEqual(addresses, [ipOf('edge-fra-1'), ipOf('edge-fra-2')].sort());
  });
});
