// The contract every ControlStore passes, as undici's cacheStoreTests: one suite, run by
// control-store-<backend>.test.ts against SQLite and PostgreSQL. Longer than ~400 lines because it is
// one list of behaviours, grouped by resource; fixtures live in control-store-fixtures.ts.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { ControlStore } from '../../src/control/store/types.ts';
import {
  ACTOR,
  EMPTY_SNAPSHOT,
  ManualClock,
  applyEvents,
  assertConflict,
  normalised,
  popInput,
  readWholeLog,
  ruleInput,
  sha256,
  zoneInput,
} from './control-store-fixtures.ts';
import type { OpenOptions, OpenStore } from './control-store-fixtures.ts';

const HEX_ID = /^[0-9a-f]{32}$/;

export function controlStoreTests(name: string, openStore: OpenStore): void {
  describe(`ControlStore contract: ${name}`, () => {
    const opened: ControlStore[] = [];
    const open = async (options?: OpenOptions): Promise<ControlStore> => {
      const store = await openStore(options);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe('cluster keys', () => {
      test('hopKey is 32 random bytes made once, the same on every call, with no event', async () => {
        const store = await open();
        const key = await store.hopKey();
        assert.match(key, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(await store.hopKey(), key);
        assert.equal(await store.lastSeq(), 0);
        const other = await open();
        assert.notEqual(await other.hopKey(), key, 'another database has its own key');
      });
    });

    describe('zones', () => {
      test('createZone stores the zone with a 32-hex id and it reads back by id and by name', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('shop', ['shop.example', 'www.shop.example']), ACTOR);
        assert.match(zone.id, HEX_ID);
        assert.equal(zone.created_at, zone.updated_at);
        assert.deepEqual(zone.hostnames, ['shop.example', 'www.shop.example']);
        assert.deepEqual(await store.getZone(zone.id), zone);
        assert.deepEqual(await store.getZoneByName('shop'), zone);
        assert.equal(await store.getZone('0'.repeat(32)), undefined);
        assert.equal(await store.getZoneByName('nope'), undefined);
      });

      test('a second zone with the same name is a conflict on "name" and changes nothing', async () => {
        const store = await open();
        await store.createZone(zoneInput('shop'), ACTOR);
        await assertConflict(store.createZone(zoneInput('shop', ['other.example']), ACTOR), 'name');
        assert.equal(await store.lastSeq(), 1);
        assert.equal((await store.listZones({ page: 1, per_page: 10 }, null)).total, 1);
        assert.equal((await store.listAudit({ page: 1, per_page: 10 })).total, 1);
      });

      test('two zones cannot claim one hostname; the failed create leaves no row, event or audit', async () => {
        const store = await open();
        await store.createZone(zoneInput('a', ['a.example', 'shared.example']), ACTOR);
        // The zone row is written before its hostnames, so this fails in the middle of the write.
        await assertConflict(
          store.createZone(zoneInput('b', ['b.example', 'SHARED.example']), ACTOR),
          'hostnames',
        );
        assert.equal(await store.getZoneByName('b'), undefined);
        assert.equal(await store.lastSeq(), 1);
        assert.equal((await store.readEventsAfter(0, 100)).length, 1);
        assert.equal((await store.listAudit({ page: 1, per_page: 10 })).total, 1);
        // b.example was not left claimed by a half-made zone.
        const b = await store.createZone(zoneInput('b', ['b.example']), ACTOR);
        assert.equal((await store.readEventsAfter(1, 10))[0]?.seq, 2);
        assert.deepEqual(b.hostnames, ['b.example']);
      });

      test('a hostname listed twice in one zone is a conflict on "hostnames"', async () => {
        const store = await open();
        await assertConflict(
          store.createZone(zoneInput('a', ['a.example', 'a.example']), ACTOR),
          'hostnames',
        );
        assert.equal(await store.lastSeq(), 0);
      });

      test('shield_pop must name an existing PoP', async () => {
        const store = await open();
        await assertConflict(store.createZone({ ...zoneInput('a'), shield_pop: 'fra' }, ACTOR), 'shield_pop');
        await store.upsertPop(popInput('fra', 'shield'), ACTOR);
        const zone = await store.createZone({ ...zoneInput('a'), shield_pop: 'fra' }, ACTOR);
        assert.equal(zone.shield_pop, 'fra');
        await assertConflict(store.patchZone(zone.id, { shield_pop: 'nyc' }, ACTOR), 'shield_pop');
      });

      test('patchZone merges settings field by field, replaces hostnames, and emits the whole zone', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        const zone = await store.createZone(zoneInput('a', ['a.example', 'old.example']), ACTOR);
        clock.advance(1_000);
        const patched = await store.patchZone(
          zone.id,
          { hostnames: ['a.example', 'new.example'], settings: { default_ttl: 300, development_mode: true } },
          ACTOR,
        );
        assert.ok(patched);
        assert.deepEqual(patched.settings, { ...zone.settings, default_ttl: 300, development_mode: true });
        assert.deepEqual(patched.hostnames, ['a.example', 'new.example']);
        assert.equal(patched.name, 'a');
        assert.deepEqual(patched.origins, zone.origins);
        assert.equal(patched.created_at, zone.created_at);
        assert.equal(patched.updated_at, new Date(clock.ms).toISOString());
        assert.deepEqual(await store.getZone(zone.id), patched);
        const [event] = await store.readEventsAfter(1, 10);
        assert.deepEqual(event && { type: event.type, seq: event.seq }, { type: 'zone.upsert', seq: 2 });
        assert.deepEqual(event?.type === 'zone.upsert' && event.zone, patched);
        // The released hostname is free again; the kept one is still taken.
        await store.createZone(zoneInput('b', ['old.example']), ACTOR);
        await assertConflict(store.createZone(zoneInput('c', ['new.example']), ACTOR), 'hostnames');
        // A later patch of one setting keeps the others.
        const again = await store.patchZone(zone.id, { settings: { stale_if_error: 30 } }, ACTOR);
        assert.deepEqual(again?.settings, { ...patched.settings, stale_if_error: 30 });
      });

      test('a patch that fails on a hostname rolls back its other changes too', async () => {
        const store = await open();
        await store.createZone(zoneInput('a', ['a.example']), ACTOR);
        const b = await store.createZone(zoneInput('b', ['b.example']), ACTOR);
        await assertConflict(
          store.patchZone(b.id, { name: 'renamed', hostnames: ['a.example'] }, ACTOR),
          'hostnames',
        );
        assert.deepEqual(await store.getZone(b.id), b);
        assert.equal(await store.getZoneByName('renamed'), undefined);
        assert.equal(await store.lastSeq(), 2);
        await assertConflict(store.patchZone(b.id, { name: 'a' }, ACTOR), 'name');
        assert.equal(await store.patchZone('f'.repeat(32), { name: 'x' }, ACTOR), undefined);
        assert.equal(await store.lastSeq(), 2);
      });

      test('deleteZone removes the zone, its rules and hostnames and emits zone.delete', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a', ['a.example']), ACTOR);
        await store.createRule(zone.id, ruleInput('r1'), null, ACTOR);
        assert.equal(await store.deleteZone(zone.id, ACTOR), true);
        assert.equal(await store.getZone(zone.id), undefined);
        assert.deepEqual(await store.listRules(zone.id), []);
        const events = await store.readEventsAfter(2, 10);
        assert.deepEqual(
          events.map((e) => [e.seq, e.type]),
          [[3, 'zone.delete']],
        );
        assert.deepEqual(events[0]?.type === 'zone.delete' && events[0].zone_id, zone.id);
        assert.equal(await store.deleteZone(zone.id, ACTOR), false);
        assert.equal(await store.lastSeq(), 3);
        // Name and hostname can be used again.
        await store.createZone(zoneInput('a', ['a.example']), ACTOR);
      });

      test('listZones pages by name from page 1 and filters by zone ids', async () => {
        const store = await open();
        const created = [];
        for (const name of ['delta', 'alpha', 'echo', 'charlie', 'bravo'])
          created.push(await store.createZone(zoneInput(name), ACTOR));
        const names = async (
          page: number,
          perPage: number,
          ids: string[] | null,
        ): Promise<[string[], number]> => {
          const result = await store.listZones({ page, per_page: perPage }, ids);
          return [result.items.map((z) => z.name), result.total];
        };
        assert.deepEqual(await names(1, 2, null), [['alpha', 'bravo'], 5]);
        assert.deepEqual(await names(2, 2, null), [['charlie', 'delta'], 5]);
        assert.deepEqual(await names(3, 2, null), [['echo'], 5]);
        assert.deepEqual(await names(4, 2, null), [[], 5]);
        const ids = created.filter((z) => z.name === 'echo' || z.name === 'alpha').map((z) => z.id);
        assert.deepEqual(await names(1, 10, ids), [['alpha', 'echo'], 2]);
        assert.deepEqual(await names(1, 10, []), [[], 0]);
        assert.deepEqual((await store.listZones({ page: 1, per_page: 1 }, null)).items[0]?.hostnames, [
          'alpha.example',
        ]);
        await assert.rejects(store.listZones({ page: 0, per_page: 10 }, null), RangeError);
      });
    });

    describe('rules', () => {
      test('createRule appends or inserts at a position; positions stay dense; events carry the list', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const r1 = await store.createRule(zone.id, ruleInput('one'), null, ACTOR);
        const r2 = await store.createRule(zone.id, ruleInput('two'), null, ACTOR);
        const r0 = await store.createRule(zone.id, ruleInput('zero'), 0, ACTOR);
        const rMid = await store.createRule(zone.id, ruleInput('mid'), 2, ACTOR);
        const rEnd = await store.createRule(zone.id, ruleInput('end'), 99, ACTOR);
        assert.match(r1.id, HEX_ID);
        assert.deepEqual(
          [r1.position, r2.position, r0.position, rMid.position, rEnd.position],
          [0, 1, 0, 2, 4],
        );
        const rules = await store.listRules(zone.id);
        assert.deepEqual(
          rules.map((r) => [r.description, r.position]),
          [
            ['zero', 0],
            ['one', 1],
            ['mid', 2],
            ['two', 3],
            ['end', 4],
          ],
        );
        assert.deepEqual(rules[2], rMid);
        const last = (await store.readEventsAfter(0, 100)).at(-1);
        assert.equal(last?.type, 'rules.replace');
        assert.deepEqual(last?.type === 'rules.replace' && [last.zone_id, last.rules], [zone.id, rules]);
        await assertConflict(store.createRule('0'.repeat(32), ruleInput('x'), null, ACTOR), 'zone_id');
      });

      test('updateRule replaces the content in place; deleteRule renumbers the rest', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const [a, b, c] = [
          await store.createRule(zone.id, ruleInput('a'), null, ACTOR),
          await store.createRule(zone.id, ruleInput('b'), null, ACTOR),
          await store.createRule(zone.id, ruleInput('c'), null, ACTOR),
        ];
        const updated = await store.updateRule(
          zone.id,
          b.id,
          { ...ruleInput('b2', 600), enabled: false },
          ACTOR,
        );
        assert.deepEqual(updated && [updated.id, updated.position, updated.description, updated.enabled], [
          b.id,
          1,
          'b2',
          false,
        ]);
        assert.equal(updated?.action.edge_ttl, 600);
        assert.deepEqual((await store.listRules(zone.id))[1], updated);
        assert.equal(await store.updateRule(zone.id, 'f'.repeat(32), ruleInput('x'), ACTOR), undefined);
        const other = await store.createZone(zoneInput('other'), ACTOR);
        assert.equal(
          await store.updateRule(other.id, a.id, ruleInput('x'), ACTOR),
          undefined,
          'rule of another zone',
        );
        const seqBefore = await store.lastSeq();
        assert.equal(await store.deleteRule(zone.id, a.id, ACTOR), true);
        assert.deepEqual(
          (await store.listRules(zone.id)).map((r) => [r.id, r.position]),
          [
            [b.id, 0],
            [c.id, 1],
          ],
        );
        assert.equal(await store.deleteRule(zone.id, a.id, ACTOR), false);
        const events = await store.readEventsAfter(seqBefore, 10);
        assert.deepEqual(
          events.map((e) => e.type),
          ['rules.replace'],
        );
      });

      test("reorderRules needs exactly the zone's rule ids", async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const ids = [];
        for (const d of ['a', 'b', 'c'])
          ids.push((await store.createRule(zone.id, ruleInput(d), null, ACTOR)).id);
        const [a, b, c] = ids as [string, string, string];
        const seq = await store.lastSeq();
        await assertConflict(store.reorderRules(zone.id, [c, b], ACTOR), 'rule_ids');
        await assertConflict(store.reorderRules(zone.id, [c, b, b], ACTOR), 'rule_ids');
        await assertConflict(store.reorderRules(zone.id, [c, b, a, 'f'.repeat(32)], ACTOR), 'rule_ids');
        await assertConflict(store.reorderRules(zone.id, [c, b, 'f'.repeat(32)], ACTOR), 'rule_ids');
        assert.equal(await store.lastSeq(), seq);
        const reordered = await store.reorderRules(zone.id, [c, a, b], ACTOR);
        assert.deepEqual(
          reordered.map((r) => [r.id, r.position]),
          [
            [c, 0],
            [a, 1],
            [b, 2],
          ],
        );
        assert.deepEqual(await store.listRules(zone.id), reordered);
        const [event] = await store.readEventsAfter(seq, 10);
        assert.deepEqual(event?.type === 'rules.replace' && event.rules, reordered);
      });
    });

    describe('edge security', () => {
      test('putRuleset keeps ids, bumps the version, emits the whole document; snapshots carry it; zone delete cascades', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('sec'), ACTOR);
        const first = await store.putRuleset(
          zone.id,
          'http_request_firewall_custom',
          {
            rules: [
              { id: 'keep', expression: 'true', action: 'log' },
              { expression: 'false', action: 'block' },
            ],
          },
          ACTOR,
        );
        assert.equal(first.version, '1');
        assert.equal(first.rules[0]?.id, 'keep');
        assert.match(first.rules[1]?.id ?? '', HEX_ID);
        const second = await store.putRuleset(zone.id, 'http_request_firewall_custom', { rules: [] }, ACTOR);
        assert.equal(second.version, '2');
        assert.equal(second.id, first.id);
        const settings = await store.putSecuritySettings(
          zone.id,
          {
            under_attack: true,
            verified_crawlers_skip_challenge: false,
            challenge_ttl: 600,
            challenge_difficulty: 12,
          },
          ACTOR,
        );
        const security = await store.getSecurity(zone.id);
        assert.deepEqual(security.settings, settings);
        assert.deepEqual(security.rulesets.http_request_firewall_custom, second);
        const last = (await store.readEventsAfter(0, 100)).at(-1);
        assert.equal(last?.type, 'security.replace');
        assert.deepEqual(last?.type === 'security.replace' && last.security, security);
        assert.deepEqual((await store.snapshot()).security?.[zone.id], security);
        await assertConflict(
          store.putRuleset('0'.repeat(32), 'http_ratelimit', { rules: [] }, ACTOR),
          'zone_id',
        );
        await store.deleteZone(zone.id, ACTOR);
        assert.equal((await store.snapshot()).security, undefined);
        assert.deepEqual((await store.getSecurity(zone.id)).rulesets, {});
      });
    });

    describe('topology', () => {
      test('upsertPop creates then updates (keeping created_at); deletePop emits pop.delete', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        const created = await store.upsertPop(popInput('nyc'), ACTOR);
        clock.advance(5_000);
        const updated = await store.upsertPop({ ...popInput('nyc'), city: 'New York', capacity: 50 }, ACTOR);
        assert.equal(updated.created_at, created.created_at);
        assert.deepEqual(await store.listPops(), [updated]);
        assert.equal(await store.deletePop('nyc', ACTOR), true);
        assert.equal(await store.deletePop('nyc', ACTOR), false);
        assert.deepEqual(await store.listPops(), []);
        const events = await store.readEventsAfter(0, 10);
        assert.deepEqual(
          events.map((e) => e.type),
          ['pop.upsert', 'pop.upsert', 'pop.delete'],
        );
        assert.deepEqual(events[1]?.type === 'pop.upsert' && events[1].pop, updated);
        const actions = (await store.listAudit({ page: 1, per_page: 10 })).items.map((e) => e.action);
        assert.deepEqual(actions, ['pop.delete', 'pop.update', 'pop.create']);
      });

      test('setPopDrained flips drained with one pop.upsert; a PUT keeps it (issue 19)', async () => {
        const store = await open();
        const created = await store.upsertPop(popInput('nyc'), ACTOR);
        assert.equal(created.drained, false);
        const seq = await store.lastSeq();
        const drained = await store.setPopDrained('nyc', true, ACTOR);
        assert.equal(drained?.drained, true);
        assert.deepEqual(await store.setPopDrained('nyc', true, ACTOR), drained, 'no change, no event');
        const events = await store.readEventsAfter(seq, 10);
        assert.deepEqual(
          events.map((e) => e.type === 'pop.upsert' && e.pop.drained),
          [true],
        );
        assert.equal((await store.upsertPop({ ...popInput('nyc'), capacity: 5 }, ACTOR)).drained, true);
        assert.equal((await store.setPopDrained('nyc', false, ACTOR))?.drained, false);
        assert.equal(await store.setPopDrained('nope', true, ACTOR), undefined);
        const actions = (await store.listAudit({ page: 1, per_page: 10 })).items.map((e) => e.action);
        assert.deepEqual(actions.slice(0, 3), ['pop.undrain', 'pop.update', 'pop.drain']);
      });

      test('a PoP with nodes, or shielding zones, cannot be deleted', async () => {
        const store = await open();
        await store.upsertPop(popInput('nyc'), ACTOR);
        await store.upsertPop(popInput('fra', 'shield'), ACTOR);
        await store.registerNode(
          { name: 'nyc-1', pop: 'nyc', url: 'http://10.0.0.1', admin_url: null },
          ACTOR,
        );
        await store.createZone({ ...zoneInput('a'), shield_pop: 'fra' }, ACTOR);
        await assertConflict(store.deletePop('nyc', ACTOR), 'pop');
        await assertConflict(store.deletePop('fra', ACTOR), 'pop');
        assert.equal((await store.listPops()).length, 2);
        assert.equal(await store.deleteNode('nyc-1', ACTOR), true);
        assert.equal(await store.deleteNode('nyc-1', ACTOR), false);
        assert.equal((await store.readEventsAfter(0, 100)).at(-1)?.type, 'node.delete');
        assert.equal(await store.deletePop('nyc', ACTOR), true);
      });

      test('registerNode upserts the node as up and emits node.upsert; its PoP must exist', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        await assertConflict(
          store.registerNode({ name: 'n1', pop: 'nyc', url: 'http://a', admin_url: null }, ACTOR),
          'pop',
        );
        await store.upsertPop(popInput('nyc'), ACTOR);
        await store.upsertPop(popInput('lax'), ACTOR);
        const node = await store.registerNode(
          { name: 'n1', pop: 'nyc', url: 'http://a', admin_url: 'http://a:9' },
          ACTOR,
        );
        const at = new Date(clock.ms).toISOString();
        assert.deepEqual(node, {
          name: 'n1',
          pop: 'nyc',
          url: 'http://a',
          admin_url: 'http://a:9',
          status: 'up',
          last_heartbeat_at: at,
          applied_seq: 0,
          registered_at: at,
        });
        await store.heartbeat('n1', 3);
        const again = await store.registerNode(
          { name: 'n1', pop: 'lax', url: 'http://b', admin_url: null },
          ACTOR,
        );
        assert.deepEqual([again.pop, again.url, again.applied_seq], ['lax', 'http://b', 3]);
        assert.deepEqual(await store.listNodes(), [again]);
        const events = (await store.readEventsAfter(2, 10)).map((e) =>
          e.type === 'node.upsert' ? e.node : e.type,
        );
        assert.deepEqual(events, [
          { name: 'n1', pop: 'nyc', url: 'http://a', status: 'up' },
          { name: 'n1', pop: 'lax', url: 'http://b', status: 'up' },
        ]);
      });

      test('heartbeat records time and applied seq without an event', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        await store.upsertPop(popInput('nyc'), ACTOR);
        await store.registerNode({ name: 'n1', pop: 'nyc', url: 'http://a', admin_url: null }, ACTOR);
        const seq = await store.lastSeq();
        clock.advance(10_000);
        const node = await store.heartbeat('n1', 2);
        assert.deepEqual(node && [node.last_heartbeat_at, node.applied_seq, node.status], [
          new Date(clock.ms).toISOString(),
          2,
          'up',
        ]);
        assert.deepEqual((await store.listNodes())[0], node);
        assert.equal(await store.heartbeat('ghost', 1), undefined);
        assert.equal(await store.lastSeq(), seq);
      });

      test('markStaleNodesDown flips silent nodes, one node.upsert each; a heartbeat brings one back', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        await store.upsertPop(popInput('nyc'), ACTOR);
        for (const name of ['n1', 'n2', 'n3']) {
          await store.registerNode({ name, pop: 'nyc', url: `http://${name}`, admin_url: null }, ACTOR);
        }
        clock.advance(20_000);
        await store.heartbeat('n2', 4);
        clock.advance(20_000);
        const seq = await store.lastSeq();
        assert.deepEqual(await store.markStaleNodesDown(30_000), ['n1', 'n3']);
        assert.deepEqual(
          (await store.listNodes()).map((n) => [n.name, n.status]),
          [
            ['n1', 'down'],
            ['n2', 'up'],
            ['n3', 'down'],
          ],
        );
        const events = await store.readEventsAfter(seq, 10);
        assert.deepEqual(
          events.map((e) => (e.type === 'node.upsert' ? [e.seq, e.node.name, e.node.status] : e.type)),
          [
            [seq + 1, 'n1', 'down'],
            [seq + 2, 'n3', 'down'],
          ],
        );
        assert.deepEqual(await store.markStaleNodesDown(30_000), [], 'already down: no change');
        assert.equal(await store.lastSeq(), seq + 2);
        const back = await store.heartbeat('n1', 5);
        assert.equal(back?.status, 'up');
        const [upEvent] = await store.readEventsAfter(seq + 2, 10);
        assert.deepEqual(upEvent?.type === 'node.upsert' && upEvent.node.status, 'up');
        const audit = (await store.listAudit({ page: 1, per_page: 3 })).items;
        assert.deepEqual(
          audit.map((e) => [e.action, e.resource_id, e.token_name]),
          [
            ['node.up', 'n1', 'system'],
            ['node.down', 'n3', 'system'],
            ['node.down', 'n1', 'system'],
          ],
        );
      });
    });

    describe('tokens', () => {
      test('a token is found by the hash of its secret; only the hash is accepted and nothing returns it', async () => {
        const store = await open();
        assert.equal(await store.countTokens(), 0);
        const token = await store.createToken(
          { name: 'ci', secretHash: sha256('s3cret'), scopes: ['zones:read', 'purge'], zones: null },
          ACTOR,
        );
        assert.match(token.id, HEX_ID);
        assert.deepEqual(Object.keys(token).sort(), [
          'created_at',
          'id',
          'last_used_at',
          'name',
          'scopes',
          'zones',
        ]);
        const found = await store.findTokenBySecretHash(sha256('s3cret'));
        assert.deepEqual(found && [found.id, found.name, found.scopes, found.zones], [
          token.id,
          'ci',
          ['zones:read', 'purge'],
          null,
        ]);
        assert.equal(await store.findTokenBySecretHash(sha256('wrong')), undefined);
        assert.equal(await store.countTokens(), 1);
        await assert.rejects(
          store.createToken({ name: 'x', secretHash: 's3cret', scopes: [], zones: null }, ACTOR),
          TypeError,
        );
        await assertConflict(
          store.createToken({ name: 'dup', secretHash: sha256('s3cret'), scopes: [], zones: ['z'] }, ACTOR),
          'secret_hash',
        );
        const audit = JSON.stringify(await store.listAudit({ page: 1, per_page: 10 }));
        assert.ok(!audit.includes(sha256('s3cret')), 'the audit log never holds the hash');
        assert.equal(await store.lastSeq(), 0, 'tokens are not in the event log');
      });

      test('findTokenBySecretHash records last_used_at at most once a minute', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        await store.createToken(
          { name: 'ci', secretHash: sha256('a'), scopes: ['admin'], zones: ['z1'] },
          ACTOR,
        );
        const first = new Date(clock.ms).toISOString();
        assert.equal((await store.findTokenBySecretHash(sha256('a')))?.last_used_at, first);
        clock.advance(30_000);
        assert.equal((await store.findTokenBySecretHash(sha256('a')))?.last_used_at, first);
        assert.equal((await store.listTokens({ page: 1, per_page: 5 })).items[0]?.last_used_at, first);
        clock.advance(31_000);
        const later = new Date(clock.ms).toISOString();
        assert.equal((await store.findTokenBySecretHash(sha256('a')))?.last_used_at, later);
        assert.equal((await store.listTokens({ page: 1, per_page: 5 })).items[0]?.last_used_at, later);
      });

      test('listTokens pages; deleteToken removes and audits', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        const ids = [];
        for (let i = 0; i < 5; i++) {
          clock.advance(1);
          ids.push(
            (
              await store.createToken(
                { name: `t${i}`, secretHash: sha256(`s${i}`), scopes: ['node'], zones: null },
                ACTOR,
              )
            ).id,
          );
        }
        const p1 = await store.listTokens({ page: 1, per_page: 3 });
        const p2 = await store.listTokens({ page: 2, per_page: 3 });
        assert.deepEqual([p1.total, p2.total], [5, 5]);
        assert.deepEqual(
          [...p1.items, ...p2.items].map((t) => t.id),
          ids,
        );
        assert.equal(await store.deleteToken(ids[0] ?? '', ACTOR), true);
        assert.equal(await store.deleteToken(ids[0] ?? '', ACTOR), false);
        assert.equal(await store.findTokenBySecretHash(sha256('s0')), undefined);
        assert.equal(await store.countTokens(), 4);
        const [entry] = (await store.listAudit({ page: 1, per_page: 1 })).items;
        assert.deepEqual(entry && [entry.action, entry.resource_id, entry.details], [
          'token.delete',
          ids[0],
          { name: 't0' },
        ]);
      });
    });

    describe('audit', () => {
      test('each change writes who, what, which resource and details; newest first, paged', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        clock.advance(1_000);
        const rule = await store.createRule(zone.id, ruleInput('r'), null, {
          token_id: null,
          token_name: 'bootstrap',
          ip: '::1',
        });
        clock.advance(1_000);
        await store.patchZone(zone.id, { settings: { default_ttl: 5 } }, ACTOR);
        await store.deleteRule(zone.id, rule.id, ACTOR);
        await store.deleteZone(zone.id, ACTOR);
        const all = await store.listAudit({ page: 1, per_page: 10 });
        assert.equal(all.total, 5);
        assert.deepEqual(
          all.items.map((e) => [e.action, e.resource_id]),
          [
            ['zone.delete', zone.id],
            ['rule.delete', rule.id],
            ['zone.update', zone.id],
            ['rule.create', rule.id],
            ['zone.create', zone.id],
          ],
        );
        const create = all.items[4];
        assert.deepEqual(create && [create.token_id, create.token_name, create.ip, create.at], [
          'tok1',
          'ops',
          '192.0.2.7',
          zone.created_at,
        ]);
        assert.deepEqual(create?.details, { name: 'a', hostnames: ['a.example'] });
        assert.deepEqual(all.items[2]?.details, { settings: { default_ttl: 5 } });
        const ruleCreate = all.items[3];
        assert.deepEqual(ruleCreate && [ruleCreate.token_id, ruleCreate.token_name, ruleCreate.ip], [
          null,
          'bootstrap',
          '::1',
        ]);
        const page2 = await store.listAudit({ page: 2, per_page: 2 });
        assert.deepEqual(page2.items, all.items.slice(2, 4));
        assert.equal(page2.total, 5);
      });
    });

    describe('event log', () => {
      test('every change appends one event of its type, seq 1…N without gaps', async () => {
        const store = await open();
        assert.deepEqual([await store.lastSeq(), await store.firstSeq()], [0, 1]);
        assert.deepEqual(await store.readEventsAfter(0, 10), []);
        await store.upsertPop(popInput('nyc'), ACTOR);
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const rule = await store.createRule(zone.id, ruleInput('r'), null, ACTOR);
        await store.updateRule(zone.id, rule.id, ruleInput('r2'), ACTOR);
        await store.reorderRules(zone.id, [rule.id], ACTOR);
        await store.patchZone(zone.id, { name: 'b' }, ACTOR);
        await store.registerNode({ name: 'n1', pop: 'nyc', url: 'http://n1', admin_url: null }, ACTOR);
        await store.deleteRule(zone.id, rule.id, ACTOR);
        await store.deleteZone(zone.id, ACTOR);
        await store.deleteNode('n1', ACTOR);
        await store.deletePop('nyc', ACTOR);
        const events = await readWholeLog(store);
        assert.deepEqual(
          events.map((e) => e.type),
          [
            'pop.upsert',
            'zone.upsert',
            'rules.replace',
            'rules.replace',
            'rules.replace',
            'zone.upsert',
            'node.upsert',
            'rules.replace',
            'zone.delete',
            'node.delete',
            'pop.delete',
          ],
        );
        assert.deepEqual(
          events.map((e) => e.seq),
          Array.from({ length: 11 }, (_, i) => i + 1),
        );
        assert.equal(await store.lastSeq(), 11);
        assert.ok(events.every((e) => !Number.isNaN(Date.parse(e.at))));
        assert.deepEqual(
          (await store.readEventsAfter(4, 3)).map((e) => e.seq),
          [5, 6, 7],
        );
        assert.deepEqual(await store.readEventsAfter(11, 10), []);
      });

      test('failed writes leave no event, no audit entry and no hole in seq', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a', ['a.example']), ACTOR);
        const audits = async (): Promise<number> => (await store.listAudit({ page: 1, per_page: 1 })).total;
        await assertConflict(store.createZone(zoneInput('b', ['a.example']), ACTOR), 'hostnames');
        await assertConflict(store.createZone(zoneInput('a', ['x.example']), ACTOR), 'name');
        await assertConflict(store.reorderRules(zone.id, ['nope'], ACTOR), 'rule_ids');
        await assertConflict(
          store.registerNode({ name: 'n', pop: 'none', url: 'http://n', admin_url: null }, ACTOR),
          'pop',
        );
        assert.equal(await store.deleteZone('0'.repeat(32), ACTOR), false);
        assert.deepEqual([await store.lastSeq(), await audits()], [1, 1]);
        await store.createZone(zoneInput('b', ['b.example']), ACTOR);
        assert.deepEqual(
          (await readWholeLog(store)).map((e) => e.seq),
          [1, 2],
        );
        assert.equal(await audits(), 2);
      });

      test('50 concurrent writers get seq 1…N in order, and a concurrent reader never sees a gap', async () => {
        const store = await open();
        let done = false;
        let readerCursor = 0;
        const reader = (async () => {
          while (!done || readerCursor < (await store.lastSeq())) {
            for (const event of await store.readEventsAfter(readerCursor, 1000)) {
              assert.equal(event.seq, readerCursor + 1, 'the reader saw a gap');
              readerCursor = event.seq;
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        // Every 10th collides with an earlier name, so some writes fail in between.
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) =>
            store.createZone(zoneInput(i % 10 === 9 ? `z${i - 1}` : `z${i}`, [`h${i}.example`]), ACTOR),
          ),
        );
        done = true;
        await reader;
        const created = results.filter((r) => r.status === 'fulfilled').length;
        assert.ok(created >= 45, `created ${created}`);
        const events = await readWholeLog(store);
        assert.equal(events.length, created);
        assert.equal(readerCursor, created);
        assert.deepEqual(
          events.map((e) => e.seq),
          Array.from({ length: created }, (_, i) => i + 1),
        );
        const zoneIds = new Set(events.map((e) => (e.type === 'zone.upsert' ? e.zone.id : '')));
        assert.equal(zoneIds.size, created);
        assert.equal((await store.listZones({ page: 1, per_page: 100 }, null)).total, created);
      });

      test('a snapshot plus the events after its seq rebuild the current state', async () => {
        const store = await open();
        await store.upsertPop(popInput('nyc'), ACTOR);
        const a = await store.createZone(zoneInput('a'), ACTOR);
        await store.createRule(a.id, ruleInput('r1'), null, ACTOR);
        const middle = await store.snapshot();
        assert.equal(middle.seq, await store.lastSeq());
        assert.deepEqual(
          normalised(middle),
          applyEvents(EMPTY_SNAPSHOT, await store.readEventsAfter(0, 1000)),
        );
        const b = await store.createZone(zoneInput('b'), ACTOR);
        await store.createRule(b.id, ruleInput('r2'), null, ACTOR);
        await store.createRule(a.id, ruleInput('r0'), 0, ACTOR);
        await store.patchZone(a.id, { origins: [{ url: 'http://new.origin.test', weight: 2 }] }, ACTOR);
        await store.registerNode({ name: 'n1', pop: 'nyc', url: 'http://n1', admin_url: null }, ACTOR);
        await store.deleteZone(b.id, ACTOR);
        const rebuilt = applyEvents(middle, await store.readEventsAfter(middle.seq, 1000));
        const now = await store.snapshot();
        assert.deepEqual(normalised(now), rebuilt);
        assert.deepEqual(Object.keys(now.rules), [a.id]);
        assert.deepEqual(now.nodes, [{ name: 'n1', pop: 'nyc', url: 'http://n1', status: 'up' }]);
      });

      test('snapshots taken during concurrent writes are each exactly the log up to their seq', async () => {
        const store = await open();
        const writes = Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const zone = await store.createZone(zoneInput(`z${i}`), ACTOR);
            await store.createRule(zone.id, ruleInput(`r${i}`), null, ACTOR);
          }),
        );
        const snapshots = await Promise.all(Array.from({ length: 10 }, () => store.snapshot()));
        await writes;
        snapshots.push(await store.snapshot());
        const log = await store.readEventsAfter(0, 1000);
        for (const snap of snapshots) {
          assert.deepEqual(normalised(snap), applyEvents(EMPTY_SNAPSHOT, log.slice(0, snap.seq)));
        }
        assert.equal(snapshots.at(-1)?.seq, 40);
      });

      test('pruneEvents keeps the newest events and firstSeq follows', async () => {
        const store = await open();
        for (let i = 0; i < 10; i++) await store.createZone(zoneInput(`z${i}`), ACTOR);
        assert.equal(await store.pruneEvents(100), 0);
        assert.equal(await store.firstSeq(), 1);
        assert.equal(await store.pruneEvents(4), 6);
        assert.deepEqual([await store.firstSeq(), await store.lastSeq()], [7, 10]);
        assert.deepEqual(
          (await store.readEventsAfter(0, 100)).map((e) => e.seq),
          [7, 8, 9, 10],
        );
        await store.createZone(zoneInput('z10'), ACTOR);
        assert.equal((await store.readEventsAfter(10, 10))[0]?.seq, 11, 'seq continues after pruning');
        assert.equal(await store.pruneEvents(0), 5);
        assert.deepEqual([await store.firstSeq(), await store.lastSeq()], [12, 11]);
        assert.deepEqual(await store.readEventsAfter(0, 10), []);
        assert.equal((await store.snapshot()).seq, 11);
        await assert.rejects(store.pruneEvents(-1), RangeError);
      });

      test('onCommitted fires after each committing write with the new last seq, not for failures', async () => {
        const store = await open();
        const seen: number[] = [];
        const unsubscribe = store.onCommitted((seq) => seen.push(seq));
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        await assertConflict(store.createZone(zoneInput('a'), ACTOR), 'name');
        await store.createToken({ name: 't', secretHash: sha256('t'), scopes: [], zones: null }, ACTOR);
        await store.upsertPop(popInput('nyc'), ACTOR);
        await store.getZone(zone.id);
        await store.snapshot();
        assert.deepEqual(seen, [1, 2]);
        unsubscribe();
        await store.deleteZone(zone.id, ACTOR);
        assert.deepEqual(seen, [1, 2]);
      });
    });

    describe('prewarms (issue 18)', () => {
      test('a prewarm is one event and one row; progress per node replaces the earlier report', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const before = await store.lastSeq();
        const prewarm = await store.createPrewarm(zone.id, ['http://a.example/x'], ['nyc'], ACTOR);
        assert.ok(prewarm !== undefined);
        assert.equal(prewarm.seq, before + 1);
        const [event] = await store.readEventsAfter(before, 10);
        assert.deepEqual(event?.type === 'prewarm' ? event.prewarm.files : null, ['http://a.example/x']);
        assert.deepEqual(await store.getPrewarm(zone.id, prewarm.id), prewarm);
        assert.equal(await store.getPrewarm('other-zone', prewarm.id), undefined);
        assert.equal(await store.createPrewarm('missing', [], null, ACTOR), undefined);
        const id = prewarm.id;
        assert.equal(
          await store.recordPrewarmProgress('n1', { prewarm_id: id, total: 4, done: 1, failed: 0 }),
          true,
        );
        await store.recordPrewarmProgress('n1', { prewarm_id: id, total: 4, done: 3, failed: 1 });
        assert.equal(
          await store.recordPrewarmProgress('n1', { prewarm_id: 'nope', total: 1, done: 1, failed: 0 }),
          false,
        );
        const progress = await store.listPrewarmProgress(id);
        assert.deepEqual(
          progress.map((p) => [p.node, p.total, p.done, p.failed]),
          [['n1', 4, 3, 1]],
        );
      });
    });

    describe('purges', () => {
      test('a purge is one event and one row; its status reads back with the receipts', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const before = await store.lastSeq();
        const purge = await store.createPurge(zone.id, { tags: ['t1'], soft: true }, ACTOR);
        assert.ok(purge !== undefined);
        assert.match(purge.id, HEX_ID);
        assert.equal(purge.seq, before + 1);
        const [event] = await store.readEventsAfter(before, 10);
        assert.equal(event?.type, 'purge');
        assert.deepEqual(event?.type === 'purge' ? event.purge : null, {
          tags: ['t1'],
          soft: true,
          id: purge.id,
          zone_id: zone.id,
          created_at: purge.created_at,
        });
        assert.deepEqual(await store.getPurge(zone.id, purge.id), purge);
        assert.equal(await store.getPurge('other-zone', purge.id), undefined, 'a purge belongs to its zone');
        assert.equal(
          await store.createPurge('missing', { purge_everything: true, soft: false }, ACTOR),
          undefined,
        );

        const at = new Date().toISOString();
        assert.equal(
          await store.recordPurgeAcks('n1', [
            { purge_id: purge.id, applied_at: at },
            { purge_id: 'unknown', applied_at: at },
          ]),
          1,
        );
        await store.recordPurgeAcks('n1', [{ purge_id: purge.id, applied_at: 'later' }]); // repeat: ignored
        await store.recordPurgeAcks('n2', [{ purge_id: purge.id, applied_at: at }]);
        assert.deepEqual(await store.listPurgeAcks(purge.id), [
          { node: 'n1', applied_at: at },
          { node: 'n2', applied_at: at },
        ]);
      });

      test('the snapshot lists the purges the log still holds, and from which seq', async () => {
        const store = await open();
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const p1 = await store.createPurge(zone.id, { files: ['http://a.example/x'], soft: false }, ACTOR);
        await store.createZone(zoneInput('b'), ACTOR);
        const p2 = await store.createPurge(zone.id, { purge_everything: true, soft: false }, ACTOR);
        let snap = await store.snapshot();
        assert.equal(snap.purges_from, 1);
        assert.deepEqual(
          snap.purges?.map((p) => [p.id, p.seq]),
          [
            [p1?.id, 2],
            [p2?.id, 4],
          ],
        );
        await store.pruneEvents(1);
        snap = await store.snapshot();
        assert.equal(snap.purges_from, 4);
        assert.deepEqual(
          snap.purges?.map((p) => p.id),
          [p2?.id],
        );
      });

      test('prunePurges forgets old purges and their receipts; deleting the zone deletes its purges', async () => {
        const clock = new ManualClock();
        const store = await open({ now: clock.now });
        const zone = await store.createZone(zoneInput('a'), ACTOR);
        const old = await store.createPurge(zone.id, { hosts: ['a.example'], soft: false }, ACTOR);
        await store.recordPurgeAcks('n1', [
          { purge_id: old?.id ?? '', applied_at: clock.now().toISOString() },
        ]);
        clock.advance(86_400_000);
        const recent = await store.createPurge(zone.id, { hosts: ['a.example'], soft: false }, ACTOR);
        assert.equal(await store.prunePurges(new Date(clock.now().getTime() - 1000).toISOString()), 1);
        assert.equal(await store.getPurge(zone.id, old?.id ?? ''), undefined);
        assert.deepEqual(await store.listPurgeAcks(old?.id ?? ''), []);
        assert.ok(await store.getPurge(zone.id, recent?.id ?? ''));
        await store.deleteZone(zone.id, ACTOR);
        assert.equal(await store.getPurge(zone.id, recent?.id ?? ''), undefined);
      });
    });
  });
}
