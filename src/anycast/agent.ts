// `meridian anycast`: the per-PoP announcement agent. Every tick (default 250 ms) it polls the
// control plane's view of its PoP (the PoP's drained flag, its nodes and their status; once a
// second), probes each node's /healthz, judges the PoP (decision.ts) and, when the announcement
// changes, rewrites BIRD's included static protocol and reconfigures BIRD (bird.ts). It starts
// withdrawn and announces only once it has verified the PoP; on exit it withdraws.
import { Agent, request } from 'undici';
import type { NodeInfo, Pop } from '../common/config/topology.ts';
import type { Logger } from '../common/log.ts';
import { anycastConfig, BirdControl } from './bird.ts';
import {
  judgePop,
  nextAnnouncement,
  nextNodeHealth,
  type Announcement,
  type NodeHealth,
  type Verdict,
} from './decision.ts';

export interface AnycastOptions {
  pop: string;
  controlUrl: string;
  token: string;
  birdSocket: string;
  includeFile: string;
  protocol: string;
  prefixes: string[];
  /** node name → the next hop BIRD routes the prefixes to (in-PoP ECMP); null: blackhole routes. */
  nexthops: Map<string, string> | null;
  communities: [number, number][];
  floor: number;
  tickMs: number;
  controlIntervalMs: number;
  controlStaleMs: number;
  probeTimeoutMs: number;
  fall: number;
  rise: number;
  announceDelayMs: number;
  log: Logger;
}

interface Known {
  node: NodeInfo;
  health: NodeHealth;
}

export class AnycastAgent {
  readonly #o: AnycastOptions;
  readonly #bird: BirdControl;
  readonly #http: Agent;
  readonly #nodes = new Map<string, Known>();
  #haveControlData = false;
  #drained = false;
  #controlOkAt = 0;
  #controlFailing = false;
  #lastControlPoll = 0;
  #state: Announcement = { announced: false, healthySinceMs: null };
  /** The include file's text in force (null: not yet written). */
  #applied: string | null = null;
  #announcedApplied = false;
  #lastVerdict = '';
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #running: Promise<void> = Promise.resolve();

  constructor(options: AnycastOptions) {
    this.#o = options;
    this.#bird = new BirdControl(options.birdSocket, options.includeFile);
    this.#http = new Agent({
      connect: { timeout: options.probeTimeoutMs },
      headersTimeout: options.probeTimeoutMs,
      bodyTimeout: options.probeTimeoutMs,
      connections: 2,
    });
  }

  get announced(): boolean {
    return this.#state.announced;
  }

  /** Checks BIRD, writes the withdrawn state, then ticks. Rejects (clear message) when BIRD is not there or refuses. */
  async start(): Promise<void> {
    await this.#bird.check();
    await this.#apply(false, []);
    await this.#tick();
    this.#schedule();
  }

  /** Stops ticking and withdraws (a stopped agent vouches for nothing). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#running;
    await this.#apply(false, []).catch((err: unknown) =>
      this.#o.log.error('withdraw on exit failed', { err }),
    );
    await this.#http.close();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#tick()
        .catch((err: unknown) => this.#o.log.error('anycast tick failed', { err }))
        .then(() => this.#schedule());
    }, this.#o.tickMs);
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastControlPoll >= this.#o.controlIntervalMs) {
      this.#lastControlPoll = now;
      await this.#pollControl();
    }
    await Promise.all([...this.#nodes.values()].map((k) => this.#probe(k)));
    const wasDrained = this.#lastVerdict.startsWith('drained');
    const verdict = judgePop({
      nodes: this.#haveControlData
        ? [...this.#nodes.values()].map((k) => ({
            name: k.node.name,
            status: k.node.status,
            health: k.health,
          }))
        : null,
      drained: this.#drained,
      controlFresh: Date.now() - this.#controlOkAt <= this.#o.controlStaleMs,
      floor: this.#o.floor,
    });
    this.#logVerdict(verdict);
    this.#state = nextAnnouncement(this.#state, verdict, Date.now(), this.#o.announceDelayMs, wasDrained);
    if (this.#closed) return;
    await this.#apply(this.#state.announced, verdict.healthyNodes);
  }

  #logVerdict(verdict: Verdict): void {
    const key = `${verdict.kind}:${verdict.kind === 'unhealthy' ? verdict.reason : ''}:${verdict.healthyNodes.join(',')}`;
    if (key === this.#lastVerdict) return;
    this.#lastVerdict = key;
    this.#o.log.info('pop verdict', { pop: this.#o.pop, ...verdict });
  }

  async #apply(announce: boolean, healthyNodes: string[]): Promise<void> {
    const map = this.#o.nexthops;
    const nexthops =
      map === null ? null : healthyNodes.map((n) => map.get(n)).filter((n): n is string => n !== undefined);
    // Healthy nodes without a next hop cannot take the routed traffic.
    if (nexthops !== null && nexthops.length === 0) announce = false;
    const text = anycastConfig({
      protocol: this.#o.protocol,
      prefixes: this.#o.prefixes,
      announce,
      nexthops,
      communities: this.#o.communities,
    });
    if (text === this.#applied) return;
    await this.#bird.apply(text);
    const was = this.#applied;
    const wasAnnounced = this.#announcedApplied;
    this.#applied = text;
    this.#announcedApplied = announce;
    if (was === null) this.#o.log.info('withdrawn (start)', { prefixes: this.#o.prefixes });
    else if (announce !== wasAnnounced)
      this.#o.log.info(announce ? 'announced' : 'withdrawn', { prefixes: this.#o.prefixes, nexthops });
    else this.#o.log.info('next hops changed', { announced: announce, nexthops });
  }

  async #pollControl(): Promise<void> {
    try {
      const [pop, nodes] = await Promise.all([
        this.#get<Pop>(`/client/v4/pops/${encodeURIComponent(this.#o.pop)}`),
        this.#get<NodeInfo[]>('/client/v4/nodes'),
      ]);
      this.#drained = pop.drained === true;
      const mine = nodes.filter((n) => n.pop === this.#o.pop);
      for (const name of this.#nodes.keys()) if (!mine.some((n) => n.name === name)) this.#nodes.delete(name);
      for (const node of mine) {
        const known = this.#nodes.get(node.name);
        if (known === undefined) this.#nodes.set(node.name, { node, health: { healthy: null, streak: 0 } });
        else known.node = node;
      }
      this.#haveControlData = true;
      this.#controlOkAt = Date.now();
      if (this.#controlFailing)
        this.#o.log.info('control plane reachable again', { url: this.#o.controlUrl });
      this.#controlFailing = false;
    } catch (err) {
      if (!this.#controlFailing)
        this.#o.log.warn("control plane unreachable; judging the PoP by its nodes' probes alone", {
          url: this.#o.controlUrl,
          err,
        });
      this.#controlFailing = true;
    }
  }

  async #get<T>(path: string): Promise<T> {
    const res = await request(new URL(path, this.#o.controlUrl), {
      headers: { authorization: `Bearer ${this.#o.token}`, accept: 'application/json' },
      dispatcher: this.#http,
      signal: AbortSignal.timeout(Math.max(this.#o.probeTimeoutMs, 1_000)),
    });
    const body = (await res.body.json()) as { success: boolean; result: T; errors?: { message: string }[] };
    if (res.statusCode !== 200 || !body.success)
      throw new Error(`${path}: ${res.statusCode} ${body.errors?.map((e) => e.message).join('; ') ?? ''}`);
    return body.result;
  }

  async #probe(known: Known): Promise<void> {
    const base = known.node.admin_url;
    let ok = false;
    if (base !== null) {
      try {
        const res = await request(`${base.replace(/\/+$/, '')}/healthz`, {
          dispatcher: this.#http,
          signal: AbortSignal.timeout(this.#o.probeTimeoutMs),
        });
        await res.body.dump();
        ok = res.statusCode === 200;
      } catch {
        ok = false;
      }
    }
    known.health = nextNodeHealth(known.health, ok, { fall: this.#o.fall, rise: this.#o.rise });
  }
}
