// The certificate store's side of the ACME contract (AcmeCertificateStore): the account key sealed
// beside the cluster keys, issued certificates in the certificates table (type acme, the key sealed,
// certificate.upsert to every node), and which zones the engine keeps: those with settings.acme and
// those with an ACME certificate or placeholder (ordered through the API).
import { X509Certificate } from 'node:crypto';
import type { CertificateMeta } from '../../common/config/certificate.ts';
import type { Zone } from '../../common/config/zone.ts';
import type { Logger } from '../../common/log.ts';
import { metadataOf } from '../certificates/inspect.ts';
import type { Actor, CertificateRecordInput, ControlStore } from '../store/types.ts';
import type { AcmeCertificateStore } from './store-challenges.ts';
import type { ManagedZone } from './types.ts';

const ACME_ACTOR: Actor = { token_id: null, token_name: 'acme', ip: '' };

export function storeAcmeCertificates(store: ControlStore, log: Logger): AcmeCertificateStore {
  return {
    loadAccountKey: () => store.readSecret('acme_account'),
    async saveAccountKey(pem) {
      await store.keepSecret('acme_account', pem);
    },
    async saveCertificate(issued) {
      const leaf = new X509Certificate(issued.certificate);
      const input: CertificateRecordInput = {
        ...metadataOf(leaf, 'server', issued.hosts),
        type: 'acme',
        certificate: issued.certificate,
        private_key: issued.privateKey,
      };
      const saved =
        issued.replaces === null
          ? await store.createCertificate(issued.zoneId, input, ACME_ACTOR)
          : await store.replaceCertificate(issued.replaces, input, ACME_ACTOR);
      if (saved === undefined) throw new Error(`zone ${issued.zoneId} or its certificate is gone`);
      return saved;
    },
    async markFailed(zoneId, message) {
      log.warn('acme order failed', { zone_id: zoneId, message });
      const placeholder = (await acmeCertificatesOf(store, zoneId)).find((c) => c.status === 'pending');
      // A valid certificate keeps serving as it is; only a placeholder shows the failure.
      if (placeholder !== undefined)
        await store.replaceCertificate(
          placeholder.id,
          placeholderInput(placeholder.hosts, 'error'),
          ACME_ACTOR,
        );
    },
    async managed() {
      const managed: ManagedZone[] = [];
      for (const zone of await allZones(store)) {
        const certs = await acmeCertificatesOf(store, zone.id);
        if (!zone.settings.acme && certs.length === 0) continue;
        managed.push({ zone, current: currentOf(certs) });
      }
      return managed;
    },
  };
}

/** The API's `{"type": "acme"}`: a pending placeholder (unless the zone has one), then an order. */
export async function orderAcme(
  store: ControlStore,
  zone: Zone,
  actor: Actor,
  start: (zone: Zone) => void,
): Promise<CertificateMeta> {
  const certs = await acmeCertificatesOf(store, zone.id);
  const current = currentOf(certs);
  const answer =
    current ?? (await store.createCertificate(zone.id, placeholderInput(hostsOf(zone), 'pending'), actor));
  if (answer === undefined) throw new Error(`zone ${zone.id} is gone`);
  start(zone);
  return answer;
}

/** The newest active ACME certificate, else a pending or failed placeholder, else null. */
function currentOf(certs: CertificateMeta[]): CertificateMeta | null {
  const newest = (status: CertificateMeta['status']) =>
    certs.filter((c) => c.status === status).sort((a, b) => b.expires_on.localeCompare(a.expires_on))[0] ??
    null;
  return newest('active') ?? newest('pending') ?? newest('error');
}

async function acmeCertificatesOf(store: ControlStore, zoneId: string): Promise<CertificateMeta[]> {
  return (await store.listCertificates(zoneId, 'server')).filter((c) => c.type === 'acme');
}

async function allZones(store: ControlStore): Promise<Zone[]> {
  return (await store.snapshot()).zones;
}

/** HTTP-01 proves names one by one: a wildcard cannot be ordered this way. */
function hostsOf(zone: Zone): string[] {
  return zone.hostnames.filter((h) => !h.startsWith('*.'));
}

function placeholderInput(hosts: string[], status: 'pending' | 'error'): CertificateRecordInput {
  const epoch = new Date(0).toISOString();
  return {
    usage: 'server',
    type: 'acme',
    status,
    hosts,
    issuer: '',
    signature: '',
    serial_number: '',
    fingerprint_sha256: '',
    not_before: epoch,
    expires_on: epoch,
    certificate: null,
    private_key: null,
  };
}
