import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommitNotifier, notifyChannel } from '../../../../src/control/store/commit-notifier.ts';

describe('CommitNotifier', () => {
  it('delivers each new seq once, in increasing order, to every listener', () => {
    const notifier = new CommitNotifier();
    const a: number[] = [];
    const b: number[] = [];
    notifier.subscribe((seq) => a.push(seq));
    notifier.subscribe((seq) => b.push(seq));
    // Own commits come back by NOTIFY (repeat), replicas' may arrive late (older).
    for (const seq of [1, 1, 3, 2, 3, 4]) notifier.publish(seq);
    assert.deepEqual(a, [1, 3, 4]);
    assert.deepEqual(b, [1, 3, 4]);
  });

  it('unsubscribes one subscription, even of a function subscribed twice', () => {
    const notifier = new CommitNotifier();
    const seen: number[] = [];
    const listener = (seq: number): void => void seen.push(seq);
    const first = notifier.subscribe(listener);
    notifier.subscribe(listener);
    notifier.publish(1);
    first();
    notifier.publish(2);
    assert.deepEqual(seen, [1, 1, 2]);
  });

  it('keeps notifying the others when a listener throws', (t) => {
    t.mock.method(process.stderr, 'write', () => true);
    const notifier = new CommitNotifier();
    const seen: number[] = [];
    notifier.subscribe(() => {
      throw new Error('boom');
    });
    notifier.subscribe((seq) => seen.push(seq));
    notifier.publish(7);
    assert.deepEqual(seen, [7]);
  });
});

describe('notifyChannel', () => {
  it('is meridian_events, made schema-specific so schemas of one database stay apart', () => {
    assert.equal(notifyChannel(null), 'meridian_events');
    assert.equal(notifyChannel('t1'), 'meridian_events.t1');
    assert.ok(
      notifyChannel('x'.repeat(47)).length <= 63,
      'PostgreSQL channel names are identifiers (63 bytes)',
    );
  });
});
