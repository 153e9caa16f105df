// Child processes for `meridian up`: each part of the local cluster runs as its own `meridian`
// process (as it would on its own machine), its output in a log file, and stops with the parent.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

export class Supervisor {
  readonly #logDir: string;
  readonly #services: Service[] = [];
  #stopping = false;

  constructor(logDir: string) {
    this.#logDir = logDir;
  }

  get services(): readonly Service[] {
    return this.#services;
  }

  /**
   * Starts `meridian <args>` and resolves once a line of its output passes `isReady` (rejects if it
   * exits first or is not ready within `timeoutMs`).
   */
  async start(
    name: string,
    args: string[],
    isReady: (line: string) => boolean,
    env: Record<string, string> = {},
    timeoutMs = 20_000,
    netns: string | null = null,
  ): Promise<Service> {
    const logFile = join(this.#logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    // In a network namespace (the anycast lab): `ip netns exec` execs node, so the child's pid is
    // still the process's own and signals reach it.
    const [command, argv] =
      netns === null
        ? [process.execPath, [MAIN, ...args]]
        : ['ip', ['netns', 'exec', netns, process.execPath, MAIN, ...args]];
    const child = spawn(command, argv, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    let ready = false;
    let stopping = false;
    // A part of the cluster that fails after it was ready is said out loud: the rest keeps running
    // without it. Not before it is ready (start() rejects with the news), and not a clean exit (a
    // terminal's Ctrl-C reaches every child of the process group, and each stops with 0).
    child.once('exit', (code, signal) => {
      if (ready && !stopping && !this.#stopping && code !== 0)
        process.stderr.write(`meridian up: ${name} exited (${signal ?? code}); see ${logFile}\n`);
    });
    const service: Service = {
      name,
      child,
      logFile,
      async stop() {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
        await exited;
        clearTimeout(timer);
        log.end();
      },
    };
    this.#services.push(service);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name} was not ready within ${timeoutMs} ms (see ${logFile})`));
      }, timeoutMs);
      // Logs go to stderr (JSON lines), banners to stdout: readiness may show on either.
      const lines = [createInterface({ input: child.stdout }), createInterface({ input: child.stderr })];
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`${name} exited (${code}) before it was ready (see ${logFile})`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        for (const l of lines) l.off('line', onLine);
      };
      const onLine = (line: string): void => {
        if (!isReady(line)) return;
        cleanup();
        resolve();
      };
      for (const l of lines) l.on('line', onLine);
      child.once('exit', onExit);
    });
    ready = true;
    return service;
  }

  /** Stops every service, newest first. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    for (const service of this.#services.toReversed()) await service.stop();
  }
}
