// Network namespaces, veth links and processes inside them, through iproute2 (`ip`): the lab's
// I/O. Every failure says which command failed and what it printed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { UsageError } from '../args.ts';

const run = promisify(execFile);

/**
 * The lab cannot be built here (not root, a tool missing, a name taken, BIRD refusing): a
 * UsageError, so that main prints its message alone, as for a bad flag.
 */
export class LabError extends UsageError {
  override name = 'LabError';
}

/** Runs a command; a LabError naming it and its stderr when it fails. */
export async function sh(cmd: string, args: readonly string[], input?: string): Promise<string> {
  try {
    if (input !== undefined) return await withInput(cmd, args, input);
    const { stdout } = await run(cmd, args, { maxBuffer: 4 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string | number };
    if (e.code === 'ENOENT') throw new LabError(`${cmd}: not installed (needed by meridian up --anycast)`);
    throw new LabError(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

function withInput(cmd: string, args: readonly string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, (err, stdout, stderr) =>
      err === null ? resolve(stdout) : reject(Object.assign(err, { stderr })),
    );
    child.stdin?.end(input);
  });
}

/** `ip` in a namespace (null: the root namespace). */
export function ip(netns: string | null, args: readonly string[]): Promise<string> {
  return netns === null ? sh('ip', args) : sh('ip', ['-n', netns, ...args]);
}

export async function listNetns(): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

export async function linkExists(name: string): Promise<boolean> {
  try {
    await sh('ip', ['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

/** Sets sysctls inside a namespace. */
export function sysctl(netns: string, settings: Record<string, string>): Promise<string> {
  return sh('ip', [
    'netns',
    'exec',
    netns,
    'sysctl',
    '-q',
    '-w',
    ...Object.entries(settings).map(([k, v]) => `${k}=${v}`),
  ]);
}

/** Kills every process inside a namespace (SIGKILL) and waits until none is left. */
export async function killNetnsProcesses(netns: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = (await sh('ip', ['netns', 'pids', netns]).catch(() => ''))
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((p) => Number.isInteger(p) && p > 0);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A process started inside a namespace (`ip netns exec` execs it: the child's pid is the process's). */
export function spawnIn(netns: string, cmd: string, args: readonly string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Is the caller able to build a lab? A LabError saying what is missing when not. */
export async function preflight(): Promise<void> {
  if (process.platform !== 'linux')
    throw new LabError(`meridian up --anycast needs Linux network namespaces (this is ${process.platform})`);
  if (process.getuid?.() !== 0)
    throw new LabError(
      'meridian up --anycast must run as root (it creates network namespaces and veth links)',
    );
  await sh('ip', ['-V']);
  await sh('nft', ['--version']).catch(() => {
    throw new LabError(
      'meridian up --anycast needs nftables (nft) for the lab routers: apt-get install nftables',
    );
  });
  try {
    await run('bird', ['--version']);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT')
      throw new LabError('meridian up --anycast needs BIRD 2 (bird, birdc): apt-get install bird2');
  }
}
