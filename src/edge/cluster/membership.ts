// Which nodes are where, as the control plane says (snapshot, then node events), and which
// node of a PoP owns a key: weighted rendezvous hashing over the PoP's live nodes, so that a node
// joining or leaving moves about 1/N of the keys (lib/hashing/rendezvous.ts). A node that fails a
// hop is suspected for a few seconds and skipped at once by every request, without waiting for the
// control plane to mark it down; suspicion does not change the ranking of the others.
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import { Rendezvous } from '../../lib/hashing/rendezvous.ts';

export interface Peer {
  /** Rendezvous id: the node's name. */
  readonly id: string;
  readonly name: string;
  readonly pop: string;
  /** Where the node serves HTTP (the internal hop uses it). */
  readonly url: string;
  readonly weight: number;
}

type NodeEntry = Snapshot['nodes'][number];

export interface MembershipOptions {
  /** This node: always a member of its own PoP, whatever the control plane last heard. */
  self: { name: string; pop: string; url: string };
  /** How long a node that failed a hop is skipped. Default 5 s. */
  suspectMs?: number;
  now?: () => number;
}

export class Membership {
  readonly self: Peer;
  readonly #suspectMs: number;
  readonly #now: () => number;
  #nodes = new Map<string, NodeEntry>();
  /** Rendezvous sets by PoP, built on first use after a change. */
  #sets = new Map<string, Rendezvous<Peer>>();
  readonly #suspects = new Map<string, number>();

  constructor(options: MembershipOptions) {
    this.self = { id: options.self.name, ...options.self, weight: 1 };
    this.#suspectMs = options.suspectMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  applySnapshot(snapshot: Snapshot): void {
    this.#nodes = new Map(snapshot.nodes.map((n) => [n.name, n]));
    this.#sets.clear();
  }

  applyEvent(event: ControlEvent): void {
    switch (event.type) {
      case 'node.upsert': {
        const before = this.#nodes.get(event.node.name);
        this.#nodes.set(event.node.name, event.node);
        // Back up (or re-registered): no longer suspected.
        if (event.node.status === 'up') this.#suspects.delete(event.node.name);
        this.#changed(event.node.pop);
        if (before !== undefined && before.pop !== event.node.pop) this.#changed(before.pop);
        break;
      }
      case 'node.delete': {
        const before = this.#nodes.get(event.name);
        this.#nodes.delete(event.name);
        if (before !== undefined) this.#changed(before.pop);
        break;
      }
      default:
        break;
    }
  }

  /** The PoP's live nodes in preference order for `key` (its owner first), suspects left out. */
  ranked(pop: string, key: string): Peer[] {
    const set = this.#setOf(pop);
    if (set === null) return [];
    const ranked = set.rank(key);
    if (this.#suspects.size === 0) return ranked;
    const now = this.#now();
    return ranked.filter((peer) => !this.#isSuspect(peer.name, now));
  }

  /** The owner of `key` in `pop` (suspects skipped), if the PoP has a live node. */
  ownerOf(pop: string, key: string): Peer | undefined {
    return this.ranked(pop, key)[0];
  }

  /** A hop to this node failed: skip it for a while. */
  suspect(name: string): void {
    if (name !== this.self.name) this.#suspects.set(name, this.#now() + this.#suspectMs);
  }

  #isSuspect(name: string, now: number): boolean {
    const until = this.#suspects.get(name);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#suspects.delete(name);
    return false;
  }

  #changed(pop: string): void {
    this.#sets.delete(pop);
  }

  #setOf(pop: string): Rendezvous<Peer> | null {
    const cached = this.#sets.get(pop);
    if (cached !== undefined) return cached;
    const peers: Peer[] = [];
    for (const node of this.#nodes.values()) {
      if (node.pop !== pop || node.status !== 'up' || node.name === this.self.name) continue;
      peers.push({ id: node.name, name: node.name, pop: node.pop, url: node.url, weight: 1 });
    }
    if (pop === this.self.pop) peers.push(this.self);
    if (peers.length === 0) return null;
    // Sorted by name: the same set gives the same Rendezvous whatever order events came in.
    peers.sort((a, b) => (a.name < b.name ? -1 : 1));
    const set = new Rendezvous(peers);
    this.#sets.set(pop, set);
    return set;
  }
}
