// Whether a PoP announces its anycast prefixes. Pure: the nodes' probe results, the control plane's
// view and the clock come in; the PoP's state goes out.
//
// 1. Node health: each node's own /healthz probe, with fall/rise (a node goes unhealthy after
//    `fall` failed probes in a row and back after `rise` good ones). A node the control plane marks
//    "down" is unhealthy whatever its probe says.
// 2. Verified: a node counts only while the agent can vouch for it: its probe answered, and the
//    control plane's view is fresh (polled within `controlStaleMs`) or, when the control plane is
//    away, the node still answers its probes (the last known node list is kept). With no node list at
//    all (the control plane never answered) nothing is verified.
// 3. PoP healthy: not drained, and at least `floor` healthy nodes (default 1; an operator sets more
//    when one node alone cannot carry the PoP's share of the traffic).
// 4. Hysteresis on the PoP: it withdraws as soon as it is unhealthy (traffic to a dead PoP is
//    lost; there is nothing to wait for), but announces again only after it has been healthy for
//    `announceDelayMs` without a break, so a node that flaps never flaps the route faster than that.
//    A drain is an operator's decision: it withdraws at once, and an undrain announces at once.

export interface NodeHealth {
  /** null until the first probe answered. */
  healthy: boolean | null;
  /** Consecutive probe results that disagree with `healthy`. */
  streak: number;
}

export interface ProbeRules {
  fall: number;
  rise: number;
}

/** One probe result applied to a node's state. */
export function nextNodeHealth(state: NodeHealth, ok: boolean, rules: ProbeRules): NodeHealth {
  if (state.healthy === null) return { healthy: ok, streak: 0 };
  if (ok === state.healthy) return { healthy: ok, streak: 0 };
  const streak = state.streak + 1;
  return streak >= (ok ? rules.rise : rules.fall)
    ? { healthy: ok, streak: 0 }
    : { healthy: state.healthy, streak };
}

export interface NodeView {
  name: string;
  /** The control plane's status (the last one known). */
  status: 'up' | 'down';
  health: NodeHealth;
}

export interface PopInputs {
  /** The PoP's nodes as last known from the control plane; null: never heard from it. */
  nodes: readonly NodeView[] | null;
  /** The last known drained flag. */
  drained: boolean;
  /** The control plane answered within controlStaleMs. */
  controlFresh: boolean;
  floor: number;
}

export type Verdict =
  | { kind: 'healthy'; healthyNodes: string[] }
  | { kind: 'unhealthy'; reason: 'no-control-data' | 'below-floor'; healthyNodes: string[] }
  | { kind: 'drained'; healthyNodes: string[] };

/** Is the PoP fit to take traffic now (steps 1–3)? */
export function judgePop(input: PopInputs): Verdict {
  if (input.nodes === null) return { kind: 'unhealthy', reason: 'no-control-data', healthyNodes: [] };
  // With the control plane away its "down" marks are stale: only the probes speak then.
  const healthyNodes = input.nodes
    .filter((n) => n.health.healthy === true && (!input.controlFresh || n.status === 'up'))
    .map((n) => n.name)
    .sort();
  if (input.drained) return { kind: 'drained', healthyNodes };
  if (healthyNodes.length < Math.max(1, input.floor))
    return { kind: 'unhealthy', reason: 'below-floor', healthyNodes };
  return { kind: 'healthy', healthyNodes };
}

export interface Announcement {
  announced: boolean;
  /** Since when the PoP has been healthy without a break (ms); null while it is not. */
  healthySinceMs: number | null;
}

/** Step 4: the announcement after `verdict` at `nowMs`. */
export function nextAnnouncement(
  previous: Announcement,
  verdict: Verdict,
  nowMs: number,
  announceDelayMs: number,
  wasDrained: boolean,
): Announcement {
  if (verdict.kind !== 'healthy') return { announced: false, healthySinceMs: null };
  const healthySinceMs = previous.healthySinceMs ?? nowMs;
  if (previous.announced) return { announced: true, healthySinceMs };
  // Undrained by the operator with its nodes healthy: back at once (it was not sick).
  if (wasDrained) return { announced: true, healthySinceMs };
  return { announced: nowMs - healthySinceMs >= announceDelayMs, healthySinceMs };
}
