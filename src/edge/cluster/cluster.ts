// The node's place in the topology (managed mode): its PoP's live nodes and the shield's, the hop
// key, the event sequence it applied. For each fill it makes a route plan (plan), and sends the
// fill along it (sendAlong): to the key's owner in this PoP when that is another node, else to
// the zone's shield PoP's owner, else nowhere (the caller goes to the origin). Each tier tries its
// nodes in rendezvous order within the one request: a node that refuses or fails before answering
// is suspected (skipped by later requests too) and the next one is asked.
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import { HotKeys } from '../../lib/hashing/hot-keys.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import { HOP_HEADER, signHop, verifyHop, type Hop, type HopStep } from './hop.ts';
import { Membership, type Peer } from './membership.ts';

export interface RoutePlan {
  /** The request line the hop is signed for: Host (normalised) and target. */
  readonly host: string;
  readonly target: string;
  /** The client's scheme, signed too: the receiver keys the object by it (http and https differ). */
  readonly scheme: 'http' | 'https';
  /** Nodes of this PoP ranked before this one for the key, owner first; empty: this node owns it. */
  readonly peers: readonly Peer[];
  /** The zone's shield PoP's nodes for the key, owner first; empty: no shield on this path. */
  readonly shield: readonly Peer[];
  /** The path so far, this node last. */
  readonly path: readonly HopStep[];
  /** A very hot key: a non-owner keeps a copy in memory so the owner does not serve every request. */
  readonly hot: boolean;
  /**
   * What the fill may store, set when the fill is sent: 'all' when this node fetched from its
   * shield or the origin (its PoP's copy), 'memory' for a hot key fetched from the owner, 'none'
   * for a fetch from the owner (the owner keeps the PoP's one copy).
   */
  store: 'all' | 'memory' | 'none';
}

export interface ClusterOptions {
  self: { name: string; pop: string; url: string };
  /** Requests per second at which a key counts as hot on one node. Default 50. */
  hotKeyPerSec?: number;
  suspectMs?: number;
}

export type SendToPeer = (
  peer: Peer,
  headers: Record<string, string | string[]>,
) => Promise<UpstreamResponse>;

export class Cluster {
  readonly membership: Membership;
  readonly #hot: HotKeys;
  #key: Buffer | null = null;
  #seq = 0;
  #waiters: { seq: number; resolve: () => void }[] = [];

  constructor(options: ClusterOptions) {
    this.membership = new Membership({
      self: options.self,
      ...(options.suspectMs === undefined ? {} : { suspectMs: options.suspectMs }),
    });
    this.#hot = new HotKeys({
      thresholdPerSec: options.hotKeyPerSec ?? 50,
      seed: (Math.random() * 2 ** 31) | 0,
    });
  }

  get self(): Peer {
    return this.membership.self;
  }

  /** The event sequence this node applied (its cache reflects every purge up to it). */
  get seq(): number {
    return this.#seq;
  }

  applySnapshot(snapshot: Snapshot): void {
    this.membership.applySnapshot(snapshot);
    if (snapshot.hop_key !== undefined) this.#key = Buffer.from(snapshot.hop_key, 'base64url');
    this.#advance(snapshot.seq);
  }

  applyEvent(event: ControlEvent): void {
    this.membership.applyEvent(event);
    this.#advance(event.seq);
  }

  /** Resolves true once this node applied `seq`, false after `timeoutMs`. */
  waitForSeq(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.#seq >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The hop a request's header states, if it is signed with the cluster's key and recent. */
  verify(
    value: string,
    method: string,
    host: string,
    target: string,
    scheme: 'http' | 'https' = 'http',
  ): Hop | null {
    return verifyHop(this.#key, value, { method, host, target, scheme }, Date.now());
  }

  /**
   * The route of a fill for `primaryKey` (all variants of a URL have one owner, so purges and the
   * Vary index stay in one place). `incoming` is the verified hop that brought the request.
   */
  plan(
    shieldPop: string | null,
    primaryKey: string,
    incoming: Hop | null,
    host: string,
    target: string,
    scheme: 'http' | 'https' = 'http',
  ): RoutePlan | null {
    if (this.#key === null) return null; // no key (old saved state): no hops, origins directly
    const self = this.self;
    const path = [...(incoming?.path ?? []), { pop: self.pop, node: self.name }];
    const seen = (pop: string): boolean => incoming?.path.some((s) => s.pop === pop) === true;
    let peers: Peer[] = [];
    // Routed within this PoP once: a hop from a node of this PoP means this node is the owner.
    if (!seen(self.pop)) {
      const ranked = this.membership.ranked(self.pop, primaryKey);
      const at = ranked.findIndex((p) => p.name === self.name);
      peers = at === -1 ? ranked : ranked.slice(0, at);
    }
    const shield =
      shieldPop !== null && shieldPop !== self.pop && !seen(shieldPop)
        ? this.membership.ranked(shieldPop, primaryKey)
        : [];
    if (peers.length === 0 && shield.length === 0) return null;
    const hot = peers.length > 0 && this.#hot.record(primaryKey);
    return { host, target, scheme, peers, shield, path, hot, store: 'all' };
  }

  /**
   * Sends the fill to the plan's peers, then its shield; null when none answered (the caller
   * fetches from the origin, and the plan's store is 'all').
   */
  async sendAlong(
    plan: RoutePlan,
    headers: Record<string, string | string[]>,
    send: SendToPeer,
  ): Promise<UpstreamResponse | null> {
    const key = this.#key;
    if (key === null) return null;
    const hop: Hop = { path: [...plan.path], seq: this.#seq, ts: Date.now() };
    const signed = signHop(key, hop, {
      method: 'GET',
      host: plan.host,
      target: plan.target,
      scheme: plan.scheme,
    });
    const out = { ...headers, host: plan.host, [HOP_HEADER]: signed };
    for (const tier of [plan.peers, plan.shield]) {
      for (const peer of tier) {
        let res: UpstreamResponse;
        try {
          res = await send(peer, out);
        } catch {
          this.membership.suspect(peer.name);
          continue;
        }
        if (res.status === 503 && isNotReady(res.headers['cache-status'])) {
          res.body.resume();
          this.membership.suspect(peer.name);
          continue;
        }
        plan.store = tier === plan.peers ? (plan.hot ? 'memory' : 'none') : 'all';
        return res;
      }
    }
    plan.store = 'all';
    return null;
  }

  #advance(seq: number): void {
    if (seq <= this.#seq) return;
    this.#seq = seq;
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => w.seq <= seq);
    this.#waiters = this.#waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.resolve();
  }
}

/** A peer that is still loading its state answers 503 NOT_READY (pipeline/route.ts). */
function isNotReady(cacheStatus: string | string[] | undefined): boolean {
  const value = Array.isArray(cacheStatus) ? cacheStatus.join(',') : (cacheStatus ?? '');
  return value.includes('detail="not-ready"');
}
