import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { deriveTicketKey, periodAt, TicketKeys } from '../../../../src/edge/tls/ticket-keys.ts';

const secret = randomBytes(32);
const PERIOD = 12 * 3600_000;

describe('session-ticket keys', () => {
  it('are the same for every node of a PoP in one period, and 48 bytes', () => {
    const a = deriveTicketKey(secret, 'nyc', 100);
    assert.equal(a.length, 48);
    assert.deepEqual(deriveTicketKey(Buffer.from(secret), 'nyc', 100), a);
  });

  it('differ between PoPs, periods and secrets', () => {
    const a = deriveTicketKey(secret, 'nyc', 100);
    assert.notDeepEqual(deriveTicketKey(secret, 'iad', 100), a);
    assert.notDeepEqual(deriveTicketKey(secret, 'nyc', 101), a);
    assert.notDeepEqual(deriveTicketKey(randomBytes(32), 'nyc', 100), a);
  });

  it('rotate at the period boundary, from the snapshot secret', () => {
    let now = 1000 * PERIOD + 5;
    const nodeA = new TicketKeys({ pop: 'nyc', periodMs: PERIOD, now: () => now });
    const nodeB = new TicketKeys({ pop: 'nyc', periodMs: PERIOD, now: () => now });
    const other = new TicketKeys({ pop: 'iad', periodMs: PERIOD, now: () => now });
    const random = nodeA.current();
    for (const k of [nodeA, nodeB, other]) k.setSecret(secret.toString('base64url'));
    assert.notDeepEqual(nodeA.current(), random);
    assert.deepEqual(nodeA.current(), nodeB.current());
    assert.deepEqual(nodeA.current(), deriveTicketKey(secret, 'nyc', periodAt(now, PERIOD)));
    assert.notDeepEqual(nodeA.current(), other.current());
    // The same secret again changes nothing.
    const before = nodeA.rotations;
    nodeA.setSecret(secret.toString('base64url'));
    assert.equal(nodeA.rotations, before);
    now += PERIOD;
    nodeA.setSecret(undefined); // standalone: random keys
    assert.notDeepEqual(nodeA.current(), nodeB.current());
    for (const k of [nodeA, nodeB, other]) k.close();
  });
});
