// The edge's table of ACME HTTP-01 challenges: what the snapshot and the events put in, what the
// route step answers (known, unexpired tokens only).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlEvent, EventBody } from '../../../../src/common/events/types.ts';
import { ChallengeTable, challengeTokenOf } from '../../../../src/edge/acme/challenges.ts';

const NOW = Date.parse('2026-12-03T08:00:00Z');
const later = new Date(NOW + 60_000).toISOString();
const earlier = new Date(NOW - 1).toISOString();
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';

const event = (body: EventBody): ControlEvent => ({ ...body, seq: 1, at: '' });

describe('ChallengeTable', () => {
  it('answers a challenge from the snapshot until it expires, then forgets it', () => {
    const table = new ChallengeTable();
    table.applySnapshot({
      acme_challenges: [{ token: TOKEN, key_authorization: `${TOKEN}.thumb`, expires_at: later }],
    });
    assert.equal(table.answer(TOKEN, NOW), `${TOKEN}.thumb`);
    assert.equal(table.answer(TOKEN, NOW + 60_000), undefined, 'expired at expires_at');
    assert.equal(table.size, 0, 'the expired entry is dropped');
  });

  it('follows upsert and delete events; a new snapshot replaces everything', () => {
    const table = new ChallengeTable();
    table.applyEvent(
      event({
        type: 'acme.challenge.upsert',
        challenge: { token: 'a', key_authorization: 'a.1', expires_at: later },
      }),
    );
    table.applyEvent(
      event({
        type: 'acme.challenge.upsert',
        challenge: { token: 'a', key_authorization: 'a.2', expires_at: later },
      }),
    );
    assert.equal(table.answer('a', NOW), 'a.2', 'an upsert replaces');
    table.applyEvent(event({ type: 'acme.challenge.delete', token: 'a' }));
    assert.equal(table.answer('a', NOW), undefined);
    table.applyEvent(
      event({
        type: 'acme.challenge.upsert',
        challenge: { token: 'b', key_authorization: 'b.1', expires_at: later },
      }),
    );
    table.applySnapshot({});
    assert.equal(table.answer('b', NOW), undefined, 'absent acme_challenges: none');
    table.applyEvent(event({ type: 'zone.delete', zone_id: 'z' }));
    assert.equal(table.size, 0);
  });

  it('ignores expired, malformed and undated challenges', () => {
    const table = new ChallengeTable();
    table.put({ token: 'old', key_authorization: 'old.1', expires_at: earlier });
    table.put({ token: 'bad/token', key_authorization: 'x', expires_at: later });
    table.put({ token: 'nodate', key_authorization: 'x', expires_at: 'soon' });
    assert.equal(table.answer('old', NOW), undefined);
    assert.equal(table.answer('bad/token', NOW), undefined);
    assert.equal(table.answer('nodate', NOW), undefined);
    assert.equal(table.answer('unknown', NOW), undefined);
  });
});

describe('challengeTokenOf', () => {
  it('takes the token of /.well-known/acme-challenge/{token} and nothing else', () => {
    assert.equal(challengeTokenOf(`/.well-known/acme-challenge/${TOKEN}`), TOKEN);
    assert.equal(challengeTokenOf(`/.well-known/acme-challenge/${TOKEN}?x=1`), null);
    assert.equal(challengeTokenOf('/.well-known/acme-challenge/'), null);
    assert.equal(challengeTokenOf('/.well-known/acme-challenge/a/b'), null);
    assert.equal(challengeTokenOf('/.well-known/acme-challenge/%2e%2e'), null);
    assert.equal(challengeTokenOf('/.well-known/other/abc'), null);
    assert.equal(challengeTokenOf(`/.well-known/acme-challenge/${'a'.repeat(257)}`), null);
  });
});
