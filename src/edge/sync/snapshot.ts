// The node's copy of the control plane's state as a Snapshot, kept current event by event so that
// last-known-good.json always holds everything as of the last applied seq. Pure: no I/O. Events are
// full statements of new state (common/events/types.ts), so applying one twice changes nothing.
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';

/** `snapshot` with `event` applied (a new object; unchanged parts are shared). Older events are ignored. */
export function applyEventToSnapshot(snapshot: Snapshot, event: ControlEvent): Snapshot {
  if (event.seq <= snapshot.seq) return snapshot;
  const next: Snapshot = { ...snapshot, seq: event.seq };
  switch (event.type) {
    case 'zone.upsert':
      next.zones = upsertBy(snapshot.zones, event.zone, (z) => z.id === event.zone.id);
      break;
    case 'zone.delete': {
      next.zones = snapshot.zones.filter((z) => z.id !== event.zone_id);
      const { [event.zone_id]: _dropped, ...rules } = snapshot.rules;
      next.rules = rules;
      next.worker_scripts = (snapshot.worker_scripts ?? []).filter((s) => s.zone_id !== event.zone_id);
      const { [event.zone_id]: _routes, ...workerRoutes } = snapshot.worker_routes ?? {};
      next.worker_routes = workerRoutes;
      next.kv_namespaces = (snapshot.kv_namespaces ?? []).filter((n) => n.zone_id !== event.zone_id);
      if (snapshot.security?.[event.zone_id] !== undefined) {
        const { [event.zone_id]: _gone, ...security } = snapshot.security;
        next.security = security;
      }
      break;
    }
    case 'rules.replace':
      next.rules = { ...snapshot.rules, [event.zone_id]: event.rules };
      break;
    case 'pop.upsert':
      next.pops = upsertBy(snapshot.pops, event.pop, (p) => p.name === event.pop.name);
      break;
    case 'pop.delete':
      next.pops = snapshot.pops.filter((p) => p.name !== event.name);
      break;
    case 'node.upsert':
      next.nodes = upsertBy(snapshot.nodes, event.node, (n) => n.name === event.node.name);
      break;
    case 'node.delete':
      next.nodes = snapshot.nodes.filter((n) => n.name !== event.name);
      break;
    case 'certificate.upsert':
      next.certificates = upsertBy(
        snapshot.certificates ?? [],
        event.certificate,
        (c) => c.id === event.certificate.id,
      );
      break;
    case 'certificate.delete':
      next.certificates = (snapshot.certificates ?? []).filter((c) => c.id !== event.id);
      break;
    case 'acme.challenge.upsert':
      next.acme_challenges = upsertBy(
        snapshot.acme_challenges ?? [],
        event.challenge,
        (c) => c.token === event.challenge.token,
      );
      break;
    case 'acme.challenge.delete':
      next.acme_challenges = (snapshot.acme_challenges ?? []).filter((c) => c.token !== event.token);
      break;
    case 'purge':
      break; // applied to the cache, not kept in the state
    case 'prewarm':
      break; // a command to the cache, not kept in the state
    case 'worker.script.upsert':
      next.worker_scripts = upsertBy(
        snapshot.worker_scripts ?? [],
        event.script,
        (s) => s.zone_id === event.script.zone_id && s.name === event.script.name,
      );
      break;
    case 'worker.script.delete':
      next.worker_scripts = (snapshot.worker_scripts ?? []).filter(
        (s) => s.zone_id !== event.zone_id || s.name !== event.name,
      );
      break;
    case 'kv.namespace.upsert':
      next.kv_namespaces = upsertBy(
        snapshot.kv_namespaces ?? [],
        event.namespace,
        (n) => n.id === event.namespace.id,
      );
      break;
    case 'kv.namespace.delete':
      next.kv_namespaces = (snapshot.kv_namespaces ?? []).filter((n) => n.id !== event.id);
      break;
    case 'kv.put':
    case 'kv.delete':
      break; // kept by the node's KV replica (edge/compute/kv-replica.ts), not in the state
    case 'worker.routes.replace': {
      const { [event.zone_id]: _old, ...others } = snapshot.worker_routes ?? {};
      next.worker_routes = event.routes.length === 0 ? others : { ...others, [event.zone_id]: event.routes };
      break;
    }
    case 'security.replace': {
      const { [event.zone_id]: _replaced, ...others } = snapshot.security ?? {};
      next.security = event.security === null ? others : { ...others, [event.zone_id]: event.security };
      break;
    }
    default:
      assertNever(event);
  }
  return next;
}

/** Replaces the item `isSame` finds, in place of order, or appends it. */
function upsertBy<T>(items: readonly T[], item: T, isSame: (existing: T) => boolean): T[] {
  const index = items.findIndex(isSame);
  if (index === -1) return [...items, item];
  const copy = [...items];
  copy[index] = item;
  return copy;
}

/** Does `value` have a Snapshot's shape (a file or an answer we are about to trust)? */
export function isSnapshot(value: unknown): value is Snapshot {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Partial<Record<keyof Snapshot, unknown>>;
  return (
    typeof s.seq === 'number' &&
    Number.isSafeInteger(s.seq) &&
    s.seq >= 0 &&
    Array.isArray(s.zones) &&
    Array.isArray(s.pops) &&
    Array.isArray(s.nodes) &&
    typeof s.rules === 'object' &&
    s.rules !== null &&
    !Array.isArray(s.rules)
  );
}

function assertNever(value: never): never {
  throw new Error(`unexpected event ${JSON.stringify(value)}`);
}
