// The ControlStore contract for certificates and secrets at rest, run by control-store-<backend>.test.ts
// against SQLite and PostgreSQL (like control-store.ts): certificates with their events and audit,
// cluster keys, and the master key (a wrong key refuses to open, rotation re-seals everything).
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MasterKey, MasterKeyError } from '../../src/control/secrets/master-key.ts';
import type { ControlStore, CertificateRecordInput } from '../../src/control/store/types.ts';
import {
  ACTOR,
  applyEvents,
  EMPTY_SNAPSHOT,
  ManualClock,
  normalised,
  readWholeLog,
  zoneInput,
} from './control-store-fixtures.ts';
import type { OpenOptions, OpenStore } from './control-store-fixtures.ts';

/** A fresh database: every call of the opener it returns opens that same database. */
export type NewPlace = () => (options?: OpenOptions & { masterKey?: MasterKey }) => Promise<ControlStore>;

const keyPem = (n: string): string =>
  `-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS0${n}\n-----END PRIVATE KEY-----\n`;

export function certInput(
  n: string,
  overrides: Partial<CertificateRecordInput> = {},
): CertificateRecordInput {
  return {
    usage: 'server',
    type: 'custom',
    status: 'active',
    hosts: [`${n}.example`],
    issuer: 'CN=Test CA',
    signature: 'ECDSA',
    serial_number: `0${n}`,
    fingerprint_sha256: `AA:${n}`,
    not_before: '2030-01-01T00:00:00.000Z',
    expires_on: '2031-01-01T00:00:00.000Z',
    certificate: `-----BEGIN CERTIFICATE-----\nY2VydC0${n}\n-----END CERTIFICATE-----\n`,
    private_key: keyPem(n),
    ...overrides,
  };
}

export function certificateStoreTests(name: string, openStore: OpenStore, newPlace: NewPlace): void {
  describe(`ControlStore contract (certificates, secrets): ${name}`, () => {
    const opened: ControlStore[] = [];
    const track = async (store: Promise<ControlStore>): Promise<ControlStore> => {
      const s = await store;
      opened.push(s);
      return s;
    };
    const open = (options?: OpenOptions): Promise<ControlStore> => track(openStore(options));
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    test('create, get, list by zone and usage, material opens; events and audit carry no key', async () => {
      const store = await open();
      const zone = await store.createZone(zoneInput('a'), ACTOR);
      const other = await store.createZone(zoneInput('b'), ACTOR);
      const cert = await store.createCertificate(zone.id, certInput('1'), ACTOR);
      assert.ok(cert);
      assert.match(cert.id, /^[0-9a-f]{32}$/);
      assert.equal(cert.zone_id, zone.id);
      assert.equal(cert.uploaded_on, cert.modified_on);
      assert.equal('private_key' in cert, false);
      const client = await store.createCertificate(
        zone.id,
        certInput('2', { usage: 'origin_client' }),
        ACTOR,
      );
      await store.createCertificate(other.id, certInput('3'), ACTOR);
      assert.deepEqual(await store.getCertificate(cert.id), cert);
      assert.deepEqual(
        (await store.listCertificates(zone.id, 'server')).map((c) => c.id),
        [cert.id],
      );
      assert.deepEqual(
        (await store.listCertificates(zone.id, null)).map((c) => c.id).sort(),
        [cert.id, client?.id].sort(),
      );
      const material = await store.getCertificateMaterial(cert.id);
      assert.equal(material?.material?.private_key, keyPem('1'));
      assert.equal(material?.material?.certificate, certInput('1').certificate);
      assert.deepEqual(material?.meta, cert);
      const log = await readWholeLog(store);
      assert.deepEqual(
        log.map((e) => e.type),
        ['zone.upsert', 'zone.upsert', 'certificate.upsert', 'certificate.upsert', 'certificate.upsert'],
      );
      const everything = JSON.stringify([log, await store.listAudit({ page: 1, per_page: 100 })]);
      assert.doesNotMatch(everything, /PRIVATE KEY|c2VjcmV0LWtleS0/);
      const actions = (await store.listAudit({ page: 1, per_page: 100 })).items.map((e) => e.action);
      assert.equal(actions.filter((a) => a === 'certificate.create').length, 3);
    });

    test('unknown zone or id: undefined, and no event', async () => {
      const store = await open();
      assert.equal(await store.createCertificate('0'.repeat(32), certInput('1'), ACTOR), undefined);
      assert.equal(await store.getCertificate('0'.repeat(32)), undefined);
      assert.equal(await store.getCertificateMaterial('0'.repeat(32)), undefined);
      assert.equal(await store.replaceCertificate('0'.repeat(32), certInput('1'), ACTOR), undefined);
      assert.equal(await store.deleteCertificate('0'.repeat(32), ACTOR), undefined);
      assert.equal(await store.lastSeq(), 0);
    });

    test('replace keeps id, zone, usage and uploaded_on; delete emits certificate.delete', async () => {
      const clock = new ManualClock();
      const store = await open({ now: clock.now });
      const zone = await store.createZone(zoneInput('a'), ACTOR);
      const cert = await store.createCertificate(zone.id, certInput('1', { usage: 'origin_client' }), ACTOR);
      assert.ok(cert);
      clock.advance(1_000);
      const replaced = await store.replaceCertificate(cert.id, certInput('2'), ACTOR);
      assert.equal(replaced?.id, cert.id);
      assert.equal(replaced?.usage, 'origin_client');
      assert.equal(replaced?.uploaded_on, cert.uploaded_on);
      assert.notEqual(replaced?.modified_on, cert.modified_on);
      assert.deepEqual(replaced?.hosts, ['2.example']);
      assert.equal((await store.getCertificateMaterial(cert.id))?.material?.private_key, keyPem('2'));
      assert.deepEqual(await store.deleteCertificate(cert.id, ACTOR), replaced);
      assert.equal(await store.getCertificate(cert.id), undefined);
      const [last] = await store.readEventsAfter((await store.lastSeq()) - 1, 1);
      assert.equal(last?.type, 'certificate.delete');
      assert.deepEqual(last?.type === 'certificate.delete' && [last.id, last.zone_id], [cert.id, zone.id]);
    });

    test('a pending (ACME) certificate has no material yet', async () => {
      const store = await open();
      const zone = await store.createZone(zoneInput('a'), ACTOR);
      const cert = await store.createCertificate(
        zone.id,
        certInput('1', { type: 'acme', status: 'pending', certificate: null, private_key: null }),
        ACTOR,
      );
      assert.equal((await store.getCertificateMaterial(cert?.id ?? ''))?.material, null);
    });

    test("deleting a zone deletes its certificates, each with its event before the zone's", async () => {
      const store = await open();
      const zone = await store.createZone(zoneInput('a'), ACTOR);
      const keep = await store.createZone(zoneInput('b'), ACTOR);
      const c1 = await store.createCertificate(zone.id, certInput('1'), ACTOR);
      const c2 = await store.createCertificate(zone.id, certInput('2', { usage: 'origin_client' }), ACTOR);
      const c3 = await store.createCertificate(keep.id, certInput('3'), ACTOR);
      const before = await store.lastSeq();
      await store.deleteZone(zone.id, ACTOR);
      const events = await store.readEventsAfter(before, 10);
      assert.deepEqual(
        events.map((e) => [e.type, e.type === 'certificate.delete' ? e.id : null]),
        [...[c1?.id, c2?.id].sort().map((id) => ['certificate.delete', id]), ['zone.delete', null]],
      );
      assert.equal(await store.getCertificate(c1?.id ?? ''), undefined);
      assert.deepEqual(
        (await store.snapshot()).certificates?.map((c) => c.id),
        [c3?.id],
      );
    });

    test('the snapshot lists every certificate (metadata) and equals the log replayed', async () => {
      const store = await open();
      const zone = await store.createZone(zoneInput('a'), ACTOR);
      const z2 = await store.createZone(zoneInput('b'), ACTOR);
      const c1 = await store.createCertificate(zone.id, certInput('1'), ACTOR);
      await store.createCertificate(z2.id, certInput('2'), ACTOR);
      await store.replaceCertificate(c1?.id ?? '', certInput('4'), ACTOR);
      const c3 = await store.createCertificate(zone.id, certInput('3'), ACTOR);
      await store.deleteCertificate(c3?.id ?? '', ACTOR);
      const snap = await store.snapshot();
      assert.equal(snap.certificates?.length, 2);
      assert.doesNotMatch(JSON.stringify(snap), /PRIVATE KEY/);
      assert.deepEqual(normalised(snap), applyEvents(EMPTY_SNAPSHOT, await readWholeLog(store)));
    });

    test('ticketKey: 32 random bytes, stable, not the hop key, no event', async () => {
      const store = await open();
      const ticket = await store.ticketKey();
      assert.match(ticket, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(await store.ticketKey(), ticket);
      assert.notEqual(ticket, await store.hopKey());
      assert.equal(await store.lastSeq(), 0);
    });

    test('another master key cannot open the store; the right one can', async () => {
      const key = MasterKey.generate();
      const at = newPlace();
      const first = await track(at({ masterKey: key }));
      const hop = await first.hopKey();
      await first.close();
      await assert.rejects(at({ masterKey: MasterKey.generate() }), (err: unknown) => {
        assert.ok(err instanceof MasterKeyError);
        assert.match(err.message, new RegExp(`sealed with master key ${key.id}`));
        return true;
      });
      const again = await track(at({ masterKey: key }));
      assert.equal(await again.hopKey(), hop);
    });

    test('rotateMasterKey re-seals keys and certificates: the new key opens the store, the old does not', async () => {
      const oldKey = MasterKey.generate();
      const newKey = MasterKey.generate();
      const at = newPlace();
      const store = await track(at({ masterKey: oldKey }));
      const zone = await store.createZone(zoneInput('a'), ACTOR);
      const cert = await store.createCertificate(zone.id, certInput('1'), ACTOR);
      const hop = await store.hopKey();
      const ticket = await store.ticketKey();
      const result = await store.rotateMasterKey(newKey, ACTOR);
      assert.deepEqual(result, {
        cluster_keys: 3,
        certificates: 1,
        worker_secrets: 0,
        from: oldKey.id,
        to: newKey.id,
      });
      // The store in hand carries on with the new key.
      assert.equal((await store.getCertificateMaterial(cert?.id ?? ''))?.material?.private_key, keyPem('1'));
      await store.close();
      await assert.rejects(at({ masterKey: oldKey }), MasterKeyError);
      const reopened = await track(at({ masterKey: newKey }));
      assert.equal(await reopened.hopKey(), hop);
      assert.equal(await reopened.ticketKey(), ticket);
      assert.equal(
        (await reopened.getCertificateMaterial(cert?.id ?? ''))?.material?.private_key,
        keyPem('1'),
      );
      const audit = (await reopened.listAudit({ page: 1, per_page: 1 })).items[0];
      assert.equal(audit?.action, 'master_key.rotate');
    });
  });
}
