// `meridian up` as a person runs it, for tests: one real `up` process in its own process group, on
// free ports and a temporary folder, waited on until its --describe file appears (up renames it into
// place once every part answers).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UpDescription } from '../../src/cli/commands/up.ts';
import { eventually } from './dns.ts';
import { isFree } from './ports.ts';
import { CLI } from './processes.ts';

export interface UpPorts {
  http: number;
  https: number;
  admin: number;
  control: number;
  dns: number;
  origin: number;
}

/** Six free ports (see ports.ts); the DNS one free for UDP too. */
export async function freeUpPorts(): Promise<UpPorts> {
  const picked: number[] = [];
  while (picked.length < 6) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!picked.includes(port) && (await isFree(port, picked.length === 3))) picked.push(port);
  }
  const [http, admin, control, dns, origin, https] = picked as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { http, https, admin, control, dns, origin };
}

/** Is any process of this process group alive? */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export interface UpRun {
  /** The temporary folder: up's --dir is <dir>/state. */
  dir: string;
  ports: UpPorts;
  child: ChildProcess;
  /** Every process `up` started, and `up` itself, are in this group (`up` leads it). */
  pgid: number;
  cluster: UpDescription;
  startupMs: number;
  /** The last 20 000 characters up wrote (stdout and stderr). */
  output(): string;
  /** SIGKILL to the whole group if anything of it is left, then the folder removed. */
  cleanup(): Promise<void>;
}

export async function startUp(extra: string[], timeoutMs: number): Promise<UpRun> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-up-'));
  const ports = await freeUpPorts();
  const describeFile = join(dir, 'cluster.json');
  const portList = Object.entries(ports)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const child = spawn(
    process.execPath,
    [CLI, 'up', '--ports', portList, '--dir', join(dir, 'state'), '--describe', describeFile, ...extra],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pgid = child.pid ?? 0;
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const cleanup = async (): Promise<void> => {
    // Whatever happened: nothing the test started outlives it.
    if (pgid !== 0 && groupAlive(pgid)) {
      process.kill(-pgid, 'SIGKILL');
      await eventually(async () => !groupAlive(pgid), 5_000, 'the process group is gone').catch(() => {});
    }
    await rm(dir, { recursive: true, force: true });
  };
  let exited: string | null = null;
  child.once('exit', (code, signal) => (exited = `up exited (${signal ?? code}) before it was up`));
  const started = Date.now();
  try {
    for (;;) {
      if (exited !== null) throw new Error(`${exited}\n${output}`);
      const text = await readFile(describeFile, 'utf8').catch(() => null);
      if (text !== null) {
        const cluster = JSON.parse(text) as UpDescription;
        const startupMs = Date.now() - started;
        return { dir, ports, child, pgid, cluster, startupMs, output: () => output, cleanup };
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`no ${describeFile} within ${timeoutMs} ms\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}
