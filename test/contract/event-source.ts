// The contract every EventSource (src/common/events/types.ts) passes, and the follower on top of it,
// run by event-source-<transport>.test.ts against a real ControlStore (SQLite) and the real
// transport: one suite keeps the HTTP stream and NATS JetStream identical (STYLE.md rule 12).
// Waits poll a condition with a deadline; what they prove is counted (events, seqs, calls).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type {
  ControlEvent,
  EventSource,
  EventSubscription,
  Snapshot,
} from '../../src/common/events/types.ts';
import { createLogger } from '../../src/common/log.ts';
import type { ControlStore } from '../../src/control/store/types.ts';
import { startFollower } from '../../src/edge/sync/follower.ts';
import type { Follower } from '../../src/edge/sync/follower.ts';
import { appendEvents, TEST_POP, TEST_TOKEN } from './event-source-control.ts';

export interface ClosableEventSource extends EventSource {
  close(): Promise<void>;
}

export interface EventSourceHarness {
  store: ControlStore;
  /** The control plane's HTTP API (snapshot, register, heartbeat; the HTTP transport's stream). */
  controlUrl: string;
  /** A new client of the transport, as node `nodeName` would make it. */
  createSource(nodeName: string): ClosableEventSource;
  /** The transport drops every connection and refuses new ones while `during` runs, then comes back. */
  interrupt(during: () => Promise<void>): Promise<void>;
  /** The log, as the transport serves it, keeps only the newest `keep` events (retention). */
  dropOldest(keep: number): Promise<void>;
  /** The control plane goes away (its HTTP API, and whatever feeds the transport) / comes back. */
  stopControl(): Promise<void>;
  startControl(): Promise<void>;
  close(): Promise<void>;
}

const log = createLogger('contract-test', process.env.MERIDIAN_TEST_LOG === 'debug' ? 'debug' : 'error');
const FAST_BACKOFF = { initialMs: 20, maxMs: 200 };

/** Polls `condition` until it holds, failing with `what` after `timeoutMs`. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Records what a subscription delivers, with the time each event arrived. */
class Recorder {
  readonly events: ControlEvent[] = [];
  readonly arrivedAt = new Map<number, number>();
  gaps = 0;
  readonly onEvent = async (event: ControlEvent): Promise<void> => {
    this.events.push(event);
    this.arrivedAt.set(event.seq, performance.now());
  };
  readonly onGap = (): void => {
    this.gaps += 1;
  };
  get seqs(): number[] {
    return this.events.map((e) => e.seq);
  }
  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }
}

/**
 * The snapshot's state with its lists in one order (the contract does not fix one), without the
 * purge catch-up list (commands the node applies, not state it keeps).
 */
const sorted = ({ purges: _purges, purges_from: _from, ...s }: Snapshot): Snapshot => ({
  ...s,
  zones: s.zones.toSorted((a, b) => a.id.localeCompare(b.id)),
  pops: s.pops.toSorted((a, b) => a.name.localeCompare(b.name)),
  nodes: s.nodes.toSorted((a, b) => a.name.localeCompare(b.name)),
});

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

export function eventSourceTests(name: string, setup: () => Promise<EventSourceHarness>): void {
  describe(`EventSource contract: ${name}`, () => {
    let h: EventSourceHarness;
    const cleanups: (() => Promise<void>)[] = [];
    const source = (nodeName = 'edge-1'): ClosableEventSource => {
      const s = h.createSource(nodeName);
      cleanups.push(() => s.close());
      return s;
    };
    const subscribe = async (
      s: EventSource,
      afterSeq: number,
      recorder: Recorder,
    ): Promise<EventSubscription> => {
      const subscription = await s.subscribe(afterSeq, recorder.onEvent, recorder.onGap);
      cleanups.push(() => subscription.close());
      return subscription;
    };

    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await h.close();
    });

    test('delivers the backlog in order, each event once', async () => {
      const last = await appendEvents(h.store, 20);
      const recorder = new Recorder();
      await subscribe(source(), 0, recorder);
      await until(`seq ${last}`, () => recorder.lastSeq >= last);
      assert.deepEqual(recorder.seqs, range(1, last));
      assert.deepEqual(recorder.events, await h.store.readEventsAfter(0, 1000));
      assert.equal(recorder.gaps, 0);
    });

    test('subscribing after a seq delivers exactly the rest', async () => {
      const last = await appendEvents(h.store, 10);
      const recorder = new Recorder();
      await subscribe(source(), 4, recorder);
      await until(`seq ${last}`, () => recorder.lastSeq >= last);
      assert.deepEqual(recorder.seqs, range(5, last));
    });

    test('events appended while subscribed arrive within 100 ms', async () => {
      const first = await appendEvents(h.store, 1);
      const recorder = new Recorder();
      await subscribe(source(), 0, recorder);
      await until('the backlog', () => recorder.lastSeq >= first);
      const latenciesMs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const startedAt = performance.now();
        const seq = await appendEvents(h.store, 1);
        await until(`seq ${seq}`, () => recorder.lastSeq >= seq, 2_000);
        latenciesMs.push((recorder.arrivedAt.get(seq) ?? Infinity) - startedAt);
      }
      assert.ok(
        Math.max(...latenciesMs) < 100,
        `latencies ${latenciesMs.map((ms) => ms.toFixed(1)).join(', ')} ms`,
      );
      assert.deepEqual(recorder.seqs, range(1, recorder.lastSeq));
    });

    test('an interrupted transport resumes where it was, without loss or duplicates', async () => {
      const before = await appendEvents(h.store, 5);
      const recorder = new Recorder();
      await subscribe(source(), 0, recorder);
      await until(`seq ${before}`, () => recorder.lastSeq >= before);
      await h.interrupt(() => appendEvents(h.store, 5).then(() => undefined));
      const last = await appendEvents(h.store, 5);
      await until(`seq ${last}`, () => recorder.lastSeq >= last);
      assert.deepEqual(recorder.seqs, range(1, last));
      assert.equal(recorder.gaps, 0);
    });

    test('a position the log no longer holds calls onGap and delivers nothing', async () => {
      const last = await appendEvents(h.store, 8);
      await h.dropOldest(2);
      const gone = new Recorder();
      await subscribe(source(), 0, gone);
      await until('onGap', () => gone.gaps === 1);
      assert.deepEqual(gone.seqs, []);
      // From a seq the log still holds, the rest arrives.
      const held = new Recorder();
      await subscribe(source('edge-2'), last - 2, held);
      await until(`seq ${last}`, () => held.lastSeq >= last);
      assert.deepEqual(held.seqs, [last - 1, last]);
      assert.equal(held.gaps, 0);
    });

    test('a closed subscription delivers no more events', async () => {
      const first = await appendEvents(h.store, 2);
      const closed = new Recorder();
      const subscription = await subscribe(source('edge-1'), 0, closed);
      await until(`seq ${first}`, () => closed.lastSeq >= first);
      await subscription.close();
      const open = new Recorder();
      await subscribe(source('edge-2'), 0, open);
      const last = await appendEvents(h.store, 3);
      await until(`seq ${last} on the open subscription`, () => open.lastSeq >= last);
      assert.deepEqual(closed.seqs, range(1, first));
    });

    followerTests(() => h);
  });
}

/** Records what the follower hands to the node. */
class Applied {
  readonly snapshots: Snapshot[] = [];
  readonly events: ControlEvent[] = [];
  readonly apply = {
    applySnapshot: (s: Snapshot): void => void this.snapshots.push(s),
    applyEvent: (e: ControlEvent): void => void this.events.push(e),
  };
}

function followerTests(harness: () => EventSourceHarness): void {
  describe('follower', () => {
    let stateDir: string;
    const followers: Follower[] = [];
    const sources: ClosableEventSource[] = [];
    const start = (applied: Applied, nodeName = 'edge-1'): Follower => {
      const h = harness();
      const source = h.createSource(nodeName);
      sources.push(source);
      const follower = startFollower({
        controlUrl: h.controlUrl,
        token: TEST_TOKEN,
        node: { name: nodeName, pop: TEST_POP, url: `http://${nodeName}.test`, admin_url: null },
        source,
        stateDir,
        apply: applied.apply,
        heartbeatMs: 50,
        backoff: FAST_BACKOFF,
        requestTimeoutMs: 2_000,
        log,
      });
      followers.push(follower);
      return follower;
    };
    const readLastKnownGood = async (): Promise<{ seq: number; snapshot: Snapshot }> =>
      JSON.parse(await readFile(join(stateDir, 'last-known-good.json'), 'utf8')) as {
        seq: number;
        snapshot: Snapshot;
      };

    beforeEach(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'meridian-follower-'));
    });
    afterEach(async () => {
      for (const follower of followers.splice(0)) await follower.close();
      for (const source of sources.splice(0)) await source.close();
      await rm(stateDir, { recursive: true, force: true });
    });

    test('applies the snapshot then events in order, reports its seq, keeps last-known-good current', async () => {
      const { store } = harness();
      await appendEvents(store, 3);
      const applied = new Applied();
      const follower = start(applied);
      await follower.ready;
      assert.equal(applied.snapshots.length, 1);
      const last = await appendEvents(store, 5);
      await until(`applied seq ${last}`, () => follower.appliedSeq === last);
      const fromSnapshot = applied.snapshots[0]?.seq ?? -1;
      assert.deepEqual(
        applied.events.map((e) => e.seq),
        range(fromSnapshot + 1, last),
      );
      await until('the heartbeat to carry the applied seq', async () => {
        const node = (await store.listNodes()).find((n) => n.name === 'edge-1');
        return node?.applied_seq === last;
      });
      await until(
        'last-known-good.json at the applied seq',
        async () => (await readLastKnownGood().catch(() => null))?.seq === last,
      );
      // The follower's copy, event by event, equals the control plane's own snapshot.
      assert.deepEqual(sorted((await readLastKnownGood()).snapshot), sorted(await store.snapshot()));
    });

    test('with the control plane down at start it serves last-known-good, then catches up without a reload', async () => {
      const h = harness();
      const first = new Applied();
      const before = start(first);
      await before.ready;
      const persistedSeq = await h.store.lastSeq();
      await until(`applied seq ${persistedSeq}`, () => before.appliedSeq === persistedSeq);
      await before.close();
      assert.equal((await readLastKnownGood()).seq, persistedSeq);

      await h.stopControl();
      const last = await appendEvents(h.store, 4);
      const applied = new Applied();
      const follower = start(applied);
      await follower.ready;
      assert.deepEqual(
        applied.snapshots.map((s) => s.seq),
        [persistedSeq],
      );
      assert.equal(follower.appliedSeq, persistedSeq);

      await h.startControl();
      // Registering again appends a node.upsert, so "caught up" is the store's last seq once registered.
      await until('registration, catch-up and a heartbeat with the applied seq', async () => {
        const node = (await h.store.listNodes()).find((n) => n.name === 'edge-1');
        const current = await h.store.lastSeq();
        return current > last && follower.appliedSeq === current && node?.applied_seq === current;
      });
      assert.equal(applied.snapshots.length, 1, 'no snapshot reload');
      assert.deepEqual(
        applied.events.map((e) => e.seq),
        range(persistedSeq + 1, follower.appliedSeq ?? 0),
      );
    });

    test('when the log no longer holds its seq it reloads the snapshot and follows from there', async () => {
      const h = harness();
      const applied = new Applied();
      const follower = start(applied);
      await follower.ready;
      const caughtUp = await h.store.lastSeq();
      await until(`applied seq ${caughtUp}`, () => follower.appliedSeq === caughtUp);

      await h.stopControl();
      await appendEvents(h.store, 4);
      await h.dropOldest(1);
      await h.startControl();
      const last = await h.store.lastSeq();
      await until(`applied seq ${last}`, () => follower.appliedSeq !== null && follower.appliedSeq >= last);
      assert.equal(applied.snapshots.length, 2, 'the initial snapshot and one reload');
      assert.ok((applied.snapshots[1]?.seq ?? 0) > caughtUp + 1);
      const more = await appendEvents(h.store, 2);
      await until(`applied seq ${more}`, () => follower.appliedSeq === more);
      await follower.close();
      assert.deepEqual(sorted((await readLastKnownGood()).snapshot), sorted(await h.store.snapshot()));
    });
  });
}
