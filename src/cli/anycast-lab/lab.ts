// Builds the anycast lab (plan.ts) with iproute2 and BIRD, and takes it all down again. What it
// creates is written to a state file first, so that a lab whose process was killed is removed at
// the next start; a namespace or link with the lab's names that no lab made is an error, and
// nothing is touched.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { anycastConfig, birdCommand } from '../../anycast/bird.ts';
import { ANYCAST_PREFIX, HOST_LINK, LAB_PREFIX, popConfig, routerConfig, type LabPlan } from './plan.ts';
import { ip, killNetnsProcesses, LabError, linkExists, listNetns, sh, spawnIn, sysctl } from './netns.ts';

/** Where a running lab records itself (tmpfs: gone with a reboot, as the namespaces are). */
export const LAB_STATE_FILE = '/run/meridian-anycast-lab.json';

interface LabState {
  pid: number;
  namespaces: string[];
  hostLink: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes a lab whose process is gone; a LabError when one is running or the names are taken. */
export async function clearLeftovers(plan: LabPlan, log: (line: string) => void): Promise<void> {
  const previous = await readFile(LAB_STATE_FILE, 'utf8')
    .then((t) => JSON.parse(t) as LabState)
    .catch(() => null);
  if (previous !== null) {
    if (previous.pid !== process.pid && alive(previous.pid))
      throw new LabError(
        `an anycast lab is already running (pid ${previous.pid}, ${LAB_STATE_FILE}); stop it first`,
      );
    log(`removing the anycast lab left by pid ${previous.pid}`);
    await removeLab(previous);
  }
  const taken = (await listNetns()).filter((n) => plan.namespaces.includes(n) || n.startsWith(LAB_PREFIX));
  if (taken.length > 0)
    throw new LabError(
      `network namespace${taken.length > 1 ? 's' : ''} ${taken.join(', ')} already exist${taken.length > 1 ? '' : 's'} and no lab made ${taken.length > 1 ? 'them' : 'it'} (ip netns delete it if it is yours to remove)`,
    );
  if (await linkExists(HOST_LINK))
    throw new LabError(`the link ${HOST_LINK} already exists in the root namespace and no lab made it`);
}

async function removeLab(state: LabState): Promise<void> {
  for (const ns of state.namespaces) await killNetnsProcesses(ns);
  for (const ns of state.namespaces) await sh('ip', ['netns', 'delete', ns]).catch(() => undefined);
  if (await linkExists(state.hostLink))
    await sh('ip', ['link', 'delete', state.hostLink]).catch(() => undefined);
  await rm(LAB_STATE_FILE, { force: true });
}

export interface Lab {
  plan: LabPlan;
  /** Every BIRD's control socket, by namespace. */
  sockets: Map<string, string>;
  /** The include file each edge PoP's agent owns. */
  includes: Map<string, string>;
  /** Stops every process in the lab's namespaces and removes them all. */
  destroy(): Promise<void>;
}

export async function buildLab(plan: LabPlan, dir: string, log: (line: string) => void): Promise<Lab> {
  await clearLeftovers(plan, log);
  const state: LabState = { pid: process.pid, namespaces: plan.namespaces, hostLink: HOST_LINK };
  await writeFile(LAB_STATE_FILE, `${JSON.stringify(state)}\n`);
  const birds: ChildProcess[] = [];
  const lab: Lab = {
    plan,
    sockets: new Map(),
    includes: new Map(),
    async destroy() {
      for (const bird of birds) bird.kill('SIGTERM');
      await removeLab(state);
    },
  };
  try {
    await makeNetwork(plan);
    await mkdir(join(dir, 'bird'), { recursive: true });
    await Promise.all([
      ...plan.routers.map((r) => startBird(lab, birds, dir, r.netns, routerConfig(plan, r))),
      ...plan.pops.map(async (pop) => {
        const include = join(dir, 'bird', `${pop.name}-anycast.conf`);
        await writeFile(
          include,
          anycastConfig({
            protocol: 'meridian_anycast',
            prefixes: [],
            announce: false,
            nexthops: [],
            communities: [],
          }),
        );
        lab.includes.set(pop.name, include);
        await startBird(lab, birds, dir, pop.netns, popConfig(plan, pop, include));
      }),
    ]);
    return lab;
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

async function makeNetwork(plan: LabPlan): Promise<void> {
  for (const ns of plan.namespaces) {
    await sh('ip', ['netns', 'add', ns]);
    await ip(ns, ['link', 'set', 'lo', 'up']);
  }
  for (const link of plan.links) {
    const [nsA, ifA, addrA] = link.a;
    const [nsB, ifB, addrB] = link.b;
    await ip(nsA, ['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    await ip(nsA, ['addr', 'add', addrA, 'dev', ifA]);
    await ip(nsB, ['addr', 'add', addrB, 'dev', ifB]);
    await ip(nsA, ['link', 'set', ifA, 'up']);
    await ip(nsB, ['link', 'set', ifB, 'up']);
  }
  // The host reaches the lab's addresses through router 1.
  await ip(null, ['route', 'add', '198.18.0.0/15', 'via', '198.18.0.2', 'dev', HOST_LINK]);
  const forwarding = {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
  };
  for (const r of plan.routers) await sysctl(r.netns, forwarding);
  for (const pop of plan.pops) {
    // L4 hashing: one client's connections spread over the PoP's nodes, each flow stays on one.
    await sysctl(pop.netns, { ...forwarding, 'net.ipv4.fib_multipath_hash_policy': '1' });
    await ip(pop.netns, ['route', 'add', 'default', 'via', pop.gateway]);
    for (const node of pop.nodes) {
      await ip(node.netns, ['route', 'add', 'default', 'via', node.gateway]);
      if (pop.role === 'edge') await ip(node.netns, ['addr', 'add', '198.19.0.1/32', 'dev', 'lo']);
    }
  }
  for (const c of plan.clients) await ip(c.netns, ['route', 'add', 'default', 'via', c.gateway]);
  for (const pop of plan.pops.filter((p) => p.role === 'edge')) await keepFlows(plan, pop);
}

/**
 * Connection tracking on the PoP's router, the lab's stand-in for the flow-aware load balancers
 * in front of production PoPs (Maglev, Unimog, Katran): a flow whose first packet the router sent
 * to this PoP keeps going there after the PoP withdraws (a drain), while new flows follow BGP. The
 * PoP keeps a route to its healthy nodes for them (the agent's <protocol>_local); with none left,
 * an unreachable route answers instead of a loop back to the router.
 */
async function keepFlows(plan: LabPlan, pop: LabPlan['pops'][number]): Promise<void> {
  const dev = `pop-${pop.name}`.slice(0, 15);
  const rules = [
    'table ip meridian_lab {',
    '  chain pre { type filter hook prerouting priority -150; policy accept;',
    `    ip daddr ${ANYCAST_PREFIX} ct mark 1 meta mark set 1; }`,
    '  chain post { type filter hook postrouting priority -150; policy accept;',
    `    ip daddr ${ANYCAST_PREFIX} ct state new oifname "${dev}" ct mark set 1; }`,
    '}',
    '',
  ].join('\n');
  await sh('ip', ['netns', 'exec', pop.router, 'nft', '-f', '-'], rules);
  await ip(pop.router, ['rule', 'add', 'fwmark', '1', 'lookup', '100', 'priority', '100']);
  await ip(pop.router, ['route', 'add', ANYCAST_PREFIX, 'via', pop.address, 'dev', dev, 'table', '100']);
  await ip(pop.netns, ['route', 'add', 'unreachable', ANYCAST_PREFIX, 'metric', '4000']);
}

/** BIRD in a namespace, in the foreground, its config checked first (BIRD's message when it refuses it). */
async function startBird(
  lab: Lab,
  birds: ChildProcess[],
  dir: string,
  netns: string,
  config: string,
): Promise<void> {
  const conf = join(dir, 'bird', `${netns}.conf`);
  const socket = join(dir, 'bird', `${netns}.ctl`);
  await writeFile(conf, config);
  try {
    await sh('bird', ['-p', '-c', conf]);
  } catch (err) {
    throw new LabError(`BIRD rejects the configuration for ${netns} (${conf}): ${(err as Error).message}`);
  }
  const child = spawnIn(netns, 'bird', ['-f', '-c', conf, '-s', socket]);
  birds.push(child);
  const logFile = createWriteStream(join(dir, 'logs', `bird-${netns}.log`), { flags: 'a' });
  child.stdout?.pipe(logFile);
  child.stderr?.pipe(logFile);
  lab.sockets.set(netns, socket);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new LabError(
        `BIRD in ${netns} exited (${child.exitCode}); see ${join(dir, 'logs', `bird-${netns}.log`)}`,
      );
    try {
      await birdCommand(socket, 'show status', 1_000);
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new LabError(`BIRD in ${netns} did not answer on ${socket}: ${(err as Error).message}`);
      await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 100))]);
    }
  }
}
