// Inputs, a clock and a reference event reducer for the ControlStore contract (control-store.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PopInputSchema } from '../../src/common/config/topology.ts';
import type { PopInput } from '../../src/common/config/topology.ts';
import { RuleInputSchema, ZoneInputSchema } from '../../src/common/config/zone.ts';
import type { Rule, RuleInput, ZoneInput } from '../../src/common/config/zone.ts';
import type { ControlEvent, Snapshot } from '../../src/common/events/types.ts';
import type { Actor, ControlStore } from '../../src/control/store/types.ts';
import { StoreConflictError } from '../../src/control/store/types.ts';

export interface OpenOptions {
  /** The store's clock. */
  now?: () => Date;
}

/** Opens a new, empty store (each call a separate database or schema). */
export type OpenStore = (options?: OpenOptions) => Promise<ControlStore>;

export const ACTOR: Actor = { token_id: 'tok1', token_name: 'ops', ip: '192.0.2.7' };

export function zoneInput(name: string, hostnames: string[] = [`${name}.example`]): ZoneInput {
  return ZoneInputSchema.parse({ name, hostnames, origins: [{ url: `http://${name}.origin.test` }] });
}

export function ruleInput(description: string, edgeTtl = 60): RuleInput {
  return RuleInputSchema.parse({
    description,
    match: { path: `/${description}/**` },
    action: { edge_ttl: edgeTtl },
  });
}

export function popInput(name: string, role: 'edge' | 'shield' = 'edge'): PopInput {
  return PopInputSchema.parse({ name, city: `City of ${name}`, latitude: 40.7, longitude: -74, role });
}

export function sha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A clock the test moves by hand. */
export class ManualClock {
  ms = Date.parse('2030-01-01T00:00:00.000Z');
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

export async function assertConflict(promise: Promise<unknown>, field: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StoreConflictError, `expected StoreConflictError, got ${String(err)}`);
    assert.equal(err.field, field);
    return true;
  });
}

/** The whole log, checked to be 1…lastSeq without gaps (or firstSeq…lastSeq after pruning). */
export async function readWholeLog(store: ControlStore): Promise<ControlEvent[]> {
  const events: ControlEvent[] = [];
  let cursor = (await store.firstSeq()) - 1;
  for (;;) {
    const batch = await store.readEventsAfter(cursor, 7);
    if (batch.length === 0) break;
    for (const event of batch) {
      assert.equal(event.seq, cursor + 1, 'seq must have no gap');
      cursor = event.seq;
      events.push(event);
    }
  }
  assert.equal(cursor, await store.lastSeq());
  return events;
}

/** A node's view: a snapshot, then each event applied in order (the reference for state replay). */
export function applyEvents(base: Snapshot, events: ControlEvent[]): Snapshot {
  const zones = new Map(base.zones.map((z) => [z.id, z]));
  const rules = new Map<string, Rule[]>(Object.entries(base.rules));
  const pops = new Map(base.pops.map((p) => [p.name, p]));
  const nodes = new Map(base.nodes.map((n) => [n.name, n]));
  const certificates = new Map((base.certificates ?? []).map((c) => [c.id, c]));
  let seq = base.seq;
  for (const event of events) {
    assert.equal(event.seq, seq + 1, 'events must follow the snapshot without a gap');
    seq = event.seq;
    switch (event.type) {
      case 'zone.upsert':
        zones.set(event.zone.id, event.zone);
        if (!rules.has(event.zone.id)) rules.set(event.zone.id, []);
        break;
      case 'zone.delete':
        zones.delete(event.zone_id);
        rules.delete(event.zone_id);
        for (const [id, cert] of certificates) if (cert.zone_id === event.zone_id) certificates.delete(id);
        break;
      case 'certificate.upsert':
        certificates.set(event.certificate.id, event.certificate);
        break;
      case 'certificate.delete':
        certificates.delete(event.id);
        break;
      case 'rules.replace':
        rules.set(event.zone_id, event.rules);
        break;
      case 'pop.upsert':
        pops.set(event.pop.name, event.pop);
        break;
      case 'pop.delete':
        pops.delete(event.name);
        break;
      case 'node.upsert':
        nodes.set(event.node.name, event.node);
        break;
      case 'node.delete':
        nodes.delete(event.name);
        break;
    }
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const byName = <T extends { name: string }>(a: T, b: T): number =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  return {
    seq,
    zones: [...zones.values()].sort(byName),
    rules: Object.fromEntries([...rules.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
    pops: [...pops.values()].sort(byName),
    nodes: [...nodes.values()].sort(byName),
    // As the store orders them: by zone, then upload time, then id.
    certificates: [...certificates.values()].sort(
      (a, b) => cmp(a.zone_id, b.zone_id) || cmp(a.uploaded_on, b.uploaded_on) || cmp(a.id, b.id),
    ),
  };
}

/**
 * Snapshot state with its rules record in key order (records compare by content, not insertion
 * order), without the purge catch-up list (commands, not state: tested on their own).
 */
export function normalised(snapshot: Snapshot): Snapshot {
  const { purges: _purges, purges_from: _from, ...state } = snapshot;
  return {
    ...state,
    rules: Object.fromEntries(Object.entries(snapshot.rules).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}

export const EMPTY_SNAPSHOT: Snapshot = {
  seq: 0,
  zones: [],
  rules: {},
  pops: [],
  nodes: [],
  certificates: [],
};

/** Resolves with the first value `subscribe` delivers that passes `accept`; rejects after timeoutMs. */
export function waitFor<T>(
  subscribe: (deliver: (value: T) => void) => () => void,
  accept: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`nothing accepted within ${timeoutMs} ms`));
    }, timeoutMs);
    const unsubscribe = subscribe((value) => {
      if (!accept(value)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    });
  });
}
