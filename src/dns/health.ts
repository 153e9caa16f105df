// DNS's own view of node health: every node the control plane lists is probed every intervalMs
// (default 1 s) with a timeout (default 500 ms):
//   - with an admin_url: GET <admin_url>/healthz must answer 200;
//   - without one: GET <url>/ must get any HTTP response (the node is reachable and speaks HTTP).
// The first probe of a node decides its state; after that it goes down after `fall` failures in a
// row (default 2) and comes back after `rise` successes in a row (default 2). A node the control
// plane marks "down" is not answered whatever the probes say (state.ts).
import { Agent, request } from 'undici';
import type { NodeInfo } from '../common/config/topology.ts';
import type { Logger } from '../common/log.ts';

export interface ProbeOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures that take a healthy node down. */
  fall: number;
  /** Consecutive successes that bring an unhealthy node back. */
  rise: number;
}

export const DEFAULT_PROBE: ProbeOptions = { intervalMs: 1_000, timeoutMs: 500, fall: 2, rise: 2 };

export interface HealthState {
  /** null until the first probe answered. */
  healthy: boolean | null;
  /** Consecutive results that disagree with `healthy`. */
  streak: number;
}

/** One probe result applied to a node's state. Pure. */
export function nextHealth(
  state: HealthState,
  ok: boolean,
  options: { fall: number; rise: number },
): HealthState {
  if (state.healthy === null) return { healthy: ok, streak: 0 };
  if (ok === state.healthy) return { healthy: ok, streak: 0 };
  const streak = state.streak + 1;
  return streak >= (ok ? options.rise : options.fall)
    ? { healthy: ok, streak: 0 }
    : { healthy: state.healthy, streak };
}

/** What is probed for a node. */
export function probeUrl(node: Pick<NodeInfo, 'url' | 'admin_url'>): { url: string; needOk: boolean } {
  if (node.admin_url !== null) return { url: `${node.admin_url.replace(/\/+$/, '')}/healthz`, needOk: true };
  return { url: node.url, needOk: false };
}

interface Target {
  url: string;
  needOk: boolean;
  state: HealthState;
  inFlight: boolean;
  /** Why the last probe failed (logged when the node turns unhealthy). */
  lastError?: string;
}

export class HealthChecker {
  readonly #options: ProbeOptions;
  readonly #log: Logger;
  readonly #onChange: () => void;
  readonly #agent: Agent;
  readonly #targets = new Map<string, Target>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: ProbeOptions, log: Logger, onChange: () => void) {
    this.#options = options;
    this.#log = log;
    this.#onChange = onChange;
    this.#agent = new Agent({
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: Math.max(options.intervalMs * 2, 1_000),
      connections: 2,
    });
  }

  /** The nodes to probe (the control plane's list); probes of nodes no longer listed stop. */
  setNodes(nodes: readonly NodeInfo[]): void {
    const seen = new Set<string>();
    for (const node of nodes) {
      seen.add(node.name);
      const { url, needOk } = probeUrl(node);
      const target = this.#targets.get(node.name);
      // A node that moved (a new address after a restart) starts over.
      if (target === undefined || target.url !== url) {
        this.#targets.set(node.name, { url, needOk, state: { healthy: null, streak: 0 }, inFlight: false });
      }
    }
    for (const name of [...this.#targets.keys()]) if (!seen.has(name)) this.#targets.delete(name);
  }

  /** True only when probes have found the node healthy. */
  isHealthy(name: string): boolean {
    return this.#targets.get(name)?.state.healthy === true;
  }

  /** Probes every node once now (resolves when all answered or timed out), then every intervalMs. */
  async start(): Promise<void> {
    await this.#round();
    this.#timer = setInterval(() => void this.#round(), this.#options.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#agent.close();
  }

  async #round(): Promise<void> {
    const probes: Promise<void>[] = [];
    for (const [name, target] of this.#targets) {
      if (target.inFlight) continue;
      target.inFlight = true;
      probes.push(
        this.#probe(target).then((ok) => {
          target.inFlight = false;
          if (this.#closed || this.#targets.get(name) !== target) return;
          const before = target.state.healthy;
          target.state = nextHealth(target.state, ok, this.#options);
          if (target.state.healthy !== before) {
            if (ok) {
              if (before !== null) this.#log.info('node healthy', { node: name, url: target.url });
            } else {
              this.#log.warn('node unhealthy', { node: name, url: target.url, reason: target.lastError });
            }
            this.#onChange();
          }
        }),
      );
    }
    await Promise.all(probes);
  }

  async #probe(target: Target): Promise<boolean> {
    try {
      const res = await request(target.url, {
        method: 'GET',
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
        headers: { 'user-agent': 'meridian-dns-probe' },
      });
      await res.body.dump();
      const ok = target.needOk ? res.statusCode === 200 : true;
      if (!ok) target.lastError = `HTTP ${res.statusCode}`;
      return ok;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      target.lastError = `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`;
      return false;
    }
  }
}
