// The anycast lab from a test's side: can this machine build it, requests from a region's client
// namespace, a PoP's nodes killed and started again inside their namespaces, and what is left of
// a lab after it is gone.
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** null when this machine can build the lab; else why not (the test is skipped with it). */
export async function labUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: network namespaces need CAP_SYS_ADMIN';
  for (const tool of ['bird', 'nft', 'curl']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed (bird2, nftables, curl)`;
    }
  }
  const probe = `mrdprobe${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'delete', probe]);
  } catch (err) {
    return `cannot create network namespaces here: ${(err as { stderr?: string }).stderr ?? String(err)}`;
  }
  return null;
}

export interface ClientReply {
  ok: boolean;
  /** The node that answered (the last entry of Cache-Status). */
  node: string | null;
  cacheStatus: string;
  headers: Record<string, string>;
}

/** One GET from inside `netns` with curl (a new connection). */
export async function curlIn(netns: string, url: string, host: string, timeoutSec = 1): Promise<ClientReply> {
  try {
    const { stdout } = await run('ip', [
      'netns',
      'exec',
      netns,
      'curl',
      '-s',
      '-m',
      String(timeoutSec),
      '-o',
      '/dev/null',
      '-D',
      '-',
      '-H',
      `Host: ${host}`,
      url,
    ]);
    const headers: Record<string, string> = {};
    for (const line of stdout.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const cacheStatus = headers['cache-status'] ?? '';
    const node = cacheStatus.split(',').at(-1)?.trim().split(';')[0] ?? null;
    return { ok: /^HTTP\/1\.1 200/.test(stdout), node, cacheStatus, headers };
  } catch {
    return { ok: false, node: null, cacheStatus: '', headers: {} };
  }
}

/** The PoP of a node name ("nyc-2" → "nyc"). */
export const popOf = (node: string | null): string | null => node?.replace(/-\d+$/, '') ?? null;

async function pidsIn(netns: string): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', netns]);
  return stdout
    .split('\n')
    .map(Number)
    .filter((p) => p > 0);
}

/** Kills (SIGKILL) every process in the nodes' namespaces; returns their command lines to restart them. */
export async function killNodes(namespaces: string[]): Promise<{ netns: string; argv: string[] }[]> {
  const killed: { netns: string; argv: string[] }[] = [];
  for (const netns of namespaces)
    for (const pid of await pidsIn(netns)) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
      process.kill(pid, 'SIGKILL');
      killed.push({ netns, argv });
    }
  return killed;
}

/** Starts the killed processes again in their namespaces (the lab's teardown stops them). */
export function restartNodes(killed: { netns: string; argv: string[] }[]): void {
  for (const { netns, argv } of killed) {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: 'ignore', detached: true });
    child.unref();
  }
}

/** What a lab left behind: namespaces and links named mrd-*, and BIRD processes. */
export async function labLeftovers(): Promise<string[]> {
  const left: string[] = [];
  const { stdout: ns } = await run('ip', ['netns', 'list']);
  for (const line of ns.split('\n')) if (line.startsWith('mrd-')) left.push(`netns ${line.split(' ')[0]}`);
  const { stdout: links } = await run('ip', ['-o', 'link', 'show']);
  for (const line of links.split('\n'))
    if (/^\d+: mrd-/.test(line)) left.push(`link ${line.split(':')[1]?.trim()}`);
  const { stdout: ps } = await run('ps', ['-eo', 'pid,args']).catch(() => ({ stdout: '' }));
  for (const line of ps.split('\n'))
    if (/\bbird -f -c \S*mrd-/.test(line)) left.push(`process ${line.trim()}`);
  return left;
}

/**
 * After a run that did not end cleanly (up killed before it could take the lab down): removes the
 * lab its state file lists, as the next `up --anycast` would, so that no test leaves it behind.
 */
export async function removeLeftoverLab(): Promise<void> {
  const state = await readFile('/run/meridian-anycast-lab.json', 'utf8')
    .then((t) => JSON.parse(t) as { pid: number; namespaces: string[]; hostLink: string })
    .catch(() => null);
  if (state === null) return;
  try {
    process.kill(state.pid, 0);
    return; // its up still runs: it removes the lab itself
  } catch {
    // gone: the lab is left over
  }
  for (const netns of state.namespaces) {
    for (const pid of await pidsIn(netns).catch(() => [])) process.kill(pid, 'SIGKILL');
    await run('ip', ['netns', 'delete', netns]).catch(() => undefined);
  }
  await run('ip', ['link', 'delete', state.hostLink]).catch(() => undefined);
  await run('rm', ['-f', '/run/meridian-anycast-lab.json']);
}
